"""Shared set-up for the web-app tests: the app with a scripted debtor, and a free port."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

OPENING_LINES = [
    "Hi, this is Sam from Acme Recovery. Am I speaking with Maria Lopez?",
    "Thanks, Maria. I'm a debt collector and this is an attempt to collect a debt; any information obtained will be used for that purpose.",
    "I understand this must be a stressful time. How have things been for you lately?",
    "Would $150 a month starting next Friday work for you?",
]


@lru_cache(maxsize=1)
def shared_analyzer():
    """The real default analyzer, loaded once for the whole test session."""
    from core.analysis import default_analyzer

    analyzer = default_analyzer()
    analyzer.analyze_turn("Hello, how are you today?")  # load the embedder now, not mid-test
    return analyzer


def make_app(data_dir, replies=None, *, default="Okay, go on.", delay_s=0.0, seed=0, personas_dirs=None):
    """build_app() with a ScriptedBackend debtor, the shared analyzer and a temp data dir."""
    from callcoach.serve import build_app
    from simulator.backends.scripted import ScriptedBackend

    backend = ScriptedBackend(list(replies or []), default=default, delay_s=delay_s)
    return build_app(backend=backend, analyzer=shared_analyzer(), data_dir=data_dir, seed=seed, personas_dirs=personas_dirs)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(demo) -> Iterator[str]:
    """The app served on 127.0.0.1 at a free port, in this process: yields its URL (no trailing
    slash) and closes the server afterwards."""
    import callcoach.serve as app_module

    port = free_port()
    app_module.launch(demo, host="127.0.0.1", port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        demo.close()
