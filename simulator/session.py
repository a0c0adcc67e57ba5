"""A practice call: the trainee's lines in, the debtor's lines out, the transcript kept intact.

Used by the terminal chat, the web app and the self-play evals. Every agent turn is analysed
once; the same analysis moves the director and is kept for live coaching and scoring.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import NamedTuple

from core.analysis import analyzer_for
from core.analysis.analyzer import split_sentences
from core.analysis.protocol import TurnAnalyzer
from core.analysis.types import CallContext, TurnAnalysis
from core.transcript import Transcript, Turn
from simulator.actor import LINE_GENERATION, Actor, ActorEvent, ActorLine, LineSource
from simulator.backends.base import Backend
from simulator.director import DebtorState, Decision, Director, initial_state
from simulator.intents import Intent, Outcome
from simulator.personas import HiddenFact, Persona

# A model line written to reveal a fact is taken to voice it when one of its sentences means the
# same as the fact (all-MiniLM-L6-v2 cosine): paraphrases score 0.54-0.69 against Walter's and
# Dana's facts, unrelated lines from the same call at most 0.32.
FACT_SIMILARITY = 0.5


@dataclass(frozen=True)
class DebtorReply:
    """What one agent turn produced."""

    text: str
    intent: Intent
    source: str  # model | retry | fallback
    analysis: TurnAnalysis | None  # the agent turn's analysis (None for the opening line)
    state: DebtorState
    ended: bool
    newly_revealed: tuple[str, ...] = ()
    failures: tuple[str, ...] = ()
    turn: int = -1  # index of this debtor line in the call's turns


class LearnedFact(NamedTuple):
    """A hidden fact the debtor actually said, in their own words (the facts-learned panel)."""

    fact_id: str  # the persona's hidden_facts[].id
    said: str  # the sentence of the debtor's line that carries it
    turn: int  # index of that debtor line in the call's turns


@dataclass(frozen=True)
class ReplyEvent:
    """Streaming event: ``delta``/``reset`` while the line is generated, then ``final``."""

    kind: str
    text: str = ""
    reply: DebtorReply | None = None


@dataclass
class _Snapshot:
    n_turns: int
    state: DebtorState
    context: CallContext
    n_analyses: int
    fallback_used: dict


def practice_start(persona: Persona, now: datetime | None = None) -> datetime:
    """When a practice call starts in the debtor's world: today, at the persona's ``call_time``.

    The trainee's wall clock is not the debtor's: a trainee practising at 11 pm must not be
    flagged for calling outside permitted hours, and one who should learn that rule gets a
    persona whose call_time is outside them. The offset is the machine's own.
    """
    now = (now or datetime.now(timezone.utc)).astimezone()
    return now.replace(hour=persona.call_time.hour, minute=persona.call_time.minute, second=0, microsecond=0)


@dataclass
class CallSession:
    """One practice call against one persona."""

    persona: Persona
    backend: Backend
    analyzer: TurnAnalyzer  # core.analysis.Analyzer, or a stand-in with the same members
    seed: int = 0
    agent_name: str | None = None
    call_id: str = field(default_factory=lambda: f"call-{uuid.uuid4().hex[:8]}")
    started_at: datetime | None = None  # None: today at the persona's call_time (see practice_start)
    max_new_tokens: int = LINE_GENERATION.max_new_tokens
    temperature: float | None = None  # None: the backend's own default_temperature
    lines: LineSource | None = None  # bank or model lines first; None: the backend's (simulator/actor.py)

    def __post_init__(self) -> None:
        if self.started_at is None:
            self.started_at = practice_start(self.persona)
        if self.temperature is None:
            self.temperature = getattr(self.backend, "default_temperature", Backend.default_temperature)
        # The persona's language's analysis (a Chinese persona on an English app: the zh catalogue)
        self.analyzer = analyzer_for(self.analyzer, self.persona.language)
        self.director = Director(self.persona, seed=self.seed, today=self.started_at.date())
        generation = LINE_GENERATION.replace(max_new_tokens=self.max_new_tokens, temperature=self.temperature)
        self.actor = Actor(self.persona, self.backend, analyzer=self.analyzer, generation=generation, seed=self.seed, lines=self.lines)
        self.state: DebtorState = initial_state(self.persona)
        self.turns: list[Turn] = []
        self.analyses: list[TurnAnalysis] = []  # one per turn (agent and debtor)
        self.context = CallContext(local_hour=self.started_at.hour)
        self.replies: list[DebtorReply] = []
        self.ended_by: str | None = None
        self._undo: list[_Snapshot] = []

    # --- lifecycle --------------------------------------------------------------------
    @property
    def ended(self) -> bool:
        return self.state.ended or self.ended_by is not None

    @property
    def outcome(self) -> Outcome | None:
        if self.state.outcome:
            return self.state.outcome
        return Outcome.ended_by_agent if self.ended_by else None

    def open(self) -> DebtorReply:
        """The debtor picks up the phone (an authored line: instant and always in character)."""
        if self.turns:
            raise RuntimeError("the call is already open")
        decision = self.director.opening(self.state)
        text = self.actor.fallback_line(decision, [], self.agent_name)
        self.state = decision.state
        reply = DebtorReply(text, decision.intent, "fallback", None, self.state, False, turn=len(self.turns))
        self._append_debtor(text)
        self.replies.append(reply)
        return reply

    def say(self, agent_text: str) -> DebtorReply:
        """The trainee speaks; returns the debtor's reply (non-streaming)."""
        reply = None
        for ev in self.say_stream(agent_text):
            if ev.kind == "final":
                reply = ev.reply
        assert reply is not None
        return reply

    def say_stream(self, agent_text: str) -> Iterator[ReplyEvent]:
        """The trainee speaks; yields the debtor's reply as it is generated."""
        agent_text = agent_text.strip()
        if not agent_text:
            raise ValueError("say something first")
        if self.ended:
            raise RuntimeError("the call has ended")
        if not self.turns:
            self.open()
        self._undo.append(_Snapshot(len(self.turns), self.state, self.context, len(self.analyses), dict(self.actor.fallback_used)))
        analysis = self.analyzer.analyze_turn(agent_text, speaker="agent", index=len(self.turns), context=self.context)
        self.turns.append(Turn(speaker="agent", text=agent_text))
        self.analyses.append(analysis)
        self.context = analysis.after
        decision: Decision = self.director.step(self.state, analysis)
        line: ActorLine | None = None
        for ev in self.actor.stream(decision, self.turns, agent_name=self.agent_name, turn_seed=len(self.turns)):
            if ev.kind == "final":
                line = ev.line
            else:
                yield ReplyEvent(ev.kind, ev.text)
        assert line is not None
        self.state = decision.state
        turn = len(self.turns)
        self._append_debtor(line.text)
        reply = DebtorReply(
            line.text, line.intent, line.source, analysis, self.state, self.state.ended, decision.newly_revealed, line.failures, turn
        )
        self.replies.append(reply)
        yield ReplyEvent("final", line.text, reply)

    def _append_debtor(self, text: str) -> None:
        speaker = "third_party" if self.persona.third_party else "debtor"
        a = self.analyzer.analyze_turn(text, speaker=speaker, index=len(self.turns), context=self.context)
        self.turns.append(Turn(speaker=speaker, text=text))
        self.analyses.append(a)
        self.context = a.after

    def end(self) -> None:
        """The trainee ends the call."""
        if not self.ended:
            self.ended_by = "agent"

    def undo(self) -> bool:
        """Rewind the last agent turn and the debtor's reply; False when nothing to undo."""
        if not self._undo:
            return False
        snap = self._undo.pop()
        del self.turns[snap.n_turns :]
        del self.analyses[snap.n_analyses :]
        self.state, self.context = snap.state, snap.context
        self.actor.fallback_used = snap.fallback_used
        self.replies = self.replies[: len(self._undo) + 1]
        self.ended_by = None
        return True

    # --- output -----------------------------------------------------------------------
    def learned_facts(self) -> list[LearnedFact]:
        """The hidden facts the debtor has actually said so far, first said first.

        The director marking a fact revealed (``state.revealed``) only lets the debtor say it;
        what the trainee has learned is what the debtor's lines carry. A debtor line voices a
        fact when one of its sentences says one of the fact's ``leak_terms`` (the words that give
        it away) or a figure from the fact ("$412", "3,400"); a model line written for the turn
        the fact was revealed on also voices it when a sentence means the same as the fact
        (embedding similarity, ``FACT_SIMILARITY``). Authored fallback lines never say a hidden
        fact unless its words are in them, so they are judged by the words alone.
        """
        facts = {f.id: f for f in self.persona.hidden_facts}
        generated_for = {
            r.turn: set(r.newly_revealed) for r in self.replies if r.newly_revealed and r.source != "fallback" and r.turn >= 0
        }
        found: dict[str, LearnedFact] = {}
        for i, t in enumerate(self.turns):
            if t.speaker == "agent" or len(found) == len(facts):
                continue
            sentences = split_sentences(t.text, self.persona.language) or [t.text]
            for fid, fact in facts.items():
                if fid in found:
                    continue
                said = _said_in_words(fact, sentences)
                if said is None and fid in generated_for.get(i, ()):
                    said = self._said_in_meaning(fact, sentences)
                if said is not None:
                    found[fid] = LearnedFact(fid, said, i)
        return sorted(found.values(), key=lambda f: f.turn)

    def _said_in_meaning(self, fact: HiddenFact, sentences: list[str]) -> str | None:
        embedder = self.analyzer.embedder
        if embedder is None:  # a pattern-only language: the words alone decide
            return None
        vectors = embedder.encode([fact.fact, *sentences])
        sims = vectors[1:] @ vectors[0]
        best = int(sims.argmax())
        return sentences[best] if float(sims[best]) >= FACT_SIMILARITY else None

    def transcript(self) -> Transcript:
        """The call so far, in the contract format, with outcome and final state in metadata."""
        st = self.state
        return Transcript(
            id=self.call_id,
            language=self.persona.language,
            persona=self.persona.id,
            turns=list(self.turns),
            metadata={
                "started_at": self.started_at.isoformat(timespec="seconds"),
                "backend": self.backend.spec,
                "seed": self.seed,
                "agent_name": self.agent_name,
                "outcome": self.outcome.value if self.outcome else None,
                "promise": st.promise.__dict__ if st.promise else None,
                "final_state": st.to_dict(),
                "debt_amount": self.persona.debt.amount,
                "first_contact": True,
                "fallback_turns": sum(1 for r in self.replies if r.source == "fallback" and r.analysis is not None),
            },
        )


def _fact_terms(fact: HiddenFact) -> list[re.Pattern[str]]:
    """The fact's leak terms (plurals and possessives too) and its figures ("$3,400" = "3400")."""
    terms = [
        re.compile(rf"(?<!\w){re.escape(term)}(?:s|es|'s)?(?!\w)", re.IGNORECASE) for term in fact.leak_terms
    ]
    for figure in re.findall(r"\d[\d,]*(?:\.\d+)?", fact.fact):
        digits = figure.replace(",", "")
        if len(digits.split(".")[0]) >= 3:  # "412", "3,400": a day of the month ("the 20th") is no giveaway
            loose = ",?".join(re.escape(d) for d in digits)
            terms.append(re.compile(rf"(?<![\d.,]){loose}(?![\d])"))
    return terms


def _said_in_words(fact: HiddenFact, sentences: list[str]) -> str | None:
    terms = _fact_terms(fact)
    return next((s for s in sentences if any(t.search(s) for t in terms)), None)


__all__ = ["CallSession", "DebtorReply", "LearnedFact", "ReplyEvent", "ActorEvent", "FACT_SIMILARITY"]
