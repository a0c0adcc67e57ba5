"""The path a newcomer takes, as they take it: ``python app.py`` started the way ``make demo``
starts it, with a fresh HOME outside the temp dir (so the default user data folder), driven in a
real chromium: a whole call to the scorecard and its downloads, My progress -> Open a call, and
the Evaluator. A failure leaves screenshots in the test's temp folder.

Every other app test points the data folder at a temp dir, which Gradio serves; this one is the
test that would have caught the scorecard that never showed on a default install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from app_support import free_port
from browser_support import new_page

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parent.parent

LINES = [
    "Hi, this is Sam from Acme Recovery. Am I speaking with Maria Delgado?",
    "Thanks. Can you confirm your date of birth for me?",
    "I'm a debt collector and this is an attempt to collect a debt; any information obtained will be used for that purpose.",
    "I understand things can be hard. How have things been for you lately?",
]


def _fresh_home() -> Path:
    """A new HOME outside the system temp dir, as on a newcomer's machine."""
    base = Path("/var/tmp") if Path("/var/tmp").is_dir() else Path.home()
    home = Path(tempfile.mkdtemp(prefix="callcoach-home-", dir=base))
    assert not str(home).startswith(tempfile.gettempdir() + os.sep)
    return home


def _serve(home: Path, port: int, *extra: str) -> subprocess.Popen:
    """``python app.py`` as the Makefile's demo target runs it (cwd the checkout, offline)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCOACH_") or k == "CALLCOACH_CACHE_DIR"}
    env.update(HOME=str(home), HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    env.pop("XDG_DATA_HOME", None)
    log = open(home / "server.log", "w")  # noqa: SIM115 (closed with the process)
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port), *extra], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"app.py exited: {(home / 'server.log').read_text()[-3000:]}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
            return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise AssertionError("app.py did not start serving within 180 s")


@pytest.fixture
def newcomer_app(tmp_path):
    home = _fresh_home()
    port = free_port()
    proc = _serve(home, port, "--backend", "scripted")
    try:
        yield home, f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(home, ignore_errors=True)


def _server_log(home: Path) -> Callable[[], None]:
    """What to print when the page fails: the end of the server's log."""
    return lambda: print((home / "server.log").read_text()[-4000:])


def _download_ok(page, selector: str) -> bytes:
    """The file behind a gr.File download link, fetched as the browser would fetch it."""
    link = page.locator(f"{selector} a[href]").first
    link.wait_for(timeout=60_000)
    href = link.get_attribute("href")
    resp = page.request.get(href)
    assert resp.ok, (href, resp.status)
    return resp.body()


def open_call(page, url: str, trainee: str, persona: str) -> None:
    """Open the page, type the name, pick the debtor's card and start: the debtor picks up."""
    page.goto(url)
    page.wait_for_selector(".cc-card", timeout=120_000)
    page.fill("#cc-name textarea, #cc-name input", trainee)
    page.click(f".cc-card[data-id='{persona}']")
    page.click("#cc-start")
    page.wait_for_selector("#cc-chat .message", timeout=120_000)


def play_whole_call(page, url: str, lines=LINES) -> str:
    open_call(page, url, "Newcomer Nia", "cooperative-maria")
    for i, line in enumerate(lines):
        page.fill("#cc-msg textarea", line)
        page.press("#cc-msg textarea", "Enter")
        page.wait_for_selector(f"#cc-panel .cc-panel[data-turns='{2 * (i + 1) + 1}'], #cc-result:not(.hidden) .cc-scorecard",
                               timeout=120_000)
        if page.locator("#cc-scorecard .cc-scorecard").count():
            break  # the debtor ended the call
    else:
        page.click("#cc-end")
    page.wait_for_selector("#cc-scorecard .cc-scorecard", timeout=180_000)
    return page.inner_text("#cc-scorecard")


