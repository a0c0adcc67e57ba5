"""Whole practice calls, typed as a trainee would, through CallSession, live coaching and the
scorer (the real turn analysis; the scripted backend, so the debtor speaks its authored lines).

Each test is a finding of issue 10: a debtor in crisis comes first in hints, flags and scores;
verification needs the name plus a detail asked for; threats and insults end the call; a call
passes only when it reaches a plan or ends properly for another reason; hints use the persona.
"""

from __future__ import annotations

import re

import pytest

from callcoach.coaching import coach_turn, suggest_line
from rubrics import turn_violations
from rubrics.scorecard import render_scorecard
from rubrics.scorer import NOT_PASSED, Scorer
from simulator.backends.scripted import ScriptedBackend
from simulator.intents import Intent, Outcome
from simulator.personas import load_personas
from simulator.session import CallSession

LIB = load_personas()
MONEY = re.compile(r"\b(?:pay|payment|paid|amount|afford|manage each month|plan|balance|owe|debt)\b", re.I)


@pytest.fixture(scope="module")
def scorer():
    from core.analysis import default_analyzer

    return Scorer("default-en", default_analyzer())


class Call:
    """A practice call as the app runs it: say a line, coach it, ask for a hint, score at the end."""

    def __init__(self, persona_id: str, scorer: Scorer, replies=()):
        self.persona = LIB.get(persona_id)
        self.scorer = scorer
        self.session = CallSession(self.persona, ScriptedBackend(list(replies), default=None), scorer.analyzer, seed=1, agent_name="Sam")
        self.session.open()
        self.flags = []

    def say(self, line: str):
        s = self.session
        reply = s.say(line)
        agent = s.analyses[-2]
        rubric = self.scorer.rubric
        violations = turn_violations(rubric, s.analyses[:-1], s.transcript())
        self.flags.append(coach_turn(agent, s.analyses[:-2], violations, rubric.rulebook_rules))
        return reply

    def hint(self):
        s = self.session
        return suggest_line(s.persona, s.state, s.context, s.analyses, s.agent_name)

    def score(self):
        s = self.session
        s.end()
        return self.scorer.score_analysed(s.transcript(), s.analyses)


def codes(flags):
    return {(f.level, f.code) for f in flags}


WALTER_OPENING = [
    "Hi, this is Sam calling on behalf of Lakeland Federal Credit Union. Am I speaking with Walter Pryor?",
    "Thank you, Walter. To make sure I'm speaking with the right person, can you confirm your date of birth?",
    "Thanks. I'm a debt collector, and this is an attempt to collect a debt; any information obtained will be used for that purpose.",
]


# --- 1. a debtor in crisis comes first ----------------------------------------------------------


def test_walter_in_crisis_hints_put_the_person_first_and_the_call_that_follows_them_passes(scorer):
    call = Call("vulnerable-walter", scorer)
    for line in WALTER_OPENING:
        call.say(line)
    assert call.session.context.identity_verified
    despair = call.session.turns[-1].text
    assert call.session.context.distress_disclosed, despair  # his own quiet words: "... much point in any of it"
    hints = []
    for _ in range(4):  # the trainee clicks "Suggest a line" and says it
        h = call.hint()
        hints.append(h.rule)
        assert not MONEY.search(h.text), h.text
        call.say(h.text)
        assert ("good", {"safety_check": "safety_check", "crisis_line": "support_referral",
                         "pause_and_follow_up": "follow_up", "close_with_care": "follow_up"}[h.rule]) in codes(call.flags[-1])
        if call.session.ended:
            break
    assert hints == ["safety_check", "crisis_line", "pause_and_follow_up", "close_with_care"]
    assert call.session.outcome is Outcome.referred_to_help
    score = call.score()
    assert score.passed and not score.violations, score.feedback
    strengths = {e.indicator for c in score.criteria.values() for e in c.evidence if e.effect == "+"}
    assert {"asks_about_safety", "refers_support_when_distressed", "follow_up_when_distressed"} <= strengths
    assert not any(MONEY.search(f) for f in score.feedback), score.feedback


def test_pushing_payment_after_a_self_harm_hint_is_flagged_and_fails_the_call(scorer):
    call = Call("vulnerable-walter", scorer)
    for line in WALTER_OPENING:
        call.say(line)
    assert call.hint().rule == "safety_check"
    reply = call.say("I understand. What amount could you realistically manage each month?")
    assert ("stop", "policy-distress-collecting") in codes(call.flags[-1])
    assert not any(f.level == "good" for f in call.flags[-1])
    assert reply.intent is Intent.express_despair and reply.state.distress > LIB.get("vulnerable-walter").meters["distress"]
    assert call.hint().rule == "safety_check"  # still the person first, never a plan
    call.say("Okay, thank you for your time. Goodbye.")
    score = call.score()
    assert not score.passed and "policy-distress-collecting" in {v.rule for v in score.blockers}
    assert score.feedback[0] == NOT_PASSED + scorer.rubric.required_to_pass[0].reason
    tips = score.feedback[1:]
    assert "988" in tips[0] and any("ending your life" in t for t in tips[:3])
    assert not any(w in f for f in score.feedback for w in ("propose", "afford", "recap the agreement"))
    html = render_scorecard(score)
    assert "Not passed" in html and "never asked whether they were safe" in html


# --- 3. verification: the name plus a detail the agent asked for --------------------------------


