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

from callcoach.cli import app
from core import analysis
from core.analysis.types import CallContext, Hit, PaymentOffer, TurnAnalysis
from core.transcript import Transcript, Turn
from rubrics import call_end_violations, score_transcript, turn_violations
from rubrics.loader import load_rubric, validate_file
from rubrics.scorer import NOT_PASSED, score_analyses

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
    assert set(d) - {"not_checked"} == {"id", "rubric", "overall", "passed", "criteria", "violations", "feedback"}
    # no start time in this call: the calling-hours rule is listed as not checked, not passed over
    assert "fdcpa-1692c-a-1-hours" in {n["rule"] for n in d["not_checked"]}
    assert set(d["criteria"]) == {"empathy", "clarity", "compliance", "call_flow"}
    # the scores that rest on what was said say where (a clean call gives compliance none)
    assert all(d["criteria"][name]["evidence"] for name in ("empathy", "clarity", "call_flow"))
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
    gates = [f for f in s.feedback if f.startswith(NOT_PASSED)]  # what the call never reached
    assert gates and s.feedback[: len(gates)] == gates
    indicator_tips = s.feedback[len(gates) + len({v.rule for v in s.violations}):]
    assert len(indicator_tips) == 3
    assert all(f.startswith("Turn ") for f in s.feedback[len(gates):])


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
    assert any(line.startswith(f"{bad}: criteria[clarity].indicators[no_jargon].kind: unknown kind 'vibes'") for line in lines)
    assert any(line.startswith(f"{tmp_path / 'broken.yaml'}: line ") for line in lines)
    assert "Traceback" not in result.output
    ok = CliRunner().invoke(app, ["rubrics", "validate"])
    assert ok.exit_code == 0 and "valid" in ok.stdout


def test_unknown_signal_reference_is_reported(tmp_path):
    from rubrics.loader import known_signals

    assert known_signals() is not None, "the analysis signal catalogue does not load"
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


# --- what a call must reach to pass (rubric: required_to_pass) ---------------------------------

GREETED = OPENING[:1] + [("debtor", "Yes, speaking.", ["debtor_confirms_identity"], {"name_confirmed": True})]
DISTRESS = ("debtor", "Some days I don't see much point in any of it.", ["debtor_distress_severe"], {"distress_disclosed": True})


def gates(s) -> list[str]:
    return [f[len(NOT_PASSED):] for f in s.feedback if f.startswith(NOT_PASSED)]


def test_a_short_call_with_no_plan_does_not_pass_whatever_its_score():
    # the newcomer's exam call: introduction, disclosure, an open question, empathy; no plan
    exam = score(*OPENING, GOOD_REST[0], GOOD_REST[1])
    assert exam.overall >= EN.pass_mark and not exam.passed
    assert [g.split(":")[0] for g in gates(exam)] == ["the call never reached a payment plan"]
    # never reached the purpose either: both said, the purpose first
    hello = score(*GREETED, ("agent", "How are you today?", [], {}, {"question": "open"}))
    assert [g.split(":")[0] for g in gates(hello)] == ["the call never reached its purpose", "the call never reached a payment plan"]
    # the full call reaches both and passes
    assert gates(score(*OPENING, *GOOD_REST)) == []


PROPER_ENDINGS = {
    "crisis": [*GREETED, DISTRESS,
               ("agent", "Are you thinking about ending your life? Are you safe right now?", ["safety_check"], {}, {"question": "closed"}),
               ("debtor", "I don't know.", []),
               ("agent", "You can call or text 988 any time. Let's put the account on hold; I'll call you next week.", ["support_referral", "follow_up"]),
               ("debtor", "Alright.", []),
               ("agent", "Take care of yourself, Walter. Goodbye.", ["close"])],
    "dispute": [*OPENING, ("debtor", "That's not my debt.", ["debtor_dispute"], {"dispute_raised": True}),
                ("agent", "You have the right to dispute it. We'll send you the validation notice in writing. Goodbye.", ["rights_statement", "close"])],
    "attorney": [*OPENING, ("debtor", "Talk to my lawyer.", ["debtor_attorney"], {"attorney_mentioned": True}),
                 ("agent", "Could I have your attorney's name and number? Thank you, goodbye.", ["close"])],
    "third party": [("agent", "Hi, this is Sam from Acme Recovery. May I speak with Ryan?", ["self_identification", "identity_check"]),
                    ("third_party", "He's not here, I'm his mother.", ["debtor_not_account_holder"], {"third_party": True}),
                    ("agent", "Could you ask him to call Sam at 555-0100? Thank you, goodbye.", ["close"])],
    "stop request": [*OPENING, ("debtor", "Stop calling me.", ["debtor_stop_request"], {"stop_requested": True}),
                     ("agent", "Understood, we will stop calling. Goodbye.", ["close"])],
}


