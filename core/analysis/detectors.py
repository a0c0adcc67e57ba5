"""Signal detectors: one per signal, built from its catalogue entry.

* ``pattern``  — regexes per language, with clause-scoped negation ("we will not sue") and
  sentence-level ``unless`` vetoes; precise, so compliance signals rely on them.
* ``semantic`` — the sentence's best cosine to the signal's exemplars must reach its threshold
  and beat its best cosine to the negative exemplars.
* ``both``     — pattern OR semantic (the pattern's hit is preferred as evidence).

A detector sees a :class:`TurnText` (the turn's sentences, their embeddings' similarity to every
exemplar in the :class:`ExemplarBank`) and returns at most one :class:`Hit`: the evidence quote
is the sentence that triggered it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from core.analysis.amounts import find_amounts
from core.analysis.catalogue import Catalogue, SignalSpec
from core.analysis.types import Hit
from core.files import atomic_path

FLAGS = re.IGNORECASE | re.UNICODE

# Words that may stand between a negation cue and what it negates: "cannot *be* arrested",
# "not *going to* sue", "I'm not *a* lawyer". Anything else ("if you don't *pay* we'll sue")
# means the negation belongs to another verb.
_SCOPE_WORDS = frozenset(
    """be been being is are am was were going gonna to ever even have has had get got will would
    shall should can could may might must you your yourself anyone anybody anything someone us them
    him her it i we they a an the any this that one really actually threaten threatening threatened
    trying try able allowed mean meant intend intending plan planning want wanting think believe
    do does did with by for of about here there so such going ll re ve s d calling call go end up
    said say saying asked ask asking told tell telling put send sent throw thrown in into take taken
    lock locked land way gets goes getting keep continue""".split()
)
_CLAUSE_BREAK = re.compile(r"[,;:—–()]|\bbut\b|\bhowever\b|\bthough\b|[，；：。、]|但是|不过|可是", FLAGS)

# Transcribed and pasted text uses typographic quotes ("There’s a fee"); the patterns are written
# with ASCII ones. One character for one, so positions and lengths stay the same.
_TYPOGRAPHIC = str.maketrans({"’": "'", "‘": "'", "‛": "'", "′": "'", "“": '"', "”": '"', "„": '"',
                              "\u00a0": " ", "\u2011": "-", "\u2010": "-"})  # fmt: skip


def normalise(sentence: str) -> str:
    """The sentence as the patterns see it: ASCII quotes and hyphens, plain spaces."""
    return sentence.translate(_TYPOGRAPHIC)


@dataclass
class TurnText:
    """What detectors look at: one turn split into sentences (plus similarities, if embedded)."""

    sentences: list[str]  # as said: hit quotes come from here
    language: str
    sims: np.ndarray | None = None  # (n_sentences, n_bank) cosine similarities, or None
    vectors: np.ndarray | None = None  # the embeddings: the sentences', then any extra texts' (graded.py)
    amounts_by_sentence: list[bool] | None = None
    matched: list[str] = field(default_factory=list)  # normalised, for the regexes

    def __post_init__(self) -> None:
        if not self.matched:
            self.matched = [normalise(s) for s in self.sentences]

    def has_amount(self, i: int) -> bool:
        if self.amounts_by_sentence is None:
            self.amounts_by_sentence = [bool(find_amounts(s)) for s in self.matched]
        return self.amounts_by_sentence[i]


class Detector(Protocol):
    name: str

    def detect(self, turn: TurnText) -> Hit | None: ...


class ExemplarBank:
    """Every exemplar phrase of the catalogue, embedded once, as one matrix."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.matrix: np.ndarray | None = None

    def add(self, phrases: list[str]) -> slice:
        start = len(self.texts)
        self.texts.extend(phrases)
        return slice(start, len(self.texts))

    def embed(self, encode: Callable[[list[str]], np.ndarray], model_id: str | None = None) -> None:
        """Embed every exemplar; with ``model_id``, reuse a copy cached on disk by a previous run.

        Embedding ~2,000 exemplars takes 5-20 s on two cores; the cache makes later starts instant.
        The key covers the model and every exemplar, so editing the catalogue invalidates it.
        """
        if not self.texts:
            return
        path = None
        if model_id is not None:
            import hashlib

            from core.paths import cache_root

            key = hashlib.sha256("\n".join([model_id, *self.texts]).encode("utf-8")).hexdigest()[:20]
            path = cache_root() / "exemplars" / f"{key}.npy"
            try:
                m = np.load(path)
                if m.shape[0] == len(self.texts):
                    self.matrix = m
                    return
            except (OSError, ValueError):
                pass
        self.matrix = np.ascontiguousarray(encode(self.texts), dtype=np.float32)
        if path is not None:
            try:
                with atomic_path(path, suffix=".npy") as tmp:
                    np.save(tmp, self.matrix)
            except OSError:
                pass  # a read-only cache only costs speed


