"""The callcoach web app (``python app.py`` runs ``main``): practise calls, review progress, tune personas, batch-score transcripts.

``build_app()`` returns the Gradio Blocks without launching it (tests build it and drive the
callbacks); ``python app.py`` parses the command line and serves it. The debtor model is loaded
once, lazily, and shared by every session; each browser session has its own call state.

    python app.py                                  # 127.0.0.1:7860, embedded SmolLM2 model
    python app.py --host 0.0.0.0 --users team.yaml # logins and roles (callcoach users add)
    python app.py --backend openai:http://gpu-box:8000/v1#Qwen/Qwen2.5-7B-Instruct
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
):
    """Build the callcoach Blocks (not launched).

    backend: a Backend object (tests pass ScriptedBackend) or a spec string; default
        ``transformers:default``, loaded on the first call (or by ``preload_model``).
    analyzer: a turn analyzer; default ``core.analysis.default_analyzer()``, loaded lazily.
    personas_dirs: persona folders (default: the shipped ones); the user data dir's
        ``personas/`` folder is always added, and it is where the Trainer tab saves.
    data_dir: where history, saved personas and exports live (default: the user data dir,
        or ``$CALLCOACH_DATA_DIR``).
    seed: fixes the debtor's choices in every call (tests); default a new seed per call.
    users: a ``callcoach.users.Users`` (logins and roles); None for a local app without login.
    """
    import gradio as gr

    from callcoach.ui import evaluator, progress, trainer
    from callcoach.ui.practice import build_practice_tab
    from callcoach.ui.resources import make_resources
    from callcoach.ui.style import APP_CSS, make_theme
    from callcoach.users import viewer

    res = make_resources(backend, analyzer, personas_dirs, data_dir, rubric, adapter=adapter, users=users)
    res.history.abandon_unfinished()  # calls left open by a previous run cannot go on now
    with gr.Blocks(title="callcoach: collections call practice", analytics_enabled=False) as demo:
        with gr.Row(elem_id="cc-header"):
            gr.HTML(
                '<div class="cc-brand"><div class="cc-logo">cc</div><div><h1>callcoach</h1>'
                '<div class="cc-tagline">Practise collection calls with simulated debtors. '
                "Get scored on empathy, clarity and compliance.</div></div></div>"
            )
            status = gr.HTML(_status_html(res.backend), elem_id="cc-status")
        with gr.Tabs(elem_id="cc-tabs") as tabs:
            with gr.Tab("Practice", id="practice", elem_id="cc-tab-practice"):
                practice = build_practice_tab(res, seed=seed)
            with gr.Tab("My progress", id="progress", elem_id="cc-tab-progress") as progress_tab:
                prog = progress.build_progress_tab(res, trainee_box=practice["name"])
            with gr.Tab("Trainer", id="trainer", elem_id="cc-tab-trainer") as trainer_tab:
                trainer.build_trainer_tab(res, practice=practice, tabs=tabs)
            with gr.Tab("Evaluator", id="evaluator", elem_id="cc-tab-evaluator"):
                evaluator.build_evaluator_tab(res)

        resume, resume_inputs, resume_outputs = practice["load"]

        def on_load(memory, exam_mode, request: gr.Request):
            # The Trainer tab is for trainers; every callback checks the role again on the server.
            who = viewer(res.users, request)
            return resume(memory, exam_mode, request) | {
                practice["picker"]: gr.HTML(cards=trainer.picker_cards(res)),
                status: _status_html(res.backend),
                trainer_tab: gr.Tab(visible=who.is_trainer),
            }

        demo.load(on_load, resume_inputs, [*resume_outputs, practice["picker"], status, trainer_tab],
                  api_visibility="private")
        progress_tab.select(prog["refresh"], prog["inputs"], prog["outputs"], api_visibility="private")
        if not res.backend.ready:
            timer = gr.Timer(2.0)
            timer.tick(lambda: (_status_html(res.backend), gr.Timer(active=not res.backend.ready and not res.backend.error)),
                       None, [status, timer], api_visibility="private", show_progress="hidden")
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_MAX_SIZE)
    demo.callcoach = res  # tests and main() reach the shared resources through the app
    demo.callcoach_launch = {"theme": make_theme(), "css": APP_CSS, "footer_links": []}
    return demo


def _status_html(backend) -> str:
    cls = "cc-ready" if backend.ready else ("cc-failed" if backend.error else "")
    return render("callcoach.ui", "status.html.j2", cls=cls, spec=backend.spec, status=backend.status())


def launch(demo, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, share: bool = False, **kwargs):
    """Serve a built app with callcoach's theme; extra keyword arguments go to ``launch()``.

    With users (``build_app(users=...)``) the page asks for a login. Downloads are served from
    a private temp folder; the data dir (every trainee's history) is never served.
    """
    res = demo.callcoach
    opts = dict(demo.callcoach_launch)
    if res.users is not None:
        opts["auth"] = res.users.check
        opts["auth_message"] = "callcoach: sign in with the account your training lead gave you."
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
    return p.parse_args(argv)


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
                         users=users)
    except HistoryError as exc:
        if not (exc.damaged and sys.stdin.isatty()):
            sys.exit(f"error: {exc}")
        answer = input(f"error: {exc}\nMove the damaged file aside and start a new history? [y/N] ")
        if not answer.strip().lower().startswith("y"):
            sys.exit(1)
        print(f"callcoach: moved to {move_aside(exc.path)}", flush=True)
        demo = build_app(backend=args.backend, personas_dirs=dirs, data_dir=args.data_dir, adapter=not args.no_adapter,
                         users=users)
    res = demo.callcoach
    res.backend.preload()
    print(f"callcoach: history and saved personas in {res.data_dir}", flush=True)
    if res.history.read_only:
        print(f"callcoach: warning: {res.history.path} is read-only: calls can be practised but will not be saved"
              " to the history (downloads still work).", file=sys.stderr, flush=True)
    launch(demo, host=args.host, port=args.port, share=args.share)

