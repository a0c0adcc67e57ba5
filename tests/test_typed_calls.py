"""Whole calls as a trainee typed them in the browser (lower case, no question marks, "its",
"im"), saved from fresh-HOME walk-throughs on the default model: the grade a trained rater
would give. Each of these calls once scored wrong: a budget question read as a threat of
violence (a blocker), a safety-first call to a widower failed, a kind open question missed."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.readers import read_path
from rubrics.scorer import score_transcript

DATA = Path(__file__).parent / "data" / "typed_calls"


def load(name: str):
    [(_, transcript)] = list(read_path(DATA / f"{name}.jsonl"))
    return transcript


@pytest.fixture(scope="module")
def maria():
    return score_transcript(load("maria-plan"))


@pytest.fixture(scope="module")
def walter():
    return score_transcript(load("walter-safety"))


def _evidence(score, criterion: str) -> list[tuple[int, str, str]]:
    return [(e.turn, e.indicator, e.effect) for e in score.criteria[criterion].evidence]


def test_a_plain_typed_call_with_a_plan_passes_with_no_violation(maria):
    assert maria.passed and not maria.violations, [v.rule for v in maria.violations]
    # "its sam from acme recovery" says who is calling; "hi is this maria" checks who answered
    flow = _evidence(maria, "call_flow")
    assert (3, "self_identification", "+") in flow and any(i == "verifies_identity" and e == "+" for _, i, e in flow)


def test_a_safety_first_call_passes_and_its_kindness_counts(walter):
    # the debtor hinted at ending their life; the collector asked about safety, gave 988 and
    # offered to call back later: the person before the payment, graded as a rater would
    assert walter.passed and not walter.violations, [v.rule for v in walter.violations]
    empathy = _evidence(walter, "empathy")
    assert (9, "asks_about_safety", "+") in empathy and (9, "acknowledges_hardship", "+") in empathy
    # "its about your card, how have things been for you lately?" is an open question
    assert (7, "open_questions", "-") not in _evidence(walter, "call_flow")


def test_saying_what_a_disputed_call_is_about_is_not_pressing_for_payment():
    # "its about the second line on your crestline wireless account, 612 dollars", said after
    # "This debt isn't mine": it names the account; "the second line" is no date, no offer
    score = score_transcript(load("priya-dispute"))
    assert not score.violations, [v.rule for v in score.violations]
    assert (11, "states_rights", "+") in _evidence(score, "compliance")


def test_an_unnamed_threat_in_a_hostile_call_is_a_violation():
    # "look you need to pay this or we'll take further action": a threat of an unnamed action
    score = score_transcript(load("mark-hostile"))
    assert not score.passed
    assert [v.turn for v in score.violations] == [9]
