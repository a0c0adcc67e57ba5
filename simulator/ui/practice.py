"""The Practice tab: pick a persona, take the call, get coached, end it and see the scorecard.

``PracticeCall`` holds one trainee's call (one per browser session, in ``gr.State``) and saves
every turn to the history store as it is spoken. The ``on_*`` functions are the tab's callbacks;
they take and return plain values so tests can drive them without a browser.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr

from rubrics.rulebook import call_end_violations, turn_violations
from simulator.coaching import Flag, Hint, coach_turn, suggest_line, violation_flags
from simulator.personas import Persona
from simulator.session import CallSession
from simulator.ui import views
from simulator.ui.resources import AppResources


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

    @classmethod
    def start(cls, resources: AppResources, trainee: str, persona: Persona, seed: int | None = None) -> PracticeCall:
        """Open a call: the debtor picks up, and the call is recorded in the history."""
        seed = random.randrange(1_000_000) if seed is None else seed
        session = CallSession(persona, resources.backend, resources.analyzer, seed=seed, agent_name=trainee)
        call = cls(session, trainee, resources)
        resources.history.start_call(
            session.call_id, trainee, persona.id, language=persona.language, backend=resources.backend.spec,
            started_at=session.started_at.isoformat(timespec="seconds"), metadata={"seed": seed},
        )
        session.open()
        call.save_turns()
        return call

    @property
    def persona(self) -> Persona:
        return self.session.persona

    @property
    def finished(self) -> bool:
        return self.score is not None

    def save_turns(self) -> None:
        self.resources.history.sync_turns(self.session.call_id, self.session.turns)

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
        self.flags.append((analyses[-1].index, flags))
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
        self.save_turns()
        self.resources.history.finish_call(s.call_id, transcript.metadata.get("outcome"), transcript.metadata)
        try:
            # The call was analysed turn by turn already: score those analyses, don't redo them.
            scorer = self.resources.scorer()
            score = scorer.score_analysed(transcript, list(s.analyses))
            # What only the end settles (a required statement never made) is coached now, so the
            # notes of the call add up to the scorecard's violations.
            ended = call_end_violations(scorer.rubric, s.analyses, transcript)
            flags = violation_flags(ended, scorer.rubric.rulebook_rules)
            self.call_end = [(v.turn, f) for v, f in zip(ended, flags, strict=True)]
            self.score = score.model_dump(mode="json") if hasattr(score, "model_dump") else dict(score)
            self.resources.history.save_score(s.call_id, self.score)
        except Exception as exc:  # the trainee still gets the transcript; the error is shown
            self.score = {"id": s.call_id, "error": f"scoring failed: {type(exc).__name__}: {exc}"}
        from rubrics.scorecard import render_report

        out = self.resources.exports_dir
        self.transcript_path = out / f"{s.call_id}.jsonl"
        self.transcript_path.write_text(transcript.to_json_line() + "\n", encoding="utf-8")
        self.report_path = out / f"{s.call_id}-report.html"
        self.report_path.write_text(render_report(self.score, transcript), encoding="utf-8")
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
        return views.debtor_panel(s.persona, s.state, s.context, ended=s.ended, outcome=outcome, turns=len(s.turns))

    def coaching_html(self) -> str:
        return views.coaching_html(self.flags, self.call_end)


# --- callbacks (plain functions of plain values; the tab wires them to components) -----------


def start_call(resources: AppResources, trainee: str, persona_id: str, draft: Persona | None = None, seed: int | None = None) -> PracticeCall:
    """Validate the set-up fields and open a call; raises gr.Error with a readable message."""
    trainee = (trainee or "").strip()
    if not trainee:
        raise gr.Error("Enter your name first, so your calls are saved to your history.")
    if draft is not None:
        persona = draft
    else:
        if not persona_id:
            raise gr.Error("Pick a debtor to call.")
        try:
            persona = resources.personas().get(persona_id)
        except KeyError as exc:
            raise gr.Error(str(exc.args[0])) from None
    try:
        return PracticeCall.start(resources, trainee, persona, seed)
    except Exception as exc:
        raise gr.Error(f"Could not start the call: {exc}") from None


def stream_turn(call: PracticeCall, text: str):
    """Yield ``(messages, flags_changed)`` while the debtor's reply streams in."""
    text = (text or "").strip()
    if not text:
        raise gr.Error("Type what you want to say first.")
    if call.session.ended:
        raise gr.Error("The call has ended. Start a new call to keep practising.")
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
    except Exception as exc:
        # The turn never completed: take it back so the call stays consistent, then tell them.
        if len(call.session.turns) > n_before:
            call.undo()
        raise gr.Error(f"The debtor could not answer: {exc}") from None
    call.save_turns()
    yield call.messages(), False


