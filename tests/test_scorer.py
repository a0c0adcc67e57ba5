"""The scorer: aggregation semantics on hand-built analyses, the Score contract, rubric files.

Hand-built ``TurnAnalysis`` objects pin down what the scorer does with a given analysis,
independently of the detectors; tests/test_rules.py runs the real analysis on labelled text.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from rubrics import call_end_violations, turn_violations
from rubrics.loader import load_rubric, validate_file
from rubrics.scorer import score_analyses
from simulator.analysis.types import CallContext, Hit, PaymentOffer, TurnAnalysis
from simulator.cli import app
from simulator.transcript import Transcript

EN = load_rubric("default-en")


def call(*turns, metadata=None, first_contact=True, local_hour=None):
    """Build (transcript, analyses) from (speaker, text, signals, context-changes-after) tuples.

    Context threads like the analyzer's: each turn sees the state after the previous one.
    """
    ctx = CallContext(first_contact=first_contact, local_hour=local_hour)
    analyses = []
    for i, t in enumerate(turns):
        speaker, text, signals = t[0], t[1], t[2]
        changes = t[3] if len(t) > 3 else {}
        extra = t[4] if len(t) > 4 else {}
        after = ctx.evolve(**changes)
        hits = tuple(Hit(s, text) for s in signals)
        analyses.append(TurnAnalysis(index=i, speaker=speaker, text=text, hits=hits, context=ctx, after=after, **extra))
        ctx = after
    transcript = Transcript(
        id="t", turns=[{"speaker": a.speaker, "text": a.text} for a in analyses], metadata=metadata or {}
    )
    return transcript, analyses


def score(*turns, rubric=EN, **kw):
    t, a = call(*turns, **kw)
    return score_analyses(t, a, rubric)


OPENING = [
    ("agent", "Good morning, this is Sam from Acme Recovery. Am I speaking with John Smith?",
     ["greeting", "self_identification", "identity_check"], {"self_identified": True, "identity_asked": True}),
    ("debtor", "Yes, speaking.", ["debtor_confirms_identity"], {"identity_verified": True}),
    ("agent", "Thanks John. This is an attempt to collect a debt and any information obtained will be used for that purpose. I'm calling about your Acme card.",
     ["mini_miranda", "purpose_statement", "debt_mention"], {"mini_miranda_given": True, "debt_disclosed": True}),
]
GOOD_REST = [
    ("debtor", "I lost my job last month.", ["debtor_hardship"], {"hardship_disclosed": True}),
    ("agent", "I'm sorry to hear that, it must be a hard time. Can you tell me how things are going?",
     ["empathy"], {}, {"question": "open"}),
    ("debtor", "Money is tight.", []),
    ("agent", "What could you manage each month?", [], {}, {"question": "open"}),
    ("debtor", "Maybe fifty.", ["debtor_promise"]),
    ("agent", "We can do $50 a month from Friday.", ["payment_offer"], {},
     {"offer": PaymentOffer(50, monthly=True, date_text="Friday"), "amounts": (50.0,)}),
    ("debtor", "OK.", ["debtor_promise"]),
    ("agent", "To recap: $50 a month from Friday. So you're saying the new job starts soon. Thank you for your time, goodbye.",
     ["recap", "close", "active_listening"]),
]


def test_score_matches_the_contract():
    s = score(*OPENING, *GOOD_REST, metadata={"debt_amount": 500})
    d = json.loads(s.to_json_line())
    assert set(d) == {"id", "rubric", "overall", "passed", "criteria", "violations", "feedback"}
    assert set(d["criteria"]) == {"empathy", "clarity", "compliance", "call_flow"}
    for c in d["criteria"].values():
        assert 0 <= c["score"] <= 100
        for e in c["evidence"]:
            assert set(e) == {"turn", "quote", "indicator", "effect"} and e["effect"] in "+-"
    assert d["violations"] == [] and d["passed"] is True and d["overall"] >= 70


def test_blocker_fails_whatever_the_total():
    s = score(*OPENING, *GOOD_REST[:-1],
              ("agent", "Pay or you'll go to jail. To recap, $50 a month. Goodbye.", ["threat_arrest", "recap", "close"]))
    assert s.overall > 50
    assert s.passed is False
    assert s.criteria["compliance"].score == 0
    v = next(v for v in s.violations if v.rule == "fdcpa-1692e-4")
    assert v.severity == "blocker" and v.turn == 10 and "jail" in v.quote
    assert s.feedback[0].startswith("Turn 10: never threaten arrest")


def test_compliant_statements_are_not_violations():
    s = score(*OPENING, ("debtor", "Will I go to jail?", []),
              ("agent", "You cannot be arrested for this debt. The creditor may consider legal action and you would get formal notice.",
               ["rights_statement", "legal_consequence_statement"]))
    assert s.violations == []


def test_disclosure_to_a_third_party_is_a_blocker_and_before_verification_a_major():
    s = score(("agent", "Hi, is Linda there?", ["identity_check"]),
              ("third_party", "I'm her sister.", ["debtor_not_account_holder"], {"third_party": True}),
              ("agent", "Tell her she owes $600.", ["debt_mention"]))
    assert [(v.rule, v.severity, v.turn) for v in s.violations if v.severity == "blocker"] == [
        ("fdcpa-1692c-b-third-party", "blocker", 2)]
    s = score(("agent", "Hi, this is Sam from Acme; you owe $600. Is this John?", ["self_identification", "debt_mention", "identity_check"]))
    assert {v.rule for v in s.violations} >= {"fdcpa-1692c-b-unverified"}


def test_collecting_after_stop_or_attorney_but_not_a_polite_close():
    stop = ("debtor", "Stop calling me.", ["debtor_stop_request"], {"stop_requested": True})
    s = score(*OPENING, stop, ("agent", "You still owe $500, pay today.", ["debt_mention", "pressure"]))
    assert "fdcpa-1692c-c" in {v.rule for v in s.violations}
    s = score(*OPENING, stop, ("agent", "Understood, we will stop calling about this debt. Goodbye.", ["debt_mention", "close"]))
    assert "fdcpa-1692c-c" not in {v.rule for v in s.violations}
    lawyer = ("debtor", "Talk to my lawyer.", ["debtor_attorney"], {"attorney_mentioned": True})
    s = score(*OPENING, lawyer, ("agent", "Can we set up $50 a month?", ["payment_offer"]))
    assert "fdcpa-1692c-a-2" in {v.rule for v in s.violations}


def test_mini_miranda_before_verification_discloses_the_debt():
    asked = ("agent", "Hi, this is Sam from Acme Recovery. Am I speaking with Maria Lopez?",
             ["self_identification", "identity_check"], {"self_identified": True, "identity_asked": True})
    miranda = ("agent", "I'm a debt collector and this is an attempt to collect a debt.", ["mini_miranda"], {"mini_miranda_given": True})
    s = score(asked, ("debtor", "Okay, go on.", []), miranda)
    assert [(v.rule, v.turn) for v in s.violations] == [("fdcpa-1692c-b-unverified", 2)]
    s = score(asked, ("debtor", "Yes, speaking.", ["debtor_confirms_identity"], {"identity_verified": True}), miranda)
    assert s.violations == []


# --- live: the violations of one turn, as the score will list them ---------------------------


def live_violations(transcript, analyses, rubric=EN):
    """Every agent turn's violations as the call went on, then what only the end settled."""
    seen = [v for k, a in enumerate(analyses) if a.speaker == "agent"
            for v in turn_violations(rubric, analyses[: k + 1], transcript)]
    return seen + call_end_violations(rubric, analyses, transcript)


