"""The actor: renders the director's intent as the persona's next line, with output guards.

The LM sees the persona card, a stage direction (intent, mood, facts it may now reveal) and the
recent history. Every line passes guards; a failing line gets one retry, then an authored
fallback line for the same intent, so the call never stalls - not even when the backend raises.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from importlib import resources
from typing import Literal

import yaml

from core.analysis.protocol import TurnAnalyzer
from core.transcript import Turn
from simulator.backends.base import (
    MAX_REPLY_CHARS,
    REPLY_DEADLINE_S,
    Backend,
    GenerationConfig,
    Message,
    ReplyLimitError,
)
from simulator.director import DebtorState, Decision
from simulator.history_window import history_window
from simulator.identity_lines import identity_answer
from simulator.intents import Intent, Temperament
from simulator.line_bank import (
    Candidate,
    persona_bank,
)
from simulator.line_choice import choose_lines
from simulator.personas import Persona
from simulator.recap_lines import correction_line

log = logging.getLogger(__name__)

# The tuned adapter saw this much history in training (training/build_corpus.py).
TUNED_HISTORY_TURNS = 4
# In a call the window's start moves every WINDOW_STEP turns rather than every turn, so every other
# prompt extends the one before and the engines reuse its keys and values (history_window.py):
# the 4th line of the bench's call feeds 101 prompt tokens instead of 174.
WINDOW_STEP = 4
STOP = ("\n", "<|im_end|>", "Collector:", "Agent:", "Debt collector:")
# One line of the debtor's: a few sentences, ended at the line's end or the collector's turn.
LINE_GENERATION = GenerationConfig(max_new_tokens=48, stop=STOP)
RETRY_TEMPERATURE = 0.9  # the retry after a guard samples at least this hot, to say something else
# Length guards in characters as well as words (guards.yaml's max_words): a 100k-character run
# with no spaces is one "word". A line over MAX_LINE_CHARS fails the too_long guard; the model's
# output is not read past MAX_RAW_CHARS (the backends' own cap on a reply).
MAX_LINE_CHARS = 400
MAX_RAW_CHARS = MAX_REPLY_CHARS


@lru_cache(maxsize=1)
def _prompts() -> dict:
    return yaml.safe_load(resources.files("simulator.prompts").joinpath("actor.yaml").read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _guards() -> dict:
    data = yaml.safe_load(resources.files("simulator.prompts").joinpath("guards.yaml").read_text(encoding="utf-8"))
    data["_break"] = [re.compile(p, re.I) for p in data["break_character"]]
    data["_collector"] = [re.compile(p, re.I) for p in data["collector_phrases"]]
    return data


@lru_cache(maxsize=1)
def _instruction_shingles() -> frozenset[tuple[str, ...]]:
    """Five-word runs of the prompt's own instructions: a line containing one echoes the prompt."""
    pr = _prompts()
    text = re.sub(r"\{[^}]*\}", " | ", " | ".join(pr[k] for k in ("card", "direction", "tuned_card", "tuned_direction")))
    out = set()
    for chunk in text.split("|"):
        words = _WORD.findall(chunk.lower())
        out.update(tuple(words[i : i + 5]) for i in range(len(words) - 4))
    return frozenset(out)


@dataclass(frozen=True)
class ActorLine:
    """The accepted debtor line and how it was produced."""

    text: str
    intent: Intent
    # model: the first try; retry: the second, after a guard; fallback: an authored line after
    # both failed; authored: an authored line by design (an identity detail from the persona file,
    # or a persona file's line when the model cannot speak the persona's language)
    # bank: the persona's bank line that best fits the moment (simulator/line_bank.py)
    source: Literal["model", "retry", "fallback", "authored", "bank"]
    failures: tuple[str, ...] = ()  # guard names (or "backend_error") that rejected earlier tries


@dataclass(frozen=True)
class ActorEvent:
    """A streaming event: ``delta`` (more text), ``reset`` (discard what was shown), ``final``."""

    kind: Literal["delta", "reset", "final"]
    text: str = ""
    line: ActorLine | None = None