def build_practice_tab(resources: AppResources, seed: int | None = None) -> dict:
    """Lay out the Practice tab and wire its events; returns the components other tabs use."""
    call_state = gr.State(None)
    draft_state = gr.State(None)  # a persona under test from the Trainer tab
    with gr.Column(visible=True, elem_id="cc-setup") as setup_col:
        gr.Markdown("### 1. Who is calling?", elem_classes=["cc-step"])
        with gr.Row(equal_height=True):
            name = gr.Textbox(label="Your name", placeholder="e.g. Sam Rivera", max_lines=1, scale=3, elem_id="cc-name")
            exam = gr.Checkbox(label="Exam mode (hide coaching and hints)", value=False, scale=2, elem_id="cc-exam")
        gr.Markdown("### 2. Choose a debtor to call", elem_classes=["cc-step"])
        picker = gr.HTML(
            value="", html_template=views.PICKER_TEMPLATE, js_on_load=views.PICKER_JS, cards=[], elem_id="cc-picker",
            apply_default_css=False,
        )
        with gr.Row():
            start_btn = gr.Button("Start the call", variant="primary", elem_id="cc-start", scale=0, min_width=200)
            picked = gr.Markdown("", elem_id="cc-picked")
    with gr.Column(visible=False, elem_id="cc-call") as call_col:
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=420):
                on_line = gr.HTML("", elem_id="cc-on-line")
                chat = gr.Chatbot(label="Call", show_label=False, height=460, elem_id="cc-chat", buttons=[],
                                  feedback_options=None, placeholder="The phone is ringing...", layout="bubble")
                with gr.Row(equal_height=True):
                    msg = gr.Textbox(show_label=False, placeholder="Type what you say to the debtor, then press Enter",
                                     max_lines=3, scale=5, elem_id="cc-msg", autofocus=True)
                    send_btn = gr.Button("Say it", variant="primary", scale=1, min_width=90, elem_id="cc-send")
                with gr.Row():
                    hint_btn = gr.Button("Suggest a line", size="sm", elem_id="cc-hint-btn")
                    undo_btn = gr.Button("Undo last turn", size="sm", elem_id="cc-undo")
                    end_btn = gr.Button("End call and score", size="sm", variant="stop", elem_id="cc-end")
                hint = gr.HTML("", elem_id="cc-hint")
            with gr.Column(scale=2, min_width=300):
                panel = gr.HTML("", elem_id="cc-panel")
                coaching = gr.HTML(views.coaching_html([]), elem_id="cc-coaching")
        with gr.Column(visible=False, elem_id="cc-result") as result_col:
            gr.Markdown("### Your scorecard")
            scorecard = gr.HTML("", elem_id="cc-scorecard")
            with gr.Row():
                transcript_file = gr.File(label="Transcript (JSONL)", interactive=False, elem_id="cc-transcript-file")
                report_file = gr.File(label="Report (HTML)", interactive=False, elem_id="cc-report-file")
            new_btn = gr.Button("Practise another call", variant="primary", elem_id="cc-new")

    def _view(call: PracticeCall | None, exam_mode: bool) -> dict:
        if call is None:
            return {setup_col: gr.Column(visible=True), call_col: gr.Column(visible=False)}
        done = call.finished
        return {
            call_state: call,
            setup_col: gr.Column(visible=False),
            call_col: gr.Column(visible=True),
            chat: call.messages(),
            on_line: views.on_line_html(call.persona, done),
            panel: call.panel_html(),
            coaching: gr.HTML(call.coaching_html(), visible=not exam_mode),
            hint: gr.HTML(views.hint_html(call.hint), visible=not exam_mode and not done),
            hint_btn: gr.Button(visible=not exam_mode, interactive=not done),
            msg: gr.Textbox(interactive=not done),
            send_btn: gr.Button(interactive=not done),
            undo_btn: gr.Button(interactive=not done),
            end_btn: gr.Button(interactive=not done),
            result_col: gr.Column(visible=done),
            scorecard: call.scorecard_html(),
            transcript_file: str(call.transcript_path) if call.transcript_path else None,
            report_file: str(call.report_path) if call.report_path else None,
        }

    view_outputs = [call_state, setup_col, call_col, on_line, chat, panel, coaching, hint, hint_btn, msg, send_btn, undo_btn,
                    end_btn, result_col, scorecard, transcript_file, report_file]

    def on_start(trainee, persona_id, exam_mode, draft):
        call = start_call(resources, trainee, persona_id, draft, seed)
        return _view(call, exam_mode) | {draft_state: None}

    def on_send(text, call, exam_mode):
        if call is None:
            raise gr.Error("Start a call first.")
        if not (text or "").strip():
            return  # an Enter on an empty box (e.g. pressed twice) is not an error
        for messages, flags_changed in stream_turn(call, text):
            update = {chat: messages, msg: ""}
            if flags_changed:
                update |= {coaching: gr.HTML(call.coaching_html(), visible=not exam_mode), panel: call.panel_html(), hint: ""}
            yield update
        if call.session.ended:
            call.finish()
        # No value for the message box here: the trainee may already be typing the next line.
        yield _view(call, exam_mode)

    def on_undo(call, exam_mode):
        if call is None:
            raise gr.Error("Start a call first.")
        if not call.undo():
            gr.Info("Nothing to undo yet.")
        return _view(call, exam_mode)

    def on_hint(call, exam_mode):
        if call is None:
            raise gr.Error("Start a call first.")
        call.suggest()
        return _view(call, exam_mode)

    def on_end(call, exam_mode):
        if call is None:
            raise gr.Error("Start a call first.")
        call.finish()
        return _view(call, exam_mode)

    def on_new():
        return {call_state: None, setup_col: gr.Column(visible=True), call_col: gr.Column(visible=False),
                result_col: gr.Column(visible=False), hint: "", chat: []}

    def on_exam(call, exam_mode):
        return _view(call, exam_mode) if call is not None else {}

    def on_pick(persona_id):
        try:
            p = resources.personas().get(persona_id)
        except KeyError:
            return ""
        return f"Selected: **{p.name}** ({p.difficulty}). Press *Start the call* when you're ready."

    start_evt = dict(fn=on_start, inputs=[name, picker, exam, draft_state], outputs=[*view_outputs, draft_state])
    start_btn.click(**start_evt, api_name="start_call")
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
    new_btn.click(on_new, None, [call_state, setup_col, call_col, result_col, hint, chat], api_visibility="private")
    exam.change(on_exam, [call_state, exam], view_outputs, api_visibility="private", show_progress="hidden")
    picker.change(on_pick, picker, picked, api_visibility="private")
    return {"picker": picker, "name": name, "exam": exam, "draft": draft_state, "start": start_evt, "view_outputs": view_outputs}
