"""The empathy reading of a turn: acknowledgement, reflection and exploration, each graded.

One detector for the empathy signal family; the scorer, the coaching and the director read its
:class:`~core.analysis.readings.EmpathyReading` from the turn analysis.

For an agent turn, each sentence is read for the three mechanisms, and a mechanism's strength
is its best sentence's (so adding a sentence never lowers it):

* acknowledgement: a cue of ``empathy.yaml`` (weak: generic, "I'm sorry"; strong: names the
  feeling or the hardship) or a sentence close in meaning to its exemplars;
* reflection: a reflective frame ("it sounds like you ...", "so you ...", "you feel ..."),
  saying back the other person's own content (shared content words with their last turn, and
  the embedding similarity of a sentence to theirs), in the second person, and not advice, the
  speaker's own story or business ("you should try ...", "when I lost my job ...");
  these cues give a logit, and a trained term on the sentence's embedding (``models/reflection.json``,
  learnt from authored reply pairs) is added to it;
* exploration: an open question or an invitation to say more, about the person rather than a
  payment or an ID check; strong when it picks up what they said or asks about feelings.

The turn's empathy is ``100 * (1 - prod(1 - w_m * s_m))`` over the mechanisms, lowered by
pressure or blame. For the other party's turns the reading is the ``opportunity``: how much the
turn calls for empathy (a hardship, a feeling, a complaint).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.analysis.readings import EmpathyReading, Mechanism
from core.datafile import DataFileError, load_model, read_text

CUES_FILE = Path(__file__).resolve().parent / "empathy.yaml"
REFLECTION_MODEL_FILE = Path(__file__).resolve().parent / "models" / "reflection.json"
# What the trained reflection model reads of a sentence, besides its embedding.
REFLECTION_FEATURES = ("cue_logit", "frame", "interprets", "generic_frame", "names_feeling", "second_person",
                       "shared_words", "advice_or_own_story", "question", "sim_reflection", "sim_not_reflection",
                       "sim_their_turn", "sim_acknowledgement", "sim_exploration")
FLAGS = re.IGNORECASE | re.UNICODE
# How much each mechanism can carry a turn's empathy on its own.
WEIGHTS = {"acknowledgement": 0.75, "reflection": 0.9, "exploration": 0.7}
PRESSURE_SIGNALS = frozenset({"pressure", "threat_violence", "threat_arrest", "threat_legal", "threat_credit",
                              "threat_repeated_calls", "threat_contact_others", "abuse", "crime_accusation"})
OPPORTUNITY_SIGNALS = {"debtor_distress_severe": 1.0, "debtor_hardship": 0.85, "debtor_complaint": 0.6,
                       "debtor_refusal": 0.35, "debtor_dispute": 0.35}
_WORD = re.compile(r"[a-z][a-z']*")
_STOP = frozenset("""a an the and or but if so to of in on at for with from by about as into than then that this
these those it its it's is are was were be been being am do does did done have has had having i i'm i've i'd
me my mine you you're you've your yours we our us they them their he him his she her what which who whom when
where why how not no yes yeah just really very so too also all any some can could would should will shall may
might must there here now well oh ok okay like get got go going feel feeling felt think know see say said
one more much many lot things thing way right sure still even""".split())


_YOU = re.compile(r"\b(?:you|your|you're|you've|yourself)\b", FLAGS)


class SentenceCues(NamedTuple):
    """What the cue lists of ``empathy.yaml`` find in one sentence."""

    named: bool  # names a feeling or a hardship
    ack_strong: bool
    ack_weak: bool
    refl_strong: bool  # a reflective frame ("it sounds like you", "so you ...")
    refl_weak: bool  # a generic one ("I understand")
    against: bool  # advice, the speaker's own story, business
    you: bool
    interprets: bool  # an interpretive frame that names the feeling
    question: bool
    opener: bool  # an open question or an invitation to say more
    business: bool
    personal: bool
    blame: bool
    stems: frozenset[str]


class EmpathyError(DataFileError):
    """The empathy cue file cannot be loaded; each problem names the field."""


def _regexes(value: list[str]) -> list[str]:
    for p in value:
        try:
            re.compile(p)
        except re.error as exc:
            raise ValueError(f"regex {p!r} does not compile: {exc}") from None
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CueSet(_Strict):
    strong: list[str] = Field(default_factory=list)
    interpretive: list[str] = Field(default_factory=list)
    weak: list[str] = Field(default_factory=list)
    exemplars: list[str] = Field(min_length=1)
    not_: list[str] = Field(default_factory=list, alias="not")
    not_exemplars: list[str] = Field(default_factory=list)

    _check = field_validator("strong", "interpretive", "weak", "not_")(_regexes)


class ExplorationCues(_Strict):
    open: list[str] = Field(min_length=1)
    personal: list[str] = Field(min_length=1)  # words
    business: list[str] = Field(min_length=1)  # words
    exemplars: list[str] = Field(min_length=1)

    _check = field_validator("open", "personal", "business")(_regexes)


class EmpathyCues(_Strict):
    version: int = 1
    spelling: dict[str, str] = Field(default_factory=dict)
    feelings: list[str] = Field(min_length=1)  # words
    acknowledgement: CueSet
    reflection: CueSet
    exploration: ExplorationCues
    blame: list[str] = Field(default_factory=list)
    opportunity: list[str] = Field(default_factory=list)

    _check = field_validator("feelings", "blame", "opportunity")(_regexes)


def load_cues(path: Path | str | None = None) -> EmpathyCues:
    path = Path(path) if path else CUES_FILE
    text = read_text(path, EmpathyError)
    return load_model(EmpathyCues, text, str(path), guide="core/analysis/empathy.yaml", error=EmpathyError)


def _rx(patterns: Sequence[str]) -> re.Pattern[str] | None:
    return re.compile("|".join(f"(?:{p})" for p in patterns), FLAGS) if patterns else None


def _words_rx(words: Sequence[str]) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(words) + r")\b", FLAGS)


def _stem(word: str) -> str:
    for suffix in ("ingly", "edly", "ness", "ment", "ing", "ies", "ied", "ed", "ly", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + ("y" if suffix in ("ies", "ied") else "")
    return word


def content_stems(text: str) -> set[str]:
    """The content words of ``text`` (stopwords dropped), crudely stemmed."""
    return {_stem(w.strip("'")) for w in _WORD.findall(text.lower()) if w.strip("'") not in _STOP and len(w) > 2}


@lru_cache(maxsize=20_000)
def _stems_of(text: str) -> frozenset[str]:
    return frozenset(content_stems(text))


def _squash(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _sim_strength(sim: float, centre: float, scale: float = 0.06) -> float:
    """A cosine similarity read as a soft 0-1 strength around ``centre``."""
    return _squash((sim - centre) / scale)


def reflection_features(c: SentenceCues, sim: dict[str, float | None], prev_stems: set[str] | frozenset[str],
                        cue_logit: float) -> np.ndarray:
    """One sentence's :data:`REFLECTION_FEATURES` (similarities missing: 0)."""
    shared = len(c.stems & prev_stems) / max(3, len(c.stems)) if prev_stems else 0.0

    def s(key: str) -> float:
        return float(sim[key]) if sim.get(key) is not None else 0.0

    return np.array([cue_logit, c.refl_strong, c.interprets, c.refl_weak, c.named, c.you, shared, c.against,
                     c.question, s("refl"), s("not"), s("prev"), s("ack"), s("explore")], dtype=np.float64)