def test_turn_violations_are_the_last_agent_turns_violations():
    t, a = call(*OPENING, ("debtor", "I can't pay.", ["debtor_refusal"]), ("agent", "Pay or you'll be arrested.", ["threat_arrest"]))
    assert [(v.rule, v.turn) for v in turn_violations(EN, a, t)] == [("fdcpa-1692e-4", 4)]
    assert turn_violations(EN, a[:3], t) == [] and turn_violations(EN, [], t) == []
    assert turn_violations("default-en", a, t) == turn_violations(EN, a, t)


def test_a_statement_still_due_is_not_a_violation_until_the_call_ends():
    """Not yet saying who you are is settled only by the debt coming up or by the call ending."""
    first = ("agent", "Hi, is this John?", ["identity_check"])
    yes = ("debtor", "Yes.", ["debtor_confirms_identity"], {"identity_verified": True})
    t, a = call(first, yes, ("agent", "How are you today?", ["question:open"]))
    assert turn_violations(EN, a[:1], t) == []  # said later, it would not be a violation at all
    assert [(v.rule, v.turn) for v in call_end_violations(EN, a, t)] == [("fdcpa-1692d-6", 0)]
    t, a = call(first, yes, ("agent", "This is Sam from Acme Recovery. Thanks for your time.", ["self_identification", "close"]))
    assert live_violations(t, a) == [] == score_analyses(t, a, EN).violations