class _Fill(dict):
    def __missing__(self, key: str) -> str:  # leave unknown placeholders visible to validation
        return "{" + key + "}"


def say_money(x: float, language: str = "en") -> str:
    """An amount as a person says it: "$175", "$1,842.37"; in Chinese "1500元", "1842.37元"."""
    whole = abs(x - round(x)) < 0.005
    if language == "zh":
        return f"{x:.0f}元" if whole else f"{x:.2f}元"
    return f"${x:,.0f}" if whole else f"${x:,.2f}"


def _say_payment(x: float, monthly: bool, language: str = "en") -> str:
    """A plan as a person says it: "$175 a month" ("每月1500元") for a monthly plan, else "$400"."""
    money = say_money(x, language)
    if not monthly:
        return money
    return f"每月{money}" if language == "zh" else f"{money} a month"


_DAY_OF_MONTH = re.compile(r"\b\d{1,2}(?:st|nd|rd|th)\b|\b(?:first|fifteenth|last day)\b", re.I)


def _say_date(iso: str | None, language: str = "en", said: str | None = None) -> str:
    """The plan's date as the debtor says it back: "Friday, December 11" for a date given by its
    weekday, "December 15" for one given as a day of the month ("the 15th"): the weekday the
    calendar puts on the 15th is not one the debtor said, and it can clash with what they said
    ("paid every other Friday, next on the 15th")."""
    if not iso:
        return "下周" if language == "zh" else "next week"
    d = date.fromisoformat(iso)
    if language == "zh":
        return f"{d.month}月{d.day}号"  # as said on the phone ("12月15号"), not the written 日
    if said and _DAY_OF_MONTH.search(said):
        return f"{d.strftime('%B')} {d.day}"
    return f"{d.strftime('%A')}, {d.strftime('%B')} {d.day}"


def placeholders(persona: Persona, decision: Decision | None, agent_name: str | None) -> _Fill:
    detail = decision.detail if decision else {}
    amount = detail.get("amount", persona.debt.amount)
    zh = persona.language == "zh"
    money = say_money(amount, persona.language)
    return _Fill(
        amount=money,
        payment=_say_payment(amount, bool(detail.get("monthly")), persona.language),
        date=_say_date(detail.get("date"), persona.language, detail.get("date_said")),
        creditor=persona.debt.creditor,
        agent_name=agent_name or ("你" if zh else "you"),
        account_holder=persona.account_holder,
        attorney_name=persona.attorney.name if persona.attorney else ("我的律师" if zh else "my attorney"),
        attorney_phone=persona.attorney.phone if persona.attorney else "",
        name=persona.name,
    )


PromptStyle = Literal["full", "tuned"]


def persona_card(persona: Persona, style: PromptStyle = "full") -> str:
    """The constant system prompt for a persona (kept identical across turns for KV reuse).

    ``full`` instructs an untuned model at length; ``tuned`` is the compact card the debtor
    adapter was trained on (training/build_corpus.py renders its examples with this function).
    """
    p, pr = persona, _prompts()
    if p.temperament is Temperament.wrong_party and p.third_party:
        identity = pr["wrong_party_identity"].format(relation=p.third_party.relation, account_holder=p.third_party.account_holder)
        debt_line = ""
    else:
        identity = f"You are {p.profile.age}, {p.profile.occupation}. {p.profile.household}."
        debt_line = (
            f"You owe {p.debt.creditor} {say_money(p.debt.amount, p.language)} on a {p.debt.product}, "
            f"{p.debt.days_past_due} days overdue."
        )
    # A persona in another language: the model is told to speak it, and only it
    rule = pr["language_rules"].get(p.language, "")
    if style == "tuned":
        card = pr["tuned_card"].format(
            name=p.name, identity=identity, situation=p.situation, debt_line=debt_line, style=" ".join(p.voice.style_notes)
        ).strip()
    else:
        card = pr["card"].format(
            name=p.name,
            identity=identity,
            background=p.profile.background,
            debt_line=debt_line,
            style=" ".join(p.voice.style_notes),
            examples=" ".join(f'"{x}"' for x in p.voice.example_lines[:4]),
        ).strip()
    return f"{card}\n{rule}".strip()


