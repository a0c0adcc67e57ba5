"""A practice call in the web app: ``PracticeCall`` holds one trainee's call, and ``start_call``
and ``stream_turn`` are the Practice tab's plain functions of plain values (tests drive them
without a browser; ``callcoach.ui.practice`` wires them to the page).

A call saves every turn to the history store as it is spoken. It is coached and scored in its
own language, the persona's (the rubric of that language: ``default-zh`` for a Chinese debtor);
the page's words are in the page's language (``lang``), which a call keeps for what it writes
once (its report file, a message about the history).
"""

from __future__ import annotations

import logging
import random
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from callcoach.coaching import Flag, Hint, coach_turn, suggest_line, violation_flags
from callcoach.history import PRACTICE, TEST
from callcoach.ui import views
from callcoach.ui.i18n import text as _text
from callcoach.ui.resources import AppResources
from callcoach.ui.scorecard import call_report_html, outcome_text, scorecard_html
from callcoach.users import Viewer, viewer
from rubrics.rulebook import call_end_violations, turn_violations
from simulator.personas import Persona
from simulator.session import CallSession

log = logging.getLogger("callcoach.app")
MAX_LIVE_CALLS = 256  # calls a reloaded page can return to; the oldest beyond this are closed


class SetupError(ValueError):
    """A set-up mistake the trainee can fix (shown next to the form, never as a traceback)."""


