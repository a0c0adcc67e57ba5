"""The clarity reading of a turn: how easy it is to follow, 0-100, and why.

Parts, each 0-1 (1 = clear), combined with :data:`PARTS`:

* readability: a trained model (``models/clarity.json``, ``training/train_clarity.py``): word
  and sentence difficulty (Flesch reading ease, syllables and long words, sentence length,
  punctuation) with signs fixed so that plainer is never worse, plus what the turn says and how
  (the MiniLM token states of its *canonical* form averaged per hidden layer,
  ``Embedder.encode_layers``; the canonical form is lower case, no punctuation, jargon and the
  harder words of ``clarity.yaml`` replaced by their plain words, numbers as "number");
* sentence length: the longest sentence, 16 words or fewer is full marks, 40 or more none;
* jargon: collection terms a debtor may not know (``clarity.yaml``), measured on the turn;
* one request: at most one thing asked of the listener;
* plain numbers: amounts and figures said plainly ("$1,250", not "$1,249.87" or "1249.87");
* next step: a turn that asks something also says what happens next (none to judge otherwise).

Monotone by construction: splitting a sentence, swapping a harder word for its plain word,
replacing jargon or rounding a number can only raise each part, and the canonical form the
embedding sees does not change under those rewrites (``tests/test_clarity.py`` checks it with
hypothesis).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.analysis.readings import ClarityReading
from core.datafile import DataFileError, load_file

HERE = Path(__file__).resolve().parent
CUES_FILE = HERE / "clarity.yaml"
MODEL_FILE = HERE / "models" / "clarity.json"
PARTS = {"readability": 0.55, "sentence_length": 0.15, "jargon": 0.1, "one_request": 0.08,
         "plain_numbers": 0.06, "next_step": 0.06}
FLAGS = re.IGNORECASE
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*|\d[\d,.]*")
_SENT_SPLIT = re.compile(r"(?<=[.!?])[\"'’”)\]]*\s+|\n+")
_NUMBER = re.compile(r"[$£€]?\d[\d,]*(?:\.\d+)?%?")
FEATURES = ("flesch", "words_per_sentence", "longest_sentence", "syllables_per_word", "polysyllables",
            "long_words", "commas", "colons", "type_token")
# +1: more is easier; -1: more is harder (the trained weights keep these signs).
EASIER = {"flesch": 1, "words_per_sentence": -1, "longest_sentence": -1, "syllables_per_word": -1,
          "polysyllables": -1, "long_words": -1, "commas": -1, "colons": -1, "type_token": -1}


class ClarityError(DataFileError):
    """The clarity cue file or model cannot be loaded; the message names the file and the field."""


class ClarityCues(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = 1
    plain_words: dict[str, str] = Field(min_length=1)
    jargon: dict[str, str] = Field(min_length=1)
    requests: list[str] = Field(min_length=1)
    next_step: list[str] = Field(min_length=1)

    @field_validator("requests", "next_step")
    @classmethod
    def _compiles(cls, v: list[str]) -> list[str]:
        for p in v:
            try:
                re.compile(p)
            except re.error as exc:
                raise ValueError(f"regex {p!r} does not compile: {exc}") from None
        return v

    @field_validator("plain_words")
    @classmethod
    def _plainer(cls, v: dict[str, str]) -> dict[str, str]:
        bad = [f"{k} -> {w}" for k, w in v.items() if " " in w.strip() or len(w) > len(k)
               or syllables(w) > syllables(k)]
        if bad:
            raise ValueError(f"a plain word is one word, no longer than the word it replaces: {bad[:5]}")
        return v


def load_cues(path: Path | str | None = None) -> ClarityCues:
    path = Path(path) if path else CUES_FILE
    return load_file(ClarityCues, path, guide="core/analysis/clarity.yaml", error=ClarityError)


@lru_cache(maxsize=1)
def default_cues() -> ClarityCues:
    return load_cues()


@lru_cache(maxsize=1)
def _hyphenator():
    import pyphen

    return pyphen.Pyphen(lang="en_US")


@lru_cache(maxsize=200_000)
def syllables(word: str) -> int:
    """Syllables of one word: its hyphenation points (pyphen, en_US) plus one, as Flesch counts."""
    word = re.sub(r"[^\w]", "", word.lower())
    return len(_hyphenator().positions(word)) + 1 if word else 0


def split(text: str) -> list[str]:
    return [s.strip() for s in _SENT_SPLIT.split(text.strip()) if s and re.search(r"\w", s)]


def lexical(sentences: Sequence[str]) -> dict[str, float]:
    """The word and sentence measures of the trained readability part."""
    words = [w for s in sentences for w in _WORD.findall(s)]
    per_sentence = [len(_WORD.findall(s)) for s in sentences] or [0]
    n = max(1, len(words))
    syl = [syllables(w) for w in words] or [1]
    wps = sum(per_sentence) / max(1, len(sentences))
    spw = sum(syl) / n
    text = " ".join(sentences)
    return {
        "flesch": 206.835 - 1.015 * wps - 84.6 * spw,
        "words_per_sentence": wps,
        "longest_sentence": float(max(per_sentence)),
        "syllables_per_word": spw,
        "polysyllables": sum(s >= 3 for s in syl) / n,
        "long_words": sum(len(w) >= 7 for w in words) / n,
        "commas": text.count(",") / max(1, len(sentences)),
        "colons": (text.count(";") + text.count(":")) / max(1, len(sentences)),
        # distinct words per word; a turn under 20 words always has nearly all distinct: not counted
        "type_token": len({w.lower() for w in words}) / n if len(words) >= 20 else 1.0,
    }


@dataclass(frozen=True)
class ClarityModel:
    """The readability part: standardised lexical measures and the canonical embedding, linear."""

    mean: np.ndarray
    scale: np.ndarray
    lexical_weights: np.ndarray
    embedding_weights: np.ndarray | None
    bias: float
    centre: float  # the prediction mapped to 0.5
    spread: float  # ... and how fast it moves towards 0 or 1
    card: dict
    layers: tuple[int, ...] | None = None  # the embedding read: these layers' token means (None: the sentence embedding)

    @classmethod
    def load(cls, path: Path | str | None = None) -> ClarityModel:
        path = Path(path) if path else MODEL_FILE
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
            if tuple(d["features"]) != FEATURES:
                raise ValueError(f"features {d['features']} are not {list(FEATURES)}")
            emb = d.get("embedding_weights")
            layers = d.get("embedding_layers")
            return cls(np.asarray(d["mean"], dtype=float), np.asarray(d["scale"], dtype=float),
                       np.asarray(d["lexical_weights"], dtype=float),
                       np.asarray(emb, dtype=np.float32) if emb else None, float(d["bias"]),
                       float(d["centre"]), float(d["spread"]), dict(d.get("card", {})),
                       tuple(int(k) for k in layers) if layers else None)
        except FileNotFoundError:
            raise ClarityError([f"{path}: no such file (train it: python -m training.train_clarity)"]) from None
        except (ValueError, KeyError, TypeError) as exc:
            raise ClarityError([f"{path}: not a clarity model ({exc}); retrain: python -m training.train_clarity"]) \
                from None

    def predict(self, measures: dict[str, float], embedding: np.ndarray | None) -> float:
        """The model's ease of reading (CommonLit's ``target`` scale, higher is easier)."""
        x = (np.array([measures[f] for f in FEATURES]) - self.mean) / self.scale
        value = self.bias + float(x @ self.lexical_weights)
        if embedding is not None and self.embedding_weights is not None:
            value += float(embedding @ self.embedding_weights)
        return value

    def part(self, prediction: float) -> float:
        return 1.0 / (1.0 + math.exp(-(prediction - self.centre) / self.spread))


class ClarityReader:
    """Reads turns for clarity. ``encode``: the analysis embedder's; ``layers``: its
    ``encode_layers``, for a model that reads layer means (None for both: lexical measures only)."""

    def __init__(self, encode: Callable[[list[str]], np.ndarray] | None = None, cues: ClarityCues | None = None,
                 model: ClarityModel | None = None,
                 layers: Callable[[list[str], Sequence[int]], np.ndarray] | None = None) -> None:
        self.cues = cues or default_cues()
        self._model = model
        self.encode = encode
        self.layers = layers
        self._canonical: dict[str, str] = {}
        c = self.cues
        self._plain = {k.lower(): v for k, v in c.plain_words.items()}
        self._plain_rx = re.compile(r"\b(?:" + "|".join(map(re.escape, sorted(self._plain, key=len, reverse=True)))
                                    + r")\b", FLAGS)
        self._jargon = {k.lower(): v for k, v in c.jargon.items()}
        self._jargon_rx = re.compile(r"(?<![\w-])(?:" + "|".join(map(re.escape, sorted(self._jargon, key=len,
                                                                                           reverse=True)))
                                     + r")(?![\w-])", FLAGS)
        self._requests = [re.compile(p, FLAGS) for p in c.requests]
        self._next = [re.compile(p, FLAGS) for p in c.next_step]

    @property
    def model(self) -> ClarityModel:
        if self._model is None:
            self._model = default_model()
        return self._model

    # ------------------------------------------------------------------ forms of the text

    def without_jargon(self, text: str) -> str:
        return self._jargon_rx.sub(lambda m: self._jargon[m.group(0).lower()], text)

    def canonical(self, text: str) -> str:
        """What the turn is about, however plainly it is said: lower case, no punctuation, jargon
        and harder words replaced by plain ones, every number "number" (cached by text)."""
        found = self._canonical.get(text)
        if found is None:
            found = self._canonical_form(text)
            if len(self._canonical) >= 100_000:
                self._canonical.clear()
            self._canonical[text] = found
        return found

    def _canonical_form(self, text: str) -> str:
        text = self.without_jargon(text.lower().replace("’", "'"))
        text = _NUMBER.sub(" number ", text)
        text = self._plain_rx.sub(lambda m: self._plain[m.group(0).lower()], text)
        return " ".join(re.sub(r"[^\w\s']", " ", text).split())

    @property
    def embeds(self) -> bool:
        """Whether the trained part reads an embedding of the canonical form here."""
        return (self.layers if self.model.layers else self.encode) is not None

    def embedding(self, text: str) -> np.ndarray | None:
        """What the trained part reads of the canonical form of ``text`` (None: nothing to read with)."""
        canon = self.canonical(text)
        if not canon:
            return None
        if self.model.layers:
            return np.asarray(self.layers([canon], self.model.layers)[0]) if self.layers is not None else None
        return np.asarray(self.encode([canon])[0]) if self.encode is not None else None

    def prepare(self, texts: Sequence[str]) -> None:
        """Embed the canonical forms of many turns at once (the embedder caches them)."""
        canon = list(dict.fromkeys(c for c in map(self.canonical, texts) if c))
        if canon and self.model.layers and self.layers is not None:
            self.layers(canon, self.model.layers)
        elif canon and not self.model.layers and self.encode is not None:
            self.encode(canon)

    def jargon_terms(self, text: str) -> list[str]:
        return [m.group(0) for m in self._jargon_rx.finditer(text)]

    def harder_words(self, text: str) -> list[tuple[str, str]]:
        """(word as said, plain word) for each harder word of the list used in ``text``."""
        return [(m.group(0), self._plain[m.group(0).lower()]) for m in self._plain_rx.finditer(text)]

    # ------------------------------------------------------------------ the parts

    def read(self, sentences: Sequence[str], embedding: np.ndarray | None = None) -> ClarityReading:
        """The clarity of one turn given its sentences (``embedding``: of its canonical form)."""
        sentences = [s for s in sentences if s.strip()]
        if not sentences:
            return ClarityReading()
        text = " ".join(sentences)
        if embedding is None:
            embedding = self.embedding(text)
        plain = split(self.without_jargon(text)) or sentences
        measures = lexical(plain)
        readability = self.model.part(self.model.predict(measures, embedding))
        longest = max(sentences, key=lambda s: len(_WORD.findall(s)))
        length = min(1.0, max(0.0, (40.0 - measures["longest_sentence"]) / 24.0))
        terms = tuple(dict.fromkeys(self.jargon_terms(text)))
        jargon = 1.0 / (1.0 + len(terms))
        asks = sum(1 for s in sentences if s.rstrip().endswith("?") or any(rx.search(s) for rx in self._requests))
        one_request = 1.0 if asks <= 1 else 1.0 / asks
        numbers = _NUMBER.findall(text)
        plain_numbers = (sum(_plain_number(n) for n in numbers) / len(numbers)) if numbers else 1.0
        next_step = (1.0 if any(rx.search(text) for rx in self._next) else 0.0) if asks else None
        parts = {"readability": readability, "sentence_length": length, "jargon": jargon,
                 "one_request": one_request, "plain_numbers": plain_numbers}
        if next_step is not None:
            parts["next_step"] = next_step
        total = sum(PARTS[k] for k in parts)
        score = 100.0 * sum(PARTS[k] * v for k, v in parts.items()) / total
        return ClarityReading(score=round(score, 2), readability=round(readability, 4), sentence_length=round(length, 4),
                              jargon=round(jargon, 4), one_request=round(one_request, 4),
                              plain_numbers=round(plain_numbers, 4), next_step=next_step, jargon_terms=terms,
                              worst_sentence=longest.strip())


def _plain_number(token: str) -> float:
    """1 for a figure said plainly; less for cents on a large amount, long digit strings, decimals."""
    digits = re.sub(r"\D", "", token.split(".")[0])
    value = 1.0
    if "." in token and len(token.split(".")[-1].rstrip("%")) > 0:
        value -= 0.3 if len(digits) >= 3 else 0.1  # "$1,249.87": say "about $1,250"
    if len(digits) > 5:
        value -= 0.4  # 7 or more digits read as a string (an account number, a big figure)
    return max(0.0, value)


@lru_cache(maxsize=1)
def default_model() -> ClarityModel:
    return ClarityModel.load()
