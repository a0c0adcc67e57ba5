"""callcoach web app: practise calls, review progress, tune personas, batch-score transcripts.

``build_app()`` returns the Gradio Blocks without launching it (tests build it and drive the
callbacks); ``python app.py`` parses the command line and serves it. The debtor model is loaded
once, lazily, and shared by every session; each browser session has its own call state.

    python app.py                                  # 127.0.0.1:7860, embedded SmolLM2 model
    python app.py --host 0.0.0.0 --auth coach:secret
    python app.py --backend openai:http://gpu-box:8000/v1#Qwen/Qwen2.5-7B-Instruct
"""

import argparse
import os
import sys
from html import escape
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
QUEUE_MAX_SIZE = 64  # waiting events before new ones are turned away with a "busy" message
CONCURRENCY = 8  # events run at once; the model serialises generation behind its own lock


def build_app(
    backend=None,
    analyzer=None,
    personas_dirs: list[str | Path] | None = None,
    data_dir: str | Path | None = None,
    *,
    rubric: str = "default-en",
    seed: int | None = None,
    adapter: bool = True,
):
    """Build the callcoach Blocks (not launched).

    backend: a Backend object (tests pass ScriptedBackend) or a spec string; default
        ``transformers:default``, loaded on the first call (or by ``preload_model``).
    analyzer: a turn analyzer; default ``simulator.analysis.default_analyzer()``, loaded lazily.
    personas_dirs: persona folders (default: the shipped ones); the user data dir's
        ``personas/`` folder is always added, and it is where the Trainer tab saves.
    data_dir: where history, saved personas and exports live (default: the user data dir,
        or ``$CALLCOACH_DATA_DIR``).
    seed: fixes the debtor's choices in every call (tests); default a new seed per call.
    """
    import gradio as gr

    from simulator.ui import evaluator, progress, trainer
    from simulator.ui.practice import build_practice_tab
    from simulator.ui.resources import make_resources
    from simulator.ui.style import APP_CSS, make_theme

    res = make_resources(backend, analyzer, personas_dirs, data_dir, rubric, adapter=adapter)
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
            with gr.Tab("Trainer", id="trainer", elem_id="cc-tab-trainer"):
                trainer.build_trainer_tab(res, practice=practice, tabs=tabs)
            with gr.Tab("Evaluator", id="evaluator", elem_id="cc-tab-evaluator"):
                evaluator.build_evaluator_tab(res)

        def on_load(request: gr.Request):
            # Behind --auth the login name is the trainee's name unless they change it.
            user = getattr(request, "username", None) if request is not None else None
            cards = trainer.picker_cards(res)
            return {
                practice["picker"]: gr.HTML(cards=cards),
                practice["name"]: gr.Textbox(value=user) if user else gr.Textbox(),
                status: _status_html(res.backend),
            }

        demo.load(on_load, None, [practice["picker"], practice["name"], status], api_visibility="private")
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
    return f'<span class="cc-dot {cls}"></span>{escape(backend.status())}'


def launch(demo, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, auth=None, share: bool = False, **kwargs):
    """Serve a built app with callcoach's theme; extra keyword arguments go to ``launch()``."""
    opts = dict(demo.callcoach_launch)
    opts.update(kwargs)
    return demo.launch(
        server_name=host, server_port=port, auth=auth, share=share, show_error=True,
        auth_message="callcoach: sign in with the account your training lead gave you.", **opts,
    )


def parse_auth(value: str | None) -> list[tuple[str, str]] | None:
    """``user:pass`` or ``user1:pass1,user2:pass2`` into Gradio's auth list; None when empty."""
    if not value:
        return None
    pairs = []
    for item in value.split(","):
        user, sep, password = item.strip().partition(":")
        if not sep or not user or not password:
            raise ValueError(f"--auth expects user:password (comma-separated for several), got '{item.strip()}'")
        pairs.append((user, password))
    return pairs


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python app.py", description="Serve the callcoach web app.")
    p.add_argument("--host", default=os.environ.get("CALLCOACH_HOST", DEFAULT_HOST), help="interface to bind (default 127.0.0.1; 0.0.0.0 for a team server)")
    p.add_argument("--port", type=int, default=int(os.environ.get("CALLCOACH_PORT", DEFAULT_PORT)), help="port (default 7860)")
    p.add_argument("--backend", default=os.environ.get("CALLCOACH_BACKEND"), help="debtor model: transformers:<id or path>[#gguf] or openai:<base_url>#<model> (default: the embedded SmolLM2)")
    p.add_argument("--no-adapter", action="store_true", help="the embedded model without its tuned debtor adapter (for comparison)")
    p.add_argument("--auth", default=os.environ.get("CALLCOACH_AUTH"), help="require a login: user:password[,user2:password2] (or env CALLCOACH_AUTH)")
    p.add_argument("--share", action="store_true", help="also open a public Gradio share link (off by default)")
    p.add_argument("--personas-dir", action="append", default=None, help="extra persona folder (repeatable)")
    p.add_argument("--data-dir", default=None, help="history, saved personas and exports (default: user data dir or $CALLCOACH_DATA_DIR)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, start loading the model in the background and serve the app."""
    args = parse_args(argv)
    try:
        auth = parse_auth(args.auth)
    except ValueError as exc:
        sys.exit(f"error: {exc}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is downloaded at run time
    from simulator.personas import SHIPPED_DIR

    dirs = [SHIPPED_DIR, *(args.personas_dir or [])]
    demo = build_app(backend=args.backend, personas_dirs=dirs, data_dir=args.data_dir, adapter=not args.no_adapter)
    demo.callcoach.backend.preload()
    print(f"callcoach: history and saved personas in {demo.callcoach.data_dir}", flush=True)
    launch(demo, host=args.host, port=args.port, auth=auth, share=args.share)


if __name__ == "__main__":
    main()