def _compile(patterns: list[str]) -> list[re.Pattern[str]]:
    return [re.compile(p, FLAGS) for p in patterns]


@dataclass(frozen=True)
class Negation:
    """How a language marks negation: its cues and how far a cue reaches (see signals.yaml)."""

    cue: re.Pattern[str]
    window: int  # English: words between the cue and the match
    window_chars: int = 15  # Chinese: characters between the cue and the match
    breaks: re.Pattern[str] | None = None  # Chinese: ends the cue's scope ("不还钱*就*抓你")
    reversals: re.Pattern[str] | None = None  # Chinese: "别以为我们不会…" asserts, not negates

    @classmethod
    def for_language(cls, catalogue: Catalogue, language: str) -> Negation:
        def rx(d: dict[str, str]) -> re.Pattern[str] | None:
            return re.compile(d[language], FLAGS) if language in d else None

        return cls(
            cue=re.compile(catalogue.negation_cues[language], FLAGS),
            window=catalogue.negation_window,
            window_chars=catalogue.negation_window_chars,
            breaks=rx(catalogue.negation_breaks),
            reversals=rx(catalogue.negation_reversals),
        )


def _is_a_not_a(text: str, start: int, end: int) -> bool:
    """True for the 不/没 of an A-not-A question ("信不信", "会不会", "有没有"): not a negation."""
    return end - start == 1 and 0 < start and end < len(text) and text[start - 1] == text[end]


