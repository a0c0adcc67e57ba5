"""Live coaching flags (the rulebook's violations, worded by their rules, plus good practice) and the
suggested next line, from hand-built analyses."""

from __future__ import annotations

import re

import pytest
from helpers import ta

from callcoach.coaching import coach_turn, coaching_data, suggest_line, violation_flags
from core.analysis.types import CallContext, Hit, TurnAnalysis
from rubrics import Violation, load_rubric
from rubrics.loader import known_signals
from rubrics.schema import Match
from simulator.director import Promise, initial_state
from simulator.personas import load_personas

LIB = load_personas()
MARIA = LIB.get("cooperative-maria")
LINDA = LIB.get("wrong-party-linda")


def agent(*signals, question=None, **ctx) -> TurnAnalysis:
    context = CallContext(**ctx)
    return TurnAnalysis(index=2, speaker="agent", text="...", hits=tuple(Hit(s, f"<{s}>") for s in signals),
                        question=question, context=context, after=context)


def codes(flags):
    return [f.code for f in flags]


PRIOR = [agent("self_identification")]  # an earlier agent turn, so the first-line check is off


@pytest.fixture(scope="module")
def an():
    from core.analysis import default_analyzer

    return default_analyzer()


US = load_rubric("default-en").rulebook_rules
CN = load_rubric("default-zh").rulebook_rules


def violation(rule_id, quote="<quote>", turn=2, rulebook=US) -> Violation:
    rule = next(r for r in rulebook.rules if r.id == rule_id)
    return Violation(rule=rule.id, title=rule.title, citation=rule.citation, severity=rule.severity, turn=turn, quote=quote)


def test_a_violation_is_a_stop_flag_worded_by_its_rule_with_the_quote():
    v = violation("fdcpa-1692c-b-unverified", quote="calling about your overdue balance")
    [flag] = coach_turn(agent("debt_mention", identity_verified=False), PRIOR, [v], US)
    assert (flag.level, flag.code, flag.quote) == ("stop", "fdcpa-1692c-b-unverified", "calling about your overdue balance")
    assert flag.message == (
        "Discussed the debt before verifying identity (15 U.S.C. 1692c(b); 12 CFR 1006.6(d)). Confirm you are speaking"
        " with the debtor (full name plus one detail) before mentioning the debt or giving the debt-collector disclosure."
    )


def test_severity_sets_the_level_and_advice_placeholders_are_filled():
    blocker, minor = violation("fdcpa-1692e-4"), violation("fdcpa-1692e-8")
    flags = coach_turn(agent("threat_credit", "threat_arrest", identity_verified=True), PRIOR, [minor, blocker], US)
    assert [(f.level, f.code) for f in flags] == [("stop", "fdcpa-1692e-4"), ("warn", "fdcpa-1692e-8")]
    [amount] = violation_flags([violation("fdcpa-1692e-2", quote="You owe $900.")], US)
    assert amount.level == "stop" and '"You owe $900." is more than is owed' in amount.message
    [cn] = violation_flags([violation("cn-pipl-unverified", rulebook=CN)], CN)
    assert cn.message.startswith("未核实身份即谈及债务") and "先核实对方是否为本人" in cn.message


def test_coaching_makes_no_compliance_judgement_of_its_own():
    # Each of these once had a coaching-side check; now only the rulebook's violations say so.
    turns = [
        agent("debt_mention", identity_verified=False),
        agent("mini_miranda", identity_verified=False),
        agent("debt_mention", third_party=True),
        agent("payment_offer", identity_verified=True, stop_requested=True),
        agent("payment_offer", identity_verified=True, attorney_mentioned=True),
        agent("debt_mention", identity_verified=True),  # no mini-Miranda yet
        agent("threat_arrest", "threat_legal", "abuse", "impersonation", "unauthorized_fee", identity_verified=True),
    ]
    for turn in turns:
        assert [f for f in coach_turn(turn, PRIOR) if f.level == "stop"] == [], turn


def test_no_coaching_note_repeats_a_rule():
    """A signal a rule judges on its own (whatever the call state) gets no coaching note."""
    notes = coaching_data()["signals"]
    for rulebook in (US, CN):
        for rule in rulebook.rules:
            d = rule.detect
            if d.kind == "turn" and d.match == Match(signals=d.match.signals) and not rule.facts and not d.after:
                assert notes.keys().isdisjoint(d.match.signals), rule.id
    assert all(entry["level"] != "stop" for table in ("signals", "situations") for entry in coaching_data()[table].values())


def test_empathy_is_praised():
    flags = coach_turn(agent("empathy", identity_verified=True), PRIOR)
    assert [(f.level, f.message) for f in flags] == [("good", "Good: you acknowledged their situation.")]


