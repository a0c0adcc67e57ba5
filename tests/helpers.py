"""Small builders shared by tests (not fixtures: plain functions are easier to read in tables)."""

from __future__ import annotations

from core.analysis.types import CallContext, Hit, PaymentOffer, Topic, TurnAnalysis
from core.transcript import Transcript


def ta(
    *signals: str,
    question: str | None = None,
    topics: tuple[str, ...] = (),
    offer: tuple[float, bool, int | None] | None = None,
    verified: bool = True,
    third_party: bool = False,
    text: str = "",
) -> TurnAnalysis:
    """An agent-turn analysis with the given signals (as the analyzer would produce)."""
    ctx = CallContext(identity_verified=verified, third_party=third_party)
    po = PaymentOffer(amount=offer[0], monthly=offer[1], days_from_now=offer[2]) if offer else None
    hits = tuple(Hit(s, text or s) for s in signals)
    if po and "payment_offer" not in signals:
        hits += (Hit("payment_offer", text or "offer"),)
    return TurnAnalysis(
        index=0,
        speaker="agent",
        text=text,
        hits=hits,
        question=question,
        question_topics=tuple(Topic(t) for t in topics),
        offer=po,
        context=ctx,
        after=ctx,
    )


def transcript(*turns: tuple[str, str], **metadata) -> Transcript:
    """A call "t" of ``(speaker, text)`` turns, with the given metadata."""
    return Transcript(id="t", turns=[{"speaker": s, "text": x} for s, x in turns], metadata=metadata)
