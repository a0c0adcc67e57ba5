"""The callcoach web app (``python app.py`` runs ``main``): practise calls, review progress, tune personas, batch-score transcripts.

``build_app()`` returns the Gradio Blocks without launching it (tests build it and drive the
callbacks); ``python app.py`` parses the command line and serves it. The debtor model is loaded
once, lazily, and shared by every session; each browser session has its own call state.

    python app.py                                  # 127.0.0.1:7860, embedded SmolLM2 model
    python app.py --host 0.0.0.0 --users team.yaml # logins and roles (callcoach users add)
    python app.py --backend openai:http://gpu-box:8000/v1#Qwen/Qwen2.5-7B-Instruct
    python app.py --lang zh                        # the page in Chinese, with the Chinese personas

The page is in English or Chinese (``callcoach.ui.i18n``): ``?lang=zh`` in its address, the
language picked in its header, ``--lang`` (or ``CALLCOACH_LANG``), else the browser's language.
"""

import argparse
import logging
import os
import sys
from pathlib import Path

from core.html import render

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
QUEUE_MAX_SIZE = 64  # waiting events before new ones are turned away with a "busy" message
CONCURRENCY = 8  # events run at once; the model serialises generation behind its own lock
MAX_UPLOAD = "20mb"  # one uploaded transcript file (Evaluator); bigger ones are refused at upload


def build_app(
    backend=None,
    analyzer=None,
    personas_dirs: list[str | Path] | None = None,
    data_dir: str | Path | None = None,
    *,
    rubric: str = "default-en",
    seed: int | None = None,
    adapter: bool = True,
    users=None,
    lang: str | None = None,
):
    """Build the callcoach Blocks (not launched).

    backend: a Backend object (tests pass ScriptedBackend) or a spec string; default
        ``llamacpp:default``, loaded on the first call (or by ``preload_model``).
    analyzer: a turn analyzer; default ``core.analysis.default_analyzer()``, loaded lazily.
    personas_dirs: persona folders (default: the shipped ones); the user data dir's
        ``personas/`` folder is always added, and it is where the Trainer tab saves.
    data_dir: where history, saved personas and exports live (default: the user data dir,
        or ``$CALLCOACH_DATA_DIR``).
    seed: fixes the debtor's choices in every call (tests); default a new seed per call.
    users: a ``callcoach.users.Users`` (logins and roles); None for a local app without login.
    lang: the page's language (``en``, ``zh``) whatever the browser's; None: the browser's.
        ``?lang=`` in the page's address, or the language picked in its header, still wins.
    """
    import gradio as gr

    from callcoach.ui import evaluator, progress, trainer
    from callcoach.ui.i18n import (
        Labels,
        choose_language,
        from_accept_language,
        language_names,
        language_of,
        merge,
        text,
        words,
    )
    from callcoach.ui.practice import build_practice_tab
    from callcoach.ui.resources import make_resources
    from callcoach.ui.style import APP_CSS, make_theme
    from callcoach.users import viewer

    lang = language_of(lang) if lang else None
    res = make_resources(backend, analyzer, personas_dirs, data_dir, rubric, adapter=adapter, users=users, lang=lang)
    res.history.abandon_unfinished()  # calls left open by a previous run cannot go on now
    ui = Labels(lang)
    with gr.Blocks(title=text("app.title", lang), analytics_enabled=False) as demo:
        page_lang = gr.State(ui.default)  # the page's language, set when it loads (API clients: the app's)
        # the language Gradio's I18n chose for the labels (the browser's), read by the load event
        shown_lang = gr.Textbox(visible=False, elem_id="cc-shown-lang")
        with gr.Row(elem_id="cc-header"):
            header = gr.HTML(render("callcoach.ui", "header.html.j2", t=words(lang, html=True)))
            with gr.Column(scale=0, min_width=200, elem_id="cc-header-side"):
                status = gr.HTML(_status_html(res.backend, ui.default), elem_id="cc-status")
                lang_pick = ui(gr.Radio, {"label": "app.language"}, choices=language_names(), value=None, show_label=False,
                               container=False, elem_id="cc-lang")
        ui.on_language([header, status], lambda lg: {header: render("callcoach.ui", "header.html.j2", t=words(lg, html=True)),
                                                     status: _status_html(res.backend, lg)})
        with gr.Tabs(elem_id="cc-tabs") as tabs:
            with ui(gr.Tab, {"label": "tabs.practice"}, id="practice", elem_id="cc-tab-practice"):
                practice = build_practice_tab(res, ui, page_lang, seed=seed)
            with ui(gr.Tab, {"label": "tabs.progress"}, id="progress", elem_id="cc-tab-progress") as progress_tab:
                prog = progress.build_progress_tab(res, practice["name"], ui, page_lang)
            with ui(gr.Tab, {"label": "tabs.trainer"}, id="trainer", elem_id="cc-tab-trainer") as trainer_tab:
                trainer.build_trainer_tab(res, practice, tabs, ui, page_lang)
            with ui(gr.Tab, {"label": "tabs.evaluator"}, id="evaluator", elem_id="cc-tab-evaluator"):
                evaluator.build_evaluator_tab(res, ui, page_lang)

        resume, resume_inputs, resume_outputs = practice["load"]
        in_language = _unique([*ui.outputs, page_lang, lang_pick])

        def on_load(shown, memory, exam_mode, request: gr.Request):
            # The page's language: ?lang=, the one picked in the header, the app's, the browser's.
            lg = choose_language(
                request.query_params.get("lang"), (memory or {}).get("lang"), res.lang, shown,
                from_accept_language(request.headers.get("accept-language")),
            )
            # The Trainer tab is for trainers; every callback checks the role again on the server.
            who = viewer(res.users, request)
            return merge(ui.updates(lg), {page_lang: lg, lang_pick: lg}, resume(memory, exam_mode, lg, request),
                         {trainer_tab: gr.Tab(visible=who.is_trainer)})

        def on_language(choice, call, exam_mode, memory):
            lg = choose_language(choice)
            return merge(ui.updates(lg), {page_lang: lg, practice["remembered"]: {**(memory or {}), "lang": lg}},
                         practice["view"](call, exam_mode, lg), {practice["picked"]: ""})

        demo.load(on_load, [shown_lang, *resume_inputs], _unique([*in_language, *resume_outputs, trainer_tab]),
                  js=_SHOWN_LANGUAGE_JS, api_visibility="private")
        lang_pick.input(on_language, [lang_pick, practice["call"], practice["exam"], practice["remembered"]],
                        _unique([*in_language, practice["remembered"], practice["picked"], *practice["view_outputs"]]),
                        api_visibility="private", show_progress="hidden")
        progress_tab.select(prog["refresh"], prog["inputs"], prog["outputs"], api_visibility="private")
        if not res.backend.ready:
            timer = gr.Timer(2.0)
            timer.tick(lambda lg: (_status_html(res.backend, lg), gr.Timer(active=not res.backend.ready and not res.backend.error)),
                       page_lang, [status, timer], api_visibility="private", show_progress="hidden")
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_MAX_SIZE)
    demo.callcoach = res  # tests and main() reach the shared resources through the app
    demo.callcoach_labels = ui
    demo.callcoach_launch = {"theme": make_theme(), "css": APP_CSS, "footer_links": [], "i18n": ui.i18n(force=lang)}
    return demo


