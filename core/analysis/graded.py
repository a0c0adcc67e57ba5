"""The graded readings of a turn (empathy, clarity) for the analyzer, in one place.

The analyzer builds one :class:`GradedReadings` and asks it for each turn's readings, so the
director, the coaching and the scorer all read the same ``TurnAnalysis.empathy`` and
``.clarity``. The empathy exemplars join the analysis's own exemplar bank (embedded once, with
the catalogue's), and the texts a reading needs embedded (the clarity reading's canonical form,
the other party's last turn) go into the turn's one encode call. English only for now (the cues
and the trained part are English); other languages get ``None`` and their rubrics keep their own
metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from core.analysis.clarity import ClarityReader
from core.analysis.empathy import EmpathyReader
from core.analysis.readings import ClarityReading, EmpathyReading

GRADED_LANGUAGES = frozenset({"en"})


class GradedReadings:
    """Empathy and clarity readers for one analyzer.

    ``bank``: the analysis's ExemplarBank, not yet embedded (None: cues and word measures only).
    ``split``: the analysis sentence splitter, for the other party's last turn.
    """

    def __init__(self, language: str, bank, split: Callable[[str], list[str]]) -> None:
        self.enabled = language in GRADED_LANGUAGES
        self.semantic = bank is not None
        self._split = split
        self.empathy = EmpathyReader(bank=bank) if self.enabled else None
        self.clarity = ClarityReader() if self.enabled else None

    def warm_up(self) -> None:
        if self.enabled:
            _ = self.clarity.model

    def extra_texts(self, side: str, text: str, last_other: str) -> list[str]:
        """What to embed with the turn's sentences: for an agent turn, its canonical form and the
        other party's last turn (already embedded then: a cache hit)."""
        if not (self.enabled and self.semantic and side == "agent"):
            return []
        return [self.clarity.canonical(text) or ".", *(self._split(last_other) if last_other else [])]

    def canonical_texts(self, agent_texts: Sequence[str]) -> list[str]:
        """The texts the clarity reading embeds for these agent turns (to embed a batch at once)."""
        if not (self.enabled and self.semantic):
            return []
        return [self.clarity.canonical(t) or "." for t in agent_texts]

    def read(self, side: str, sentences: Sequence[str], last_other: str, signals: frozenset[str] | set[str],
             vectors: np.ndarray | None = None) -> tuple[EmpathyReading | None, ClarityReading | None]:
        """(empathy, clarity) of one turn; ``vectors``: the sentences', then :meth:`extra_texts`'."""
        if not self.enabled:
            return None, None
        if side != "agent":
            return self.empathy.read_other(sentences, signals), None
        previous = self._split(last_other) if last_other else []
        n = len(sentences)
        own = vectors[:n] if vectors is not None and n else None
        canonical = vectors[n] if vectors is not None and len(vectors) > n else None
        before = vectors[n + 1:] if vectors is not None and len(vectors) > n + 1 else None
        empathy = self.empathy.read_agent(sentences, vectors=own, previous=previous, previous_vectors=before,
                                          signals=signals)
        return empathy, self.clarity.read(sentences, embedding=canonical)


__all__ = ["GradedReadings", "GRADED_LANGUAGES"]
