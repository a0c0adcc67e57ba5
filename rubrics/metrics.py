"""Text metrics for clarity indicators: readability, sentence length and jargon.

These are measurements, not detectors of any analysis signal. Readability uses textstat's
Flesch reading ease (English); sentence length counts words (English) or characters (Chinese).
"""

from __future__ import annotations

import re
import sys
import types
from functools import lru_cache

_SENTENCE_END = re.compile(r"(?<=[.!?。！？；;])\s*")
_WORD = re.compile(r"[A-Za-z0-9$£€¥][A-Za-z0-9'’.,$£€¥%-]*")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _textstat():
    """textstat 0.7.4 imports ``pkg_resources`` at import time, which setuptools>=81 dropped.

    Readability only needs syllable counts (pyphen), never the resource files, so a minimal
    stand-in backed by importlib.resources is enough. Imported lazily: it loads pyphen.
    """
    try:
        import pkg_resources  # noqa: F401
    except ImportError:
        from importlib import resources

        shim = types.ModuleType("pkg_resources")
        shim.resource_stream = lambda pkg, name: resources.files(pkg).joinpath(name).open("rb")
        sys.modules["pkg_resources"] = shim
    try:
        import textstat
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise ImportError("readability needs textstat==0.7.4: pip install 'textstat==0.7.4'") from exc
    return textstat


def sentences(text: str) -> list[str]:
    return [s for s in (p.strip() for p in _SENTENCE_END.split(text)) if s]


@lru_cache(maxsize=65536)
def readability(text: str) -> float | None:
    """Flesch reading ease (higher is easier; 60-70 is plain English); None for tiny texts."""
    if len(_WORD.findall(text)) < 3:
        return None
    return float(_textstat().textstat.flesch_reading_ease(text))


@lru_cache(maxsize=65536)
def sentence_length(text: str, language: str = "en") -> float | None:
    """Mean sentence length: words (English) or CJK characters (Chinese); None when empty."""
    parts = sentences(text)
    if not parts:
        return None
    if language == "zh":
        counts = [len(_CJK.findall(s)) or len(_WORD.findall(s)) for s in parts]
    else:
        counts = [len(_WORD.findall(s)) for s in parts]
    return sum(counts) / len(parts)


def jargon_pattern(terms: tuple[str, ...]) -> re.Pattern[str]:
    return _jargon_pattern(tuple(sorted(set(terms), key=len, reverse=True)))


@lru_cache(maxsize=64)
def _jargon_pattern(terms: tuple[str, ...]) -> re.Pattern[str]:
    alts = [re.escape(t) if _CJK.search(t) else rf"\b{re.escape(t)}\b" for t in terms]
    return re.compile("|".join(alts), re.IGNORECASE)


def jargon_found(text: str, terms: tuple[str, ...]) -> list[str]:
    """The jargon terms used in ``text``, as written."""
    return [m.group(0) for m in jargon_pattern(terms).finditer(text)]


def scale(value: float, good: float, bad: float) -> float:
    """Linear 0..1: 1 at or beyond ``good``, 0 at or beyond ``bad`` (either direction)."""
    if good > bad:
        return min(1.0, max(0.0, (value - bad) / (good - bad)))
    return min(1.0, max(0.0, (bad - value) / (bad - good)))
