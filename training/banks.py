"""Hand-written line banks for the tuning corpus: debtor lines per persona, collector lines per move.

Both are data files checked by pydantic (``extra="forbid"``) plus cross-checks against the persona:
hidden facts are only said by lines tagged with them, placeholders are known, and every debtor line
passes the actor's own guards. ``python -m training.banks validate [FILE...]`` prints one line per
problem (``file: field: message``) and exits 1.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.analysis import analyzer_for
from core.datafile import load_model
from simulator.actor import check_line, leaked_facts, placeholders
from simulator.director import initial_state
from simulator.intents import Intent
from simulator.line_bank import GUIDE, LINES_DIR, AuthoredLine, BankError, LineBank, norm
from simulator.personas import PLACEHOLDERS, Persona, load_personas

DATA_DIR = Path(__file__).resolve().parent / "data"
COLLECTOR_FILE = DATA_DIR / "collector_lines.yaml"
PLANS_FILE = DATA_DIR / "call_plans.yaml"
MAX_WORDS = 35
MAX_CHARS_ZH = 60  # a Chinese line counts characters: two short spoken sentences
MIN_PER_INTENT = 3
HOLD_BACK_EVERY = 8  # every 8th plain line of a training persona is kept out of the corpus
COLLECTOR_PLACEHOLDERS = frozenset({"full", "debtor", "creditor", "agent", "company", "balance", "plan", "big", "date"})
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_WORD = re.compile(r"[A-Za-z0-9']+")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CollectorMove(_Strict):
    tone: Literal["kind", "neutral", "pushy", "abusive", "off_topic", "break_character"]
    lines: list[str] = Field(min_length=1)
    heldout: list[str] = Field(default_factory=list)  # evaluation only, never in the corpus


class CollectorBank(_Strict):
    version: Literal[1]
    moves: dict[str, CollectorMove]


class CallPlan(_Strict):
    weight: float = Field(gt=0)
    steps: list[str | list[str]] = Field(min_length=2)  # a move id, or alternatives to pick from

    def moves(self) -> set[str]:
        return {m for s in self.steps for m in (s if isinstance(s, list) else [s])}


class CallPlans(_Strict):
    """training/data/call_plans.yaml: how the simulated collector runs a call."""

    version: Literal[1]
    plans: dict[str, CallPlan]
    inserts: dict[Literal["off_topic", "break_character", "drop"], float]
    branch_rate: float = Field(ge=0, le=1)
    branches: dict[str, list[Intent]]


def fill_sample(text: str, persona: Persona) -> str:
    """A line as the actor would say it outside any particular decision (the actor's own filler)."""
    return text.format_map(placeholders(persona, None, "Sam"))


_GUARDS = {"stutters", "breaks_character", "speaks_as_collector", "echoes_prompt", "third_person", "wrong_language", "empty", "off_intent", "contradicts_intent"}


def check_bank(bank: LineBank, persona: Persona, source: str, analyzer=None) -> list[str]:
    """Problems with a debtor bank that pydantic cannot see: they need the persona.

    With an ``analyzer`` every line also goes through the actor's intent guards (a promise must
    read as a promise, no other line may) and its collector-voice check, as in a live call.
    """
    problems: list[str] = []
    facts = {f.id: f for f in persona.hidden_facts}
    held_back = {norm(x) for lines in persona.fallback_lines.values() for x in lines}
    held_back |= {norm(x) for x in persona.voice.example_lines}
    seen: dict[str, str] = {}
    state = initial_state(persona)
    for intent, items in bank.lines.items():
        for i, item in enumerate(items):
            where = f"{source}: lines.{intent.value}[{i}]"
            text = item.text
            unknown = [n for n in _PLACEHOLDER.findall(text) if n not in PLACEHOLDERS]
            if unknown:
                problems.append(f"{where}: unknown placeholder {{{unknown[0]}}} (allowed: {', '.join(sorted(PLACEHOLDERS))})")
            size, limit, unit = len(_WORD.findall(text)), MAX_WORDS, "words"
            if persona.language == "zh":
                size, limit, unit = len(_PLACEHOLDER.sub("", text)), MAX_CHARS_ZH, "characters"
            if size > limit:
                problems.append(f"{where}: {size} {unit}; keep a line to {limit} or fewer")
            if intent is Intent.promise_to_pay and not {"payment", "date"} <= set(_PLACEHOLDER.findall(text)):
                problems.append(f"{where}: a promise must say {{payment}} and {{date}}")
            if intent is Intent.counter_offer and "{payment}" not in text and "{amount}" not in text:
                # {amount} alone: a part paid now and the rest soon ("{amount} now, and I clear the
                # rest next week"), which "$400 a month" would make incoherent
                problems.append(f"{where}: a counter-offer must say {{payment}} (the plan) or {{amount}} (a part paid now)")
            if re.search(r"\{payment\}\s+(a|per|each)\s+month", text, re.I):
                problems.append(f"{where}: {{payment}} already says 'a month' for monthly plans; drop the words after it")
            if re.search(r"(?:每个?月|一个月|按月)\s*\{payment\}|\{payment\}\s*(?:每个?月|一个月)", text):
                problems.append(f"{where}: {{payment}} already says 每月 for monthly plans; drop the 每月 next to it")
            key = norm(text)
            if key in seen:
                problems.append(f"{where}: repeats {seen[key]}")
            seen.setdefault(key, f"lines.{intent.value}[{i}]")
            if key in held_back:
                problems.append(f"{where}: copies a line from the persona file (held back for evaluation); write a new one")
            filled = fill_sample(text, persona)
            said = leaked_facts(filled, persona)
            if item.reveals is not None:
                if item.reveals not in facts:
                    problems.append(f"{where}.reveals: unknown fact '{item.reveals}' (known: {', '.join(facts)})")
                elif item.reveals not in said:
                    terms = ", ".join(facts[item.reveals].leak_terms)
                    problems.append(f"{where}: tagged reveals {item.reveals} but says none of its terms ({terms})")
            extra = [f for f in said if f != item.reveals]
            if extra:
                problems.append(f"{where}: mentions hidden fact '{extra[0]}' ({', '.join(facts[extra[0]].leak_terms)}); tag it `reveals: {extra[0]}` or reword")
            reader = analyzer_for(analyzer, persona.language) if analyzer is not None else None
            fails = [f for f in check_line(filled, persona, state, [], analyzer=reader, intent=intent) if f in _GUARDS]
            if fails:
                problems.append(f"{where}: fails the actor's guard {fails[0]}")
    # What is wrong in the lines written comes first; what is still missing after (only the first
    # problems of a file are worded, the rest are counted).
    for intent in Intent:
        if len(bank.lines.get(intent, [])) < MIN_PER_INTENT:
            problems.append(f"{source}: lines.{intent.value}: needs at least {MIN_PER_INTENT} lines (see {GUIDE})")
    return problems


def is_held_back(index: int, line: AuthoredLine) -> bool:
    """Lines kept out of the corpus so the intent classifier is fitted on lines tuning never saw.

    Fact-revealing lines are never held back: each fact has only a few.
    """
    return line.reveals is None and index % HOLD_BACK_EVERY == HOLD_BACK_EVERY - 1


@dataclass
class Banks:
    """All debtor banks that loaded, keyed by persona id, plus the problems of the ones that did not."""

    banks: dict[str, LineBank]
    problems: list[str]


def load_bank(path: Path, personas: dict[str, Persona], analyzer=None) -> LineBank:
    """Load and check one debtor line bank; raises BankError with readable lines."""
    source = str(path)
    bank = load_model(LineBank, path.read_text(encoding="utf-8"), source, guide=GUIDE, error=BankError)
    if bank.persona not in personas:
        raise BankError([f"{source}: persona: unknown persona '{bank.persona}' (known: {', '.join(sorted(personas))})"])
    if path.stem != bank.persona:
        raise BankError([f"{source}: persona: the file must be named {bank.persona}.yaml"])
    problems = check_bank(bank, personas[bank.persona], source, analyzer)
    if problems:
        raise BankError(problems)
    return bank


def load_banks(paths: list[Path] | None = None, personas: dict[str, Persona] | None = None, analyzer=None) -> Banks:
    personas = personas or load_personas().personas
    files = paths or sorted(LINES_DIR.glob("*.yaml"))
    banks, problems = {}, []
    for f in files:
        try:
            b = load_bank(Path(f), personas, analyzer)
            banks[b.persona] = b
        except BankError as exc:
            problems.extend(exc.problems)
    return Banks(banks, problems)


def load_collector_bank(path: Path = COLLECTOR_FILE) -> CollectorBank:
    source = str(path)
    bank = load_model(CollectorBank, path.read_text(encoding="utf-8"), source, guide=GUIDE, error=BankError)
    problems, seen = [], {}
    for move_id, move in bank.moves.items():
        for part in ("lines", "heldout"):
            for i, text in enumerate(getattr(move, part)):
                where = f"{source}: moves.{move_id}.{part}[{i}]"
                unknown = [n for n in _PLACEHOLDER.findall(text) if n not in COLLECTOR_PLACEHOLDERS]
                if unknown:
                    problems.append(f"{where}: unknown placeholder {{{unknown[0]}}} (allowed: {', '.join(sorted(COLLECTOR_PLACEHOLDERS))})")
                key = norm(text)
                if key in seen:
                    problems.append(f"{where}: repeats {seen[key]}")
                seen.setdefault(key, f"moves.{move_id}.{part}[{i}]")
    if problems:
        raise BankError(problems)
    return bank


def load_call_plans(path: Path = PLANS_FILE, collector: CollectorBank | None = None) -> CallPlans:
    """Load the call plans; every move they name must exist in the collector bank."""
    plans = load_model(CallPlans, path.read_text(encoding="utf-8"), str(path), guide=GUIDE, error=BankError)
    known = set((collector or load_collector_bank()).moves)
    named = {m for p in plans.plans.values() for m in p.moves()} | (set(plans.inserts) - {"drop"}) | set(plans.branches)
    missing = sorted(named - known)
    if missing:
        raise BankError([f"{path}: plans: moves not in {COLLECTOR_FILE.name}: {', '.join(missing)}"])
    return plans


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] != "validate":
        print("usage: python -m training.banks validate [FILE...]", file=sys.stderr)
        return 2
    files = [Path(a) for a in args[1:]] or [*sorted(LINES_DIR.glob("*.yaml")), COLLECTOR_FILE]
    from core.analysis import default_analyzer

    analyzer = default_analyzer()
    bad = 0
    for f in files:
        if not f.exists():
            print(f"{f}: no such file")
            bad += 1
            continue
        try:
            if f.resolve() == COLLECTOR_FILE.resolve() or f.name == COLLECTOR_FILE.name:
                cb = load_collector_bank(f)
                n = sum(len(m.lines) + len(m.heldout) for m in cb.moves.values())
            else:
                n = sum(len(v) for v in load_bank(f, load_personas().personas, analyzer).lines.values())
            print(f"ok: {f} ({n} lines)")
        except BankError as exc:
            bad += 1
            print("\n".join(exc.problems))
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
