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

from core.analysis.analyzer import tag_only, typed_question
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
from simulator.identity_lines import identity_answer
from simulator.intents import Intent, Temperament
from simulator.line_bank import (
    Candidate,
    answer_type,
    best_ask_fit,
    eligible,
    norm,
    persona_bank,
    rank,
)
from simulator.personas import Persona

log = logging.getLogger(__name__)

# The tuned adapter saw this much history in training (training/build_corpus.py).
TUNED_HISTORY_TURNS = 4
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
    # {payment} says the plan as a person would: "$175 a month" ("每月1500元") for a monthly plan,
    # else "$400" ("3000元").
    if detail.get("monthly"):
        payment = f"每月{money}" if zh else f"{money} a month"
    else:
        payment = money
    return _Fill(
        amount=money,
        payment=payment,
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
) -> list[Message]:
    """Persona card + recent history (agent = user, debtor = assistant) + stage direction."""
    msgs: list[Message] = [{"role": "system", "content": persona_card(persona, style)}]
    recent = history[-history_turns:]
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


_ASKS_WHO_LINE = re.compile(
    r"\bwho(?:'s| is) (?:this|calling|asking)\b|\bwho are you\b|\bwho is this\b|\bwhat(?:'s| is) your name\b|\byour name,? (?:please|again|first)\b|\btell me who you are\b|"
    r"\bwhere (?:you're|you are) calling from\b|\band you are\?|你是谁|哪位|贵姓|哪里打来",
    re.I,
)
_GIVES_NAME = re.compile(
    r"\b(?:this is|it'?s|its|i'?m|im|my name(?:'s| is)?|name'?s)\s+"
    r"(?!(?:calling|sorry|just|not|here|with|from|trying|looking|going|about|a|an|the|so|really|afraid|glad|happy|me|him|her|regarding)\b)[A-Za-z]{2,}"
    # Chinese: "我是小王", "我姓李", "我叫张伟", "这边是…的小王"
    r"|我(?:是|叫|姓)(?!不是|说|想|问|打|来|在|们)[\u3400-\u9fff]|这边是",
    re.I,
)


_ANSWER_POOL = (Intent.answer_question, Intent.explain_hardship)
# Intents that take a stance rather than answer; a plain question a line clearly answers (MiniLM
# cosine between the question and the line's asks at least this) is answered instead.
_STANCES = (Intent.dispute, Intent.ask_proof, Intent.take_message, Intent.counter_offer)
_STANCE_YIELDS_AT = 0.7
_GENDERED_ADDRESS = re.compile(r"\b(?:ma'?am|sir)\b|,\s*(?:lady|mister|miss|young (?:man|lady))\b", re.I)
_SENTENCE = re.compile(r"[^.!?？。\n]+[.!?？。]*")


def _question_part(text: str) -> str:
    """The sentences of a turn that ask something (with "?" or typed without it), else the turn."""
    asked = [m.group().strip() for m in _SENTENCE.finditer(text) if "?" in m.group() or "？" in m.group() or typed_question(m.group())]
    return " ".join(asked) or text
# A question is about a hidden fact when a line telling it matches the question this well (MiniLM
# cosine, question to question) and this much better than any line the debtor may say yet.
_HIDDEN_ASK_FIT = 0.6
_HIDDEN_ASK_MARGIN = 0.1
# Below this the best line's questions are about something else (MiniLM cosine between two
# questions: under 0.4 they share little more than a topic): the debtor dodges instead.
_ANSWER_ASK_FIT = 0.4
_DEBT_WORDS = re.compile(
    r"\b(?:debts?|dispute\w*|owe[sd]?|balance|bills?|account|card|loan|payments?|creditor|reference number)\b|\$|\d|"
    r"欠|借款|贷款|逾期|还款|账单|信用卡|额度|分期|网贷|担保",
    re.I,
)


def _said_the_debt(history: list[Turn]) -> bool:
    """The collector has said something about the debt in this call."""
    return any(t.speaker == "agent" and _DEBT_WORDS.search(t.text) for t in history)


