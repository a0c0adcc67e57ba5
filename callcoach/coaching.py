"""Live coaching for a practice call: flags after each agent turn, and a suggested next line.

Compliance has one source of truth, the rulebook (``rubrics/rules-*.yaml``): the practice page
passes the violations the rulebook finds in the turn (``rubrics.turn_violations``), and each
becomes a flag worded by its rule. The rest of the coaching is good practice that no rule
covers (empathy, open questions, a recap; distress or a dispute left unanswered), read from
what the call already knows: the agent turn's ``TurnAnalysis`` (the same analysis the scorer
and the director use; nothing is detected twice), the analyses before it, and the debtor's
state. Messages and hint lines are data, in ``callcoach/prompts/coaching.yaml``, and their
words in another language in ``coaching-<language>.yaml`` (the same keys, checked at load): a
call is coached in its own language, the persona's (the rulebook of that language words its
rule flags, and a hint is a line to say to that debtor).
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal, NamedTuple

import yaml
from pydantic import BaseModel, ConfigDict, Field

from core.analysis.catalogue import Catalogue, shown_path, signal_problems
from core.analysis.types import CallContext, Topic, TurnAnalysis
from core.datafile import DataFileError, LongText, Name, ShortText, load_file
from rubrics.results import Violation
from rubrics.rulebook import rule_advice
from rubrics.schema import Rulebook
from simulator.actor import say_money
from simulator.director import DebtorState
from simulator.personas import Persona

LEVELS = ("stop", "warn", "good")  # display order: problems first
SEVERITY_LEVEL = {"blocker": "stop", "major": "stop", "minor": "warn"}
DATA_FILE = Path(__file__).parent / "prompts" / "coaching.yaml"
LANGUAGES = ("en", "zh")  # en: coaching.yaml's own words; the others: coaching-<language>.yaml


def text_file(language: str) -> Path:
    return DATA_FILE.with_name(f"coaching-{language}.yaml")


class _Reads(NamedTuple):
    """Catalogue signals coaching reads by name, as ``SIG.recap``; checked with coaching.yaml's
    against core/analysis/signals.yaml when the coaching data loads."""

    empathy: str = "empathy"
    self_identification: str = "self_identification"
    rights_statement: str = "rights_statement"
    payment_offer: str = "payment_offer"
    recap: str = "recap"
    support_referral: str = "support_referral"
    offer_help: str = "offer_help"
    safety_check: str = "safety_check"
    follow_up: str = "follow_up"


SIG = _Reads()
_SUPPORT_SIGNALS = (SIG.support_referral, SIG.offer_help, SIG.safety_check)
# Once the debtor has spoken of self-harm or not coping, the hint walks the person-first steps,
# in this order: (hint, what the agent has to have said for the step to be done).
_CRISIS_STEPS = (
    ("safety_check", (SIG.safety_check,)),
    ("crisis_line", (SIG.support_referral,)),
    ("pause_and_follow_up", (SIG.follow_up,)),
)


class CoachingDataError(DataFileError):
    """The coaching data names a signal the analysis does not define (one line per problem)."""


class CoachingText(BaseModel):
    """coaching-<language>.yaml: coaching.yaml's words in another language (its keys, texts only)."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1]
    language: str = Field(pattern=r"^[a-z]{2}$")
    violation: ShortText
    violation_no_advice: ShortText
    default_agent: Name
    money: ShortText = Field(description="An amount in a hint; {amount} is the number")
    signals: dict[str, LongText]
    situations: dict[str, LongText]
    hints: dict[str, LongText]


@dataclass(frozen=True)
class Flag:
    """One coaching note about the turn just spoken."""

    level: str  # stop | warn | good
    code: str  # the rule broken (a rule id), or the signal or situation that raised it
    message: str
    quote: str = ""  # the words that triggered it, when there are some

    def to_dict(self) -> dict:
        return {"level": self.level, "code": self.code, "message": self.message, "quote": self.quote}


@dataclass(frozen=True)
class Hint:
    """A suggested next line for the agent, and which rule chose it."""

    rule: str
    text: str


@lru_cache(maxsize=1)
def coaching_data() -> dict:
    """The flag messages and hint templates (package data, loaded and checked once)."""
    return load_coaching_data()


