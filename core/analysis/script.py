"""Chinese script: calls in Traditional characters are analysed as Simplified.

The signal catalogue's Chinese patterns are written in Simplified characters; the course
material, and many real calls, use Traditional ones ("你這個老賴…通知你單位領導和通訊錄").
OpenCC's maintained Traditional-to-Simplified tables convert a turn before it is analysed, and
what the analysis quotes back (the turn, the evidence sentences) is the speaker's own text. The
zh :class:`~core.analysis.Analyzer` converts every turn itself, so every reader (the scorer, the
director, live coaching) sees one reading; :class:`ChineseScriptAnalyzer` does the same for any
other analyzer.

The table is OpenCC's ``tw2s``: ``t2s`` plus the Taiwan standard's variants, so "等著", "看著辦"
read as "等着", "看着办" (``t2s`` leaves 著). 帐 is read as 账 ("帳單" -> "帐单" -> "账单"): both
are written in Simplified text, and the patterns name the standard one.

    from core.analysis.script import ChineseScriptAnalyzer, to_simplified
    to_simplified("依法起訴你，下週凍結你的工資")   # '依法起诉你，下周冻结你的工资'
    analyzer = ChineseScriptAnalyzer(default_analyzer("zh"))
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache

from core.analysis.types import Hit, TurnAnalysis

_LOCK = threading.Lock()
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")
# Language tags that name Chinese in any script or variety: zh, zh-TW, zh-Hant, zh_CN, cmn, yue.
_CHINESE_TAG = re.compile(r"^(?:zh|cmn|yue|chi|zho)(?:[-_].*)?$", re.IGNORECASE)


@lru_cache(maxsize=1)
def _converter():
    import opencc  # a prebuilt wheel (pyproject); imported on first use

    with _LOCK:
        return opencc.OpenCC("tw2s")


# One character for one after OpenCC, so a span of the converted text is the same span of the turn.
_VARIANTS = str.maketrans({"帐": "账"})


@lru_cache(maxsize=65536)
def to_simplified(text: str) -> str:
    """``text`` with Traditional characters replaced by Simplified ones (others unchanged)."""
    if not text or not _CJK.search(text):
        return text
    return _converter().convert(text).translate(_VARIANTS)


def language_family(tag: str | None) -> str:
    """The analysis language a transcript's language tag names: 'zh-TW' -> 'zh', 'en-US' -> 'en'."""
    tag = (tag or "").strip()
    if _CHINESE_TAG.match(tag):
        return "zh"
    return re.split(r"[-_]", tag.lower(), maxsplit=1)[0] or "en"


def looks_chinese(texts: Sequence[str]) -> bool:
    """Whether the words are mostly Chinese characters (for a call that names no language)."""
    joined = "".join(texts)
    cjk = len(_CJK.findall(joined))
    return cjk > 0 and cjk >= len(_LATIN.findall(joined)) / 3


class ChineseScriptAnalyzer:
    """An analyzer that reads Traditional characters as Simplified, and quotes the original.

    Wraps any analyzer with ``analyze_turn`` (the zh :class:`~core.analysis.Analyzer`); other
    attributes (``initial_context``, ``warm_up``, ``embedder`` ...) are the wrapped analyzer's.
    """

    def __init__(self, analyzer) -> None:
        self.inner = analyzer

    def __getattr__(self, name: str):
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def analyze_turn(self, text: str, *args, **kwargs) -> TurnAnalysis:
        simple = to_simplified(text or "")
        analysis = self.inner.analyze_turn(simple, *args, **kwargs)
        return with_original(analysis, text or "", simple)

    def analyze_transcript(self, transcript) -> list[TurnAnalysis]:
        simple = simplified_transcript(transcript)
        analyses = self.inner.analyze_transcript(simple)
        return [
            with_original(a, _text(t), _text(s)) for a, t, s in zip(analyses, transcript.turns, simple.turns, strict=True)
        ]

    def analyze_many(self, transcripts, *args, **kwargs) -> list[list[TurnAnalysis]]:
        simple = [simplified_transcript(t) for t in transcripts]
        out = self.inner.analyze_many(simple, *args, **kwargs)
        return [
            [with_original(a, _text(t), _text(s)) for a, t, s in zip(call, orig.turns, conv.turns, strict=True)]
            for call, orig, conv in zip(out, transcripts, simple, strict=True)
        ]


def simplified_transcript(transcript):
    """A copy of the call whose turns are in Simplified characters (the call itself unchanged)."""
    turns = [
        {**t, "text": to_simplified(_text(t))} if isinstance(t, dict) else t.model_copy(update={"text": to_simplified(t.text)})
        for t in transcript.turns
    ]
    return transcript.model_copy(update={"turns": turns})


def _text(turn) -> str:
    # a Transcript built with model_copy(update=...) may hold plain dicts instead of Turns
    return str(turn.get("text") or "") if isinstance(turn, dict) else (turn.text or "")


def with_original(analysis: TurnAnalysis, original: str, simple: str) -> TurnAnalysis:
    """The analysis of ``simple`` quoting ``original``: OpenCC's Traditional-to-Simplified tables
    map character for character, so a span of one is the same span of the other."""
    if original == simple:
        return analysis
    if len(original) != len(simple):  # a phrase conversion changed the length: keep the text as read
        return replace(analysis, text=original)
    hits = tuple(_original_hit(h, original, simple) for h in analysis.hits)
    return replace(analysis, text=original, hits=hits)


def _original_hit(hit: Hit, original: str, simple: str) -> Hit:
    at = simple.find(hit.quote) if hit.quote else -1
    if at < 0:
        return hit
    return replace(hit, quote=original[at : at + len(hit.quote)])


__all__ = [
    "ChineseScriptAnalyzer", "language_family", "looks_chinese", "simplified_transcript", "to_simplified", "with_original",
]