class PatternDetector:
    def __init__(self, name: str, spec: SignalSpec, language: str, negation: Negation) -> None:
        self.name = name
        self.language = language
        self.patterns = _compile(spec.patterns.get(language, []))
        self.with_amount = _compile(spec.with_amount.get(language, []))
        self.unless = _compile(spec.unless.get(language, []))
        self.negatable = spec.negatable
        self.negation = negation
        # one search rules most sentences out before the per-pattern (negation-aware) pass
        every = spec.patterns.get(language, []) + spec.with_amount.get(language, [])
        self.prefilter = re.compile("|".join(f"(?:{p})" for p in every), FLAGS) if every else None

    def __bool__(self) -> bool:
        return bool(self.patterns or self.with_amount)

    def _negated(self, sentence: str, start: int) -> bool:
        prefix = sentence[:start]
        breaks = list(_CLAUSE_BREAK.finditer(prefix))
        if breaks:
            prefix = prefix[breaks[-1].end():]
        neg = self.negation
        if self.language == "zh":
            cues = [m for m in neg.cue.finditer(prefix) if not _is_a_not_a(prefix, m.start(), m.end())]
            if not cues:
                return False
            last = cues[-1]
            if neg.reversals is not None and neg.reversals.search(prefix[: last.start()]):
                return False
            between = prefix[last.end():]
            if neg.breaks is not None and neg.breaks.search(between):
                return False
            return len("".join(between.split())) <= neg.window_chars
        cues = list(neg.cue.finditer(prefix))
        if not cues:
            return False
        between = prefix[cues[-1].end():]
        words = re.findall(r"[a-z]+", between.lower())
        if len(words) <= neg.window + 2 and all(w in _SCOPE_WORDS for w in words):
            return True
        # a negated phrase coordinated with "or"/"nor" carries its negation: "we are not going to
        # take your car or garnish your wages", "never sue you nor arrest you"
        parts = re.split(r"\b(?:or|nor)\b", between.lower())
        if len(parts) > 1:
            head = re.findall(r"[a-z]+", parts[0])
            tail = re.findall(r"[a-z]+", parts[-1])
            return len(head) <= neg.window + 4 and len(tail) <= 3 and all(w in _SCOPE_WORDS for w in tail)
        return False

    def vetoed(self, sentence: str) -> bool:
        """True when the sentence is ruled out for the semantic side too: an ``unless`` regex
        matches, or the signal's own pattern is there but only in negated form ("I'm not going
        to ruin your credit" must not reach the threat by similarity)."""
        return self._vetoed(normalise(sentence))

    def _vetoed(self, sentence: str) -> bool:
        if any(rx.search(sentence) for rx in self.unless):
            return True
        if not self.negatable:
            return False
        seen = negated = False
        for rx in self.patterns:
            for m in rx.finditer(sentence):
                seen = True
                if not self._negated(sentence, m.start()):
                    return False
                negated = True
        return seen and negated

    def _match(self, sentence: str, patterns: list[re.Pattern[str]]) -> bool:
        for rx in patterns:
            for m in rx.finditer(sentence):
                if self.negatable and self._negated(sentence, m.start()):
                    continue
                return True
        return False

    def match_sentence(self, turn: TurnText, i: int) -> bool:
        s = turn.matched[i]
        if self.prefilter is None or self.prefilter.search(s) is None:
            return False
        hit = self._match(s, self.patterns) or (
            bool(self.with_amount) and turn.has_amount(i) and self._match(s, self.with_amount)
        )
        return hit and not any(rx.search(s) for rx in self.unless)

    def detect(self, turn: TurnText) -> Hit | None:
        for i, s in enumerate(turn.sentences):
            if self.match_sentence(turn, i):
                return Hit(self.name, s.strip(), 1.0)
        return None


class SemanticDetector:
    MIN_WORDS = 2  # "Okay." or "Sure." carry too little to embed meaningfully

    def __init__(self, name: str, spec: SignalSpec, bank: ExemplarBank) -> None:
        self.name = name
        self.threshold = spec.threshold
        self.pos = bank.add(list(spec.exemplars))
        self.neg = bank.add(list(spec.negative_exemplars))

    def scores(self, turn: TurnText) -> list[tuple[float, float]]:
        """(best positive cosine, best negative cosine) per sentence."""
        if turn.sims is None:
            return []
        pos = turn.sims[:, self.pos].max(axis=1)
        neg = turn.sims[:, self.neg].max(axis=1) if self.neg.stop > self.neg.start else np.full(len(pos), -1.0)
        return list(zip(pos.tolist(), neg.tolist(), strict=True))

    def detect(self, turn: TurnText, vetoed: Callable[[str], bool] | None = None) -> Hit | None:
        best: Hit | None = None
        for s, (p, n) in zip(turn.sentences, self.scores(turn), strict=True):
            if p >= self.threshold and p > n and len(s.split()) >= self.MIN_WORDS:
                if vetoed is not None and vetoed(s):
                    continue
                if best is None or p > best.score:
                    best = Hit(self.name, s.strip(), round(float(p), 4))
        return best


