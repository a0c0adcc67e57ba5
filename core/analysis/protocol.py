"""What the scorer, the director's session and the actor need from a turn analyzer.

:class:`core.analysis.Analyzer` is the one real implementation; tests pass small stand-ins
(no model: every turn analysed as saying nothing). Both satisfy :class:`TurnAnalyzer`, so a
consumer calls these members directly instead of probing an ``object`` with ``getattr``.

Sentence splitting and the context before a call's first turn depend on the language and the
transcript only, not on the analyzer: they are the functions ``split_sentences(text, language)``
and ``initial_context(transcript)`` of :mod:`core.analysis.analyzer`, for every analyzer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

    from core.analysis.types import CallContext, TurnAnalysis
    from core.transcript import Transcript


@runtime_checkable
class SentenceEncoder(Protocol):
    """Sentences to L2-normalised vectors, one row each (:class:`core.analysis.Embedder`)."""

    def encode(self, sentences: Sequence[str]) -> np.ndarray: ...


@runtime_checkable
class TurnAnalyzer(Protocol):
    """A turn analyzer: one :class:`TurnAnalysis` per turn, in the context of the call so far.

    ``embedder`` is the analyzer's own sentence encoder, shared so that a sentence the analysis
    embedded is never embedded again (the scorer's exemplar indicators, the session's check that
    a hidden fact was said); ``None`` for a pattern-only language, where those are not judged.
    """

    @property
    def embedder(self) -> SentenceEncoder | None: ...

    def analyze_turn(
        self, text: str, speaker: str = "agent", index: int = 0, context: CallContext | None = None
    ) -> TurnAnalysis: ...

    def analyze_transcript(self, transcript: Transcript) -> list[TurnAnalysis]: ...

    def analyze_many(self, transcripts: Sequence[Transcript]) -> list[list[TurnAnalysis]]: ...


__all__ = ["SentenceEncoder", "TurnAnalyzer"]
