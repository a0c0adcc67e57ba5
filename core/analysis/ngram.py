"""Character n-gram TF-IDF similarity: how close two Chinese sentences are, without a model.

The sentence embedder (all-MiniLM-L6-v2) reads English only, so a Chinese rubric's exemplar
indicators ("thanks the debtor", "checks understanding") are matched this way instead: both
sentences are read in Simplified characters (OpenCC), 你/您 as one, punctuation and spaces
dropped; each becomes its character 1- to 3-grams, weighted by sublinear term frequency times the
inverse document frequency over a background of ordinary collection-call lines (ngram_zh.yaml),
so words every call says (您, 还款, 一下) weigh little and the words that carry the act (谢谢,
感谢, 清楚, 疑问) weigh much. The score is the cosine of the two weightings, in [0, 1].

    sim = default_similarity("zh")
    sim.cosine("谢谢您愿意跟我说这些。", "谢谢你告诉我这些")        # 0.36
    sim.best(["谢谢您的耐心。", "好的，再见。"], ["感谢您的耐心"])  # (0.79, '谢谢您的耐心。')

Measured on tests/data/labelled_signals_zh.yaml (`make zh-analysis`); the thresholds are the
rubric's (rubrics/default-zh.yaml).
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

import yaml

from core.analysis.script import to_simplified

DATA = {"zh": Path(__file__).resolve().parent / "ngram_zh.yaml"}
_DROP = re.compile(r"[\W_]+", re.UNICODE)
_SAME = str.maketrans({"你": "您", "妳": "您"})

Vector = dict[str, float]


def normalise(text: str) -> str:
    """The characters that count: Simplified, 你 read as 您, no punctuation or spaces."""
    return _DROP.sub("", to_simplified(text).translate(_SAME)).lower()


class CharNgramSimilarity:
    """Cosine similarity of character n-gram TF-IDF weightings (thread-safe, cached per text)."""

    def __init__(self, background: Iterable[str], ngram: tuple[int, int] = (1, 3)) -> None:
        self.ngram = ngram
        docs = [set(self.grams(t)) for t in background]
        df = Counter(g for d in docs for g in d)
        n = len(docs)
        # smoothed idf, as scikit-learn's: an n-gram the background never says weighs most
        self.idf = {g: math.log((1 + n) / (1 + c)) + 1 for g, c in df.items()}
        self.unseen_idf = math.log(1 + n) + 1
        self._lock = threading.Lock()
        self._cache: dict[str, Vector] = {}

    def grams(self, text: str) -> list[str]:
        s = normalise(text)
        lo, hi = self.ngram
        return [s[i : i + k] for k in range(lo, hi + 1) for i in range(len(s) - k + 1)]

    def vector(self, text: str) -> Vector:
        """The L2-normalised weighting of ``text`` (an empty dict for a text with no characters)."""
        found = self._cache.get(text)
        if found is not None:
            return found
        counts = Counter(self.grams(text))
        v = {g: (1 + math.log(c)) * self.idf.get(g, self.unseen_idf) for g, c in counts.items()}
        norm = math.sqrt(sum(w * w for w in v.values()))
        v = {g: w / norm for g, w in v.items()} if norm else {}
        with self._lock:
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[text] = v
        return v

    def cosine(self, a: str, b: str) -> float:
        va, vb = self.vector(a), self.vector(b)
        if len(va) > len(vb):
            va, vb = vb, va
        return sum(w * vb.get(g, 0.0) for g, w in va.items())

    def best(self, sentences: Sequence[str], exemplars: Sequence[str]) -> tuple[float, str]:
        """The highest similarity of any sentence to any exemplar, and that sentence."""
        best = (0.0, "")
        for s in sentences:
            score = max((self.cosine(s, e) for e in exemplars), default=0.0)
            if score > best[0]:
                best = (score, s)
        return best


@lru_cache(maxsize=4)
def default_similarity(language: str = "zh") -> CharNgramSimilarity:
    """The shipped similarity for ``language`` (its background read once per process)."""
    if language not in DATA:
        raise ValueError(f"no character n-gram background for language {language!r} (have {sorted(DATA)})")
    data = yaml.safe_load(DATA[language].read_text(encoding="utf-8"))
    return CharNgramSimilarity(data["background"], tuple(data.get("ngram", (1, 3))))


__all__ = ["CharNgramSimilarity", "default_similarity", "normalise"]
