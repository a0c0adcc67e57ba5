"""Text metrics for clarity indicators: readability, sentence length and jargon.

These are measurements, not detectors of any analysis signal. Readability is the Flesch reading
ease (English), counted exactly as textstat 0.7.4 counted it (the scores of every scorecard so
far), with its syllables from pyphen's en_US hyphenation dictionary; sentence length counts
words (English) or characters (Chinese).
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

_SENTENCE_END = re.compile(r"(?<=[.!?。！？；;])\s*")
_WORD = re.compile(r"[A-Za-z0-9$£€¥][A-Za-z0-9'’.,$£€¥%-]*")
_CJK = re.compile(r"[\u4e00-\u9fff]")

# The Flesch counting rules (textstat 0.7.4's, so that scores do not move): punctuation, apostrophes
# and hyphens included, is deleted before words are split on white space ("don't" is one word,
# "singer-songwriter" one); a sentence runs from a word boundary to its last ".", "!" or "?", and
# one of two words or fewer is not counted, though the text always has at least one; a word's
# syllables are its hyphenation points plus one.
_PUNCTUATION = re.compile(r"[^\w\s]")
_FLESCH_SENTENCE = re.compile(r"\b[^.!?]+[.!?]*")


@lru_cache(maxsize=1)
def _hyphenator():
    import pyphen

    return pyphen.Pyphen(lang="en_US")


def lexicon(text: str) -> list[str]:
    """The words Flesch counts: ``text`` without punctuation, split on white space."""
    return _PUNCTUATION.sub("", text).split()


def syllable_count(text: str) -> int:
    hyphenator = _hyphenator()
    return sum(len(hyphenator.positions(word)) + 1 for word in lexicon(text.lower()))


def flesch_sentence_count(text: str) -> int:
    return max(1, sum(len(lexicon(s)) > 2 for s in _FLESCH_SENTENCE.findall(text)))


def _round_half_away(number: float, points: int) -> float:
    scale = 10**points
    return math.floor(number * scale + math.copysign(0.5, number)) / scale


def _flesch_averages(text: str) -> tuple[float, float]:
    """(words per sentence, syllables per word), each rounded to one decimal as textstat did."""
    words = len(lexicon(text))
    per_sentence = _round_half_away(words / flesch_sentence_count(text), 1)
    per_word = _round_half_away(syllable_count(text) / words, 1) if words else 0.0
    return per_sentence, per_word


def flesch_reading_ease(text: str) -> float:
    """206.835 - 1.015 x words per sentence - 84.6 x syllables per word, to two decimals."""
    per_sentence, per_word = _flesch_averages(text)
    return _round_half_away(206.835 - float(1.015 * per_sentence) - float(84.6 * per_word), 2)


def flesch_kincaid_grade(text: str) -> float:
    """0.39 x words per sentence + 11.8 x syllables per word - 15.59, to one decimal."""
    per_sentence, per_word = _flesch_averages(text)
    return _round_half_away(float(0.39 * per_sentence) + float(11.8 * per_word) - 15.59, 1)


def sentences(text: str) -> list[str]:
    return [s for s in (p.strip() for p in _SENTENCE_END.split(text)) if s]


@lru_cache(maxsize=65536)
def readability(text: str) -> float | None:
    """Flesch reading ease (higher is easier; 60-70 is plain English); None for tiny texts."""
    if len(_WORD.findall(text)) < 3:
        return None
    return flesch_reading_ease(text)


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
