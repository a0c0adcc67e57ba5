"""Turn analysis: the one place signals are detected (the scorer and the director both read it).

    from core.analysis import default_analyzer
    an = default_analyzer()                      # cached process-wide; loads the embedder once
    a = an.analyze_turn("Hi, this is Sam from Acme Recovery.", speaker="agent")
    a.signals  # frozenset({'greeting', 'self_identification'})

Signals are defined as data in ``signals.yaml`` (patterns per language, embedding exemplars).
What a consumer needs from an analyzer is the :class:`TurnAnalyzer` protocol (``protocol.py``).
"""

from __future__ import annotations

import threading

from core.analysis.amounts import extract_amounts, find_date, is_recurring
from core.analysis.analyzer import Analyzer, initial_context, split_sentences, update_context
from core.analysis.catalogue import (
    Catalogue,
    CatalogueError,
    default_catalogue,
    load_catalogue,
)
from core.analysis.embedder import Embedder, default_embedder
from core.analysis.protocol import SentenceEncoder, TurnAnalyzer
from core.analysis.types import CallContext, Hit, PaymentOffer, TurnAnalysis

_DEFAULT: dict[str, Analyzer] = {}
_LOCK = threading.Lock()


def default_analyzer(language: str = "en") -> Analyzer:
    """The process-wide analyzer for ``language`` (built once, thread-safe; shares one embedder)."""
    an = _DEFAULT.get(language)
    if an is None:
        with _LOCK:
            an = _DEFAULT.get(language)
            if an is None:
                an = _DEFAULT[language] = Analyzer(embedder=default_embedder(), language=language)
    return an


_BY_LANGUAGE: dict[tuple[int, str], TurnAnalyzer] = {}


def analyzer_for(analyzer: TurnAnalyzer, language: str) -> TurnAnalyzer:
    """``analyzer`` when it reads ``language``; else an analyzer for ``language`` that shares its
    embedder (built once per embedder and language): a Chinese call needs the Chinese catalogue."""
    if getattr(analyzer, "language", language) == language:
        return analyzer
    embedder = getattr(analyzer, "embedder", None)
    key = (id(embedder), language)
    with _LOCK:
        an = _BY_LANGUAGE.get(key)
        if an is None:
            an = Analyzer(embedder=embedder, language=language)
            if language == "zh":  # Traditional characters are read as Simplified (OpenCC)
                from core.analysis.script import ChineseScriptAnalyzer

                an = ChineseScriptAnalyzer(an)
            an = _BY_LANGUAGE[key] = an
    return an


__all__ = [
    "Analyzer",
    "analyzer_for",
    "CallContext",
    "Catalogue",
    "CatalogueError",
    "Embedder",
    "Hit",
    "PaymentOffer",
    "SentenceEncoder",
    "TurnAnalysis",
    "TurnAnalyzer",
    "default_analyzer",
    "default_catalogue",
    "default_embedder",
    "extract_amounts",
    "find_date",
    "initial_context",
    "is_recurring",
    "load_catalogue",
    "split_sentences",
    "update_context",
]
