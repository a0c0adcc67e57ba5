"""Abuse and insult detection that holds on short, informal, misspelled text.

The detector of the ``abuse`` signal. A turn is read sentence by sentence:

1. spelling is normalised (``b!tch``, ``sh1t``, ``f*ck``, ``stuuupid``; ``abuse.yaml``);
2. an insult a negation or a report takes back is masked: "I'm not calling you a deadbeat",
   "I know you're not a deadbeat", "he called me a deadbeat", "you said I was a 'liar'"
   (swearing is never taken back: "that's not fucking fair" still swears);
3. a logistic model over word and character n-grams (``models/abuse.json``, trained by
   ``training/train_abuse.py`` on the Davidson et al. tweets (MIT) and lines written for this
   project; its card is ``models/abuse.md``) gives the probability that the rest is offensive.

The sentence with the highest probability is the evidence; it is a hit at the model's own
threshold (chosen in training for a false-positive rate under 5% on held-out inoffensive text).
Pure Python and numpy: no embeddings, about 0.1 ms a sentence.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.analysis.types import Hit
from core.datafile import DataFileError, load_file

HERE = Path(__file__).resolve().parent
CUES_FILE = HERE / "abuse.yaml"
MODEL_FILE = HERE / "models" / "abuse.json"
MASK = "_"
FLAGS = re.IGNORECASE | re.UNICODE
_TOKEN = re.compile(r"[a-z0-9_']+|[^\sa-z0-9_']")
_WORDLIKE = re.compile(r"\S+")
FILLERS = frozenset({"what", "a", "an", "such", "total", "complete", "absolute", "real", "little", "big", "lol", "lmao",
                     "haha", "omg", "so", "fucking", "damn", "freaking", "bloody", "just", "and", "hey", "oh",
                     "get", "lost", "shut", "up", "go", "away", "off", "typical", "listen"})
YOU = frozenset({"you", "u", "ur", "youre", "you're", "ya", "yall", "y'all", "your", "yours", "yourself"})


class AbuseError(DataFileError):
    """The abuse cue file or model cannot be loaded; the message names the file and the field."""


class AbuseCues(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = 1
    insults: list[str] = Field(min_length=1)
    soft_insults: list[str] = Field(default_factory=list)
    negation: str
    negation_scope: str
    negation_keeps: str
    report: str
    reach: int = Field(ge=1, le=20)
    leet: dict[str, str] = Field(default_factory=dict)
    starred: dict[str, str] = Field(default_factory=dict)

    @field_validator("negation", "negation_keeps", "report")
    @classmethod
    def _compiles(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"regex {v!r} does not compile: {exc}") from None
        return v

    @field_validator("leet")
    @classmethod
    def _single(cls, v: dict[str, str]) -> dict[str, str]:
        bad = [k for k, x in v.items() if len(k) != 1 or len(x) != 1]
        if bad:
            raise ValueError(f"leet maps one character to one letter; fix {bad}")
        return v


def load_cues(path: Path | str | None = None) -> AbuseCues:
    path = Path(path) if path else CUES_FILE
    return load_file(AbuseCues, path, guide="core/analysis/abuse.yaml", error=AbuseError)


@lru_cache(maxsize=1)
def default_cues() -> AbuseCues:
    return load_cues()


class Normaliser:
    """Spelling normalisation and the masking of insults that are taken back."""

    def __init__(self, cues: AbuseCues) -> None:
        self.cues = cues
        self.strong = frozenset(w.lower() for w in cues.insults)
        words = sorted(self.strong | {w.lower() for w in cues.soft_insults}, key=len, reverse=True)
        self.insult = re.compile(r"^(?:" + "|".join(map(re.escape, words)) + r")$", FLAGS)
        self._near = {v: w for w in self.strong if len(w) >= 5 for v in _one_off(w)}
        self.negation = re.compile(cues.negation, FLAGS)
        self.scope = frozenset(cues.negation_scope.split())
        self.keeps = re.compile(cues.negation_keeps, FLAGS)
        self.report = re.compile(cues.report, FLAGS)
        self.leet = str.maketrans(cues.leet)
        self.starred = [(re.compile(p, FLAGS), w) for p, w in cues.starred.items()]

    def spelling(self, text: str) -> str:
        """Lower case, accents and typographic quotes folded, starred and leet words spelt out,
        letters repeated three times or more cut to two ("stuuupid" -> "stuupid")."""
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii") if not text.isascii() \
            else text
        text = text.lower().replace("`", "'")
        for rx, word in self.starred:
            text = rx.sub(word, text)
        text = _WORDLIKE.sub(self._unleet, text)
        text = re.sub(r"([a-z])\1{2,}", r"\1\1", text)
        return re.sub(r"[a-z]{5,}", lambda m: self._near.get(m.group(0), m.group(0)), text)

    def aimed(self, masked: str) -> str | None:
        """An insult left after masking that is said of the listener ("ur a deadbeat", "you
        lazy bum") or stands alone ("idiot!", "pathetic loser"), else None."""
        words = [w.strip("'") for w in re.findall(r"[a-z0-9_']+", masked)]
        alone = all(w in self.strong or w in FILLERS or w in YOU for w in words)
        for i, w in enumerate(words):
            if w in self.strong and (alone or YOU.intersection(words[max(0, i - 4): i])):
                return w
        return None

    def _unleet(self, m: re.Match[str]) -> str:
        word = m.group(0)
        core = word.strip(".,!?;:\"'()")
        if not any(c.isalpha() for c in core) or core.isalpha() or core.startswith("$") and core[1:2].isdigit():
            return word
        lead = word[: len(word) - len(word.lstrip(".,!?;:\"'()"))]
        tail = word[len(lead) + len(core):]
        return lead + core.translate(self.leet) + tail

    def masked(self, text: str) -> str:
        """``text`` (already spelt out) with the insults a negation or a report takes back masked."""
        tokens = _TOKEN.findall(text)
        keep = [True] * len(tokens)
        starts = self._scope_starts(text, tokens)
        for i, tok in enumerate(tokens):
            if self.insult.match(tok) and any(0 < i - s <= self.cues.reach and self._reaches(tokens, s, i)
                                              for s in starts):
                keep[i] = False
        in_quote = self._quoted_reports(text, tokens)
        return " ".join(MASK if (not keep[i] or (in_quote[i] and self.insult.match(t))) else t
                        for i, t in enumerate(tokens))

    def _scope_starts(self, text: str, tokens: list[str]) -> list[int]:
        """Token positions after which an insult is taken back: a negation, or a report."""
        offsets = _offsets(text, tokens)
        starts = []
        for m in self.negation.finditer(text):
            if self.keeps.search(text[max(0, m.start() - 4): m.end() + 12]):
                continue
            starts.append(_token_at(offsets, m.end() - 1))
        for m in self.report.finditer(text):
            starts.append(_token_at(offsets, m.end() - 1))
        return starts

    def _reaches(self, tokens: list[str], start: int, i: int) -> bool:
        between = tokens[start + 1: i]
        return all(t in self.scope or t in ("'", '"', "and", "or") or self.insult.match(t) for t in between)

    def _quoted_reports(self, text: str, tokens: list[str]) -> list[bool]:
        """Tokens inside quotation marks that follow a report ("he said 'you deadbeat'")."""
        inside = [False] * len(tokens)
        quote_open = None
        for i, t in enumerate(tokens):
            if t == '"':
                if quote_open is None:
                    prefix = " ".join(tokens[max(0, i - 6): i])
                    quote_open = i if self.report.search(prefix) or prefix.endswith((" word", " words")) else -1
                else:
                    if quote_open >= 0:
                        for k in range(quote_open + 1, i):
                            inside[k] = True
                    quote_open = None
        return inside

    def __call__(self, text: str) -> str:
        return self.masked(self.spelling(text))

    def features(self, text: str) -> set[str]:
        """The model's features of raw ``text`` (normalised and masked first)."""
        return features(self(text), self.insult)


def _one_off(word: str) -> set[str]:
    """Misspellings one keystroke from ``word``: a letter doubled or two swapped (a dropped
    letter too often makes another word: "crooks" -> "cooks")."""
    out = {word[:i] + word[i] + word[i:] for i in range(len(word))}  # doubled
    out |= {word[:i] + word[i + 1] + word[i] + word[i + 2:] for i in range(len(word) - 1)}  # swapped
    out.discard(word)
    return {w for w in out if len(w) >= 5}


def _offsets(text: str, tokens: list[str]) -> list[int]:
    out, pos = [], 0
    for t in tokens:
        pos = text.find(t, pos)
        out.append(pos)
        pos += len(t)
    return out


def _token_at(offsets: list[int], char: int) -> int:
    k = 0
    for i, o in enumerate(offsets):
        if o <= char:
            k = i
    return k


def features(text: str, insult: re.Pattern[str] | None = None) -> set[str]:
    """The model's features of normalised, masked text: words, word pairs, character 3-5-grams,
    and (with the ``insult`` word pattern) whether an insult is left, and whether it is aimed at
    "you" ("ur a deadbeat", "you lazy bum")."""
    words = [w.strip("'") for w in re.findall(r"[a-z0-9_']+", text)]
    words = [w for w in words if w and w != MASK]
    out = {f"w:{w}" for w in words}
    out |= {f"b:{a} {b}" for a, b in zip(words, words[1:], strict=False)}
    for w in words:
        padded = f" {w} "
        for n in (3, 4, 5):
            out |= {f"c:{padded[k:k + n]}" for k in range(max(1, len(padded) - n + 1))}
    if insult is not None:
        for i, w in enumerate(words):
            if insult.match(w):
                out.add("x:insult")
                if YOU.intersection(words[max(0, i - 4): i]):
                    out.add("x:you-insult")
    return out


@dataclass(frozen=True)
class AbuseModel:
    """A logistic model over :func:`features`: weights by feature, a bias and the hit threshold."""

    weights: dict[str, float]
    bias: float
    threshold: float
    card: dict

    @classmethod
    def load(cls, path: Path | str | None = None) -> AbuseModel:
        path = Path(path) if path else MODEL_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(dict(data["weights"]), float(data["bias"]), float(data["threshold"]), dict(data.get("card", {})))
        except FileNotFoundError:
            raise AbuseError([f"{path}: no such file (train it: python -m training.train_abuse)"]) from None
        except (ValueError, KeyError, TypeError) as exc:
            raise AbuseError([f"{path}: not an abuse model ({exc}); retrain: python -m training.train_abuse"]) from None

    def probability(self, feats: Iterable[str]) -> float:
        z = self.bias + sum(self.weights.get(f, 0.0) for f in feats)
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


class AbuseDetector:
    """The ``abuse`` signal's detector: the Detector protocol of ``core.analysis.detectors``.

    ``pattern``: the catalogue's own pattern detector for the signal (``signals.yaml``: phrases
    such as "are you deaf" or "waste of space"), run on the masked text, so an insult a negation
    or a report takes back is not found there either.
    """

    def __init__(self, name: str = "abuse", model: AbuseModel | None = None, cues: AbuseCues | None = None,
                 pattern=None) -> None:
        self.name = name
        self.model = model or default_model()
        self.normalise = Normaliser(cues or default_cues())
        self.pattern = pattern if pattern else None
        self._cache: dict[str, float] = {}

    def probability(self, sentence: str) -> float:
        """The probability that ``sentence`` is abusive: 1.0 for an insult aimed at the listener
        or a phrase of the catalogue, else the model's (cached: it depends on the sentence alone)."""
        p = self._cache.get(sentence)
        if p is None:
            p = self._probability(sentence)
            if len(self._cache) >= 100_000:
                self._cache.clear()
            self._cache[sentence] = p
        return p

    def _probability(self, sentence: str) -> float:
        masked = self.normalise(sentence)
        if self.normalise.aimed(masked) is not None or self._pattern(masked):
            return 1.0
        return self.model.probability(features(masked, self.normalise.insult))

    def _pattern(self, masked: str) -> bool:
        if self.pattern is None:
            return False
        from core.analysis.detectors import TurnText

        return bool(self.pattern.match_sentence(TurnText([masked], "en"), 0))

    def score(self, sentences: Iterable[str]) -> tuple[float, str]:
        """The highest probability over the sentences, and that sentence."""
        best, quote = 0.0, ""
        for s in sentences:
            p = self.probability(s)
            if p > best:
                best, quote = p, s
        return best, quote

    def detect(self, turn) -> Hit | None:
        """A hit when some sentence of ``turn`` (a TurnText, or a list of sentences) is abusive."""
        sentences = getattr(turn, "sentences", turn)
        p, quote = self.score(sentences)
        return Hit(self.name, quote.strip(), round(p, 4)) if p >= self.model.threshold else None


@lru_cache(maxsize=1)
def default_model() -> AbuseModel:
    return AbuseModel.load()


def catalogue_detector(catalogue=None) -> AbuseDetector:
    """The detector with the catalogue's own ``abuse`` patterns (as the analysis builds it)."""
    from core.analysis.catalogue import default_catalogue
    from core.analysis.detectors import Negation, PatternDetector

    catalogue = catalogue or default_catalogue()
    spec = catalogue.signals["abuse"]
    return AbuseDetector(pattern=PatternDetector("abuse", spec, "en", Negation.for_language(catalogue, "en")))
