"""The signal catalogue (``signals.yaml``): its pydantic schema and a loader with readable errors.

The catalogue is data: every signal the analyzer can emit is defined there once, with its
detector (regex patterns per language, embedding exemplars, or both), and the scorer's
rulebook and the debtor's director refer to signals by those names.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from core.analysis.types import Topic
from core.datafile import DataFileError, load_model

DEFAULT_CATALOGUE = Path(__file__).resolve().parent / "signals.yaml"
SCHEMA_VERSION = 1

Speaker = Literal["agent", "debtor", "any"]
DetectorKind = Literal["pattern", "semantic", "both"]


class CatalogueError(DataFileError):
    """A signal catalogue that cannot be loaded; each problem names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_regexes(value: dict[str, list[str]]) -> dict[str, list[str]]:
    for lang, patterns in value.items():
        for p in patterns:
            try:
                re.compile(p)
            except re.error as exc:
                raise ValueError(f"[{lang}] regex {p!r} does not compile: {exc}") from None
    return value


class SignalSpec(_Strict):
    """One signal and its detector."""

    description: str = Field(min_length=3)
    speaker: Speaker
    kind: DetectorKind
    # language -> regexes (matched case-insensitively against each sentence)
    patterns: dict[str, list[str]] = Field(default_factory=dict)
    # language -> regexes that count only in a sentence that states a money amount ("how about $50?")
    with_amount: dict[str, list[str]] = Field(default_factory=dict)
    # language -> regexes; a pattern match is dropped when one of these matches the same sentence
    unless: dict[str, list[str]] = Field(default_factory=dict)
    # drop a pattern match when a negation cue ("not", "never", "can't", 不 ...) closely precedes it
    # in the same clause: "you cannot be arrested", "we will not sue", "I'm not a lawyer"
    negatable: bool = False
    exemplars: list[str] = Field(default_factory=list)
    negative_exemplars: list[str] = Field(default_factory=list)
    threshold: float = Field(default=0.6, gt=0, lt=1)

    _check = field_validator("patterns", "with_amount", "unless")(_check_regexes)

    @model_validator(mode="after")
    def _detector_has_its_data(self) -> SignalSpec:
        if self.kind in ("pattern", "both") and not (self.patterns or self.with_amount):
            raise ValueError(f"kind '{self.kind}' needs 'patterns' (language -> list of regexes)")
        if self.kind in ("semantic", "both") and not self.exemplars:
            raise ValueError(f"kind '{self.kind}' needs 'exemplars' (a list of example phrases)")
        if self.kind == "pattern" and (self.exemplars or self.negative_exemplars):
            raise ValueError("kind 'pattern' takes no exemplars; use kind 'both' to add a semantic detector")
        return self


class TopicSpec(_Strict):
    """Exemplar questions for one question topic (and optional keyword patterns)."""

    exemplars: list[str] = Field(min_length=1)
    patterns: dict[str, list[str]] = Field(default_factory=dict)
    threshold: float = Field(default=0.55, gt=0, lt=1)

    _check = field_validator("patterns")(_check_regexes)


class QuestionSpec(_Strict):
    """How a question sentence is classified: open when one of these matches, else closed."""

    open: dict[str, list[str]]  # regexes matched at the start of a sentence
    open_anywhere: dict[str, list[str]] = Field(default_factory=dict)  # "... tell me more?"
    imperative_open: dict[str, list[str]] = Field(default_factory=dict)  # "Tell me about ..." without '?'

    _check = field_validator("open", "open_anywhere", "imperative_open")(_check_regexes)


