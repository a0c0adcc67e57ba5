"""Graded readings of a turn: how strongly it does something, not only whether it does.

A :class:`~core.analysis.types.TurnAnalysis` carries these next to its signals. The empathy
reading (``core/analysis/empathy.py``) grades the three mechanisms that empathy research and QA
raters use (Sharma et al. 2020; the README of ``rubrics/``); the clarity reading
(``core/analysis/clarity.py``) grades how easy a turn is to follow. Both are plain data: the
scorer, the coaching and the director read them, none of them recomputes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Level = Literal["none", "weak", "strong"]
WEAK_AT = 0.35  # strength from which a mechanism counts as present (weak)
STRONG_AT = 0.65  # ... and as strong


def level_of(strength: float) -> Level:
    """none / weak / strong for a strength in [0, 1]."""
    if strength >= STRONG_AT:
        return "strong"
    return "weak" if strength >= WEAK_AT else "none"


@dataclass(frozen=True)
class Mechanism:
    """One empathy mechanism in one turn: a strength in [0, 1] and the sentence that carries it."""

    strength: float = 0.0
    quote: str = ""

    @property
    def level(self) -> Level:
        return level_of(self.strength)


@dataclass(frozen=True)
class EmpathyReading:
    """How a turn responds to the other person (agent turns) or invites a response (other turns).

    ``acknowledgement``: an emotional reaction ("that sounds really stressful");
    ``reflection``: saying back in one's own words what the other said or feels;
    ``exploration``: an open question about the person's situation or feelings;
    ``pressure``: pressure or blame in the turn, in [0, 1] (it lowers ``score``);
    ``score``: the turn's empathy, 0-100 (a function of the three and the pressure);
    ``opportunity``: for the other party's turns, how much the turn calls for empathy (a
    hardship, a feeling, a complaint), in [0, 1].
    """

    acknowledgement: Mechanism = field(default_factory=Mechanism)
    reflection: Mechanism = field(default_factory=Mechanism)
    exploration: Mechanism = field(default_factory=Mechanism)
    pressure: float = 0.0
    score: float = 0.0
    opportunity: float = 0.0

    def mechanisms(self) -> dict[str, Mechanism]:
        return {"acknowledgement": self.acknowledgement, "reflection": self.reflection,
                "exploration": self.exploration}

    def weakest(self) -> str:
        """The mechanism with the lowest strength (ties: reflection, then acknowledgement)."""
        order = ("reflection", "acknowledgement", "exploration")
        return min(order, key=lambda name: (self.mechanisms()[name].strength, order.index(name)))


@dataclass(frozen=True)
class ClarityReading:
    """How easy a turn is to follow, 0-100, and the parts that make it up (each 0-1, 1 = clear)."""

    score: float = 100.0
    readability: float = 1.0  # word and sentence difficulty (Flesch, word frequency, the trained part)
    sentence_length: float = 1.0
    jargon: float = 1.0
    one_request: float = 1.0  # at most one thing asked of the listener
    plain_numbers: float = 1.0  # amounts and dates said plainly
    next_step: float | None = None  # a turn that asks for something says what happens next
    jargon_terms: tuple[str, ...] = ()
    worst_sentence: str = ""

    def parts(self) -> dict[str, float]:
        out = {"readability": self.readability, "sentence_length": self.sentence_length,
               "jargon": self.jargon, "one_request": self.one_request, "plain_numbers": self.plain_numbers}
        if self.next_step is not None:
            out["next_step"] = self.next_step
        return out