@pytest.mark.parametrize("ending", sorted(PROPER_ENDINGS))
def test_a_call_that_ends_properly_for_another_reason_needs_no_plan(ending):
    s = score(*PROPER_ENDINGS[ending])
    assert gates(s) == [], s.feedback


def test_a_debtor_in_crisis_comes_first_in_the_verdict_and_the_suggestions():
    ignored = score(*GREETED, DISTRESS, ("agent", "I see. Thank you for your time, goodbye.", ["close"]))
    assert not ignored.passed
    assert gates(ignored)[0].startswith("the debtor spoke of self-harm or not coping")
    assert "payment plan" not in " ".join(ignored.feedback) and "purpose" not in " ".join(gates(ignored))
    tips = [f for f in ignored.feedback if not f.startswith(NOT_PASSED)]
    assert "are you thinking about ending your life" in tips[0].lower() and "Some days" in tips[0]
    assert not any(w in f.lower() for f in ignored.feedback for w in ("afford", "manage each month", "offer concrete", "recap the agreement"))
    # asking about safety earns empathy credit, a strength on the scorecard
    cared = score(*PROPER_ENDINGS["crisis"])
    assert cared.criteria["empathy"].score > ignored.criteria["empathy"].score
    assert any(e.indicator == "asks_about_safety" and e.effect == "+" for e in cared.criteria["empathy"].evidence)


def test_the_verdict_judges_the_overall_as_shown(tmp_path):
    """69.8 against 70 reads 69.8 / Not passed; a score shown as the mark passes it."""
    call_turns = [*OPENING, *GOOD_REST[:-1], ("agent", "To recap: $50 a month from Friday. Goodbye.", ["recap", "close"])]
    s = score(*call_turns)
    assert 0 < s.overall < 100
    data = yaml.safe_load(Path("rubrics/default-en.yaml").read_text())
    data["rulebook"] = str(Path("rubrics/rules-us.yaml").resolve())
    for mark, passed in ((s.overall, True), (round(s.overall + 0.1, 1), False)):
        data["pass_mark"] = mark
        p = tmp_path / f"mark-{mark}.yaml"
        p.write_text(yaml.safe_dump(data, allow_unicode=True))
        again = score(*call_turns, rubric=load_rubric(p))
        assert again.overall == s.overall and again.passed is passed, (mark, again.overall)


def test_a_demand_with_pressure_is_no_strength():
    demand = ("agent", "I need a payment from you today, no excuses. $50 on Friday.", ["pressure", "payment_offer"], {},
              {"offer": PaymentOffer(50, date_text="Friday"), "amounts": (50.0,)})
    s = score(*OPENING, GOOD_REST[0], demand)
    strengths = [e for c in s.criteria.values() for e in c.evidence if e.effect == "+"]
    assert strengths and all(e.turn != 4 for e in strengths), strengths
    clear = next(e for e in s.criteria["clarity"].evidence if e.indicator == "clear_offer")
    assert clear.effect == "-"


def test_requirements_name_known_signals(tmp_path):
    data = yaml.safe_load(Path("rubrics/default-en.yaml").read_text())
    data["required_to_pass"][1]["any_of"][0]["agent_turn"]["signals"].append("mini_mirandaa")
    data["rulebook"] = str(Path("rubrics/rules-us.yaml").resolve())
    p = tmp_path / "typo.yaml"
    p.write_text(yaml.safe_dump(data))
    assert validate_file(p) == [f"{p}: required_to_pass[purpose]: unknown signal 'mini_mirandaa'"]