def stage_direction(
    persona: Persona, decision: Decision, agent_name: str | None = None, style: PromptStyle = "full"
) -> str:
    pr = _prompts()
    st = decision.state
    facts = [f.fact for f in persona.hidden_facts if f.id in decision.newly_revealed]
    facts_txt = f" You may now mention: {' '.join(facts)}" if facts else ""
    detail_txt = ""
    d = decision.detail
    if decision.intent in (Intent.promise_to_pay, Intent.counter_offer) and "amount" in d:
        fill = placeholders(persona, decision, agent_name)
        per = " a month" if d.get("monthly") else ""
        when = f", starting {fill['date']}" if d.get("date") else ""
        detail_txt = f" The amount is {fill['amount']}{per}{when}."
    if decision.intent is Intent.refer_to_attorney and persona.attorney:
        detail_txt = f" Your attorney is {persona.attorney.name} at {persona.attorney.firm}, {persona.attorney.phone}."
    intent_text = pr["intents"][decision.intent.value]
    if style == "tuned":
        # No authored example here: the tuned model must not learn to paraphrase a given line.
        return pr["tuned_direction"].format(intent_text=intent_text, mood=st.mood(), facts=facts_txt, detail=detail_txt).strip()
    # An authored line for the intent anchors a small model on what to say and how this
    # persona sounds; rotating by turn keeps the anchor from becoming a script.
    lines = persona.fallback_lines[decision.intent]
    example = lines[st.agent_turns % len(lines)].format_map(placeholders(persona, decision, agent_name))
    return pr["direction"].format(
        intent_text=intent_text, mood=st.mood(), facts=facts_txt, detail=detail_txt, name=persona.name, example=example
    ).strip()


def build_messages(
    persona: Persona,
    decision: Decision,
    history: list[Turn],
    *,
    history_turns: int = 8,
    agent_name: str | None = None,
    style: PromptStyle = "full",
    window_step: int = 1,
) -> list[Message]:
    """Persona card + recent history (agent = user, debtor = assistant) + stage direction.

    The history is the last ``history_turns`` turns (``window_step=1``, as in training) or a
    window of at least that many whose start moves every ``window_step`` turns (in a call)."""
    msgs: list[Message] = [{"role": "system", "content": persona_card(persona, style)}]
    # The window opens on a debtor turn, as the sliding window did: its start steps from the
    # parity of the call's first debtor line (0 when the debtor picks up, 1 when the collector
    # speaks first).
    origin = 0 if history and history[0].speaker != "agent" else 1
    recent = history_window(history, history_turns, window_step, origin)
    if not recent or recent[0].speaker != "agent":
        msgs.append({"role": "user", "content": _prompts()["opening_user"]})
    for t in recent:
        msgs.append({"role": "user" if t.speaker == "agent" else "assistant", "content": t.text})
    if msgs[-1]["role"] != "user":
        msgs.append({"role": "user", "content": "..."})
    msgs.append({"role": "system", "content": stage_direction(persona, decision, agent_name, style)})
    return msgs


# --- guards -----------------------------------------------------------------------------

_PREFIX = re.compile(r'^\s*(?:\(?[A-Z][\w .\'-]{0,30}\)?\s*:\s*)?["“]?')
_WORD = re.compile(r"[A-Za-z']+")
_CJK = re.compile(r"[\u3400-\u9fff]")
# What a line's length and repeats count: English words, and Chinese characters one by one.
_UNIT = re.compile(r"[A-Za-z']+|[\u3400-\u9fff]")