def test_a_newcomer_sees_the_scorecard_downloads_history_and_evaluator(browser, newcomer_app, tmp_path):
    home, url = newcomer_app
    with new_page(browser, tmp_path / "newcomer-failure.png", _server_log(home)) as page:
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        card = play_whole_call(page, url)
        assert "Outcome" in card and ("Passed" in card or "Not passed" in card)
        transcript = _download_ok(page, "#cc-transcript-file")
        assert b"Newcomer Nia" in transcript or b"Am I speaking with Maria Delgado" in transcript
        assert b"<html" in _download_ok(page, "#cc-report-file").lower()
        # the call lives in the default user data folder, not in a temp dir
        assert (home / ".local" / "share" / "callcoach" / "history.sqlite3").exists()
        assert not page.locator(".toast-body, .error").count(), page.inner_text("body")[:500]

        # My progress -> Open a call: the scorecard and its report, with the persona's name
        page.click("#cc-tab-progress-button")
        page.fill("#cc-progress-name textarea, #cc-progress-name input", "Newcomer Nia")
        page.press("#cc-progress-name textarea, #cc-progress-name input", "Enter")
        page.wait_for_selector("#cc-history-table table, #cc-history-table td", timeout=60_000)
        page.click("#cc-open-call input")
        option = page.locator("ul[role='listbox'] li").first
        option.wait_for(timeout=30_000)
        assert "Maria Delgado" in option.inner_text()
        option.click()
        page.wait_for_selector("#cc-call-detail .cc-scorecard", timeout=60_000)
        assert b"<html" in _download_ok(page, "#cc-call-report").lower()

        # Evaluator: upload a transcript, score it, download the three files
        page.click("#cc-tab-evaluator-button")
        sample = tmp_path / "calls.jsonl"
        sample.write_bytes(transcript)
        page.set_input_files("#cc-eval-files input[type=file]", str(sample))
        page.wait_for_timeout(1500)
        page.click("#cc-eval-run")
        page.wait_for_selector("#cc-eval-summary b", timeout=180_000)
        assert "1</b> scored" in page.inner_html("#cc-eval-summary")
        for sel in ("#cc-eval-csv", "#cc-eval-jsonl", "#cc-eval-html"):
            assert _download_ok(page, sel)
        assert not errors, errors


def test_reload_mid_call_returns_to_the_call_and_remembers_the_name(browser, newcomer_app, tmp_path):
    _, url = newcomer_app
    with new_page(browser, tmp_path / "reload-failure.png") as page:
        open_call(page, url, "Reloading Ray", "hostile-mark")
        page.fill("#cc-msg textarea", LINES[0].replace("Maria Delgado", "Mark Kowalski"))
        page.press("#cc-msg textarea", "Enter")
        page.wait_for_selector("#cc-panel .cc-panel[data-turns='3']", timeout=120_000)
        page.reload()
        page.wait_for_selector("#cc-panel .cc-panel[data-turns='3']", timeout=120_000)
        assert "Mark Kowalski" in page.inner_text("#cc-chat")
        page.click("#cc-end")
        page.wait_for_selector("#cc-scorecard .cc-scorecard", timeout=180_000)
        page.click("#cc-new")
        page.reload()
        page.wait_for_selector(".cc-card", timeout=120_000)
        page.wait_for_function(
            "() => (document.querySelector('#cc-name textarea, #cc-name input') || {}).value === 'Reloading Ray'",
            timeout=30_000)


@pytest.mark.slow
def test_a_newcomer_call_on_the_default_model(browser, tmp_path):
    """The same call with nothing but ``make demo``'s defaults: the embedded model and adapter."""
    home = _fresh_home()
    port = free_port()
    proc = _serve(home, port)
    try:
        with new_page(browser, tmp_path / "default-model-failure.png", _server_log(home)) as page:
            card = play_whole_call(page, f"http://127.0.0.1:{port}/", LINES[:3])
            assert "Outcome" in card
            assert _download_ok(page, "#cc-transcript-file")
            assert _download_ok(page, "#cc-report-file")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(home, ignore_errors=True)
