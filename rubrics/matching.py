"""Evaluate a :class:`~rubrics.schema.Match` against analysed turns.

This reads ``TurnAnalysis`` only; it detects nothing itself. ``CallView`` precomputes, once per
call, what every indicator and rule asks about: each turn's features, which turns are the
agent's, the latest other-party turn before each turn and what the agent has said so far.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.analysis.types import TurnAnalysis
from core.transcript import Transcript
from rubrics.schema import Match

QUOTE_CHARS = 160


def turn_features(a: TurnAnalysis) -> frozenset[str]:
    """The signals of a turn plus its structural features (question type, topics, offer)."""
    f = set(a.signals)
    if a.question:
        f.add(f"question:{a.question}")
    for topic in a.question_topics:
        f.add(f"topic:{getattr(topic, 'value', topic)}")
    if a.offer is not None:
        f.add("offer")
        if a.offer.monthly:
            f.add("offer:monthly")
        if a.offer.date_text or a.offer.days_from_now is not None:
            f.add("offer:dated")
    return frozenset(f)


def short(text: str, limit: int = QUOTE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


_COLLECTION = frozenset({"call:collection"})


def _about_a_debt(transcript: Transcript) -> bool:
    try:
        return transcript.facts.about_a_debt
    except ValueError:  # facts of the wrong type: reported where the rules read them
        return False


@dataclass
class CallView:
    """One call's analyses with the lookups matching needs (built once per call)."""

    analyses: Sequence[TurnAnalysis]
    features: list[frozenset[str]]
    agent_positions: list[int]  # indices into analyses of the agent's turns
    agent_ordinal: dict[int, int]  # analysis index -> 0-based count among agent turns
    last_other: list[int | None]  # analysis index -> latest earlier non-agent turn
    said_before: list[frozenset[str]]  # analysis index -> union of earlier agent features
    call_features: frozenset[str]  # everything any speaker said in the call

    @classmethod
    def build(cls, analyses: Sequence[TurnAnalysis], transcript: Transcript | None = None) -> CallView:
        """``transcript``: whose facts may say the call is about a debt (``CallFacts.about_a_debt``,
        a practice call's balance): then ``call:collection`` is among the call's features, so
        what a collection call needs applies even to one where the trainee never got to the debt."""
        features = [turn_features(a) for a in analyses]
        agent_positions: list[int] = []
        last_other: list[int | None] = []
        said_before: list[frozenset[str]] = []
        other: int | None = None
        said: set[str] = set()
        snapshot: frozenset[str] = frozenset()
        for i, a in enumerate(analyses):
            last_other.append(other)
            said_before.append(snapshot)
            if a.speaker == "agent":
                agent_positions.append(i)
                said |= features[i]
                snapshot = frozenset(said)
            else:
                other = i
        all_features: set[str] = set()
        for f in features:
            all_features |= f
        return cls(
            analyses=analyses,
            features=features,
            agent_positions=agent_positions,
            agent_ordinal={p: n for n, p in enumerate(agent_positions)},
            last_other=last_other,
            said_before=said_before,
            call_features=frozenset(all_features) | (_COLLECTION if transcript and _about_a_debt(transcript) else frozenset()),
        )

    def matches(self, m: Match, pos: int) -> bool:
        """Whether analysed turn ``pos`` satisfies every condition of ``m``."""
        f = self.features[pos]
        if m.signals and f.isdisjoint(m.signals):
            return False
        if m.all_signals and not f.issuperset(m.all_signals):
            return False
        if m.absent and not f.isdisjoint(m.absent):
            return False
        if m.absent and m.responds_to and not self._reply_features(pos).isdisjoint(m.absent):
            # a reply said in two turns ("I'm so sorry." then "Are you safe right now?") answers
            # once: what the rule needs absent from the reply is absent from all of it
            return False
        ctx = self.analyses[pos].context
        if m.context and any(getattr(ctx, k) != v for k, v in m.context.items()):
            return False
        if m.context_any and not any(getattr(ctx, k) == v for k, v in m.context_any.items()):
            return False
        if m.responds_to:
            other = self.last_other[pos]
            if other is None or self.features[other].isdisjoint(m.responds_to):
                return False
        if m.preceded_by and self.said_before[pos].isdisjoint(m.preceded_by):
            return False
        if m.max_agent_turn is not None and self.agent_ordinal.get(pos, 10**9) > m.max_agent_turn:
            return False
        return True

    def _reply_features(self, pos: int) -> frozenset[str]:
        """The features of every agent turn answering the same other-party turn as ``pos``."""
        other = self.last_other[pos]
        if other is None:
            return self.features[pos]
        out: set[str] = set()
        for p in self.agent_positions:
            if self.last_other[p] == other:
                out |= self.features[p]
        return frozenset(out)

    def quote(self, pos: int, names: Sequence[str] = ()) -> str:
        """The evidence span: the hit quote of the first named signal present, else the turn."""
        a = self.analyses[pos]
        for name in names:
            hit = a.first(name)
            if hit is not None and hit.quote:
                return short(hit.quote)
        return short(a.text)

    def trigger_quote(self, pos: int, names: Sequence[str]) -> str:
        """What the other party said that made turn ``pos`` eligible (for feedback)."""
        other = self.last_other[pos]
        if other is None:
            return ""
        return self.quote(other, names)