# The load event reads the language Gradio's I18n shows the labels in (it sets <html lang>):
# the first value the event sends; the others pass through.
_SHOWN_LANGUAGE_JS = "(shown, ...rest) => [document.documentElement.lang || navigator.language || '', ...rest]"


def _unique(components: list) -> list:
    """Event outputs without repeats (a component both worded and redrawn is one output)."""
    return list({c._id: c for c in components}.values())


def _status_html(backend, lang: str = "en") -> str:
    cls = "cc-ready" if backend.ready else ("cc-failed" if backend.error else "")
    return render("callcoach.ui", "status.html.j2", cls=cls, spec=backend.spec, status=backend.status(lang))


def launch(demo, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, share: bool = False, **kwargs):
    """Serve a built app with callcoach's theme; extra keyword arguments go to ``launch()``.

    With users (``build_app(users=...)``) the page asks for a login. Downloads are served from
    a private temp folder; the data dir (every trainee's history) is never served.
    """
    from callcoach.ui.i18n import text

    res = demo.callcoach
    opts = dict(demo.callcoach_launch)
    if res.users is not None:
        opts["auth"] = res.users.check
        opts["auth_message"] = text("app.sign_in", res.lang)
    opts.update(kwargs)
    # show_error=False: a failure inside a callback shows a short message, and the detail goes to
    # the server log, not to every browser.
    return demo.launch(
        server_name=host, server_port=port, share=share, show_error=False, max_file_size=MAX_UPLOAD,
        blocked_paths=[str(res.data_dir)], **opts,
    )