@dataclass
class PracticeCall:
    """One trainee's call in the browser, with its coaching notes and end-of-call results."""

    session: CallSession
    trainee: str
    resources: AppResources
    flags: list[tuple[int, list[Flag]]] = field(default_factory=list)  # (turn index, flags) per agent turn
    call_end: list[tuple[int, Flag]] = field(default_factory=list)  # (turn, flag): rules only the end settles
    score: dict | None = None
    transcript_path: Path | None = None
    report_path: Path | None = None
    hint: Hint | None = None
    kind: str = PRACTICE  # TEST: a trainer's call against a persona draft (never in progress figures)
    lang: str = "en"  # the page's language when the call started (its report file is written in it)
    history_error: str | None = None  # set when saving to the history failed; the call goes on
    _downloads: dict[str, str | None] = field(default_factory=dict, repr=False)

    @classmethod
    def start(cls, resources: AppResources, trainee: str, persona: Persona, seed: int | None = None,
              kind: str = PRACTICE, lang: str = "en") -> PracticeCall:
        """Open a call: the debtor picks up, and the call is recorded in the history."""
        seed = random.randrange(1_000_000) if seed is None else seed
        session = CallSession(persona, resources.backend, resources.analyzer, seed=seed, agent_name=trainee)
        call = cls(session, trainee, resources, kind=kind, lang=lang)
        call._history(
            resources.history.start_call, session.call_id, trainee, persona.id, language=persona.language,
            backend=resources.backend.spec, started_at=session.started_at.isoformat(timespec="seconds"),
            metadata={"seed": seed, "kind": kind}, kind=kind,
        )
        session.open()
        call.save_turns()
        LIVE.add(resources, call)
        return call

    def _history(self, fn, *args, **kwargs) -> None:
        """Save to the history; a failing database never stops the call (it is reported once)."""
        try:
            fn(*args, **kwargs)
        except Exception as exc:
            if self.history_error is None:
                log.warning("history: %s failed for %s: %s", fn.__name__, self.session.call_id, exc)
            self.history_error = _text("errors.not_saved", self.lang, error=type(exc).__name__)

    @property
    def persona(self) -> Persona:
        return self.session.persona

    @property
    def language(self) -> str:
        """The call's language, the persona's: what it is coached and scored in."""
        return self.persona.language

    def scorer(self):
        """The scorer of the call's language, bound to the analysis the call already runs."""
        return self.resources.scorer(self.language, self.session.analyzer)

    @property
    def finished(self) -> bool:
        return self.score is not None

    def save_turns(self) -> None:
        self._history(self.resources.history.sync_turns, self.session.call_id, self.session.turns)

    def download(self, which: str) -> str | None:
        """The browser's copy of the transcript or report file (made once, after the call)."""
        if which not in self._downloads:
            path = self.transcript_path if which == "transcript" else self.report_path
            self._downloads[which] = self.resources.offer(path)
        return self._downloads[which]

    def line_number(self, turn_index: int) -> int:
        """The trainee's own line number (1, 2, ...) of a transcript turn index (both sides count there)."""
        return sum(1 for t in self.session.turns[: turn_index + 1] if t.speaker == "agent")

    def messages(self) -> list[dict]:
        """The call as chat messages: the trainee on the right, the debtor on the left."""
        return [
            {"role": "user" if t.speaker == "agent" else "assistant", "content": t.text}
            for t in self.session.turns
        ]

    def note_agent_turn(self) -> list[Flag]:
        """Coach the agent turn just analysed (the last analysis) and save it at once.

        Its compliance flags are the rulebook's violations of the turn, found in the analyses
        the call already has: the same violations the scorecard lists at the end.
        """
        s = self.session
        analyses = s.analyses
        rubric = self.scorer().rubric
        violations = turn_violations(rubric, analyses, s.transcript())
        flags = coach_turn(analyses[-1], analyses[:-1], violations, rubric.rulebook_rules, self.language)
        self.flags.append((self.line_number(analyses[-1].index), flags))
        self.hint = None
        self.save_turns()
        return flags

    def undo(self) -> bool:
        if self.finished or not self.session.undo():
            return False
        n_agent = sum(1 for t in self.session.turns if t.speaker == "agent")
        self.flags = self.flags[:n_agent]
        self.hint = None
        self.save_turns()
        return True

    def suggest(self) -> Hint:
        s = self.session
        self.hint = suggest_line(s.persona, s.state, s.context, s.analyses, s.agent_name)
        return self.hint

    def finish(self) -> dict:
        """End the call (if the debtor has not), score it, save it and write the downloads."""
        if self.score is not None:
            return self.score
        s = self.session
        s.end()
        transcript = s.transcript()
        out = self.resources.exports_dir
        # The transcript file first: if the database fails now, the finished call is still on disk.
        self.transcript_path = out / f"{s.call_id}.jsonl"
        _write_atomic(self.transcript_path, transcript.to_json_line() + "\n")
        self.save_turns()
        self._history(self.resources.history.finish_call, s.call_id, transcript.metadata.get("outcome"), transcript.metadata)
        try:
            # The call was analysed turn by turn already: score those analyses, don't redo them.
            scorer = self.scorer()
            score = scorer.score_analysed(transcript, list(s.analyses))
            # What only the end settles (a required statement never made) is coached now, so the
            # notes of the call add up to the scorecard's violations.
            ended = call_end_violations(scorer.rubric, s.analyses, transcript)
            flags = violation_flags(ended, scorer.rubric.rulebook_rules, self.language)
            self.call_end = [(self.line_number(v.turn), f) for v, f in zip(ended, flags, strict=True)]
            self.score = score.model_dump(mode="json") if hasattr(score, "model_dump") else dict(score)
        except Exception:  # the trainee still gets the transcript; the detail goes to the log
            log.exception("scoring failed for %s", s.call_id)
            self.score = {"id": s.call_id, "error": _text("errors.not_scored", self.lang)}
        else:
            self._history(self.resources.history.save_score, s.call_id, self.score)
        self.report_path = out / f"{s.call_id}-report.html"
        _write_atomic(self.report_path, call_report_html(self.score, transcript, lang=self.lang))
        LIVE.drop(s.call_id)
        return self.score

    def scorecard_html(self, lang: str | None = None) -> str:
        if self.score is None:
            return ""
        meta = self.session.transcript().metadata
        return scorecard_html(self.score, outcome=meta.get("outcome"), promise=meta.get("promise"), lang=lang or self.lang)

    def panel_html(self, lang: str | None = None) -> str:
        s = self.session
        lang = lang or self.lang
        promise = s.state.promise.__dict__ if s.state.promise else None
        outcome = outcome_text(s.outcome.value, promise, lang) if s.outcome else None
        return views.debtor_panel(s.persona, s.state, s.context, ended=s.ended, outcome=outcome, turns=len(s.turns),
                                  learned=s.learned_facts(), lang=lang)

    def coaching_html(self, lang: str | None = None) -> str:
        return views.coaching_html(self.flags, self.call_end, lang or self.lang)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8", errors="surrogatepass")
    tmp.replace(path)