def _said_a_name(history: list[Turn]) -> bool:
    """The collector has said a name of theirs in this call ("this is Sam", "its carla")."""
    return any(t.speaker == "agent" and _GIVES_NAME.search(t.text) for t in history)


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
        said = {norm(t.text) for t in history if t.speaker != "agent"}
        last_agent = next((t for t in reversed(history) if t.speaker == "agent"), None)
        asked = last_agent is not None and ("?" in last_agent.text or "？" in last_agent.text or typed_question(last_agent.text)) \
            and not tag_only(last_agent.text)
        # what the lines' questions are matched against: the turn's question, without the news or
        # the apology around it ("It's about your Lumen card, I'll keep it short. Is this number
        # the best one for later?")
        question = _question_part(last_agent.text) if asked else (last_agent.text if last_agent else "")
        # Asked something about their life, the debtor answers from everything they could say
        # about it: the line whose questions (asks) best match, whether the bank filed it as a
        # plain answer or as part of the hardship story ("when's payday?" is answered by a line
        # filed under either). Only when no line of the pool tells a fact just earned does the
        # earned fact's own intent win, as before.
        # (with the sentence embedder only: its question-to-question match is what ranks the pool)
        embed = self._embed()
        pool = (decision.intent,)
        answers = (*_ANSWER_POOL, Intent.refer_to_attorney) if self.persona.attorney is not None else _ANSWER_POOL
        if asked and embed is not None and decision.intent in _STANCES and not decision.newly_revealed \
                and not (decision.intent is Intent.counter_offer and answer_type(last_agent.text) == "how_much"):
            # Asked something plain while disputing, taking a message or offering a plan ("what's the
            # best number to reach you?"), a person answers it when they have the answer, then goes
            # on; the stance line would ignore the question. Only a clear match counts.
            fill0 = placeholders(self.persona, decision, agent_name)
            direct = [p for intent in answers for p in eligible(bank, intent, revealed=decision.state.revealed, newly_revealed=(), said=said, fill=fill0)]
            if direct and best_ask_fit([ln for ln, _ in direct], _question_part(last_agent.text), embed) >= _STANCE_YIELDS_AT:
                return rank(direct, collector_text=_question_part(last_agent.text), topics=decision.topics, embed=embed,
                            seed=self.seed * 7919 + turn_seed, use_asks=True)
        if asked and embed is not None and decision.intent in _ANSWER_POOL:
            # a represented debtor's answers include their attorney's name and number
            pool = (*_ANSWER_POOL, Intent.refer_to_attorney) if self.persona.attorney is not None else _ANSWER_POOL
        fill = placeholders(self.persona, decision, agent_name)
        pairs = [
            pair for intent in pool
            for pair in eligible(bank, intent, revealed=decision.state.revealed, newly_revealed=decision.newly_revealed, said=said, fill=fill,
                                 retell=len(pool) > 1)
        ]
        if decision.newly_revealed and any(ln.reveals in decision.newly_revealed for ln, _ in pairs):
            pairs = [(ln, t) for ln, t in pairs if ln.reveals in decision.newly_revealed]
        # "Yes, ma'am" to a collector named Kyle: a line that calls the collector ma'am, sir, miss or
        # lady guesses their gender, which the debtor cannot know; said only when nothing else fits
        pairs = [(ln, t) for ln, t in pairs if not _GENDERED_ADDRESS.search(t)] or pairs
        if decision.intent is not Intent.ask_who_is_calling and _said_a_name(history):
            # Told who is calling, a debtor taking a message or disputing does not ask it again as
            # if unheard ("Tell me who you are and where you're calling from" right after "This is
            # Vince from Cornerstone": flagged in three blind audits); asking is the director's call
            pairs = [(ln, t) for ln, t in pairs if not _ASKS_WHO_LINE.search(t)] or pairs
        if decision.intent is Intent.ask_who_is_calling and not _said_a_name(history):
            # "And your name again?", "you said your name was what?" presuppose a name given
            pairs = [(ln, t) for ln, t in pairs if not re.search(r"\b(?:again|you said|said your)\b|刚才说|再说一(?:遍|下)|又是", t, re.I)] or pairs
        if decision.intent is Intent.ask_who_is_calling and not _said_the_debt(history):
            # "what's your mailing address? I need it for my dispute letter" presupposes the debt
            pairs = [(ln, t) for ln, t in pairs if not _DEBT_WORDS.search(t)] or pairs
        if len(pool) > 1 and not decision.newly_revealed:
            # Asked for something only a fact not yet earned answers ("when do you get paid next?"
            # when the payday is hidden): the question matches that fact's lines' asks better than
            # anything the debtor may say yet, and the best of those would answer something else.
            # Or nothing they may say answers it at all ("what date works for the first one?" to a
            # bank with no dates in its answers): the best match would be about something else.
            hidden = [ln for intent in pool for ln in bank.lines.get(intent, []) if ln.reveals and ln.reveals not in decision.state.revealed]
            best_hidden = best_ask_fit(hidden, question, embed)
            best_here = best_ask_fit([ln for ln, _ in pairs], question, embed)
            if best_here < _ANSWER_ASK_FIT or (best_hidden >= _HIDDEN_ASK_FIT and best_hidden > best_here + _HIDDEN_ASK_MARGIN):
                dodges = eligible(bank, Intent.deflect, revealed=decision.state.revealed, newly_revealed=(), said=said, fill=fill)
                if dodges:
                    return rank(dodges, collector_text=last_agent.text, topics=(), embed=embed, seed=self.seed * 7919 + turn_seed, use_asks=False)
        if decision.intent is Intent.answer_question and decision.topics and not any(ln.topic in decision.topics for ln, _ in pairs):
            # Asked about something their bank answers only with a fact not yet earned (or has no
            # line on): a person dodges it rather than answering something else.
            dodges = eligible(bank, Intent.deflect, revealed=decision.state.revealed, newly_revealed=(), said=said, fill=placeholders(self.persona, decision, agent_name))
            pairs = dodges or pairs
        return rank(pairs, collector_text=question, topics=decision.topics, embed=embed, seed=self.seed * 7919 + turn_seed, use_asks=asked)

    def stream(self, decision: Decision, history: list[Turn], *, agent_name: str | None = None, turn_seed: int = 0) -> Iterator[ActorEvent]:
        earlier = [t.text for t in history if t.speaker != "agent"]
        text = self.detail_line(decision, turn_seed, earlier)
        if text is not None:
            # The model is never told the persona's date of birth; asked for it, it made one up
            # or dodged (a real-model walk-through: never once in 11 asks). Say the authored line.
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
        messages = build_messages(self.persona, decision, history, history_turns=turns, agent_name=agent_name, style=style)
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
