"""Director dynamics: believable, deterministic debtor behaviour (table-driven)."""

from __future__ import annotations

import pytest
from helpers import ta

from core.analysis.types import CallContext
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


# --- threats and insults end the call (README: "threats end in a hang-up or a complaint") ------

ENDINGS = (Outcome.hang_up, Outcome.complaint)
ANNOUNCED = (Intent.threaten_complaint, Intent.threaten_hang_up)


@pytest.mark.parametrize("pid", sorted(LIB.personas))
@pytest.mark.parametrize("offense, warned", [("threat_arrest", False), ("abuse", False), ("threat_violence", False),
                                             ("threat_legal", False), ("threat_contact_others", False),
                                             ("threat_credit", True)])  # fmt: skip
def test_threats_and_insults_end_the_call_for_every_persona(pid, offense, warned):
    """The debtor says they will complain (or go) right away, then hangs up on the next line,
    whatever it is; a milder threat gets a warning first."""
    opening = [ta("greeting", "self_identification", "identity_check", verified=False)]
    sorry = ta("empathy", text="I'm sorry, I didn't mean that.")
    decisions = play(pid, opening + [ta(offense, "debt_mention")] * (2 if warned else 1) + [sorry, sorry])
    after = decisions[1:]
    if warned:  # the first mild threat: the debtor reacts in character, the second ends it
        if after[0].state.ended:  # ... or it is too much at once (Mark's anger, Dana's distress)
            assert after[0].state.outcome in ENDINGS
            return
        after = after[1:]
    assert after[0].intent in ANNOUNCED and after[0].state.outcome in ENDINGS and not after[0].state.ended
    assert after[1].intent is Intent.hang_up and after[1].state.ended, "an apology does not save the call"
    assert after[1].state.outcome is after[0].state.outcome


def test_an_insult_is_answered_with_a_complaint_and_a_threat_to_a_gentle_debtor_with_a_hang_up():
    insulted = play("vulnerable-walter", [ta("self_identification", "identity_check"), ta("abuse")])
    assert insulted[-1].intent is Intent.threaten_complaint and insulted[-1].state.outcome is Outcome.complaint
    threatened = play("distressed-dana", [ta("self_identification", "identity_check"), ta("threat_arrest")])
    assert threatened[-1].intent is Intent.threaten_hang_up and threatened[-1].state.outcome is Outcome.hang_up


# --- identity: a detail asked for gets an answer --------------------------------------------------


def test_the_debtor_answers_a_request_for_a_detail_whenever_asked():
    asked_detail = ta("identifier_request", "identity_check", question="closed", verified=False)
    d = play("cooperative-maria", [ta("self_identification", "identity_check", verified=False), asked_detail])
    assert [x.intent for x in d] == [Intent.confirm_identity, Intent.confirm_identity]
    # once verified, a detail asked again (a mailing address for the letter) is still answered,
    # from the persona file (the actor says it: detail "identifiers")
    d = play("cooperative-maria", [ta("self_identification", "identity_check", verified=False),
                                    ta("identifier_request", question="closed", verified=True, text="And your zip code?")])
    assert d[-1].intent is Intent.confirm_identity and d[-1].detail["identifiers"] == ["zip"]
    # ... and a talk about anything else is no identity question
    d = play("cooperative-maria", [ta("self_identification", "identity_check", verified=False),
                                    ta("empathy", question="open", topics=("situation",), verified=True, text="How have you been?")])
    assert d[-1].intent is not Intent.confirm_identity


def test_a_distressed_debtor_still_answers_who_they_are():
    d = play("vulnerable-walter", [ta("self_identification", "identity_check", verified=False)])
    assert d[0].intent is Intent.confirm_identity


# --- a debtor in crisis ------------------------------------------------------------------------


def test_asked_about_safety_they_answer_honestly_and_money_after_a_self_harm_hint_deepens_the_distress():
    pid = "vulnerable-walter"
    safety = ta("safety_check", question="closed", topics=("wellbeing",))
    d = play(pid, [ta("self_identification", "identity_check"), ta("empathy"), safety])
    assert d[-1].intent is Intent.express_despair
    assert "not_safe" in d[-1].state.revealed  # the question earns the hidden fact
    helped = play(pid, [ta("self_identification", "identity_check"), safety, ta("support_referral", "empathy")])
    assert helped[-1].intent is Intent.accept_help and helped[-1].state.outcome is Outcome.referred_to_help
    # after help, a payment question is still collecting from a person in crisis: no counter-offer
    asked_to_pay = ta(question="open", topics=("payment_ability",))
    pushed = play(pid, [ta("self_identification", "identity_check"), safety, ta("support_referral", "empathy"), asked_to_pay])
    assert pushed[-1].intent is Intent.express_despair
    assert pushed[-1].state.distress > helped[-1].state.distress


def test_a_debtor_who_spoke_of_self_harm_is_treated_as_in_crisis_whatever_the_persona():
    crisis = ta(question="open", topics=("payment_ability",))
    crisis = type(crisis)(**{**crisis.__dict__, "context": CallContext(identity_verified=True, distress_disclosed=True)})
    d = play("cooperative-maria", [ta("self_identification", "identity_check"), ta("empathy")] * 2 + [crisis])
    assert d[-1].intent is not Intent.counter_offer


# --- the recapped plan is the promise ------------------------------------------------------------


def test_the_plan_the_agent_recaps_is_the_promise_recorded():
    pid = "cooperative-maria"
    cap = persona(pid).payment_capacity
    agreed = (cap.monthly_max, True, 10)
    recapped = (cap.monthly_max - 25, True, 14)
    script = [
        ta("self_identification", "identity_check"),
        ta("empathy", question="open", topics=("situation",)),
        ta("empathy", "offer_help"),
        ta("payment_offer", offer=agreed),
    ]
    decisions = play(pid, script + [ta("recap", "close", offer=recapped)])
    assert decisions[-2].state.promise.amount == cap.monthly_max
    last = decisions[-1]
    assert last.intent is Intent.goodbye and last.state.outcome is Outcome.promise_to_pay
    assert last.state.promise.amount == recapped[0], "the recapped plan, not the first figure"
    # the debtor named a figure; the agent reads a plan back ("So to confirm ... does that work?")
    after_counter = play(pid, script[:3] + [ta(question="open", topics=("payment_ability",)), ta("recap", question="closed", offer=recapped)])
    assert after_counter[-2].intent is Intent.counter_offer
    assert after_counter[-1].intent is Intent.promise_to_pay and after_counter[-1].state.promise.amount == recapped[0]
