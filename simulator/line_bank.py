"""A persona's bank of hand-written lines (``personas/lines/<persona-id>.yaml``), and the choice
of the bank line that best fits this moment of a call.

The bank is the tuning corpus's targets (training/build_corpus.py) and, at run time, the debtor's
authored candidates: for the director's intent, the lines that do not give away a fact not yet
revealed and were not said yet in this call, ranked by how well they answer what the collector
just said (the question's topic, and sentence similarity). The actor weighs the best of them
against the model's line (simulator/actor.py). Guide for writing a bank: personas/lines/README.md.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.analysis.types import Topic
from core.datafile import DataFileError, load_file
from simulator.intents import Intent

LINES_DIR = Path(__file__).resolve().parent.parent / "personas" / "lines"
PRESUPPOSITIONS = Path(__file__).resolve().parent / "data" / "presuppositions.yaml"
Need = Literal["amount", "fees", "debt", "offer", "hold", "message", "attorney", "callback", "threat", "name"]
GUIDE = "personas/lines/README.md"
_WORD = re.compile(r"[A-Za-z0-9']+|[\u3400-\u9fff]")


class BankError(DataFileError):
    """A line bank that cannot be used."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AuthoredLine(_Strict):
    text: str = Field(min_length=1)
    topic: Topic | None = None  # what the collector asked about (answer_question lines)
    reveals: str | None = None  # the hidden fact this line says
    # questions a collector might ask that this line answers directly: the collector's turn is
    # matched against them (question to question), which tells "when is payday?" from "how much
    # can you pay?" far better than matching the question against the answer itself
    asks: list[str] = Field(default_factory=list, max_length=8)
    # what the collector must have said before this line makes sense ("Seventy-eight dollars of
    # that is late fees?" needs fees named; "A card." needs the debt named): simulator/data/presuppositions.yaml
    needs: list[Need] = Field(default_factory=list)
    # questions a collector might ask that this line answers directly: the collector's turn is
    # matched against them (question to question), which tells "when is payday?" from "how much
    # can you pay?" far better than matching the question against the answer itself
    asks: list[str] = Field(default_factory=list, max_length=8)
    # what the collector must have said before this line makes sense ("Seventy-eight dollars of
    # that is late fees?" needs fees named; "A card." needs the debt named): simulator/data/presuppositions.yaml
    needs: list[Need] = Field(default_factory=list)


class LineBank(_Strict):
    version: Literal[1]
    persona: str
    lines: dict[Intent, list[AuthoredLine]]

    @field_validator("lines", mode="before")
    @classmethod
    def _plain_strings(cls, v: object) -> object:
        # A bare string is the common case; a mapping only when it carries a topic or a fact.
        if isinstance(v, dict):
            return {k: [{"text": x} if isinstance(x, str) else x for x in (items or [])] for k, items in v.items()}
        return v


class Presuppositions(_Strict):
    version: Literal[1]
    needs: dict[Need, dict[Literal["en", "zh"], str]]

    @field_validator("needs")
    @classmethod
    def _compiles(cls, v: dict) -> dict:
        for need, by_lang in v.items():
            for lang, pattern in by_lang.items():
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise ValueError(f"{need}.{lang}: {pattern!r} does not compile: {exc}") from None
        return v


@lru_cache(maxsize=1)
def _presuppositions() -> dict[tuple[str, str], re.Pattern[str]]:
    data = load_file(Presuppositions, PRESUPPOSITIONS, guide=GUIDE, error=BankError)
    return {(need, lang): re.compile(p, re.I) for need, by_lang in data.needs.items() for lang, p in by_lang.items()}


def presupposed(line: AuthoredLine, said_by_collector: str, language: str = "en") -> bool:
    """Whether everything the line presupposes (its ``needs``) the collector has said."""
    patterns = _presuppositions()
    lang = "zh" if language.startswith("zh") else "en"
    return all((p := patterns.get((need, lang))) is None or p.search(said_by_collector) for need in line.needs)


def norm(text: str) -> str:
    """A line reduced to lower-case words: what counts as "the same line"."""
    return " ".join(w.lower() for w in _WORD.findall(text))


def _grams(text: str) -> set[str]:
    """Words, and for Chinese (no spaces between words) characters and character pairs: what the
    collector's turn and a line share when no sentence embedder reads the language."""
    units = norm(text).split()
    pairs = {a + b for a, b in zip(units, units[1:], strict=False) if len(a) == 1 and len(b) == 1 and not a.isascii()}
    return set(units) | pairs


def read_bank(path: Path) -> LineBank:
    """One bank file, schema-checked (training.banks also checks it against its persona)."""
    return load_file(LineBank, path, guide=GUIDE, error=BankError)


@lru_cache(maxsize=64)
def persona_bank(persona_id: str, folder: Path = LINES_DIR) -> LineBank | None:
    """The bank of a persona, or None when it has none (a trainer's new persona may not)."""
    path = folder / f"{persona_id}.yaml"
    if not path.is_file():
        return None
    bank = read_bank(path)
    return bank if bank.persona == persona_id else None


@dataclass(frozen=True)
class Candidate:
    text: str
    fit: float  # how well it answers the collector's last turn (higher is better)
    topic: Topic | None = None
    reveals: str | None = None