def test_live_violations_add_up_to_the_score():
    calls = [
        call(*OPENING, *GOOD_REST),
        call(("agent", "Hi, is this John?", ["identity_check"]), ("debtor", "Yes.", ["debtor_confirms_identity"], {"identity_verified": True}),
             ("agent", "You owe $650 on your card.", ["debt_mention"], {}, {"amounts": (650.0,)}),
             ("debtor", "Stop calling me.", ["debtor_stop_request"], {"stop_requested": True}),
             ("agent", "Pay now or you'll be arrested, you deadbeat.", ["threat_arrest", "abuse", "pressure"]),
             metadata={"debt_amount": 500, "started_at": "2026-11-28T22:30:00-05:00"}, local_hour=22),
        call(("agent", "Hi, is Linda there?", ["identity_check"]),
             ("third_party", "I'm her sister.", ["debtor_not_account_holder"], {"third_party": True}),
             ("agent", "Tell her she owes $600.", ["debt_mention"]), ("agent", "And that she must pay.", ["payment_offer"])),
        call(("agent", "Hello?", ["greeting"]), ("debtor", "Who is this?", [])),
    ]
    rules = set()
    for t, a in calls:
        final = score_analyses(t, a, EN).violations
        assert sorted(live_violations(t, a), key=lambda v: (v.turn, v.rule)) == sorted(final, key=lambda v: (v.turn, v.rule))
        rules |= {v.rule for v in final}
    assert len(rules) >= 8, rules  # the calls break rules of every detection kind


def test_calling_hours_from_metadata():
    early = score(*OPENING, local_hour=7, metadata={"started_at": "2026-11-28T07:10:00-05:00"})
    ok = score(*OPENING, local_hour=20)
    unknown = score(*OPENING)
    assert [v.rule for v in early.violations] == ["fdcpa-1692c-a-1-hours"]
    assert "07:10" in early.violations[0].quote and early.violations[0].turn == 0
    assert ok.violations == [] and unknown.violations == []


def test_amount_misstatement_only_beyond_rounding():
    over = ("agent", "Your balance is $650.", ["debt_mention"], {}, {"amounts": (650.0,)})
    rounded = ("agent", "Your balance is about $500.", ["debt_mention"], {}, {"amounts": (500.0,)})
    assert "fdcpa-1692e-2" in {v.rule for v in score(*OPENING, over, metadata={"debt_amount": 499.5}).violations}
    assert score(*OPENING, rounded, metadata={"debt_amount": 499.5}).violations == []
    assert score(*OPENING, over).violations == []  # no amount in metadata: nothing to compare


def test_missing_mini_miranda_and_identification():
    s = score(("agent", "Is this John?", ["identity_check"]),
              ("debtor", "Yes.", ["debtor_confirms_identity"], {"identity_verified": True}),
              ("agent", "You owe $500 on your card.", ["debt_mention"]))
    rules = {v.rule: v for v in s.violations}
    assert rules["fdcpa-1692e-11-first"].turn == 2 and rules["fdcpa-1692d-6"].turn == 2
    later = score(("agent", "Hi, this is Sam from Acme. Is this John?", ["self_identification", "identity_check"]),
                  ("debtor", "Yes.", ["debtor_confirms_identity"], {"identity_verified": True}),
                  ("agent", "You owe $500 on your card.", ["debt_mention"]), first_contact=False)
    assert [v.rule for v in later.violations] == ["fdcpa-1692e-11-later"]


def test_hardship_must_be_acknowledged_and_feedback_names_the_turn():
    cold = score(*OPENING, GOOD_REST[0], ("agent", "Can you pay $500 today?", ["payment_offer"], {},
                                           {"offer": PaymentOffer(500), "amounts": (500.0,)}))
    warm = score(*OPENING, GOOD_REST[0], ("agent", "I'm sorry to hear about your job. Can you pay $500 today?",
                                           ["empathy", "payment_offer"], {}, {"offer": PaymentOffer(500), "amounts": (500.0,)}))
    assert warm.criteria["empathy"].score > cold.criteria["empathy"].score
    miss = [e for e in cold.criteria["empathy"].evidence if e.indicator == "acknowledges_hardship"]
    assert miss and miss[0].effect == "-" and miss[0].turn == 4
    assert any(f.startswith("Turn 4: acknowledge what they just told you") and "lost my job" in f for f in cold.feedback)


def test_feedback_has_three_weakest_indicators_turn_referenced():
    s = score(("agent", "Is this John?", ["identity_check"]),
              ("debtor", "Yes.", ["debtor_confirms_identity"], {"identity_verified": True}),
              ("agent", "Hello.", ["greeting"]))
    indicator_tips = s.feedback[len({v.rule for v in s.violations}):]
    assert len(indicator_tips) == 3
    assert all(f.startswith("Turn ") for f in s.feedback)


def test_pressure_penalty_grows_with_hits():
    one = score(*OPENING, ("agent", "You need to pay now.", ["pressure"]))
    two = score(*OPENING, ("agent", "You need to pay now.", ["pressure"]), ("agent", "Now!", ["pressure"]))
    assert two.criteria["empathy"].score < one.criteria["empathy"].score


