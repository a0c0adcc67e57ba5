"""TurnAnalysis: everything the scorer and the director need to know about one turn.

Every turn is analysed once. The scorer aggregates analyses into criterion scores and rule
violations; the director uses the same analysis to move the debtor's state. Signal names are
defined once, in ``core/analysis/signals.yaml``; code refers to them by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Literal

from core.analysis.readings import ClarityReading, EmpathyReading

QuestionType = Literal["open", "closed"]


class Topic(str, Enum):
    """What a collector's question is about; hidden facts name the topics that reveal them."""

    situation = "situation"  # what's going on, what happened
    employment = "employment"  # job, income
    health = "health"
    household = "household"  # family, dependants, who lives there
    expenses = "expenses"  # bills, budget
    payment_ability = "payment_ability"  # what could you pay, when
    reason_unpaid = "reason_unpaid"  # why the account fell behind
    dispute = "dispute"  # records, proof, whether it was paid / is theirs
    fees = "fees"  # charges, interest, fees
    representation = "representation"  # attorney, someone helping them
    contact = "contact"  # best time/number to reach them
    wellbeing = "wellbeing"  # are you safe, are you okay



@dataclass(frozen=True)
class Hit:
    """One detected signal in a turn, with the span that triggered it (the evidence)."""

    signal: str
    quote: str
    score: float = 1.0  # cosine similarity for semantic detectors, 1.0 for patterns


@dataclass(frozen=True)
class PaymentOffer:
    """A payment amount the agent proposed or the debtor offered."""

    amount: float
    monthly: bool = False  # per month/week instalment rather than a one-off payment
    date_text: str | None = None  # as said: "Friday", "the 15th", "next week"
    days_from_now: int | None = None  # resolved against the call date where possible


@dataclass(frozen=True)
class CallContext:
    """What is known about the call before a turn (built up turn by turn)."""

    agent_turns: int = 0
    self_identified: bool = False
    identity_asked: bool = False  # the agent checked who is on the line (name or a detail)
    identifier_asked: bool = False  # ... and asked for an identifying detail (date of birth, address ...)
    name_confirmed: bool = False  # asked who they are, the person confirmed they are the debtor
    identifier_confirmed: bool = False  # asked for a detail, the person gave it
    # Right-party verification (rules-us.yaml, DOMAIN.md U3/U13): the name plus one identifying
    # detail the agent asked for. "Yes, this is Mark" alone is not verification.
    identity_verified: bool = False
    third_party: bool = False  # the person on the line said they are not the account holder
    debt_disclosed: bool = False
    mini_miranda_given: bool = False
    stop_requested: bool = False
    attorney_mentioned: bool = False
    distress_disclosed: bool = False  # debtor hinted at not coping / self-harm
    hardship_disclosed: bool = False  # job loss, illness, bereavement ...
    dispute_raised: bool = False
    first_contact: bool = True
    local_hour: int | None = None  # debtor-local hour the call started, from metadata
    last_other: str = ""  # what the other party said in their latest turn (the empathy reading reflects on it)

    def evolve(self, **changes) -> CallContext:
        return replace(self, **changes)


@dataclass(frozen=True)
class TurnAnalysis:
    """The analysis of one turn (agent or debtor) in the context of the call so far."""

    index: int
    speaker: str
    text: str
    hits: tuple[Hit, ...] = ()
    question: QuestionType | None = None
    question_topics: tuple[Topic, ...] = ()
    offer: PaymentOffer | None = None
    amounts: tuple[float, ...] = ()
    context: CallContext = field(default_factory=CallContext)  # before this turn
    after: CallContext = field(default_factory=CallContext)  # after this turn
    empathy: EmpathyReading | None = None  # graded mechanisms (agent) or the empathy opportunity (other)
    clarity: ClarityReading | None = None  # agent turns: how easy the turn is to follow

    @property
    def signals(self) -> frozenset[str]:
        return frozenset(h.signal for h in self.hits)

    def has(self, signal: str) -> bool:
        return any(h.signal == signal for h in self.hits)

    def first(self, signal: str) -> Hit | None:
        return next((h for h in self.hits if h.signal == signal), None)

    def has_any(self, prefix: str) -> bool:
        """True if any signal starts with ``prefix`` (e.g. 'threat_')."""
        return any(h.signal.startswith(prefix) for h in self.hits)