def test_scorecard_shows_one_decimal_and_why_a_call_did_not_pass():
    from rubrics.scorecard import render_report, render_scorecard

    card = {
        "id": "c", "rubric": "default-en", "overall": 69.8, "passed": False,
        "criteria": {"empathy": {"score": 69.96, "evidence": []}, "clarity": {"score": 80.0, "evidence": []},
                     "compliance": {"score": 100.0, "evidence": []}},
        "violations": [],
        "feedback": [NOT_PASSED + "the call never reached a payment plan: propose one.", "Turn 3: ask an open question."],
    }
    html = render_scorecard(card)
    assert ">69.8<" in html and ">70<" not in html and "Not passed" in html
    assert ">70.0<" in html and ">80.0<" in html  # every score the same way, one decimal
    why = html.index('class="cc-why"')
    assert html.index("The call never reached a payment plan", why) < html.index("Suggestions")
    assert html.count("never reached a payment plan") == 1 and "Turn 3" in html
    report = render_report(card, Transcript(id="c", turns=[{"speaker": "agent", "text": "Hi"}]))
    assert ">69.8<" in report


def test_criteria_are_shown_in_the_order_first_met_everywhere():
    """One order for criteria side by side: the evaluator's table and the summary CSV agree with
    criterion_names (error records skipped, a second rubric's new criteria after the first's)."""
    from callcoach.ui.evaluator import results_table
    from rubrics.batch import summary_csv
    from rubrics.results import criterion_names

    records = [
        {"id": "bad", "error": "f.jsonl:1: invalid JSON"},
        {"id": "a", "rubric": "r1", "overall": 50, "passed": False, "violations": [],
         "criteria": {"empathy": {"score": 50}, "clarity": {"score": 60}}},
        {"id": "b", "rubric": "r2", "overall": 70, "passed": True, "violations": [],
         "criteria": {"clarity": {"score": 70}, "call_flow": {"score": 80}}},
    ]
    assert criterion_names(records) == ["empathy", "clarity", "call_flow"]
    assert summary_csv(records).splitlines()[0].split(",")[4:7] == ["empathy", "clarity", "call_flow"]
    headers, _ = results_table(records)
    assert headers[3:6] == ["Empathy", "Clarity", "Call flow"]


def test_a_call_that_puts_a_struggling_debtor_first_passes_without_payment_advice():
    """Found in a walk-through with the real model: Walter never said the words the distress
    detector knows, the collector asked about his safety, offered 988 and a call back, and the
    scorecard failed the call for never reaching a payment plan and advised asking what he could
    afford. Safety first: such a call is ended properly, and no advice asks for money."""
    lines = [
        ("debtor", "Hello?"),
        ("agent", "Hi, this is Sam from Acme Recovery. Am I speaking with Walter Hughes?"),
        ("debtor", "Yes, I'm Walter Hughes."),
        ("agent", "Thanks Walter. Can you confirm your date of birth for me?"),
        ("debtor", "Born March 3rd, 1955."),
        ("agent", "I'm a debt collector and this is an attempt to collect a debt; any information obtained will be used for that purpose."),
        ("debtor", "I sit at the kitchen table all day, and I don't know where to turn."),
        ("agent", "I'm really sorry to hear that. Are you safe right now? Are you having thoughts of hurting yourself?"),
        ("debtor", "I don't know how to talk to anybody today."),
        ("agent", "You can call or text 988 any time, day or night. Would it be okay if I called you back next week instead?"),
        ("debtor", "Yes, I'd appreciate that."),
        ("agent", "Thank you for talking with me, Walter. Take care of yourself. Goodbye."),
    ]
    t = Transcript(id="w", turns=[Turn(speaker=s, text=x) for s, x in lines],
                   metadata={"started_at": "2026-12-07T10:30:00-05:00", "debt_amount": 800})
    s = score_transcript(t, "default-en")
    assert s.passed, s.feedback
    assert not any(w in f.lower() for f in s.feedback for w in ("afford", "payment", "plan", "each month")), s.feedback
    replies = [f.split(";")[0] for f in s.feedback if "right after they said" in f]
    assert len(replies) == len(set(replies)), s.feedback  # one lesson per reply, said once