class LiveCalls:
    """Calls still in progress, by id, so a reloaded page returns to its call.

    Only the trainee who started a call can return to it; the oldest calls beyond
    ``MAX_LIVE_CALLS`` are closed as abandoned.
    """

    def __init__(self) -> None:
        self._calls: OrderedDict[str, PracticeCall] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, resources: AppResources, call: PracticeCall) -> None:
        with self._lock:
            self._calls[call.session.call_id] = call
            while len(self._calls) > MAX_LIVE_CALLS:
                _, old = self._calls.popitem(last=False)
                old._history(old.resources.history.abandon_unfinished, call_id=old.session.call_id)

    def drop(self, call_id: str) -> None:
        with self._lock:
            self._calls.pop(call_id, None)

    def find(self, resources: AppResources, call_id: str | None, trainee: str) -> PracticeCall | None:
        with self._lock:
            call = self._calls.get(call_id or "")
        if call is None or call.resources is not resources or call.finished or not trainee:
            return None
        return call if call.trainee.lower() == trainee.lower() else None


LIVE = LiveCalls()


# --- callbacks (plain functions of plain values; the tab wires them to components) -----------


def start_call(resources: AppResources, trainee: str, persona_id: str, draft: Persona | None = None,
               seed: int | None = None, who: Viewer | None = None, lang: str = "en") -> PracticeCall:
    """Check the set-up fields and open a call; raises SetupError with a line to show the trainee
    (in the page's language, ``lang``).

    ``who`` is the person asking (their login decides the name calls are saved under); a call
    against a persona draft is a trainer's test call, kept out of every progress figure.
    """
    who = who or viewer(resources.users, None)
    trainee = who.trainee_name(trainee)
    if not trainee:
        raise SetupError(_text("errors.need_name", lang))
    if draft is not None:
        if not who.is_trainer:
            raise SetupError(_text("errors.draft_trainers_only", lang))
        persona = draft
    else:
        if not persona_id:
            raise SetupError(_text("errors.pick_debtor", lang))
        try:
            persona = resources.personas().get(persona_id)
        except KeyError:
            raise SetupError(_text("errors.persona_gone", lang)) from None
    try:
        return PracticeCall.start(resources, trainee, persona, seed, kind=TEST if draft is not None else PRACTICE, lang=lang)
    except Exception as exc:
        log.exception("could not start a call")
        raise SetupError(_text("errors.could_not_start", lang, error=type(exc).__name__)) from None


def stream_turn(call: PracticeCall, text: str, lang: str | None = None):
    """Yield ``(messages, flags_changed)`` while the debtor's reply streams in."""
    lang = lang or call.lang
    text = (text or "").strip()
    if not text:
        raise SetupError(_text("errors.type_first", lang))
    if len(text) > views.MAX_LINE_CHARS:
        raise SetupError(_text("errors.too_long", lang, n=f"{len(text):,}", limit=f"{views.MAX_LINE_CHARS:,}"))
    if call.session.ended:
        raise SetupError(_text("errors.call_ended", lang))
    base = call.messages() + [{"role": "user", "content": text}]
    n_before = len(call.session.turns)
    shown = ""
    noted = False
    try:
        for ev in call.session.say_stream(text):
            if not noted:
                call.note_agent_turn()
                noted = True
                yield base + [{"role": "assistant", "content": "\u2026"}], True
            if ev.kind == "delta":
                shown += ev.text
            elif ev.kind == "reset":
                shown = ""
            elif ev.kind == "final":
                break
            yield base + [{"role": "assistant", "content": shown or "\u2026"}], False
    except Exception:
        # The turn never completed: take it back so the call stays consistent, then tell them.
        log.exception("a debtor turn failed in %s", call.session.call_id)
        if len(call.session.turns) > n_before:
            call.undo()
        raise SetupError(_text("errors.debtor_failed", lang)) from None
    call.save_turns()
    yield call.messages(), False



__all__ = ["LIVE", "LiveCalls", "PracticeCall", "SetupError", "start_call", "stream_turn"]
