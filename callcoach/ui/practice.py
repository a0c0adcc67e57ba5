"""The Practice tab: pick a persona, take the call, get coached, end it and see the scorecard.

``PracticeCall`` holds one trainee's call (one per browser session, in ``gr.State``) and saves
every turn to the history store as it is spoken. The ``on_*`` functions are the tab's callbacks;
they take and return plain values so tests can drive them without a browser.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr

from callcoach.coaching import Flag, Hint, coach_turn, suggest_line, violation_flags
from callcoach.history import PRACTICE, TEST
from callcoach.ui import views
from callcoach.ui.resources import AppResources
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
    history_error: str | None = None  # set when saving to the history failed; the call goes on
    _downloads: dict[str, str | None] = field(default_factory=dict, repr=False)

    @classmethod
    def start(cls, resources: AppResources, trainee: str, persona: Persona, seed: int | None = None,
              kind: str = PRACTICE) -> PracticeCall:
        """Open a call: the debtor picks up, and the call is recorded in the history."""
        seed = random.randrange(1_000_000) if seed is None else seed
        session = CallSession(persona, resources.backend, resources.analyzer, seed=seed, agent_name=trainee)
        call = cls(session, trainee, resources, kind=kind)
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
            self.history_error = f"Your calls are not being saved to the history ({type(exc).__name__}). " \
                "The transcript download at the end still has the whole call."

    @property
    def persona(self) -> Persona:
        return self.session.persona

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
        rubric = self.resources.scorer().rubric
        violations = turn_violations(rubric, analyses, s.transcript())
        flags = coach_turn(analyses[-1], analyses[:-1], violations, rubric.rulebook_rules)
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
            scorer = self.resources.scorer()
            score = scorer.score_analysed(transcript, list(s.analyses))
            # What only the end settles (a required statement never made) is coached now, so the
            # notes of the call add up to the scorecard's violations.
            ended = call_end_violations(scorer.rubric, s.analyses, transcript)
            flags = violation_flags(ended, scorer.rubric.rulebook_rules)
            self.call_end = [(self.line_number(v.turn), f) for v, f in zip(ended, flags, strict=True)]
            self.score = score.model_dump(mode="json") if hasattr(score, "model_dump") else dict(score)
        except Exception:  # the trainee still gets the transcript; the detail goes to the log
            log.exception("scoring failed for %s", s.call_id)
            self.score = {"id": s.call_id, "error": "The call could not be scored. Your transcript is saved; "
                          "download it below, or ask your trainer to score it in the Evaluator."}
        else:
            self._history(self.resources.history.save_score, s.call_id, self.score)
        from rubrics.scorecard import render_report

        self.report_path = out / f"{s.call_id}-report.html"
        _write_atomic(self.report_path, render_report(self.score, transcript))
        LIVE.drop(s.call_id)
        return self.score

    def scorecard_html(self) -> str:
        from rubrics.scorecard import render_scorecard

        if self.score is None:
            return ""
        meta = self.session.transcript().metadata
        return render_scorecard(self.score, outcome=meta.get("outcome"), promise=meta.get("promise"))

    def panel_html(self) -> str:
        s = self.session
        from rubrics.scorecard import outcome_label

        outcome = outcome_label(s.outcome.value, s.state.promise.__dict__ if s.state.promise else None) if s.outcome else None
        return views.debtor_panel(s.persona, s.state, s.context, ended=s.ended, outcome=outcome, turns=len(s.turns),
                                  learned=s.learned_facts())

    def coaching_html(self) -> str:
        return views.coaching_html(self.flags, self.call_end)


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
               seed: int | None = None, who: Viewer | None = None) -> PracticeCall:
    """Check the set-up fields and open a call; raises SetupError with a line to show the trainee.

    ``who`` is the person asking (their login decides the name calls are saved under); a call
    against a persona draft is a trainer's test call, kept out of every progress figure.
    """
    who = who or viewer(resources.users, None)
    trainee = who.trainee_name(trainee)
    if not trainee:
        raise SetupError("Enter your name first, so your calls are saved to your history.")
    if draft is not None:
        if not who.is_trainer:
            raise SetupError("Only trainers can make test calls with a persona draft.")
        persona = draft
    else:
        if not persona_id:
            raise SetupError("Pick a debtor to call: click one of the cards above.")
        try:
            persona = resources.personas().get(persona_id)
        except KeyError:
            raise SetupError("That debtor is no longer available: pick another card.") from None
    try:
        return PracticeCall.start(resources, trainee, persona, seed, kind=TEST if draft is not None else PRACTICE)
    except Exception as exc:
        log.exception("could not start a call")
        raise SetupError(f"Could not start the call ({type(exc).__name__}). Try again in a moment.") from None


def stream_turn(call: PracticeCall, text: str):
    """Yield ``(messages, flags_changed)`` while the debtor's reply streams in."""
    text = (text or "").strip()
    if not text:
        raise SetupError("Type what you want to say first.")
    if len(text) > views.MAX_LINE_CHARS:
        raise SetupError(f"That line is {len(text):,} characters: on the phone, say it in under {views.MAX_LINE_CHARS:,}.")
    if call.session.ended:
        raise SetupError("The call has ended. Start a new call to keep practising.")
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
        raise SetupError("The debtor could not answer that line. Say it again, or end the call.") from None
    call.save_turns()
    yield call.messages(), False