def load_users(args: argparse.Namespace):
    """The accounts from --users FILE, else --auth / CALLCOACH_AUTH; None for a local app."""
    from callcoach.users import Users

    if args.users:
        return Users.load(args.users)
    if args.auth:
        return Users.from_auth(args.auth)
    return None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python app.py", description="Serve the callcoach web app.")
    p.add_argument("--host", default=os.environ.get("CALLCOACH_HOST", DEFAULT_HOST), help="interface to bind (default 127.0.0.1; 0.0.0.0 for a team server)")
    p.add_argument("--port", type=int, default=int(os.environ.get("CALLCOACH_PORT", DEFAULT_PORT)), help="port (default 7860)")
    p.add_argument("--backend", default=os.environ.get("CALLCOACH_BACKEND"), help="debtor model: transformers:<id or path>[#gguf] or openai:<base_url>#<model> (default: the embedded SmolLM2)")
    p.add_argument("--no-adapter", action="store_true", help="the embedded model without its tuned debtor adapter (for comparison)")
    p.add_argument("--users", default=os.environ.get("CALLCOACH_USERS"), help="require a login: a users file with hashed passwords and roles, written by 'callcoach users add' (or env CALLCOACH_USERS)")
    p.add_argument("--auth", default=os.environ.get("CALLCOACH_AUTH"), help="require a login: user:password[:trainer][,...]; prefer --users or env CALLCOACH_AUTH (a command line is visible in ps)")
    p.add_argument("--share", action="store_true", help="also open a public Gradio share link (off by default)")
    p.add_argument("--personas-dir", action="append", default=None, help="extra persona folder (repeatable)")
    p.add_argument("--data-dir", default=None, help="history, saved personas and exports (default: user data dir or $CALLCOACH_DATA_DIR)")
    p.add_argument("--lang", choices=["en", "zh"], default=_env_lang(), help="the page's language, whatever the browser's: en or zh (Chinese, with the Chinese personas); default: the browser's, or env CALLCOACH_LANG. ?lang= in the address and the page's own picker still switch it")
    return p.parse_args(argv)


def _env_lang() -> str | None:
    """CALLCOACH_LANG as --lang's default (a language tag such as zh-CN reads as zh)."""
    value = os.environ.get("CALLCOACH_LANG", "").strip()
    if not value:
        return None
    from callcoach.ui.i18n import language_of

    lang = language_of(value)
    if lang is None:
        sys.exit(f"error: CALLCOACH_LANG={value!r}: give en or zh")
    return lang


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, start loading the model in the background and serve the app."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    from callcoach.history import HistoryError, move_aside
    from callcoach.users import UsersError

    try:
        users = load_users(args)
    except UsersError as exc:
        sys.exit(f"error: {exc}")
    if users is not None and not users.trainers():
        print("callcoach: warning: no account has the trainer role, so nobody can edit personas or see the team's calls"
              " (give one the role with 'callcoach users add NAME --role trainer').", file=sys.stderr)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is downloaded at run time
    from simulator.personas import SHIPPED_DIR

    dirs = [SHIPPED_DIR, *(args.personas_dir or [])]
    try:
        demo = build_app(backend=args.backend, personas_dirs=dirs, data_dir=args.data_dir, adapter=not args.no_adapter,
                         users=users, lang=args.lang)
    except HistoryError as exc:
        if not (exc.damaged and sys.stdin.isatty()):
            sys.exit(f"error: {exc}")
        answer = input(f"error: {exc}\nMove the damaged file aside and start a new history? [y/N] ")
        if not answer.strip().lower().startswith("y"):
            sys.exit(1)
        print(f"callcoach: moved to {move_aside(exc.path)}", flush=True)
        demo = build_app(backend=args.backend, personas_dirs=dirs, data_dir=args.data_dir, adapter=not args.no_adapter,
                         users=users, lang=args.lang)
    res = demo.callcoach
    res.backend.preload()
    print(f"callcoach: history and saved personas in {res.data_dir}", flush=True)
    if res.history.read_only:
        print(f"callcoach: warning: {res.history.path} is read-only: calls can be practised but will not be saved"
              " to the history (downloads still work).", file=sys.stderr, flush=True)
    launch(demo, host=args.host, port=args.port, share=args.share)

