"""Debian's chromium driven by Playwright (no browser download), shared by the browser tests."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def ensure_chromium() -> str:
    """Debian's chromium; installed with apt when missing (CI runs as root)."""
    if Path(CHROMIUM).exists():
        return CHROMIUM
    if shutil.which("apt-get") is None:
        pytest.skip("no /usr/bin/chromium and no apt-get to install it")
    env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
    if subprocess.run(cmd, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, capture_output=True, check=True)
        subprocess.run(cmd, env=env, capture_output=True, check=True)
    return CHROMIUM


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    exe = ensure_chromium()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        yield b
        b.close()


@contextmanager
def new_page(browser, shot: Path, on_failure: Callable[[], None] | None = None) -> Iterator:
    """A desktop-sized page, always closed; if the block fails, a full-page screenshot at ``shot``
    (and ``on_failure()``, e.g. to print the server's log) before the error goes on."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        yield page
    except Exception:
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot of the page at failure: {shot}")
        if on_failure is not None:
            on_failure()
        raise
    finally:
        page.close()
