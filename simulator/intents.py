"""The debtor's vocabulary of intents and the agent-side signals the director reacts to.

Kept in one small module because personas (data), the director and the actor all name them.
"""

from __future__ import annotations

from enum import Enum


class Intent(str, Enum):
    """What the debtor means to do with their next line."""

    answer = "answer"  # picks up the phone
    confirm_identity = "confirm_identity"
    ask_who_is_calling = "ask_who_is_calling"
    take_message = "take_message"  # a third party who answered
    deflect = "deflect"
    stall = "stall"
    vent = "vent"
    explain_hardship = "explain_hardship"
    answer_question = "answer_question"
    acknowledge = "acknowledge"  # takes in a statement (the mini-Miranda, what happens next): "Okay."
    ask_proof = "ask_proof"
    dispute = "dispute"
    counter_offer = "counter_offer"
    promise_to_pay = "promise_to_pay"
    refuse = "refuse"
    threaten_hang_up = "threaten_hang_up"
    threaten_complaint = "threaten_complaint"
    hang_up = "hang_up"
    refer_to_attorney = "refer_to_attorney"
    request_stop = "request_stop"
    express_despair = "express_despair"
    accept_help = "accept_help"
    goodbye = "goodbye"


# Intents that end the call.
ENDING_INTENTS = frozenset({Intent.hang_up, Intent.goodbye})


class Outcome(str, Enum):
    """How a call ended."""

    promise_to_pay = "promise_to_pay"
    refusal = "refusal"
    hang_up = "hang_up"
    dispute = "dispute"
    complaint = "complaint"
    referred_to_attorney = "referred_to_attorney"
    stop_requested = "stop_requested"
    message_taken = "message_taken"  # wrong party: call ended without disclosure
    referred_to_help = "referred_to_help"  # vulnerable debtor: collection paused
    ended_by_agent = "ended_by_agent"


class Meter(str, Enum):
    trust = "trust"
    anger = "anger"
    distress = "distress"


class Temperament(str, Enum):
    cooperative = "cooperative"
    hostile = "hostile"
    distressed = "distressed"
    evasive = "evasive"
    disputing = "disputing"
    wrong_party = "wrong_party"
    vulnerable = "vulnerable"
    represented = "represented"


# Temperaments that give an identifying detail warmly, even to a caller who has not said who they
# are; the others are guarded (simulator/director.py, simulator/identity_lines.py).
WARM_TEMPERAMENTS = frozenset({Temperament.cooperative, Temperament.distressed, Temperament.vulnerable})


class AgentSignal(str, Enum):
    """Agent-side signals that move the debtor's meters (personas set their sensitivities)."""

    empathy = "empathy"
    open_question = "open_question"
    pressure = "pressure"
    threat = "threat"
    abuse = "abuse"
    clear_offer = "clear_offer"
    self_identification = "self_identification"
    identity_check = "identity_check"
    debt_disclosure = "debt_disclosure"
    offer_help = "offer_help"  # points to support, pauses collection