def load_coaching_data(path: Path = DATA_FILE, catalogue: Catalogue | None = None) -> dict:
    """The coaching data; every signal it or this module names must be in the catalogue."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    problems = signal_problems(signal_references(data, shown_path(path)), catalogue)
    if problems:
        raise CoachingDataError(problems)
    return data


@lru_cache(maxsize=8)
def coaching_text(language: str = "en") -> dict:
    """The coaching words of ``language`` (English for a language without its file): ``signals``
    and ``situations`` (code -> message), ``hints`` (rule -> line), ``violation``,
    ``violation_no_advice``, ``default_agent`` and ``money`` (None: say_money's English amounts)."""
    data = coaching_data()
    if language == "en" or not text_file(language).exists():
        return {
            "signals": {k: v["message"] for k, v in data["signals"].items()},
            "situations": {k: v["message"] for k, v in data["situations"].items()},
            "hints": dict(data["hints"]), "violation": data["violation"],
            "violation_no_advice": data["violation_no_advice"], "default_agent": data["default_agent"], "money": None,
        }
    return load_coaching_text(text_file(language), data)


def load_coaching_text(path: Path, data: dict | None = None) -> dict:
    """A coaching-<language>.yaml, checked against coaching.yaml: the same keys, and hints with
    the same ``{placeholders}`` (one CoachingDataError line per problem)."""
    data = data if data is not None else coaching_data()
    loaded = load_file(CoachingText, path, guide="callcoach/prompts/coaching.yaml", error=CoachingDataError)
    problems = coaching_text_problems(loaded, data, shown_path(path))
    if problems:
        raise CoachingDataError(problems)
    return loaded.model_dump(exclude={"version", "language"})


def coaching_text_problems(text: CoachingText, data: dict, source: str) -> list[str]:
    """Keys the translation lacks or adds, and texts whose placeholders differ from coaching.yaml's."""
    problems = []
    for table in ("signals", "situations", "hints"):
        ref = {k: (v if table == "hints" else v["message"]) for k, v in (data.get(table) or {}).items()}
        own = getattr(text, table)
        problems += [f"{source}: {table}.{k}: missing (it is in coaching.yaml)" for k in ref if k not in own]
        problems += [f"{source}: {table}.{k}: not in coaching.yaml (add it there, or remove it)" for k in own if k not in ref]
        problems += [
            f"{source}: {table}.{k}: placeholders {sorted(_fields(own[k]))} differ from coaching.yaml's {sorted(_fields(ref[k]))}"
            for k in ref if k in own and _fields(own[k]) != _fields(ref[k])
        ]
    for key in ("violation", "violation_no_advice"):
        if _fields(getattr(text, key)) != _fields(data[key]):
            problems.append(f"{source}: {key}: placeholders {sorted(_fields(getattr(text, key)))} differ from coaching.yaml's")
    if _fields(text.money) != {"amount"}:
        problems.append(f"{source}: money: needs the {{amount}} placeholder, and no other")
    return problems


def _fields(value: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(value) if name}


def signal_references(data: dict, source: str = "callcoach/prompts/coaching.yaml") -> list[tuple[str, str, str]]:
    """``(file, field, signal)`` for every catalogue signal the coaching data and this module name."""
    refs = [(source, f"signals.{name}", name) for name in data.get("signals") or {}]
    for code, entry in (data.get("situations") or {}).items():
        refs += [(source, f"situations.{code}.rule_signals[{i}]", n) for i, n in enumerate(entry.get("rule_signals", ()))]
    return refs + [("callcoach/coaching.py", f"SIG.{k}", v) for k, v in SIG._asdict().items()]


def _flag(table: str, code: str, quote: str = "", language: str = "en") -> Flag:
    entry = coaching_data()[table][code]
    return Flag(entry["level"], code, coaching_text(language)[table][code], quote)


def _agent_turns(history: Sequence[TurnAnalysis]) -> list[TurnAnalysis]:
    return [a for a in history if a.speaker == "agent"]


def _addressed(history: Sequence[TurnAnalysis], analysis: TurnAnalysis | None, signals: Sequence[str]) -> bool:
    turns = _agent_turns(history) + ([analysis] if analysis else [])
    return any(a.signals.intersection(signals) for a in turns)


def violation_flags(violations: Sequence[Violation], rulebook: Rulebook | None = None, language: str = "en") -> list[Flag]:
    """One flag per rule broken, worded by the rule: title, citation and what to do instead.

    Blocker and major violations are ``stop``, minor ones ``warn``; the quote is the words
    that broke the rule. Without the rulebook the flag has the title and citation only.
    ``language`` is the call's (the punctuation around the rule's own words).
    """
    rules = {r.id: r for r in rulebook.rules} if rulebook is not None else {}
    words = coaching_text(language)
    flags = []
    for v in violations:
        rule = rules.get(v.rule)
        if rule is not None:
            advice = rule_advice(rule, v)
            message = words["violation"].format(title=v.title, citation=v.citation, advice=f"{advice[:1].upper()}{advice[1:]}")
        else:
            message = words["violation_no_advice"].format(title=v.title, citation=v.citation)
        flags.append(Flag(SEVERITY_LEVEL[v.severity], v.rule, message, v.quote))
    return flags


def coach_turn(
    analysis: TurnAnalysis,
    history: Sequence[TurnAnalysis] = (),
    violations: Sequence[Violation] = (),
    rulebook: Rulebook | None = None,
    language: str = "en",
) -> list[Flag]:
    """Flags for one agent turn, worst first, in the call's ``language``.

    ``history`` holds the analyses before it; ``violations`` are the rulebook's violations of
    this turn (``rubrics.turn_violations``) and ``rulebook`` words them. Coaching adds no
    compliance judgement of its own, so the scorecard at the end says what was said live.
    """
    ctx = analysis.context  # what was known before this turn
    rules = {r.id: r for r in rulebook.rules} if rulebook is not None else {}
    # A coaching note the rulebook makes on this turn (its rule names the same signal) is left
    # to the rule: said once, in the rule's words.
    ruled = {name for v in violations if v.rule in rules for name in rules[v.rule].referenced()}
    flags = violation_flags(violations, rulebook, language)
    notes: list[Flag] = []

    situations = coaching_data()["situations"]

    def note(code: str) -> None:
        if ruled.isdisjoint(situations[code].get("rule_signals", ())):
            notes.append(_flag("situations", code, language=language))

    if ctx.distress_disclosed and not _addressed(history, analysis, (*_SUPPORT_SIGNALS, SIG.empathy)):
        note("ignored_distress")
    if ctx.dispute_raised and SIG.payment_offer in analysis.signals and not _addressed(history, analysis, (SIG.rights_statement,)):
        note("ignored_dispute")
    previous = _agent_turns(history)
    if not previous and SIG.self_identification not in analysis.signals:
        note("no_self_identification")

    table = coaching_data()["signals"]
    for hit in analysis.hits:
        entry = table.get(hit.signal)
        if entry is None or hit.signal in ruled or any(f.code == hit.signal for f in notes):
            continue
        if all(getattr(ctx, k) == v for k, v in entry.get("when", {}).items()):
            notes.append(_flag("signals", hit.signal, hit.quote, language))
    if analysis.question == "open":
        note("open_question")
    elif len(previous) == 2 and not any(a.question == "open" for a in previous):
        note("closed_questions_only")

    # Never praise a turn that broke a rule: the good notes would drown the one that matters.
    if flags:
        notes = [f for f in notes if f.level != "good"]
    return sorted(flags + notes, key=lambda f: LEVELS.index(f.level))


def _first_name(full: str) -> str:
    return full.split()[0] if full.strip() else full


def suggest_line(
    persona: Persona,
    state: DebtorState,
    context: CallContext,
    analyses: Sequence[TurnAnalysis] = (),
    agent_name: str | None = None,
    language: str | None = None,
) -> Hint:
    """A suggested next line for the agent, fitted to where the call stands, in ``language``
    (default: the persona's, the language the line is said in).

    Rules are checked in order of what matters most (a debtor in crisis first: their safety,
    the crisis line, a pause and a later call, never money; then compliance, then the
    conversation); the first one that applies gives the line. Every name in a hint comes from
    the persona: the trainee calls on behalf of its creditor.
    """
    words = coaching_text(language or persona.language)
    holder = persona.account_holder
    agent_turns = _agent_turns(analyses)
    debtor_offers = [a.offer for a in analyses if a.speaker != "agent" and a.offer is not None]
    amount = debtor_offers[-1].amount if debtor_offers else max(25.0, round(persona.debt.amount / 12 / 25) * 25)
    fill = {
        "agent": agent_name or words["default_agent"],
        "debtor": holder,
        "first_name": _first_name(holder),
        "creditor": persona.debt.creditor,
        "amount": say_money(amount) if words["money"] is None else words["money"].format(amount=_number(amount)),
        "plan": state.promise.plan if state.promise else "",
    }
    asked_topics = {t for a in agent_turns for t in a.question_topics}

    def rule() -> str:
        if context.distress_disclosed:  # the person before the account, from here to the end
            for step, said in _CRISIS_STEPS:
                if not _addressed(analyses, None, said):
                    return step
            return "close_with_care"
        if not agent_turns or not context.self_identified:
            return "introduce"
        if context.third_party:
            return "third_party"
        if context.stop_requested:
            return "stop_requested"
        if context.attorney_mentioned:
            return "attorney"
        if not context.identity_verified:
            return "verify_detail" if context.name_confirmed else "verify"
        if context.first_contact and not context.mini_miranda_given:
            return "mini_miranda"
        if context.dispute_raised and not _addressed(analyses, None, (SIG.rights_statement,)):
            return "dispute"
        if state.promise:
            return "recap" if not _addressed(analyses, None, (SIG.recap,)) else "close"
        if state.anger >= 60:
            return "calm_anger"
        if not any(a.question == "open" for a in agent_turns) or not state.revealed:
            return "explore"
        if Topic.payment_ability not in asked_topics and not debtor_offers:
            return "ask_capacity"
        if not _addressed(analyses, None, (SIG.payment_offer,)):
            return "propose_plan"
        return "close"

    key = rule()
    return Hint(key, words["hints"][key].format(**fill))


def _number(x: float) -> str:
    return f"{x:.0f}" if abs(x - round(x)) < 0.005 else f"{x:.2f}"


__all__ = [
    "Flag", "Hint", "coach_turn", "violation_flags", "suggest_line", "coaching_data", "load_coaching_data",
    "coaching_text", "load_coaching_text", "CoachingDataError", "LEVELS", "SEVERITY_LEVEL", "SIG",
]