def clean_line(text: str, persona: Persona) -> str:
    """Strip a leading speaker label and wrapping quotes; keep only the first line."""
    text = text.strip().split("\n")[0].strip()
    m = re.match(rf"^\s*(?:{re.escape(persona.name.split()[0])}[\w .]*|debtor|me)\s*:\s*", text, re.I)
    if m:
        text = text[m.end():]
    text = text.strip().strip('"“”').strip()
    g = _guards()
    sentences = re.split(r"(?<=[.!?])\s+", text)
    if len(sentences) > g["max_sentences"]:
        text = " ".join(sentences[: g["max_sentences"]])
    return text


def leaked_facts(text: str, persona: Persona, revealed: tuple[str, ...] = ()) -> list[str]:
    """Ids of the hidden facts not yet revealed whose leak terms the line says."""
    low = text.lower()
    return [
        fact.id
        for fact in persona.hidden_facts
        if fact.id not in revealed and any(_says_term(t, low) for t in fact.leak_terms)
    ]


def _says_term(term: str, low: str) -> bool:
    """A leak term in a lower-cased line: a whole word, or for a Chinese term anywhere (Chinese
    has no spaces between words, so a word boundary never falls inside a sentence)."""
    t = term.lower()
    if _CJK.search(t):
        return t in low
    return re.search(rf"\b{re.escape(t)}\b", low) is not None


def leaked_fact(text: str, persona: Persona, revealed: tuple[str, ...]) -> str | None:
    """The id of the first hidden fact not yet revealed whose leak terms the line says, if any."""
    return next(iter(leaked_facts(text, persona, revealed)), None)


def _narrates_self(text: str, persona: Persona) -> bool:
    """True when the line talks about the speaker by name ("Maria is a shy person")."""
    first = persona.name.split()[0]
    after = re.compile(_guards()["third_person_after_name"])
    return any(
        after.match(text[m.end():]) and not _SELF_INTRO.search(text[: m.start()])
        for m in re.finditer(rf"\b{re.escape(first)}\b", text)
    )


# "This is Mark, the guy you keep calling" introduces the speaker; it does not narrate him.
_SELF_INTRO = re.compile(r"\b(?:this is|it's|it is|i'm|i am|name's|name is)\s*$", re.I)


def finish_line(text: str) -> str:
    """Drop a trailing fragment cut off by the token limit, when a whole sentence precedes it."""
    text = text.strip()
    if not text or text[-1] in ".!?…\"'”":
        return text
    ends = [m.end() for m in re.finditer(r"[.!?…](?=\s)", text)]
    return text[: ends[-1]].strip() if ends else text


def _norm(s: str) -> set[str]:
    return {w.lower() for w in _UNIT.findall(s)}


def _stutters(words: list[str]) -> bool:
    """A small model's decoding loop ("twenty twenty twenty twenty"): one word four times running,
    or two words three times running. People say "no, no, no", so three single words pass."""
    for i in range(len(words) - 3):
        if words[i] == words[i + 1] == words[i + 2] == words[i + 3]:
            return True
    for i in range(len(words) - 5):
        if words[i : i + 2] == words[i + 2 : i + 4] == words[i + 4 : i + 6]:
            return True
    return False