class ReflectionModel:
    """The trained reflection reading of one sentence (``models/reflection.json``,
    ``training/train_reflection.py``): a logistic model over :data:`REFLECTION_FEATURES`
    (standardised) and the sentence's embedding. The shipped one keeps the cue logit as it is and
    adds a learnt term on the embedding."""

    def __init__(self, mean, scale, weights, embedding_weights, bias: float, card: dict | None = None) -> None:
        self.mean = np.asarray(mean, dtype=np.float64)
        self.scale = np.asarray(scale, dtype=np.float64)
        self.weights = np.asarray(weights, dtype=np.float64)
        self.embedding_weights = np.asarray(embedding_weights, dtype=np.float32)
        self.bias = float(bias)
        self.card = dict(card or {})

    @classmethod
    def load(cls, path: Path | str | None = None) -> ReflectionModel:
        import json

        path = Path(path) if path else REFLECTION_MODEL_FILE
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
            if tuple(d["features"]) != REFLECTION_FEATURES:
                raise ValueError(f"features {d['features']} are not {list(REFLECTION_FEATURES)}")
            return cls(d["mean"], d["scale"], d["weights"], d["embedding_weights"], d["bias"], d.get("card"))
        except FileNotFoundError:
            raise EmpathyError([f"{path}: no such file (train it: python -m training.train_reflection)"]) from None
        except (ValueError, KeyError, TypeError) as exc:
            raise EmpathyError([f"{path}: not a reflection model ({exc}); retrain: "
                                "python -m training.train_reflection"]) from None

    def logit(self, features: np.ndarray, vector: np.ndarray) -> float:
        x = (features - self.mean) / self.scale
        return self.bias + float(x @ self.weights) + float(np.asarray(vector, dtype=np.float32) @ self.embedding_weights)

    def strength(self, features: np.ndarray, vector: np.ndarray) -> float:
        return _squash(self.logit(features, vector))


