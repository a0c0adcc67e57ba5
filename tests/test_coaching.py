"""Live coaching flags and the suggested next line, from hand-built analyses."""

from __future__ import annotations

from helpers import ta

from simulator.analysis.types import CallContext, Hit, TurnAnalysis
from simulator.coaching import coach_turn, coaching_data, suggest_line
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


def test_debt_before_verification_is_a_stop_flag_with_the_quote():
    flags = coach_turn(agent("debt_mention", identity_verified=False), PRIOR)
    assert flags[0].level == "stop" and flags[0].code == "debt_before_verification"
    assert flags[0].message == "Identity not verified yet: do not mention the debt."
    assert flags[0].quote == "<debt_mention>"


def test_debt_to_a_third_party_gets_its_own_message():
    flags = coach_turn(agent("debt_mention", third_party=True, identity_verified=False), PRIOR)
    assert codes(flags) == ["debt_to_third_party"]


def test_empathy_is_praised():
    flags = coach_turn(agent("empathy", identity_verified=True), PRIOR)
    assert [(f.level, f.message) for f in flags] == [("good", "Good: you acknowledged their situation.")]


def test_a_threat_is_flagged_and_silences_praise():
    flags = coach_turn(agent("empathy", "threat_arrest", identity_verified=True), PRIOR)
    assert codes(flags) == ["threat_arrest"]
    assert all(f.level == "stop" for f in flags)


def test_first_line_without_self_identification_is_a_warning():
    assert "no_self_identification" in codes(coach_turn(agent("greeting")))
    assert "no_self_identification" not in codes(coach_turn(agent("greeting", "self_identification")))


def test_missing_mini_miranda_when_the_debt_first_comes_up():
    flags = coach_turn(agent("debt_mention", identity_verified=True), PRIOR)
    assert "miranda_missing" in codes(flags)
    flags = coach_turn(agent("debt_mention", "mini_miranda", identity_verified=True), PRIOR)
    assert "miranda_missing" not in codes(flags)


def test_ignoring_a_stop_request_or_distress():
    assert "ignored_stop_request" in codes(coach_turn(agent("payment_offer", identity_verified=True, stop_requested=True), PRIOR))
    assert "ignored_distress" in codes(coach_turn(agent("payment_offer", identity_verified=True, distress_disclosed=True), PRIOR))
    assert "ignored_distress" not in codes(coach_turn(agent("support_referral", identity_verified=True, distress_disclosed=True), PRIOR))


def test_open_questions_are_praised_and_only_closed_ones_nudged():
    assert "open_question" in codes(coach_turn(agent(question="open", identity_verified=True), PRIOR))
    history = [agent("self_identification", question="closed"), agent(question="closed")]
    assert "closed_questions_only" in codes(coach_turn(agent(question="closed", identity_verified=True), history))


def test_every_signal_message_is_data():
    data = coaching_data()
    assert {"signals", "situations", "hints"} <= set(data)
    for table in ("signals", "situations"):
        for code, entry in data[table].items():
            assert entry["level"] in ("stop", "warn", "good"), code
            assert entry["message"].strip(), code


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
    assert hint(history=opened, self_identified=True, identity_verified=True).rule == "mini_miranda"
    assert hint(history=opened, self_identified=True, identity_verified=True, mini_miranda_given=True,
                distress_disclosed=True).rule == "distress"
    assert hint(history=opened, self_identified=True, stop_requested=True).rule == "stop_requested"


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
