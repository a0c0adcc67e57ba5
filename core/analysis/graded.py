"""The graded readings of a turn (empathy, clarity) for the analyzer, in one place.

The analyzer builds one :class:`GradedReadings` and asks it for each turn's readings, so the
director, the coaching and the scorer all read the same ``TurnAnalysis.empathy`` and
``.clarity``. English only for now (the cues and the trained part are English); other
languages get ``None`` and their rubrics keep their own metrics.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from core.analysis.clarity import ClarityReader
from core.analysis.empathy import EmpathyReader
from core.analysis.readings import ClarityReading, EmpathyReading

GRADED_LANGUAGES = frozenset({"en"})


class GradedReadings:
    """Empathy and clarity readers sharing the analysis embedder (built on first use).

    ``embedder``: returns the analysis embedder, or None (cues and word measures only).
    ``split``: the analysis sentence splitter, for the other party's last turn.
    """

    def __init__(self, language: str, embedder: Callable[[], object | None],
                 split: Callable[[str], list[str]], model_id: str | None = None) -> None:
        self.language = language
        self.enabled = language in GRADED_LANGUAGES
        self._embedder = embedder
        self._split = split
        self._model_id = model_id
        self._empathy: EmpathyReader | None = None
        self._clarity: ClarityReader | None = None
        self._lock = threading.Lock()

    def _readers(self) -> tuple[EmpathyReader, ClarityReader]:
        if self._empathy is None:
            with self._lock:
                if self._empathy is None:
                    emb = self._embedder()
                    encode = emb.encode if emb is not None else None
                    model_id = self._model_id or str(getattr(emb, "path_or_name", None) or "default")
                    self._clarity = ClarityReader(encode=encode)
                    self._empathy = EmpathyReader(encode=encode, model_id=model_id)
        return self._empathy, self._clarity

    def warm_up(self) -> None:
        if self.enabled:
            self._readers()
            _ = self._clarity.model

    def canonical_texts(self, agent_texts: Sequence[str]) -> list[str]:
        """The texts the clarity reading embeds for these agent turns (to embed a batch at once)."""
        if not self.enabled:
            return []
        _, clarity = self._readers()
        return [c for c in (clarity.canonical(t) for t in agent_texts) if c]

    def read(self, speaker: str, sentences: Sequence[str], last_other: str,
             signals: frozenset[str] | set[str]) -> tuple[EmpathyReading | None, ClarityReading | None]:
        """(empathy, clarity) of one turn; clarity only for the agent's turns."""
        if not self.enabled:
            return None, None
        empathy, clarity = self._readers()
        if speaker != "agent":
            return empathy.read_other(sentences, signals), None
        previous = self._split(last_other) if last_other else []
        return empathy.read_agent(sentences, previous=previous, signals=signals), clarity.read(sentences)


__all__ = ["GradedReadings", "GRADED_LANGUAGES"]