@lru_cache(maxsize=1)
def default_reflection_model() -> ReflectionModel:
    return ReflectionModel.load()


class EmpathyReader:
    """Reads turns for the empathy mechanisms. Build once (it embeds its exemplars once).

    ``encode`` is the analysis embedder's ``encode`` (None: cues and word overlap only, as for a
    language the embedder does not speak). ``reflection_model``: the trained reflection reading
    (``training/train_reflection.py``), read where sentence embeddings are at hand: ``"default"``
    the shipped ``models/reflection.json``, a path or a model; None: the cue logit alone.
    """

    def __init__(self, encode: Callable[[list[str]], np.ndarray] | None = None,
                 cues: EmpathyCues | None = None, model_id: str | None = None, bank=None,
                 reflection_model: ReflectionModel | str | Path | None = "default") -> None:
        self.cues = cues or default_cues()
        self._reflection_model = reflection_model
        c = self.cues
        self.feelings = _words_rx(c.feelings)
        self.ack_strong, self.ack_weak = _rx(c.acknowledgement.strong), _rx(c.acknowledgement.weak)
        self.refl_strong, self.refl_weak = _rx(c.reflection.strong), _rx(c.reflection.weak)
        self.refl_not = _rx(c.reflection.not_)
        self.interpretive = _rx(c.reflection.interpretive)
        self.open = _rx(c.exploration.open)
        self.personal, self.business = _words_rx(c.exploration.personal), _words_rx(c.exploration.business)
        self.blame = _rx(c.blame)
        self.opportunity_rx = _rx(c.opportunity)
        self._spelling = {k.lower(): v for k, v in c.spelling.items()}
        self._spelling_rx = _words_rx([re.escape(k) for k in self._spelling]) if self._spelling else None
        self.encode = encode
        self._cue_cache: dict[str, SentenceCues] = {}
        self._opportunity_cache: dict[tuple[str, frozenset[str]], float] = {}
        self._exemplars: dict[str, np.ndarray] = {}
        self._bank, self._slices = None, {}
        if bank is not None:  # the analysis's own bank: embedded with the catalogue's exemplars
            self._register(bank)
        elif encode is not None:
            from core.analysis.detectors import ExemplarBank

            self._register(ExemplarBank())
            self._bank.embed(encode, model_id=model_id)

    def _register(self, bank) -> None:
        groups = {"ack": self.cues.acknowledgement.exemplars, "refl": self.cues.reflection.exemplars,
                  "not": self.cues.reflection.not_exemplars, "explore": self.cues.exploration.exemplars}
        self._bank = bank
        self._slices = {k: bank.add(list(v)) for k, v in groups.items() if v}

    @property
    def reflection_model(self) -> ReflectionModel | None:
        if self._reflection_model == "default":
            self._reflection_model = default_reflection_model()
        elif isinstance(self._reflection_model, str | Path):
            self._reflection_model = ReflectionModel.load(self._reflection_model)
        return self._reflection_model

    @property
    def exemplars(self) -> dict[str, np.ndarray]:
        """The exemplar embeddings by group (empty until the bank is embedded)."""
        if not self._exemplars and self._bank is not None and self._bank.matrix is not None:
            self._exemplars = {k: self._bank.matrix[s] for k, s in self._slices.items()}
        return self._exemplars

    # ------------------------------------------------------------------ reading

    def vectors(self, sentences: Sequence[str]) -> np.ndarray | None:
        if self.encode is None or not sentences:
            return None
        return np.asarray(self.encode(list(sentences)), dtype=np.float32)

    def read_agent(self, sentences: Sequence[str], vectors: np.ndarray | None = None,
                   previous: Sequence[str] = (), previous_vectors: np.ndarray | None = None,
                   signals: frozenset[str] | set[str] = frozenset()) -> EmpathyReading:
        """The three mechanisms of an agent turn, given the other party's last turn."""
        sentences = [s for s in sentences if s.strip()]
        if vectors is None:
            vectors = self.vectors(sentences)
        if previous and previous_vectors is None:
            previous_vectors = self.vectors(previous)
        prev_stems = _stems_of(" ".join(previous))
        sims = self._sims(vectors, previous_vectors)
        best = {"acknowledgement": Mechanism(), "reflection": Mechanism(), "exploration": Mechanism()}
        blame = 0.0
        for i, raw in enumerate(sentences):
            c = self.cues_of(raw)
            row = {k: (float(v[i]) if v is not None else None) for k, v in sims.items()}
            scored = {
                "acknowledgement": self._acknowledgement(c, row),
                "reflection": self._reflection(c, row, prev_stems, vectors[i] if vectors is not None else None),
                "exploration": self._exploration(c, row, prev_stems),
            }
            for name, value in scored.items():
                if value > best[name].strength:
                    best[name] = Mechanism(round(value, 4), raw.strip())
            if c.blame:
                blame = max(blame, 0.7)
        pressure = 1.0 if not PRESSURE_SIGNALS.isdisjoint(signals) else blame
        return EmpathyReading(**best, pressure=pressure, score=turn_score(best, pressure))

    def read_other(self, sentences: Sequence[str], signals: frozenset[str] | set[str] = frozenset()) -> EmpathyReading:
        """How much the other party's turn calls for empathy."""
        return EmpathyReading(opportunity=self._opportunity(" ".join(sentences), frozenset(signals)))

    def _opportunity(self, joined: str, signals: frozenset[str]) -> float:
        key = (joined, signals)
        found = self._opportunity_cache.get(key)
        if found is None:
            found = self._opportunity_of(joined, signals)
            if len(self._opportunity_cache) >= 100_000:
                self._opportunity_cache.clear()
            self._opportunity_cache[key] = found
        return found

    def _opportunity_of(self, joined: str, signals: frozenset[str]) -> float:
        value = max((OPPORTUNITY_SIGNALS.get(s, 0.0) for s in signals), default=0.0)
        text = self.spelt(joined)
        if self.opportunity_rx is not None and self.opportunity_rx.search(text):
            value = max(value, 0.8)
        elif self.feelings is not None and re.search(r"\b(?:i|i'm|i am|i've|my|me|we)\b", text, FLAGS) \
                and self.feelings.search(text):
            value = max(value, 0.45)
        return value

    def spelt(self, sentence: str) -> str:
        """The sentence as the cues read it: typographic quotes as ASCII, informal spellings spelt out."""
        from core.analysis.detectors import normalise

        s = normalise(sentence)
        if self._spelling_rx is None:
            return s
        return self._spelling_rx.sub(lambda m: self._spelling[m.group(0).lower()], s)

    def _sims(self, vectors: np.ndarray | None, previous_vectors: np.ndarray | None) -> dict[str, np.ndarray | None]:
        out: dict[str, np.ndarray | None] = {"ack": None, "refl": None, "not": None, "explore": None, "prev": None}
        if vectors is None or not len(vectors):
            return out
        for key, mat in self.exemplars.items():
            out[key] = (vectors @ mat.T).max(axis=1)
        if previous_vectors is not None and len(previous_vectors):
            out["prev"] = (vectors @ previous_vectors.T).max(axis=1)
        return out

    def cues_of(self, sentence: str) -> SentenceCues:
        """What the cue lists find in one sentence (cached: it depends on the sentence alone)."""
        found = self._cue_cache.get(sentence)
        if found is None:
            s = self.spelt(sentence)
            named = bool(self.feelings.search(s))
            found = SentenceCues(
                named=named,
                ack_strong=bool(self.ack_strong and self.ack_strong.search(s)),
                ack_weak=bool(self.ack_weak and self.ack_weak.search(s)),
                refl_strong=bool(self.refl_strong and self.refl_strong.search(s)),
                refl_weak=bool(self.refl_weak and self.refl_weak.search(s)),
                against=bool(self.refl_not and self.refl_not.search(s)),
                you=bool(_YOU.search(s)),
                interprets=named and bool(self.interpretive and self.interpretive.search(s)),
                question=s.rstrip().endswith("?"),
                opener=bool(self.open and self.open.search(s)),
                business=bool(self.business.search(s)),
                personal=bool(self.personal.search(s)),
                blame=bool(self.blame and self.blame.search(s)),
                stems=frozenset(content_stems(s)),
            )
            if len(self._cue_cache) >= 100_000:
                self._cue_cache.clear()
            self._cue_cache[sentence] = found
        return found

    def _acknowledgement(self, c: SentenceCues, sim: dict[str, float | None]) -> float:
        value = 0.0
        if c.ack_strong:
            value = 0.9 if c.named else 0.8
        elif c.ack_weak:
            value = 0.68 if c.named else 0.5
        if sim["ack"] is not None:
            value = max(value, 0.85 * _sim_strength(sim["ack"], 0.62))
        return value

    def _reflection(self, c: SentenceCues, sim: dict[str, float | None], prev_stems: set[str],
                    vector: np.ndarray | None = None) -> float:
        cue = self._reflection_cues(c, sim, prev_stems)
        model = self.reflection_model
        if model is None or vector is None or sim["refl"] is None:
            return _squash(cue)
        return model.strength(reflection_features(c, sim, prev_stems, cue), vector)

    def _reflection_cues(self, c: SentenceCues, sim: dict[str, float | None], prev_stems: set[str]) -> float:
        """The cue-based reflection logit of one sentence (the trained model's first feature)."""
        shared = len(c.stems & prev_stems) / max(3, len(c.stems)) if prev_stems else 0.0
        x = -3.2 + 2.6 * c.refl_strong + 2.2 * c.interprets + 1.2 * c.refl_weak * (not c.refl_strong)
        x += 0.5 * c.named + 0.5 * c.you + 2.2 * shared - 1.6 * c.against * (not c.refl_strong)
        if sim["refl"] is not None:
            x += 8.0 * (sim["refl"] - max(0.3, sim["not"] if sim["not"] is not None else 0.3))
        if sim["prev"] is not None:
            x += 4.0 * max(0.0, sim["prev"] - 0.35) * (1.0 if c.you else 0.5)
        if c.question and not c.refl_strong:
            x -= 1.5  # a question explores; it says back only in a restating frame ("so you ...?")
        return x

    def _exploration(self, c: SentenceCues, sim: dict[str, float | None], prev_stems: set[str]) -> float:
        if not c.question and not c.opener:
            return 0.0
        x = -1.4 + 1.6 * c.opener + 0.5 * c.question + 0.8 * (c.opener and not c.question) + 0.6 * c.personal
        x += 0.9 * c.named + 0.7 * bool(c.stems & prev_stems) - 2.2 * c.business
        if sim["explore"] is not None:
            x += 6.0 * (sim["explore"] - 0.4)
        return _squash(x)

    def read(self, speaker: str, sentences: Sequence[str], vectors: np.ndarray | None = None,
             previous: Sequence[str] = (), previous_vectors: np.ndarray | None = None,
             signals: frozenset[str] | set[str] = frozenset()) -> EmpathyReading:
        """The reading of any turn: mechanisms for the agent, the opportunity for anyone else."""
        if speaker == "agent":
            return self.read_agent(sentences, vectors, previous, previous_vectors, signals)
        return self.read_other(sentences, signals)


def turn_score(mechanisms: dict[str, Mechanism], pressure: float) -> float:
    """A turn's empathy, 0-100: the mechanisms combined, less pressure or blame."""
    missing = 1.0
    for name, m in mechanisms.items():
        missing *= 1.0 - WEIGHTS[name] * m.strength
    return round(100.0 * (1.0 - missing) * (1.0 - 0.85 * pressure), 2)


@lru_cache(maxsize=1)
def default_cues() -> EmpathyCues:
    return load_cues()