def test_a_rule_broken_silences_praise():
    flags = coach_turn(agent("empathy", "threat_arrest", identity_verified=True), PRIOR, [violation("fdcpa-1692e-4")], US)
    assert codes(flags) == ["fdcpa-1692e-4"]
    flags = coach_turn(agent("empathy", "threat_credit", identity_verified=True), PRIOR, [violation("fdcpa-1692e-8")], US)
    assert codes(flags) == ["fdcpa-1692e-8"] and flags[0].level == "warn"


def test_the_disclosure_and_an_offer_are_praised_only_to_the_verified_debtor():
    assert "mini_miranda" in codes(coach_turn(agent("mini_miranda", identity_verified=True), PRIOR))
    assert "mini_miranda" not in codes(coach_turn(agent("mini_miranda", identity_verified=False), PRIOR))
    assert "payment_offer" not in codes(coach_turn(agent("payment_offer", third_party=True), PRIOR))


def test_first_line_without_self_identification_is_a_warning():
    assert "no_self_identification" in codes(coach_turn(agent("greeting")))
    assert "no_self_identification" not in codes(coach_turn(agent("greeting", "self_identification")))
    # the debt in the first line without a name: the rule says it, once
    flags = coach_turn(agent("debt_mention"), (), [violation("fdcpa-1692d-6")], US)
    assert codes(flags) == ["fdcpa-1692d-6"]


def test_pressure_is_a_warning_unless_a_rule_already_cites_it():
    assert [(f.level, f.code) for f in coach_turn(agent("pressure", identity_verified=True), PRIOR)] == [("warn", "pressure")]
    flags = coach_turn(agent("pressure", identity_verified=True, stop_requested=True), PRIOR, [violation("fdcpa-1692c-c")], US)
    assert codes(flags) == ["fdcpa-1692c-c"]


def test_ignoring_distress_or_a_dispute():
    assert "ignored_distress" in codes(coach_turn(agent("payment_offer", identity_verified=True, distress_disclosed=True), PRIOR))
    assert "ignored_distress" in codes(coach_turn(agent(question="closed", identity_verified=True, distress_disclosed=True), PRIOR))
    assert "ignored_distress" not in codes(coach_turn(agent("support_referral", identity_verified=True, distress_disclosed=True), PRIOR))
    assert "ignored_distress" not in codes(coach_turn(agent("safety_check", identity_verified=True, distress_disclosed=True), PRIOR))
    # money after a self-harm hint: the rulebook's stop flag says it (once), praise is silenced
    pushed = agent("payment_offer", identity_verified=True, distress_disclosed=True)
    flags = coach_turn(pushed, PRIOR, [violation("policy-distress-collecting")], US)
    assert [(f.level, f.code) for f in flags] == [("stop", "policy-distress-collecting")]
    assert "988" in flags[0].message


def test_asking_about_safety_and_arranging_a_call_are_praised():
    flags = coach_turn(agent("safety_check", identity_verified=True, distress_disclosed=True), PRIOR)
    assert ("good", "safety_check") in [(f.level, f.code) for f in flags]
    assert "follow_up" in codes(coach_turn(agent("follow_up", identity_verified=True), PRIOR))
    assert "follow_up" not in codes(coach_turn(agent("follow_up", identity_verified=True, stop_requested=True), PRIOR))
    assert "ignored_dispute" in codes(coach_turn(agent("payment_offer", identity_verified=True, dispute_raised=True), PRIOR))
    flags = coach_turn(agent("payment_offer", "deny_dispute_rights", identity_verified=True, dispute_raised=True), PRIOR,
                       [violation("fdcpa-1692g")], US)
    assert codes(flags) == ["fdcpa-1692g"]


def test_open_questions_are_praised_and_only_closed_ones_nudged():
    assert "open_question" in codes(coach_turn(agent(question="open", identity_verified=True), PRIOR))
    history = [agent("self_identification", question="closed"), agent(question="closed")]
    assert "closed_questions_only" in codes(coach_turn(agent(question="closed", identity_verified=True), history))


def test_every_signal_message_is_data():
    data = coaching_data()
    assert {"signals", "situations", "hints"} <= set(data)
    known = known_signals()
    for table in ("signals", "situations"):
        for code, entry in data[table].items():
            assert entry["level"] in ("stop", "warn", "good"), code
            assert entry["message"].strip(), code
            assert set(entry) <= {"level", "message", "when", "rule_signals"}, code
            assert known is None or set(entry.get("rule_signals", ())) <= known, code
            assert set(entry.get("when", {})) <= set(CallContext.__dataclass_fields__), code
    assert known is None or set(data["signals"]) <= known


# --- the hint ------------------------------------------------------------------------------


def hint(persona=MARIA, state=None, history=(), **ctx):
    return suggest_line(persona, state or initial_state(persona), CallContext(**ctx), list(history), agent_name="Sam")


def test_hint_opens_the_call_with_an_introduction():
    h = hint()
    assert h.rule == "introduce"
    assert "Sam" in h.text and MARIA.name in h.text