def wrong_language(text: str, language: str) -> bool:
    """The line is not in the persona's language: an English line with other letters in it, or a
    Chinese line that is not mostly Chinese characters ("那几个APP" is fine, "Okay, sure." is not)."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return False
    if language == "en":
        return sum(c.isascii() for c in letters) / len(letters) < 0.9
    if language == "zh":
        return sum(bool(_CJK.match(c)) for c in letters) / len(letters) < 0.6
    return False


def check_line(
    text: str,
    persona: Persona,
    state: DebtorState,
    earlier_debtor_lines: list[str],
    *,
    analyzer=None,
    final: bool = True,
    intent: Intent | None = None,
) -> list[str]:
    """Names of the guards the line fails (empty list = accepted).

    ``final=False`` runs only the cheap checks that are safe on a partial line while streaming.
    """
    g = _guards()
    fails = []
    low = text.lower()
    if any(p.search(text) for p in g["_break"]):
        fails.append("breaks_character")
    if any(p.search(text) for p in g["_collector"]):
        fails.append("speaks_as_collector")
    if len(text) > g.get("max_chars", MAX_LINE_CHARS):
        fails.append("too_long")
        return fails  # the word-level checks below would only read a line that is not used
    leaked = leaked_fact(text, persona, state.revealed)
    if leaked:
        fails.append(f"leaks_fact:{leaked}")
    words = _WORD.findall(low)
    if any(tuple(words[i : i + 5]) in _instruction_shingles() for i in range(len(words) - 4)):
        fails.append("echoes_prompt")
    if _narrates_self(text, persona):
        fails.append("third_person")
    if _stutters(words):
        fails.append("stutters")
    if not final:
        return fails
    if not re.search(r"\w", text):
        return ["empty"]
    if len(_UNIT.findall(text)) > g["max_words_zh" if persona.language == "zh" else "max_words"]:
        fails.append("too_long")
    if wrong_language(text, persona.language):
        fails.append("wrong_language")
    words = _norm(text)
    for prev in earlier_debtor_lines:
        pw = _norm(prev)
        if words and pw and len(words & pw) / len(words | pw) >= 0.8:
            fails.append("repeats_itself")
            break
    if analyzer is not None:
        try:
            if "speaks_as_collector" not in fails:
                a = analyzer.analyze_turn(text, speaker="agent")
                if a.signals.intersection(g["collector_signals"]):
                    fails.append("speaks_as_collector")
            if intent is not None:
                fails.extend(_intent_failures(analyzer.analyze_turn(text, speaker="debtor").signals, intent))
        except Exception:  # the analyzer is advisory here; never let it stall the call
            log.exception("analyzer failed inside the actor guard")
    return fails


def _intent_failures(signals: frozenset[str], intent: Intent) -> list[str]:
    """Whether the line does what the director decided (same detectors as the scorer)."""
    g = _guards()
    fails = []
    needed = g["on_intent"].get(intent.value)
    if needed and needed not in signals:
        fails.append("off_intent")
    for signal, allowed in g["only_under"].items():
        if signal in signals and intent.value not in allowed:
            fails.append("contradicts_intent")
    return fails


LineSource = Literal["model", "bank"]
# Which lines the debtor says:
#   bank:  the persona's bank line (personas/lines/) that best fits the moment; the model's line
#          when the bank has none left for the intent, or the persona has no bank
#   model: the model's line, after the guards (an authored fallback when both tries fail)
# Chosen by the live-call blind audit (docs/DEBTOR.md): on the default model, 2 annotators judged
# 37-41% of the model's lines fine against 72-78% of authored lines for the same moments; keeping
# only the model lines that fit the moment and sound like the persona's own lines raised that to
# 50-56%, still below authored lines chosen by intent alone.
DEFAULT_LINES: LineSource = "bank"
LINES_ENV = "CALLCOACH_DEBTOR_LINES"


def resolve_lines(lines: str | None, backend: Backend) -> LineSource:
    """The lines a call uses: as asked, else $CALLCOACH_DEBTOR_LINES, else the backend's own."""
    chosen = lines or os.environ.get(LINES_ENV) or getattr(backend, "debtor_lines", DEFAULT_LINES)
    if chosen not in ("model", "bank"):
        raise ValueError(f"{LINES_ENV}: '{chosen}' is not a choice (use bank or model)")
    return chosen  # type: ignore[return-value]