def test_a_name_alone_does_not_verify_and_the_debt_before_the_detail_is_flagged(scorer):
    call = Call("hostile-mark", scorer, replies=["I'm Mark. What do you want?"])
    call.say("Hi, this is Sam calling on behalf of NorthStar Card Services. Is this Mark Kowalski?")
    ctx = call.session.context
    assert ctx.name_confirmed and not ctx.identity_verified  # the checklist stays unticked
    assert call.hint().rule == "verify_detail"
    call.say("I'm calling about your overdue credit card balance.")
    assert ("stop", "fdcpa-1692c-b-unverified") in codes(call.flags[-1])


def test_the_date_of_birth_asked_for_and_given_verifies(scorer):
    call = Call("cooperative-maria", scorer)
    call.say(f"Hi, this is Sam calling on behalf of {call.persona.debt.creditor}. Am I speaking with {call.persona.name}?")
    assert not call.session.context.identity_verified
    reply = call.say("Thanks. For security, can you confirm your date of birth?")
    assert reply.intent is Intent.confirm_identity and "1974" in reply.text
    assert call.session.context.identity_verified
    call.say("Thank you. This is an attempt to collect a debt and any information obtained will be used for that purpose.")
    assert not any(f.level == "stop" for f in call.flags[-1])
    assert ("good", "mini_miranda") in codes(call.flags[-1])


# --- 8. threats and insults end the call, for every debtor ---------------------------------------


@pytest.mark.parametrize("pid", sorted(p.id for p in LIB.personas.values() if p.language == "en"))
@pytest.mark.parametrize("line", [
    "If you don't pay today, you'll be arrested.",
    "You're a useless deadbeat.",
    "We're going to sue you if you don't pay this week.",
    "We'll call your employer and tell them about this debt.",
])  # fmt: skip
def test_a_threat_or_an_insult_ends_the_call_within_two_lines(scorer, pid, line):
    """The debtor says they will complain (or go) at once, and hangs up on the next line."""
    call = Call(pid, scorer)
    p = call.persona
    call.say(f"Hi, this is Sam calling on behalf of {p.debt.creditor}. May I speak with {p.name}?")
    first = call.say(line)
    assert first.intent in (Intent.threaten_complaint, Intent.threaten_hang_up), [r.intent.value for r in call.session.replies]
    assert not first.ended
    second = call.say("I'm sorry, I didn't mean that. Can we start again?")
    assert second.ended and second.intent is Intent.hang_up
    assert call.session.outcome in (Outcome.hang_up, Outcome.complaint)
    with pytest.raises(RuntimeError):
        call.session.say("Hello? Are you still there?")


# --- 7. a call must reach a plan, or end properly for another reason -----------------------------


def test_a_four_line_exam_call_without_a_plan_does_not_pass(scorer):
    call = Call("cooperative-maria", scorer)
    p = call.persona
    for line in [
        f"Hi, this is Sam calling on behalf of {p.debt.creditor}. Am I speaking with {p.name}?",
        "Thanks. For security, can you confirm your date of birth?",
        "Thank you. This is an attempt to collect a debt and any information obtained will be used for that purpose. I'm calling about your account.",
        "I'm sorry to hear that, it sounds really hard. Can you tell me what's been happening?",
    ]:
        call.say(line)
    score = call.score()
    assert not score.passed
    assert score.feedback[0].startswith(NOT_PASSED + "the call never reached a payment plan")
    assert "never reached a payment plan" in render_scorecard(score)


@pytest.mark.parametrize("pid, lines", [
    ("disputing-priya", [
        "Hi, this is Sam calling on behalf of Brightline Wireless. Am I speaking with Priya Raman?",
        "Thank you. For security, can you confirm your date of birth?",
        "Thanks, Priya. This is an attempt to collect a debt and any information obtained will be used for that purpose. I'm calling about your account.",
        "I understand. You have the right to dispute this, and I'll send you the validation notice in writing. Thank you, goodbye.",
    ]),
    ("wrong-party-linda", [
        "Hi, this is Sam calling on behalf of Keystone Auto Finance. May I speak with Ryan Brennan, please?",
        "Thanks. Could you ask Ryan to call Sam back at 555-0100? It's a personal business matter. Thank you, goodbye.",
    ]),
    ("represented-kevin", [
        "Hi, this is Sam calling on behalf of Apex Online Lending. Am I speaking with Kevin Okafor?",
        "Thanks, Kevin. For security, can you confirm your date of birth?",
        "Thank you. This is an attempt to collect a debt and any information obtained will be used for that purpose.",
        "Thank you for telling me. Could I have your attorney's name and phone number? We'll contact them directly. Goodbye.",
    ]),
])  # fmt: skip
def test_a_call_that_ends_properly_without_a_plan_is_not_failed_for_it(scorer, pid, lines):
    call = Call(pid, scorer)
    for line in lines:
        if call.session.ended:
            break
        call.say(line)
    score = call.score()
    gates = [f for f in score.feedback if f.startswith(NOT_PASSED)]
    assert gates == [], ([t.text for t in call.session.turns], score.feedback)


# --- 10. hints speak for the persona's creditor and assume no payday ------------------------------


@pytest.mark.parametrize("pid", sorted(LIB.personas))
def test_hints_use_the_personas_creditor(scorer, pid):
    call = Call(pid, scorer)
    p = call.persona
    intro = call.hint()
    assert intro.rule == "introduce" and p.debt.creditor in intro.text and "Acme" not in intro.text
    assert not re.search(r"payday|paycheck", intro.text, re.I)