def eligible(
    bank: LineBank, intent: Intent, *, revealed: tuple[str, ...], newly_revealed: tuple[str, ...], said: set[str], fill,
    retell: bool = False,
) -> list[tuple[AuthoredLine, str]]:
    """(line, filled text) pairs the debtor may say now: the intent's lines, none said yet in the
    call, none that tells a fact not yet revealed; when a fact was just earned, the lines that
    tell it (if the bank has any). ``retell``: lines of facts already told stay in (asked for it
    again, "when's payday again?", a person says it again; the ranking decides)."""
    out = []
    for line in bank.lines.get(intent, []):
        if line.reveals is not None and line.reveals not in revealed:
            continue
        try:
            text = line.text.format_map(fill)
        except (KeyError, ValueError, IndexError):
            continue
        if norm(text) in said:
            continue
        out.append((line, text))
    if newly_revealed:
        telling = [(ln, t) for ln, t in out if ln.reveals in newly_revealed]
        if telling:
            return telling
    if retell:
        return out
    # A fact already told is not told again as if new.
    return [(ln, t) for ln, t in out if ln.reveals is None] or out


# What kind of answer a question wants (English): "when's your next paycheck?" wants a day, not
# a job, however close MiniLM puts the two questions. Checked in this order; None: no telling.
_ANSWER_TYPES = (
    ("when", re.compile(r"\bwhen\b|\bwhat (?:day|date|time)\b|\bwhich day\b|\bhow soon\b|\bwhens\b", re.I)),
    ("how_long", re.compile(r"\bhow long\b", re.I)),
    ("how_many", re.compile(r"\bhow (?:many|often)\b", re.I)),
    ("how_much", re.compile(r"\bhow much\b|\bwhat amount\b|\bwhat (?:kind of )?payment\b", re.I)),
    ("who", re.compile(r"\bwho(?:'s|s|se)?\b", re.I)),
    ("where", re.compile(r"\bwhere(?:'s|s)?\b", re.I)),
    ("why", re.compile(r"\bwhy\b|\bwhat happened\b", re.I)),
)
ANSWER_TYPE_WEIGHT = 0.1


def answer_type(question: str) -> str | None:
    """The kind of answer ``question`` asks for (when, how_long, how_many, how_much, who, where,
    why), or None."""
    for name, pattern in _ANSWER_TYPES:
        if pattern.search(question):
            return name
    return None


def best_ask_fit(lines: list[AuthoredLine], collector_text: str, embed) -> float:
    """How well the collector's turn matches the best of these lines' questions (``asks``), by
    sentence similarity; 0 when none has questions."""
    asked = [q for line in lines for q in line.asks]
    if not asked or not collector_text.strip():
        return 0.0
    vecs = embed([collector_text, *asked])
    return float((vecs[1:] @ vecs[0]).max())


def rank(
    pairs: list[tuple[AuthoredLine, str]],
    *,
    collector_text: str,
    topics: tuple[Topic, ...],
    embed=None,
    seed: int = 0,
    topic_weight: float = 0.35,
    asks_topic_weight: float = 0.1,
    jitter: float = 0.03,
    use_asks: bool = True,
) -> list[Candidate]:
    """The candidates, best first. ``fit`` = how close the collector's turn is to the line: to the
    questions the line answers (its ``asks``), when it has them, else to the line itself; by
    sentence similarity when an ``embed`` function is given, else word overlap. Plus
    ``topic_weight`` when the line answers the topic asked (``asks_topic_weight`` when it was matched
    on its questions, which already say the topic, finer); a little seeded jitter keeps two calls
    from always taking the same line. ``use_asks=False`` (the collector asked nothing) matches
    the lines themselves.

    Question to question is the stronger match: "when do you get paid?" and "how much can you pay?"
    are far apart as questions, while the answers "the 15th" and "not a ton" are both short money
    talk that a question-to-answer similarity ranks alike."""
    if not pairs:
        return []
    texts = [t for _, t in pairs]
    if embed is not None and collector_text.strip():
        asked = [q for line, _ in pairs for q in line.asks] if use_asks else []
        vecs = embed([collector_text, *texts, *asked])
        sims = (vecs[1 : 1 + len(texts)] @ vecs[0]).astype(float)
        q_sims = (vecs[1 + len(texts) :] @ vecs[0]).astype(float)
    else:
        said = _grams(collector_text)
        sims = np.array([len(said & _grams(t)) / (1 + len(_grams(t))) for t in texts])
        # Shared words between two short questions are mostly "are you", "what's your": without a
        # sentence embedder the line itself is matched, as before the asks.
        use_asks = False
    at = 0
    matched = [False] * len(pairs)
    wanted = answer_type(collector_text) if use_asks else None
    for k, (line, _) in enumerate(pairs):
        if line.asks and use_asks:
            q = q_sims[at : at + len(line.asks)]
            if wanted is not None:  # an ask of the same kind counts more, one of another kind less
                kinds = [answer_type(a) for a in line.asks]
                q = q + np.array([ANSWER_TYPE_WEIGHT if t == wanted else -ANSWER_TYPE_WEIGHT if t else 0.0 for t in kinds])
            sims[k] = float(q.max())
            at += len(line.asks)
            matched[k] = True
    rng = random.Random(seed)
    out = []
    for (line, text), sim, on_asks in zip(pairs, sims, matched, strict=True):
        bonus = (asks_topic_weight if on_asks else topic_weight) if line.topic is not None and line.topic in topics else 0.0
        fit = float(sim) + bonus + rng.uniform(0, jitter)
        out.append(Candidate(text, fit, line.topic, line.reveals))
    return sorted(out, key=lambda c: -c.fit)
