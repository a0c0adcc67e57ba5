"""Director dynamics: believable, deterministic debtor behaviour (table-driven)."""

from __future__ import annotations

import pytest
from helpers import ta

from simulator.director import Director, initial_state
from simulator.intents import Intent, Outcome
from simulator.personas import load_personas

LIB = load_personas()


def persona(pid: str):
    if pid not in LIB.personas:
        pytest.skip(f"persona {pid} not shipped")
    return LIB.personas[pid]


def play(pid: str, script, seed: int = 0):
    """Feed analyses to the director; returns the list of decisions."""
    p = persona(pid)
    d = Director(p, seed=seed)
    st = initial_state(p)
    out = []
    for a in script:
        dec = d.step(st, a)
        out.append(dec)
        st = dec.state
        if st.ended:
            break
    return out


def within_capacity(pid: str) -> tuple[float, bool, int]:
    cap = persona(pid).payment_capacity
    return (cap.monthly_max, True, cap.first_payment_within_days)


KIND = ("empathy", "self_identification")


@pytest.mark.parametrize("pid", ["hostile-mark"])
def test_hostile_never_agrees_in_first_two_turns(pid):
    best = ta(*KIND, "identity_check", "offer_help", question="open", topics=("payment_ability",), offer=within_capacity(pid))
    decisions = play(pid, [best, best])
    assert [d.intent for d in decisions].count(Intent.promise_to_pay) == 0
    assert all(d.state.outcome != Outcome.promise_to_pay for d in decisions)


@pytest.mark.parametrize("pid", ["cooperative-maria", "distressed-dana"])
def test_empathy_and_a_plan_within_capacity_lead_to_a_promise(pid):
    script = [
        ta("greeting", "self_identification", "identity_check"),
        ta("empathy", question="open", topics=("situation",)),
        ta("empathy", "active_listening", question="open", topics=("payment_ability",)),
        ta("empathy", "payment_offer", offer=within_capacity(pid)),
        ta("payment_offer", offer=within_capacity(pid)),
        ta("payment_offer", offer=within_capacity(pid)),
    ]
    decisions = play(pid, script)
    promises = [d for d in decisions if d.intent is Intent.promise_to_pay]
    assert promises, [d.intent.value for d in decisions]
    final = promises[0].state
    assert final.outcome is Outcome.promise_to_pay
    assert final.promise.amount == within_capacity(pid)[0]
    assert final.promise.due  # an ISO date


@pytest.mark.parametrize("pid", ["cooperative-maria", "distressed-dana"])
def test_plan_beyond_capacity_gets_a_counter_offer_not_a_promise(pid):
    cap = persona(pid).payment_capacity
    too_much = (cap.monthly_max * 3 + 50, True, 7)
    script = [ta("self_identification", "identity_check"), ta("empathy", question="open", topics=("situation",)), ta("empathy")] + [
        ta("payment_offer", offer=too_much)
    ] * 3
    decisions = play(pid, script)
    assert Intent.promise_to_pay not in [d.intent for d in decisions]


@pytest.mark.parametrize("pid", ["cooperative-maria", "hostile-mark", "distressed-dana", "evasive-tony"])
def test_threats_raise_anger_and_end_in_hang_up_or_complaint(pid):
    p = persona(pid)
    start = p.meters
    decisions = play(pid, [ta("threat_arrest", "pressure", "abuse")] * 12)
    assert decisions[0].state.anger > start["anger"]
    last = decisions[-1]
    assert last.state.ended or last.state.outcome in (Outcome.complaint, Outcome.hang_up)
    assert last.state.outcome in (Outcome.hang_up, Outcome.complaint)


def test_wrong_party_never_confirms_and_reacts_badly_to_disclosure():
    pid = "wrong-party-linda"
    polite = play(pid, [ta("greeting", "self_identification", "identity_check", verified=False)] * 3)
    intents = {d.intent for d in polite}
    assert Intent.confirm_identity not in intents and Intent.promise_to_pay not in intents
    disclosed = play(pid, [ta("self_identification"), ta("debt_mention", verified=False, third_party=True)])
    assert disclosed[-1].state.disclosed_to_third_party
    assert disclosed[-1].state.anger > polite[-1].state.anger
    assert disclosed[-1].intent in (Intent.vent, Intent.threaten_complaint, Intent.hang_up)
    offer = play(pid, [ta("payment_offer", "debt_mention", offer=(50, True, 7), verified=False, third_party=True)] * 4)
    assert all(d.intent not in (Intent.confirm_identity, Intent.promise_to_pay) for d in offer)


def test_vulnerable_distress_escalates_under_pressure_and_softens_with_help():
    pid = "vulnerable-walter"
    pushed = play(pid, [ta("pressure", "debt_mention")] * 3)
    distress = [d.state.distress for d in pushed]
    assert distress == sorted(distress) and distress[-1] > persona(pid).meters["distress"]
    assert Intent.express_despair in {d.intent for d in pushed}
    helped = play(pid, [ta("empathy", question="open", topics=("wellbeing",)), ta("empathy", "support_referral")])
    assert helped[-1].intent is Intent.accept_help
    assert helped[-1].state.distress < pushed[-1].state.distress


def test_represented_debtor_refers_to_attorney_then_asks_to_stop():
    pid = "represented-kevin"
    decisions = play(pid, [ta("self_identification", "debt_mention"), ta("debt_mention", "pressure"), ta("payment_offer", offer=(50, True, 7))])
    intents = [d.intent for d in decisions]
    assert intents[0] is Intent.refer_to_attorney
    assert Intent.request_stop in intents or Intent.hang_up in intents


def test_hidden_fact_needs_the_right_question_and_enough_trust():
    p = persona("cooperative-maria")
    fact = p.hidden_facts[0]
    topic = fact.revealed_by[0].value
    other = next(t for t in ("fees", "contact", "representation", "dispute") if t not in {x.value for x in fact.revealed_by})
    off_topic = play(p.id, [ta("self_identification"), ta(question="open", topics=(other,))])
    assert fact.id not in off_topic[-1].state.revealed
    trust_builders = [ta("empathy", "self_identification")] * 3
    on_topic = play(p.id, trust_builders + [ta("empathy", question="open", topics=(topic,))])
    assert fact.id in on_topic[-1].state.revealed
    assert fact.id in on_topic[-1].newly_revealed


def test_same_inputs_same_result():
    script = [ta("self_identification"), ta("pressure"), ta("empathy", question="open", topics=("situation",)), ta("payment_offer", offer=(40, True, 5))]
    a = play("evasive-tony", script, seed=3)
    b = play("evasive-tony", script, seed=3)
    assert [(d.intent, d.state) for d in a] == [(d.intent, d.state) for d in b]


def test_agent_closing_ends_the_call_with_the_agreed_outcome():
    pid = "cooperative-maria"
    script = [
        ta("self_identification", "identity_check"),
        ta("empathy", question="open", topics=("situation",)),
        ta("empathy", "offer_help"),
        ta("payment_offer", offer=within_capacity(pid)),
        ta("recap", "close"),
    ]
    decisions = play(pid, script)
    assert decisions[-1].intent is Intent.goodbye
    assert decisions[-1].state.ended
    assert decisions[-1].state.outcome is Outcome.promise_to_pay
