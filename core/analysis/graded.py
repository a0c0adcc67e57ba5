"""The graded readings of a turn (empathy, clarity) for the analyzer, in one place.

The analyzer builds one :class:`GradedReadings` and asks it for each turn's readings, so the
director, the coaching and the scorer all read the same ``TurnAnalysis.empathy`` and
``.clarity``. The empathy exemplars join the analysis's own exemplar bank (embedded once, with
the catalogue's), and the other party's last turn goes into the turn's one encode call. The
clarity model reads MiniLM's layer means of the turn's canonical form (``Embedder.encode_layers``,
one more forward pass, cached; :meth:`GradedReadings.prepare` computes them for a batch at once);
an older model that reads the canonical form's sentence embedding gets it from the encode call. English only for now (the cues
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
    ``embedder``: a callable giving the analysis embedder (for the clarity reading's layer means).
    """

    def __init__(self, language: str, bank, split: Callable[[str], list[str]], embedder=None) -> None:
        self.enabled = language in GRADED_LANGUAGES
        self.semantic = bank is not None
        self._split = split
        self.empathy = EmpathyReader(bank=bank) if self.enabled else None
        layers = (lambda texts, which: embedder().encode_layers(texts, which)) \
            if self.semantic and embedder is not None else None
        self.clarity = ClarityReader(layers=layers) if self.enabled else None

    def warm_up(self) -> None:
        if self.enabled:
            _ = self.clarity.model

    def _sentence_embedding(self) -> bool:
        """Whether the clarity model reads the canonical form's sentence embedding (an older model)."""
        return self.enabled and self.semantic and not self.clarity.model.layers

    def extra_texts(self, side: str, text: str, last_other: str) -> list[str]:
        """What to embed with the turn's sentences: for an agent turn, the other party's last turn
        (already embedded then: a cache hit), after the canonical form where the clarity model
        reads its sentence embedding."""
        if not (self.enabled and self.semantic and side == "agent"):
            return []
        canonical = [self.clarity.canonical(text) or "."] if self._sentence_embedding() else []
        return [*canonical, *(self._split(last_other) if last_other else [])]

    def canonical_texts(self, agent_texts: Sequence[str]) -> list[str]:
        """The texts the clarity reading embeds with the sentences for these agent turns (to embed a
        batch at once): none where the model reads layer means (see :meth:`prepare`)."""
        if not self._sentence_embedding():
            return []
        return [self.clarity.canonical(t) or "." for t in agent_texts]

    def prepare(self, agent_texts: Sequence[str]) -> None:
        """Compute the clarity reading's layer means for many agent turns at once (cached)."""
        if self.enabled and self.semantic and not self._sentence_embedding():
            self.clarity.prepare(agent_texts)

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
        extra = 1 if self._sentence_embedding() else 0
        canonical = vectors[n] if extra and vectors is not None and len(vectors) > n else None
        before = vectors[n + extra:] if vectors is not None and len(vectors) > n + extra else None
        empathy = self.empathy.read_agent(sentences, vectors=own, previous=previous, previous_vectors=before,
                                          signals=signals)
        return empathy, self.clarity.read(sentences, embedding=canonical)


__all__ = ["GradedReadings", "GRADED_LANGUAGES"]
