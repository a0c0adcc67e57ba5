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


def persona_dirs_with_chinese(folder) -> list:
    """A persona folder with one English persona (cooperative-maria) and one Chinese one written
    from it (``zh-test-lina``: ``language: zh``, Chinese name, situation and currency), so a test of
    the Chinese page does not depend on the shipped Chinese personas."""
    import re
    import shutil
    from pathlib import Path

    from simulator.personas import SHIPPED_DIR

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(SHIPPED_DIR / "cooperative-maria.yaml", folder)
    text = (SHIPPED_DIR / "cooperative-maria.yaml").read_text(encoding="utf-8")
    text = text.replace("id: cooperative-maria", "id: zh-test-lina").replace("language: en", "language: zh")
    text = text.replace("name: Maria Delgado", "name: 李娜")
    text = re.sub(r"^situation: .*$", "situation: 在超市上班的单亲妈妈，信用卡逾期两个月，愿意商量还款。", text, flags=re.M)
    text = re.sub(r"^  currency: .*\n", "", text, flags=re.M).replace("debt:\n", "debt:\n  currency: CNY\n", 1)
    (folder / "zh-test-lina.yaml").write_text(text, encoding="utf-8")
    return [folder]