def test_hint_follows_the_compliance_order():
    opened = [ta("self_identification", verified=False)]
    assert hint(history=opened, self_identified=True).rule == "verify"
    # the name is confirmed: one identifying detail is still to come
    assert hint(history=opened, self_identified=True, name_confirmed=True).rule == "verify_detail"
    assert hint(history=opened, self_identified=True, identity_verified=True).rule == "mini_miranda"
    assert hint(history=opened, self_identified=True, stop_requested=True).rule == "stop_requested"


WALTER = LIB.get("vulnerable-walter")


def test_a_debtor_in_crisis_gets_person_first_hints_and_never_money():
    """After a self-harm hint: ask about safety, offer 988, pause and arrange a call, close with
    care; never a payment question, whatever else the call has or lacks."""
    opened = [ta("self_identification", verified=False)]
    crisis = dict(self_identified=True, distress_disclosed=True)
    steps = []
    history = list(opened)
    for said in ("safety_check", "support_referral", "follow_up", "close"):
        h = hint(WALTER, history=history, **crisis)
        steps.append(h.rule)
        history.append(ta(said))
    assert steps == ["safety_check", "crisis_line", "pause_and_follow_up", "close_with_care"]
    # even mid-plan (a promise on record, not verified, no mini-Miranda) the person comes first
    st = initial_state(WALTER)
    st = type(st)(**{**st.__dict__, "promise": Promise(300.0, True, "2026-12-04", "$300 a month")})
    for ctx in ({}, {"identity_verified": True, "mini_miranda_given": True}, {"stop_requested": True}):
        assert hint(WALTER, state=st, history=opened, **crisis, **ctx).rule == "safety_check"
    texts = [coaching_data()["hints"][k] for k in ("safety_check", "crisis_line", "pause_and_follow_up", "close_with_care")]
    assert "ending your life" in texts[0] and "988" in texts[1]
    for text in texts:
        assert not re.search(r"\b(pay|payment|amount|afford|plan|balance)\b", text, re.I), text


def test_crisis_hints_say_what_they_are_for(an):
    """Each person-first hint, said as the trainee would, is read by the analysis as that step."""
    fill = {"first_name": "Walter"}
    expect = {"safety_check": "safety_check", "crisis_line": "support_referral", "pause_and_follow_up": "follow_up"}
    for key, signal in expect.items():
        a = an.analyze_turn(coaching_data()["hints"][key].format(**fill), speaker="agent")
        assert signal in a.signals, (key, sorted(a.signals))
        assert a.signals.isdisjoint({"payment_offer", "pressure", "debt_mention"}) and a.offer is None, key


def test_hints_use_the_personas_creditor_and_never_assume_a_payday():
    data = coaching_data()
    assert "agency" not in data and "Acme" not in str(data["hints"])
    for persona in (MARIA, WALTER):
        intro = hint(persona)
        assert persona.debt.creditor in intro.text and persona.name in intro.text
        h = hint(persona, history=[ta("self_identification")], self_identified=True, identity_verified=True)
        assert h.rule == "mini_miranda" and persona.debt.creditor in h.text
    for text in data["hints"].values():
        assert not re.search(r"\b(payday|paycheck|salary|wages|your job|employer)\b", text, re.I), text


def test_hint_for_a_wrong_party_asks_for_a_call_back_without_the_debt():
    h = hint(LINDA, history=[ta("self_identification", verified=False)], self_identified=True, third_party=True)
    assert h.rule == "third_party"
    assert LINDA.third_party.account_holder.split()[0] in h.text
    assert "debt" not in h.text.lower() and LINDA.debt.creditor not in h.text


def test_hint_recaps_a_promise():
    st = initial_state(MARIA)
    st = type(st)(**{**st.__dict__, "promise": Promise(150.0, True, "2026-12-04", "$150 a month from Dec 4")})
    h = hint(state=st, history=[ta("self_identification")], self_identified=True, identity_verified=True, mini_miranda_given=True)
    assert h.rule == "recap" and "$150 a month from Dec 4" in h.text


def test_coaching_names_only_catalogue_signals_and_a_renamed_one_fails_at_load(tmp_path):
    from callcoach.coaching import CoachingDataError, load_coaching_data
    from core.analysis.catalogue import DEFAULT_CATALOGUE, load_catalogue

    assert load_coaching_data() == coaching_data()  # the shipped data and this module's names all exist
    text = DEFAULT_CATALOGUE.read_text(encoding="utf-8").replace("\n  recap:\n", "\n  recap_v2:\n")
    copy = tmp_path / "signals.yaml"
    copy.write_text(text, encoding="utf-8")
    with pytest.raises(CoachingDataError) as err:
        load_coaching_data(catalogue=load_catalogue(copy))
    fix = f"did you mean 'recap_v2'? name a signal defined in {copy} (or, if it was renamed there, rename it here too)"
    assert err.value.problems == [
        f"callcoach/prompts/coaching.yaml: signals.recap: unknown signal 'recap'; {fix}",
        f"callcoach/coaching.py: SIG.recap: unknown signal 'recap'; {fix}",
    ]