def build_practice_tab(resources: AppResources, seed: int | None = None) -> dict:
    """Lay out the Practice tab and wire its events; returns the components other tabs use."""
    call_state = gr.State(None)
    draft_state = gr.State(None)  # a persona under test from the Trainer tab
    # Kept in the browser: the trainee's name and the call in progress, so a reload returns to it.
    remembered = gr.BrowserState({"name": "", "call_id": None}, storage_key="callcoach", secret=resources.browser_secret)
    with gr.Column(visible=True, elem_id="cc-setup") as setup_col:
        gr.Markdown("### 1. Who is calling?", elem_classes=["cc-step"])
        with gr.Row(equal_height=True):
            # min widths: on a phone the row wraps instead of squeezing the exam label off-screen
            name = gr.Textbox(label="Your name", placeholder="e.g. Sam Rivera", max_lines=1, scale=3, elem_id="cc-name",
                              max_length=80, min_width=240)
            exam = gr.Checkbox(label="Exam mode (only the conversation until the call ends)", value=False, scale=2,
                               elem_id="cc-exam", min_width=240)
        resumed = gr.HTML("", elem_id="cc-resumed")
        gr.Markdown("### 2. Choose a debtor to call", elem_classes=["cc-step"])
        picker = gr.HTML(
            value="", html_template=views.PICKER_TEMPLATE, js_on_load=views.PICKER_JS, cards=[], elem_id="cc-picker",
            apply_default_css=False,
        )
        with gr.Row():
            start_btn = gr.Button("Start the call", variant="primary", elem_id="cc-start", scale=0, min_width=200)
            picked = gr.Markdown("", elem_id="cc-picked")
        setup_error = gr.HTML("", elem_id="cc-setup-error")
    with gr.Column(visible=False, elem_id="cc-call") as call_col:
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=320):
                on_line = gr.HTML("", elem_id="cc-on-line")
                chat = gr.Chatbot(label="Call", show_label=False, height=460, elem_id="cc-chat", buttons=[],
                                  feedback_options=None, placeholder="The phone is ringing...", layout="bubble")
                with gr.Row(equal_height=True):
                    msg = gr.Textbox(show_label=False, placeholder="Type what you say to the debtor, then press Enter",
                                     max_lines=3, scale=5, elem_id="cc-msg", autofocus=True,
                                     max_length=views.MAX_LINE_CHARS)
                    send_btn = gr.Button("Say it", variant="primary", scale=1, min_width=90, elem_id="cc-send")
                call_error = gr.HTML("", elem_id="cc-call-error")
                with gr.Row():
                    hint_btn = gr.Button("Suggest a line", size="sm", elem_id="cc-hint-btn")
                    undo_btn = gr.Button("Undo last turn", size="sm", elem_id="cc-undo")
                    end_btn = gr.Button("End call and score", size="sm", variant="stop", elem_id="cc-end")
                hint = gr.HTML("", elem_id="cc-hint")
            with gr.Column(scale=2, min_width=280):
                panel = gr.HTML("", elem_id="cc-panel")
                coaching = gr.HTML(views.coaching_html([]), elem_id="cc-coaching")
        with gr.Column(visible=False, elem_id="cc-result") as result_col:
            gr.Markdown("### Your scorecard")
            scorecard = gr.HTML("", elem_id="cc-scorecard")
            with gr.Row():
                transcript_file = gr.File(label="Transcript (JSONL)", interactive=False, elem_id="cc-transcript-file")
                report_file = gr.File(label="Report (HTML)", interactive=False, elem_id="cc-report-file")
            new_btn = gr.Button("Practise another call", variant="primary", elem_id="cc-new")

    def _view(call: PracticeCall | None, exam_mode: bool, error: str = "") -> dict:
        if call is None:
            return {call_state: None, setup_col: gr.Column(visible=True), call_col: gr.Column(visible=False),
                    setup_error: views.error_html(error), call_error: ""}
        done = call.finished
        crib = not exam_mode or done  # exam mode: only the conversation until the call ends
        return {
            call_state: call,
            setup_col: gr.Column(visible=False),
            call_col: gr.Column(visible=True),
            setup_error: "",
            call_error: views.error_html(error or call.history_error or ""),
            chat: call.messages(),
            on_line: views.on_line_html(call.persona, done, test=call.kind == TEST),
            panel: gr.HTML(call.panel_html() if crib else "", visible=crib),
            coaching: gr.HTML(call.coaching_html() if crib else "", visible=crib),
            hint: gr.HTML(views.hint_html(call.hint), visible=not exam_mode and not done),
            hint_btn: gr.Button(visible=not exam_mode, interactive=not done),
            msg: gr.Textbox(interactive=not done),
            send_btn: gr.Button(interactive=not done),
            undo_btn: gr.Button(interactive=not done),
            end_btn: gr.Button(interactive=not done),
            result_col: gr.Column(visible=done),
            scorecard: call.scorecard_html(),
            transcript_file: call.download("transcript") if done else None,
            report_file: call.download("report") if done else None,
        }

    view_outputs = [call_state, setup_col, call_col, setup_error, call_error, on_line, chat, panel, coaching, hint,
                    hint_btn, msg, send_btn, undo_btn, end_btn, result_col, scorecard, transcript_file, report_file]

    def on_start(trainee, persona_id, exam_mode, draft, request: gr.Request):
        who = viewer(resources.users, request)
        try:
            call = start_call(resources, trainee, persona_id, draft, seed, who=who)
        except SetupError as exc:
            return _view(None, exam_mode, str(exc)) | {draft_state: None}
        return _view(call, exam_mode) | {draft_state: None}

    def remember(call, memory):
        """Keep the trainee's name and the call in progress in the browser (for a reload)."""
        memory = dict(memory or {})
        if call is not None and call.kind == PRACTICE:
            memory["name"] = call.trainee
        memory["call_id"] = None if call is None or call.finished else call.session.call_id
        return memory

    def on_send(text, call, exam_mode):
        if call is None:
            yield _view(None, exam_mode, "Start a call first.")
            return
        if not (text or "").strip():
            return  # an Enter on an empty box (e.g. pressed twice) is not an error
        try:
            for messages, flags_changed in stream_turn(call, text):
                # While the debtor answers, the box and the button wait: a line sent mid-reply
                # used to blank the call screen and be lost. The final view below opens them again.
                update = {chat: messages, msg: gr.Textbox(value="", interactive=False),
                          send_btn: gr.Button(interactive=False), call_error: ""}
                if flags_changed and not exam_mode:
                    update |= {coaching: call.coaching_html(), panel: call.panel_html(), hint: ""}
                yield update
        except SetupError as exc:
            yield _view(call, exam_mode, str(exc)) | {msg: text}
            return
        if call.session.ended:
            call.finish()
        yield _view(call, exam_mode)

    def on_undo(call, exam_mode):
        if call is None:
            return _view(None, exam_mode, "Start a call first.")
        return _view(call, exam_mode, "" if call.undo() else "Nothing to undo yet.")

    def on_hint(call, exam_mode):
        if call is None:
            return _view(None, exam_mode, "Start a call first.")
        call.suggest()
        return _view(call, exam_mode)

    def on_end(call, exam_mode):
        if call is None:
            return _view(None, exam_mode, "Start a call first.")
        call.finish()
        return _view(call, exam_mode)

    def on_new(memory):
        return {call_state: None, setup_col: gr.Column(visible=True), call_col: gr.Column(visible=False),
                result_col: gr.Column(visible=False), hint: "", chat: [], setup_error: "", resumed: "",
                remembered: {**(memory or {}), "call_id": None}}

    def on_exam(call, exam_mode):
        return _view(call, exam_mode) if call is not None else {call_state: None}

    def on_pick(persona_id):
        try:
            p = resources.personas().get(persona_id)
        except KeyError:
            return ""
        return f"Selected: **{p.name}** ({p.difficulty}). Press *Start the call* when you're ready."

    def on_load(memory, exam_mode, request: gr.Request):
        """Fill in the remembered name; return to a call in progress, or close one that cannot go on."""
        who = viewer(resources.users, request)
        memory = memory or {}
        trainee = who.trainee_name(memory.get("name"))
        update = {name: gr.Textbox(value=trainee, interactive=who.username is None), resumed: ""}
        call_id = memory.get("call_id")
        if not call_id:
            return update
        call = LIVE.find(resources, call_id, trainee)
        if call is not None:
            return update | _view(call, exam_mode)
        # The call cannot be picked up again (the server restarted): close it cleanly, if it is ours.
        owner = resources.history.owner(call_id)
        if owner and owner.lower() == trainee.lower() and not resources.history.is_finished(call_id):
            resources.history.abandon_unfinished(call_id=call_id)
            update[resumed] = views.notice_html("Your last call was interrupted and could not be resumed; "
                                                "it is saved in My progress as abandoned.")
        return update | {remembered: {**memory, "call_id": None}}

    start_evt = dict(fn=on_start, inputs=[name, picker, exam, draft_state], outputs=[*view_outputs, draft_state])
    remember_evt = dict(fn=remember, inputs=[call_state, remembered], outputs=remembered, api_visibility="private",
                        show_progress="hidden")
    start_btn.click(**start_evt, api_name="start_call").then(**remember_evt)
    # always_last: a line sent while the debtor's reply is still being finished runs right after
    # it instead of being dropped.
    send_evt = dict(fn=on_send, inputs=[msg, call_state, exam], outputs=view_outputs, concurrency_id="debtor",
                    show_progress="hidden", trigger_mode="always_last")
    send_btn.click(**send_evt, api_name="say")
    msg.submit(**send_evt, api_visibility="private")
    undo_btn.click(on_undo, [call_state, exam], view_outputs, api_name="undo", show_progress="hidden")
    hint_btn.click(on_hint, [call_state, exam], view_outputs, api_name="hint", show_progress="hidden")
    end_btn.click(on_end, [call_state, exam], view_outputs, api_name="end_call", concurrency_id="scoring",
                  show_progress="minimal", show_progress_on=[end_btn], scroll_to_output=True)
    new_btn.click(on_new, remembered, [call_state, setup_col, call_col, result_col, hint, chat, setup_error, resumed,
                                       remembered], api_visibility="private")
    exam.change(on_exam, [call_state, exam], view_outputs, api_visibility="private", show_progress="hidden")
    picker.change(on_pick, picker, picked, api_visibility="private")
    return {"picker": picker, "name": name, "exam": exam, "draft": draft_state, "start": start_evt, "remember": remember_evt,
            "view_outputs": view_outputs, "load": (on_load, [remembered, exam], [name, resumed, remembered, *view_outputs])}