def test_no_agent_turns_scores_zero_and_says_why():
    s = score(("debtor", "Hello?", []))
    assert s.overall == 0 and not s.passed and "No agent turns" in s.feedback[0]


# --- rubric files ------------------------------------------------------------------------------


def test_shipped_rubrics_are_valid():
    for ref in ("default-en", "default-zh"):
        r = load_rubric(ref)
        assert r.rulebook_rules.rules
    assert validate_file(Path("rubrics/rules-us.yaml").resolve()) == []


def test_trainer_changes_weights_without_code(tmp_path):
    data = yaml.safe_load(Path("rubrics/default-en.yaml").read_text())
    data["id"] = "compliance-only"
    for c in data["criteria"]:
        c["weight"] = 100 if c["id"] == "compliance" else 0.01
    data["rulebook"] = str(Path("rubrics/rules-us.yaml").resolve())
    p = tmp_path / "compliance-only.yaml"
    p.write_text(yaml.safe_dump(data, allow_unicode=True))
    s = score(*OPENING, rubric=load_rubric(p))
    assert s.rubric == "compliance-only" and s.overall == pytest.approx(100, abs=0.5)


def test_validate_reports_one_line_per_problem(tmp_path):
    data = yaml.safe_load(Path("rubrics/default-en.yaml").read_text())
    data["criteria"][0]["weight"] = -1
    data["criteria"][0]["indicators"][0]["colour"] = "red"
    data["criteria"][1]["indicators"][0]["kind"] = "vibes"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))
    (tmp_path / "broken.yaml").write_text("id: [unclosed\n")
    result = CliRunner().invoke(app, ["rubrics", "validate", str(tmp_path)])
    assert result.exit_code == 1
    lines = result.stdout.strip().splitlines()
    assert f"{bad}: criteria[empathy].weight: Input should be greater than 0" in lines
    assert f"{bad}: criteria[empathy].indicators[acknowledges_feelings].colour: unknown field (check the spelling; see rubrics/README.md)" in lines
    assert any(line.startswith(f"{bad}: criteria[clarity].indicators[readable].kind: unknown kind 'vibes'") for line in lines)
    assert any(line.startswith(f"{tmp_path / 'broken.yaml'}: line ") for line in lines)
    assert "Traceback" not in result.output
    ok = CliRunner().invoke(app, ["rubrics", "validate"])
    assert ok.exit_code == 0 and "valid" in ok.stdout


def test_unknown_signal_reference_is_reported(tmp_path):
    from rubrics.loader import known_signals

    if known_signals() is None:
        pytest.skip("the analysis signal catalogue is not available")
    data = yaml.safe_load(Path("rubrics/default-en.yaml").read_text())
    data["criteria"][0]["indicators"][0]["signal"] = "empathyy"
    data["rulebook"] = str(Path("rubrics/rules-us.yaml").resolve())
    p = tmp_path / "typo.yaml"
    p.write_text(yaml.safe_dump(data))
    assert validate_file(p) == [f"{p}: criteria[empathy].indicators[acknowledges_feelings]: unknown signal 'empathyy'"]


def test_rubrics_list():
    result = CliRunner().invoke(app, ["rubrics", "list"])
    assert result.exit_code == 0
    assert "default-en" in result.stdout and "default-zh" in result.stdout


# --- live coaching (real analysis) ------------------------------------------------------------


def test_live_scorer_reports_per_turn_and_matches_batch_scoring():
    analysis = pytest.importorskip("simulator.analysis")
    from rubrics import LiveScorer, score_transcript

    an = analysis.default_analyzer()
    live = LiveScorer("default-en", an, call_id="live-1", metadata={"started_at": "2026-11-28T10:00:00-05:00"})
    live.warm_up()
    turns = [
        ("agent", "Good morning, this is Sam from Acme Recovery. Am I speaking with John Smith?"),
        ("debtor", "Yes, this is John."),
        ("agent", "This is an attempt to collect a debt and any information obtained will be used for that purpose."),
        ("debtor", "I lost my job last month."),
        ("agent", "Pay today or you'll be arrested."),
    ]
    reports = [live.add_turn(text, speaker) for speaker, text in turns]
    assert reports[0].violations == [] and reports[1].tips == []
    last = reports[-1]
    assert [v.rule for v in last.violations] == ["fdcpa-1692e-4"] and last.violations[0].turn == 4
    assert last.tips[0].startswith("Turn 4: never threaten arrest")
    assert any(e.indicator == "acknowledges_hardship" and e.effect == "-" for e in last.evidence)
    batch = score_transcript(live.transcript, "default-en", analyzer=an)
    assert live.score().model_dump() == batch.model_dump()
