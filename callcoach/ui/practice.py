"""The Practice tab: pick a persona, take the call, get coached, end it and see the scorecard.

The call itself (``PracticeCall``, one per browser session in ``gr.State``) and the plain
functions the tab's callbacks use (``start_call``, ``stream_turn``) are in ``callcoach.ui.calls``;
this module lays out the tab and wires its events. Every callback takes the page's language
(``lang``, a ``gr.State`` set when the page loads) and answers in it.
"""

from __future__ import annotations

import gradio as gr

from callcoach.history import PRACTICE, TEST
from callcoach.ui import views
from callcoach.ui.calls import LIVE, PracticeCall, SetupError, start_call, stream_turn
from callcoach.ui.i18n import Labels, text, words
from callcoach.ui.resources import AppResources
from callcoach.users import viewer

__all__ = ["PracticeCall", "SetupError", "build_practice_tab", "picker_update", "start_call", "stream_turn"]


def picker_update(resources: AppResources, lang: str) -> dict:
    """The persona picker's props for a page in ``lang``: the cards of the personas who speak it."""
    return gr.HTML(cards=views.persona_cards(resources.personas_for(lang), lang), listbox=text("practice.cards", lang))


def build_practice_tab(resources: AppResources, ui: Labels, lang: gr.State, seed: int | None = None) -> dict:
    """Lay out the Practice tab and wire its events; returns the components other tabs use."""
    call_state = gr.State(None)
    draft_state = gr.State(None)  # a persona under test from the Trainer tab
    # Kept in the browser: the trainee's name, the call in progress (so a reload returns to it)
    # and the language picked in the header.
    remembered = gr.BrowserState({"name": "", "call_id": None, "lang": None}, storage_key="callcoach",
                                 secret=resources.browser_secret)
    with gr.Column(visible=True, elem_id="cc-setup") as setup_col:
        ui(gr.Markdown, {"value": "practice.step_who"}, elem_classes=["cc-step"])
        with gr.Row(equal_height=True):
            # min widths: on a phone the row wraps instead of squeezing the exam label off-screen
            name = ui(gr.Textbox, {"label": "practice.name", "placeholder": "practice.name_hint"}, max_lines=1, scale=3,
                      elem_id="cc-name", max_length=80, min_width=240)
            exam = ui(gr.Checkbox, {"label": "practice.exam"}, value=False, scale=2, elem_id="cc-exam", min_width=240)
        resumed = gr.HTML("", elem_id="cc-resumed")
        ui(gr.Markdown, {"value": "practice.step_pick"}, elem_classes=["cc-step"])
        picker = gr.HTML(
            value="", html_template=views.PICKER_TEMPLATE, js_on_load=views.PICKER_JS, cards=[], elem_id="cc-picker",
            apply_default_css=False, listbox=text("practice.cards", ui.default),
        )
        with gr.Row():
            start_btn = ui(gr.Button, {"value": "practice.start"}, variant="primary", elem_id="cc-start", scale=0,
                           min_width=200)
            picked = gr.Markdown("", elem_id="cc-picked")
        setup_error = gr.HTML("", elem_id="cc-setup-error")
    with gr.Column(visible=False, elem_id="cc-call") as call_col:
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=320):
                on_line = gr.HTML("", elem_id="cc-on-line")
                chat = ui(gr.Chatbot, {"label": "practice.chat", "placeholder": "practice.ringing"}, show_label=False,
                          height=460, elem_id="cc-chat", buttons=[], feedback_options=None, layout="bubble")
                with gr.Row(equal_height=True):
                    msg = ui(gr.Textbox, {"placeholder": "practice.say_hint"}, show_label=False, max_lines=3, scale=5,
                             elem_id="cc-msg", autofocus=True, max_length=views.MAX_LINE_CHARS)
                    send_btn = ui(gr.Button, {"value": "practice.say"}, variant="primary", scale=1, min_width=90,
                                  elem_id="cc-send")
                call_error = gr.HTML("", elem_id="cc-call-error")
                with gr.Row():
                    hint_btn = ui(gr.Button, {"value": "practice.suggest"}, size="sm", elem_id="cc-hint-btn")
                    undo_btn = ui(gr.Button, {"value": "practice.undo"}, size="sm", elem_id="cc-undo")
                    end_btn = ui(gr.Button, {"value": "practice.end"}, size="sm", variant="stop", elem_id="cc-end")
                hint = gr.HTML("", elem_id="cc-hint")
            with gr.Column(scale=2, min_width=280):
                panel = gr.HTML("", elem_id="cc-panel")
                coaching = gr.HTML(views.coaching_html([], lang=ui.default), elem_id="cc-coaching")
        with gr.Column(visible=False, elem_id="cc-result") as result_col:
            ui(gr.Markdown, {"value": "practice.scorecard"})
            scorecard = gr.HTML("", elem_id="cc-scorecard")
            with gr.Row():
                transcript_file = ui(gr.File, {"label": "practice.transcript_file"}, interactive=False,
                                     elem_id="cc-transcript-file")
                report_file = ui(gr.File, {"label": "practice.report_file"}, interactive=False, elem_id="cc-report-file")
            new_btn = ui(gr.Button, {"value": "practice.again"}, variant="primary", elem_id="cc-new")

    def _view(call: PracticeCall | None, exam_mode: bool, error: str = "", lg: str = "en") -> dict:
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
            on_line: views.on_line_html(call.persona, done, test=call.kind == TEST, lang=lg),
            panel: gr.HTML(call.panel_html(lg) if crib else "", visible=crib),
            coaching: gr.HTML(call.coaching_html(lg) if crib else "", visible=crib),
            hint: gr.HTML(views.hint_html(call.hint, lg), visible=not exam_mode and not done),
            hint_btn: gr.Button(visible=not exam_mode, interactive=not done),
            msg: gr.Textbox(interactive=not done),
            send_btn: gr.Button(interactive=not done),
            undo_btn: gr.Button(interactive=not done),
            end_btn: gr.Button(interactive=not done),
            result_col: gr.Column(visible=done),
            scorecard: call.scorecard_html(lg),
            transcript_file: call.download("transcript") if done else None,
            report_file: call.download("report") if done else None,
        }

    view_outputs = [call_state, setup_col, call_col, setup_error, call_error, on_line, chat, panel, coaching, hint,
                    hint_btn, msg, send_btn, undo_btn, end_btn, result_col, scorecard, transcript_file, report_file]
    # a page whose language is set: the picker's cards, and the empty coaching panel, in it
    ui.on_language([picker, coaching], lambda lg: {picker: picker_update(resources, lg),
                                                   coaching: views.coaching_html([], lang=lg)})

    def on_start(trainee, persona_id, exam_mode, draft, lg, request: gr.Request):
        who = viewer(resources.users, request)
        try:
            call = start_call(resources, trainee, persona_id, draft, seed, who=who, lang=lg)
        except SetupError as exc:
            return _view(None, exam_mode, str(exc), lg) | {draft_state: None}
        return _view(call, exam_mode, lg=lg) | {draft_state: None}

    def remember(call, memory):
        """Keep the trainee's name and the call in progress in the browser (for a reload)."""
        memory = dict(memory or {})
        if call is not None and call.kind == PRACTICE:
            memory["name"] = call.trainee
        memory["call_id"] = None if call is None or call.finished else call.session.call_id
        return memory

    def on_send(line, call, exam_mode, lg):
        if call is None:
            yield _view(None, exam_mode, text("errors.start_first", lg), lg)
            return
        if not (line or "").strip():
            return  # an Enter on an empty box (e.g. pressed twice) is not an error
        try:
            for messages, flags_changed in stream_turn(call, line, lg):
                # While the debtor answers, the box and the button wait: a line sent mid-reply
                # used to blank the call screen and be lost. The final view below opens them again.
                update = {chat: messages, msg: gr.Textbox(value="", interactive=False),
                          send_btn: gr.Button(interactive=False), call_error: ""}
                if flags_changed and not exam_mode:
                    update |= {coaching: call.coaching_html(lg), panel: call.panel_html(lg), hint: ""}
                yield update
        except SetupError as exc:
            yield _view(call, exam_mode, str(exc), lg) | {msg: line}
            return
        if call.session.ended:
            call.finish()
        yield _view(call, exam_mode, lg=lg)

    def on_undo(call, exam_mode, lg):
        if call is None:
            return _view(None, exam_mode, text("errors.start_first", lg), lg)
        return _view(call, exam_mode, "" if call.undo() else text("errors.nothing_to_undo", lg), lg)

    def on_hint(call, exam_mode, lg):
        if call is None:
            return _view(None, exam_mode, text("errors.start_first", lg), lg)
        call.suggest()
        return _view(call, exam_mode, lg=lg)

    def on_end(call, exam_mode, lg):
        if call is None:
            return _view(None, exam_mode, text("errors.start_first", lg), lg)
        call.finish()
        return _view(call, exam_mode, lg=lg)

    def on_new(memory):
        return {call_state: None, setup_col: gr.Column(visible=True), call_col: gr.Column(visible=False),
                result_col: gr.Column(visible=False), hint: "", chat: [], setup_error: "", resumed: "",
                remembered: {**(memory or {}), "call_id": None}}

    def on_exam(call, exam_mode, lg):
        return _view(call, exam_mode, lg=lg) if call is not None else {call_state: None}

    def on_pick(persona_id, lg):
        try:
            p = resources.personas().get(persona_id)
        except KeyError:
            return ""
        return text("practice.picked", lg, name=p.name, difficulty=views.difficulty_label(p.difficulty, words(lg)))

    def on_load(memory, exam_mode, lg, request: gr.Request):
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
            return update | _view(call, exam_mode, lg=lg)
        # The call cannot be picked up again (the server restarted): close it cleanly, if it is ours.
        owner = resources.history.owner(call_id)
        if owner and owner.lower() == trainee.lower() and not resources.history.is_finished(call_id):
            resources.history.abandon_unfinished(call_id=call_id)
            update[resumed] = views.notice_html(text("errors.interrupted", lg))
        return update | {remembered: {**memory, "call_id": None}}

    start_evt = dict(fn=on_start, inputs=[name, picker, exam, draft_state, lang], outputs=[*view_outputs, draft_state])
    remember_evt = dict(fn=remember, inputs=[call_state, remembered], outputs=remembered, api_visibility="private",
                        show_progress="hidden")
    start_btn.click(**start_evt, api_name="start_call").then(**remember_evt)
    # always_last: a line sent while the debtor's reply is still being finished runs right after
    # it instead of being dropped.
    send_evt = dict(fn=on_send, inputs=[msg, call_state, exam, lang], outputs=view_outputs, concurrency_id="debtor",
                    show_progress="hidden", trigger_mode="always_last")
    send_btn.click(**send_evt, api_name="say")
    msg.submit(**send_evt, api_visibility="private")
    undo_btn.click(on_undo, [call_state, exam, lang], view_outputs, api_name="undo", show_progress="hidden")
    hint_btn.click(on_hint, [call_state, exam, lang], view_outputs, api_name="hint", show_progress="hidden")
    end_btn.click(on_end, [call_state, exam, lang], view_outputs, api_name="end_call", concurrency_id="scoring",
                  show_progress="minimal", show_progress_on=[end_btn], scroll_to_output=True)
    new_btn.click(on_new, remembered, [call_state, setup_col, call_col, result_col, hint, chat, setup_error, resumed,
                                       remembered], api_visibility="private")
    exam.change(on_exam, [call_state, exam, lang], view_outputs, api_visibility="private", show_progress="hidden")
    picker.change(on_pick, [picker, lang], picked, api_visibility="private")

    def view(call: PracticeCall | None, exam_mode: bool, lg: str) -> dict:
        """The call on screen redrawn in another language (the header's language picker)."""
        return _view(call, exam_mode, lg=lg) if call is not None else {}

    return {"picker": picker, "name": name, "exam": exam, "draft": draft_state, "call": call_state,
            "remembered": remembered, "start": start_evt, "remember": remember_evt, "view": view,
            "view_outputs": view_outputs, "picked": picked,
            "load": (on_load, [remembered, exam], [name, resumed, remembered, *view_outputs])}