@dataclass
class Actor:
    """Renders a Decision as a line, streaming, with guards, one retry and a fallback.

    ``generation`` is the first try's settings (each try's seed comes from the call's ``seed``
    and the turn); ``reply_deadline_s`` bounds the whole reply, retry included, on a backend that
    ``takes_deadline``; a backend's :class:`ReplyLimitError` (deadline or size cap) goes
    straight to the fallback line, without a retry that would most likely do the same.
    """

    persona: Persona
    backend: Backend
    analyzer: TurnAnalyzer | None = None
    generation: GenerationConfig = LINE_GENERATION
    history_turns: int = 8
    seed: int = 0
    reply_deadline_s: float = REPLY_DEADLINE_S
    lines: LineSource | None = None  # None: $CALLCOACH_DEBTOR_LINES, else the backend's debtor_lines
    fallback_used: dict[Intent, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.lines = resolve_lines(self.lines, self.backend)
        languages = getattr(self.backend, "languages", None)
        # A model that cannot speak the persona's language never speaks for it: the persona's
        # authored lines do (the bank, then its fallback lines).
        self.model_speaks = languages is None or self.persona.language in languages
        if not self.model_speaks:
            self.lines = "bank"

    def fallback_line(self, decision: Decision, earlier: list[str], agent_name: str | None) -> str:
        lines = self.persona.fallback_lines[decision.intent]
        start = self.fallback_used.get(decision.intent, 0)
        fill = placeholders(self.persona, decision, agent_name)
        # Prefer an authored line not yet spoken in this call.
        for k in range(len(lines)):
            text = lines[(start + k) % len(lines)].format_map(fill)
            if text not in earlier:
                self.fallback_used[decision.intent] = start + k + 1
                return text
        self.fallback_used[decision.intent] = start + 1
        return lines[start % len(lines)].format_map(fill)

    def detail_line(self, decision: Decision, turn_seed: int = 0, earlier: list[str] = ()) -> str | None:
        """The authored answer to an identity check (``identifiers`` in the decision's detail):
        the persona's own date of birth, address, zip or last four, or an angry refusal; a
        wording not yet said in the call when there is one."""
        kinds = decision.detail.get("identifiers")
        if not kinds:
            return None
        d = decision.detail
        said = set(earlier)
        first = None
        for k in range(6):
            text = identity_answer(self.persona, tuple(kinds), confirm_name=bool(d.get("confirm_name")), refuse=bool(d.get("refuse")), pick=turn_seed + self.seed + k, caller_known=bool(d.get("caller_known")))
            if text not in said:
                return text
            first = first or text
        return first

    def _embed(self):
        if self.persona.language != "en":
            return None  # the sentence embedder (MiniLM) reads English only: shared characters instead
        embedder = getattr(self.analyzer, "embedder", None) if self.analyzer is not None else None
        return embedder.encode if embedder is not None else None

    def bank_candidates(self, decision: Decision, history: list[Turn], agent_name: str | None, turn_seed: int = 0) -> list[Candidate]:
        """The persona's bank lines for the decision, best fit to the collector's last turn first."""
        bank = persona_bank(self.persona.id) if self.lines != "model" else None
        if bank is None:
            return []
        return choose_lines(bank, self.persona, decision, history, fill=placeholders(self.persona, decision, agent_name),
                            embed=self._embed(), seed=self.seed * 7919 + turn_seed)

    def stream(self, decision: Decision, history: list[Turn], *, agent_name: str | None = None, turn_seed: int = 0) -> Iterator[ActorEvent]:
        earlier = [t.text for t in history if t.speaker != "agent"]
        text = self.detail_line(decision, turn_seed, earlier)
        if text is not None:
            # The model is never told the persona's date of birth; asked for it, it made one up
            # or dodged (a real-model walk-through: never once in 11 asks). Say the authored line.
            yield ActorEvent("delta", text)
            yield ActorEvent("final", text, ActorLine(text, decision.intent, "authored", ()))
            return
        kind = decision.detail.get("correct")
        if kind:  # the collector read the plan back wrong: the debtor says theirs again
            fill = placeholders(self.persona, decision, agent_name)
            heard = decision.detail.get("heard") or _say_payment(decision.detail["heard_amount"], bool(decision.detail.get("heard_monthly")), self.persona.language)
            text = correction_line(self.persona, kind, fill, heard, turn_seed + self.seed, earlier)
            yield ActorEvent("delta", text)
            yield ActorEvent("final", text, ActorLine(text, decision.intent, "authored", ()))
            return
        candidates = self.bank_candidates(decision, history, agent_name, turn_seed)
        best = candidates[0] if candidates else None
        if best is not None:
            yield ActorEvent("delta", best.text)
            yield ActorEvent("final", best.text, ActorLine(best.text, decision.intent, "bank", ()))
            return
        if not self.model_speaks:
            text = self.fallback_line(decision, earlier, agent_name)
            yield ActorEvent("delta", text)
            yield ActorEvent("final", text, ActorLine(text, decision.intent, "authored", ()))
            return
        yield from self._model_stream(decision, history, agent_name, turn_seed, earlier)

    def _model_stream(self, decision: Decision, history: list[Turn], agent_name: str | None, turn_seed: int, earlier: list[str]) -> Iterator[ActorEvent]:
        """The model's line, streamed, with the guards, one retry and an authored fallback."""
        style = getattr(self.backend, "prompt_style", "full")
        turns = TUNED_HISTORY_TURNS if style == "tuned" else self.history_turns
        messages = build_messages(self.persona, decision, history, history_turns=turns, agent_name=agent_name, style=style,
                                  window_step=WINDOW_STEP)
        failures: list[str] = []
        ends = time.monotonic() + self.reply_deadline_s
        for attempt in range(2):
            shown = ""
            raw = ""
            aborted: list[str] = []
            left = ends - time.monotonic()
            if left <= 0 and getattr(self.backend, "takes_deadline", False):
                failures.append("reply_deadline")
                break
            try:
                for piece in self.backend.stream(messages, config=self._try_config(attempt, turn_seed), deadline_s=left):
                    raw += piece
                    if len(raw) > MAX_RAW_CHARS:  # read no further, whatever the backend sends
                        raw, aborted = raw[: MAX_RAW_CHARS + 1], ["too_long"]
                        break
                    text = clean_line(raw, self.persona)
                    early = check_line(text, self.persona, decision.state, earlier, final=False)
                    if early:
                        aborted = early
                        break
                    if text.startswith(shown) and len(text) > len(shown):
                        yield ActorEvent("delta", text[len(shown):])
                        shown = text
            except ReplyLimitError as exc:  # past the deadline or the size cap: no retry
                log.warning("backend reply over a limit on attempt %d: %s", attempt + 1, exc)
                failures.append(exc.guard)
                if shown:
                    yield ActorEvent("reset")
                break
            except Exception as exc:  # backend errors and timeouts must not stall the call
                log.warning("backend failed on attempt %d: %s", attempt + 1, exc)
                failures.append("backend_error")
                if shown:
                    yield ActorEvent("reset")
                continue
            text = finish_line(clean_line(raw, self.persona))
            fails = aborted or check_line(
                text, self.persona, decision.state, earlier, analyzer=self.analyzer, intent=decision.intent
            )
            if not fails:
                if shown != text:
                    if shown:
                        yield ActorEvent("reset")
                    yield ActorEvent("delta", text)
                yield ActorEvent("final", text, ActorLine(text, decision.intent, "model" if attempt == 0 else "retry", tuple(failures)))
                return
            failures.extend(fails)
            if shown:
                yield ActorEvent("reset")
        text = self.fallback_line(decision, earlier, agent_name)
        yield ActorEvent("delta", text)
        yield ActorEvent("final", text, ActorLine(text, decision.intent, "fallback", tuple(failures)))

    def _try_config(self, attempt: int, turn_seed: int) -> GenerationConfig:
        """The settings of one try: a seed of its own, and a hotter retry."""
        temperature = self.generation.temperature
        return self.generation.replace(
            temperature=temperature if attempt == 0 else max(temperature, RETRY_TEMPERATURE),
            seed=self.seed * 7919 + turn_seed * 2 + attempt,
        )

    def render(self, decision: Decision, history: list[Turn], *, agent_name: str | None = None, turn_seed: int = 0) -> ActorLine:
        line = None
        for ev in self.stream(decision, history, agent_name=agent_name, turn_seed=turn_seed):
            if ev.kind == "final":
                line = ev.line
        assert line is not None
        return line