class EitherDetector:
    """Pattern OR semantic; the pattern's evidence wins when both fire."""

    def __init__(self, name: str, pattern: PatternDetector, semantic: SemanticDetector | None) -> None:
        self.name = name
        self.pattern = pattern
        self.semantic = semantic

    def detect(self, turn: TurnText) -> Hit | None:
        hit = self.pattern.detect(turn) if self.pattern else None
        if hit is None and self.semantic is not None:
            hit = self.semantic.detect(turn, self.pattern.vetoed)
        return hit


def _parts(d: Detector) -> tuple[PatternDetector | None, SemanticDetector | None]:
    if isinstance(d, PatternDetector):
        return d, None
    if isinstance(d, SemanticDetector):
        return None, d
    if isinstance(d, EitherDetector):
        return (d.pattern if d.pattern else None), d.semantic
    return None, None


class SentencePatterns:
    """Which pattern detectors fire on a sentence, cached: it depends on the sentence alone, and
    scripted lines (greetings, the mini-Miranda) recur across turns and calls."""

    def __init__(self, detectors: dict[str, Detector], language: str, max_size: int = 100_000) -> None:
        self.patterns = {n: p for n, d in detectors.items() if (p := _parts(d)[0]) is not None}
        self.language = language
        self.max_size = max_size
        self._cache: dict[str, frozenset[str]] = {}

    def matches(self, sentence: str) -> frozenset[str]:
        found = self._cache.get(sentence)
        if found is None:
            one = TurnText([sentence], self.language)
            found = frozenset(n for n, p in self.patterns.items() if p.match_sentence(one, 0))
            if len(self._cache) >= self.max_size:
                self._cache.clear()
            self._cache[sentence] = found
        return found


def detect_turn(detectors: dict[str, Detector], turn: TurnText, patterns: SentencePatterns) -> tuple[Hit, ...]:
    """Every detector on one turn; the same hits as calling each ``detect``, with cached patterns."""
    matched = [patterns.matches(s) for s in turn.sentences]
    hits: list[Hit] = []
    for name, d in detectors.items():
        pat, sem = _parts(d)
        if pat is None and sem is None:  # a trained detector (MODEL_DETECTORS) reads the turn itself
            if (hit := d.detect(turn)) is not None:
                hits.append(hit)
            continue
        hit = None
        if pat is not None:
            i = next((i for i, m in enumerate(matched) if name in m), None)
            if i is not None:
                hit = Hit(name, turn.sentences[i].strip(), 1.0)
        if hit is None and sem is not None:
            hit = sem.detect(turn, pat.vetoed if pat is not None else None)
        if hit is not None:
            hits.append(hit)
    return tuple(hits)


def _abuse_detector(pattern: PatternDetector) -> Detector:
    from core.analysis.abuse import AbuseDetector

    return AbuseDetector(pattern=pattern)


# Signals whose detector is a trained model; the catalogue's own patterns are run inside it.
MODEL_DETECTORS: dict[tuple[str, str], Callable[[PatternDetector], Detector]] = {("abuse", "en"): _abuse_detector}


def build_detectors(
    catalogue: Catalogue, language: str, bank: ExemplarBank, *, semantic: bool
) -> dict[str, Detector]:
    """One detector per catalogue signal that can run in ``language``.

    ``semantic`` is False where the embedder does not speak the language: semantic detectors are
    then skipped and ``both`` signals fall back to their patterns.
    """
    negation = Negation.for_language(catalogue, language)
    out: dict[str, Detector] = {}
    for name, spec in catalogue.signals.items():
        pat = PatternDetector(name, spec, language, negation)
        if (name, language) in MODEL_DETECTORS:
            out[name] = MODEL_DETECTORS[name, language](pat)
            continue
        sem = SemanticDetector(name, spec, bank) if semantic and spec.kind in ("semantic", "both") else None
        if spec.kind == "pattern" and pat:
            out[name] = pat
        elif spec.kind == "semantic" and sem is not None:
            out[name] = sem
        elif spec.kind == "both" and (pat or sem is not None):
            out[name] = EitherDetector(name, pat, sem)
    return out