class Catalogue(_Strict):
    version: int
    languages: list[str] = Field(min_length=1)
    negation_cues: dict[str, str]  # language -> one regex
    negation_window: int = Field(default=4, ge=1, le=10)  # words between a cue and an English match
    # Chinese negation covers the rest of its clause ("欠款不会导致您被拘留"), up to this many
    # characters, unless a `negation_breaks` word comes between ("不还钱就抓你": the 不 is the
    # condition's) or a `negation_reversals` phrase precedes the cue ("别以为我们不会报警").
    negation_window_chars: int = Field(default=15, ge=1, le=40)
    negation_breaks: dict[str, str] = Field(default_factory=dict)  # language -> one regex
    negation_reversals: dict[str, str] = Field(default_factory=dict)  # language -> one regex
    question: QuestionSpec
    topics: dict[Topic, TopicSpec]
    signals: dict[str, SignalSpec]
    _source: str = PrivateAttr(default="the signal catalogue")  # the file it was loaded from, as shown

    @field_validator("version")
    @classmethod
    def _known_version(cls, v: int) -> int:
        if v != SCHEMA_VERSION:
            raise ValueError(f"unsupported catalogue version {v}; this callcoach reads version {SCHEMA_VERSION}")
        return v

    @field_validator("negation_cues", "negation_breaks", "negation_reversals")
    @classmethod
    def _one_regex_each(cls, v: dict[str, str]) -> dict[str, str]:
        _check_regexes({lang: [rx] for lang, rx in v.items()})
        return v

    @field_validator("signals")
    @classmethod
    def _signal_names(cls, v: dict[str, SignalSpec]) -> dict[str, SignalSpec]:
        for name in v:
            if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                raise ValueError(f"signal name {name!r} must be lower_snake_case")
        return v

    @model_validator(mode="after")
    def _languages_declared(self) -> Catalogue:
        langs = set(self.languages)
        for name, spec in self.signals.items():
            for field in ("patterns", "with_amount", "unless"):
                unknown = set(getattr(spec, field)) - langs
                if unknown:
                    raise ValueError(
                        f"signals.{name}.{field}: language(s) {sorted(unknown)} not in 'languages' {sorted(langs)}"
                    )
        missing = langs - set(self.negation_cues)
        if missing:
            raise ValueError(f"negation_cues: missing language(s) {sorted(missing)}")
        missing_topics = set(Topic) - set(self.topics)
        if missing_topics:
            raise ValueError(f"topics: missing {sorted(t.value for t in missing_topics)}")
        return self

    def for_speaker(self, speaker: str) -> dict[str, SignalSpec]:
        """Signals that apply to turns by ``speaker`` (third parties are on the debtor's side)."""
        side = "agent" if speaker == "agent" else "debtor"
        return {n: s for n, s in self.signals.items() if s.speaker in (side, "any")}


def load_catalogue(path: Path | str | None = None) -> Catalogue:
    """Load and validate a signal catalogue; raise CatalogueError with readable lines."""
    path = Path(path) if path is not None else DEFAULT_CATALOGUE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogueError([f"{path}: cannot read the signal catalogue: {exc.strerror}"]) from None
    catalogue = load_model(Catalogue, text, str(path), guide="core/analysis/signals.yaml", error=CatalogueError)
    catalogue._source = shown_path(path)
    return catalogue


@lru_cache(maxsize=4)
def _cached(path: str) -> Catalogue:
    return load_catalogue(path)


def default_catalogue() -> Catalogue:
    """The shipped catalogue, parsed once per process."""
    return _cached(str(DEFAULT_CATALOGUE))


def signal_problems(refs: Iterable[tuple[str, str, str]], catalogue: Catalogue | None = None) -> list[str]:
    """One ``file: field: message`` line per reference to a signal the catalogue does not define.

    ``refs`` holds ``(file, field, signal name)``: where a data file or a module names a signal.
    A signal renamed in ``signals.yaml`` and not where it is read would otherwise silently never
    match; checking once, when the reader loads, turns that into a line naming the fix.
    """
    cat = catalogue if catalogue is not None else default_catalogue()
    known = sorted(cat.signals)
    lines = []
    for source, field, name in refs:
        if name in cat.signals:
            continue
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        lines.append(
            f"{source}: {field}: unknown signal {name!r}; {hint}name a signal defined in {cat._source} "
            "(or, if it was renamed there, rename it here too)"
        )
    return lines


def shown_path(path: Path | str) -> str:
    """A path as problem lines show it: relative to the project for its own files."""
    root = Path(__file__).resolve().parents[2]
    try:
        return str(Path(path).resolve().relative_to(root))
    except ValueError:
        return str(path)

