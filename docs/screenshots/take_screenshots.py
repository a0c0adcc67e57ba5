"""Take the README screenshots: every tab of the app, at desktop and phone widths, in headless
Debian chromium.

    python docs/screenshots/take_screenshots.py                    # the embedded default model
    python docs/screenshots/take_screenshots.py --backend echo     # fast, for layout work

Uses a throw-away data dir; a few practice calls are played first so the progress chart and
the trainees table have something to show. Phone shots are named ``*-phone.png``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
VIEWPORTS = {"": {"width": 1320, "height": 940}, "-phone": {"width": 390, "height": 844}}
TRAINEE = "Sam Rivera"
CALL = [
    "Hi, this is Sam from Acme Recovery. Am I speaking with Mark Kowalski?",
    "Thanks, Mark. I'm a debt collector; this is an attempt to collect a debt and any information obtained will be used for that purpose.",
    "I can hear how frustrating those fees have been. What happened with the account?",
]
WARM_UP_CALLS = [  # (persona, lines): earlier calls for the progress chart, weakest first
    ("cooperative-maria", ["Maria? You owe us money. Pay now."]),
    ("evasive-tony", ["Hello, this is Sam from Acme Recovery. Is this Tony Russo?", "You need to pay this today or else."]),
    ("cooperative-maria", CALL[:2] + ["How have things been for you lately?"]),
    ("disputing-priya", CALL[:2] + ["I understand. You have the right to dispute this, and I'll send you the details in writing."]),
]


def play(res, persona: str, lines: list[str]) -> None:
    from callcoach.ui.practice import start_call, stream_turn

    call = start_call(res, TRAINEE, persona, seed=1)
    for line in lines:
        if call.session.ended:
            break
        for _ in stream_turn(call, line):
            pass
    call.finish()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", default="transformers:default")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent))
    ap.add_argument("--port", type=int, default=7871)
    args = ap.parse_args()

    import callcoach.serve as app_module

    out = Path(args.out)
    data = Path(tempfile.mkdtemp(prefix="callcoach-shots-"))
    demo = app_module.build_app(backend=args.backend, data_dir=data, seed=3)
    res = demo.callcoach
    print("loading the model and playing warm-up calls...", flush=True)
    for persona, lines in WARM_UP_CALLS:
        play(res, persona, lines)
    app_module.launch(demo, host="127.0.0.1", port=args.port, prevent_thread_lock=True, quiet=True)
    url = f"http://127.0.0.1:{args.port}/"

    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            for suffix, viewport in VIEWPORTS.items():
                page = browser.new_page(viewport=viewport, device_scale_factor=1)
                try:
                    shoot(page, url, out, suffix)
                except Exception:
                    failed = Path(tempfile.gettempdir()) / f"callcoach-screenshot-failure{suffix}.png"
                    page.screenshot(path=str(failed), full_page=True)
                    print(f"failed; the page at that moment: {failed}", file=sys.stderr)
                    raise
                finally:
                    page.close()
        finally:
            browser.close()
            demo.close()
    print(f"screenshots in {out}")


def shoot(page, url: str, out: Path, suffix: str = "") -> None:
    """Walk through the tabs, saving one screenshot each (``suffix`` names the viewport)."""

    def snap(name: str) -> None:
        page.screenshot(path=str(out / f"{name}{suffix}.png"), full_page=True)

    if True:
        page.goto(url)
        page.wait_for_selector(".cc-card")
        page.fill("#cc-name textarea, #cc-name input", TRAINEE)
        page.click(".cc-card[data-id='hostile-mark']")
        page.wait_for_timeout(400)
        snap("practice-setup")

        page.click("#cc-start")
        page.wait_for_selector("#cc-chat .message-row")
        for i, line in enumerate(CALL):
            page.fill("#cc-msg textarea", line)
            page.press("#cc-msg textarea", "Enter")
            page.wait_for_selector(f"#cc-panel .cc-panel[data-turns='{2 * (i + 1) + 1}']", timeout=180_000)
        page.click("#cc-hint-btn")
        page.wait_for_selector("#cc-hint .cc-hint-text")
        page.wait_for_timeout(300)
        snap("practice-call")

        page.click("#cc-end")
        page.wait_for_selector("#cc-scorecard .cc-scorecard", timeout=180_000)
        page.wait_for_timeout(500)
        page.locator("#cc-result").scroll_into_view_if_needed()
        snap("practice-scorecard")

        page.click("#cc-tab-progress-button")
        page.wait_for_selector(".cc-tiles", timeout=30_000)
        page.wait_for_timeout(500)
        snap("progress")

        page.click("#cc-tab-trainer-button")
        page.wait_for_selector("#cc-persona-table")
        page.click("#cc-start-from input")
        page.keyboard.type("distressed-dana")
        page.wait_for_timeout(300)
        page.keyboard.press("Enter")
        page.wait_for_timeout(800)
        # a trainer's typical slips: a misspelt field and a value that is not allowed
        from simulator.personas import SHIPPED_DIR

        draft = (SHIPPED_DIR / "distressed-dana.yaml").read_text(encoding="utf-8")
        draft = draft.replace("difficulty: medium", "difficulty: tough").replace("\nsituation:", "\nsituaton:", 1)
        page.locator("#cc-yaml .cm-content").click()
        page.keyboard.press("Control+A")
        page.keyboard.insert_text(draft)
        page.keyboard.press("Control+Home")
        page.wait_for_selector("#cc-validation .cc-problems", timeout=30_000)
        page.wait_for_timeout(500)
        snap("trainer")

        page.click("#cc-tab-evaluator-button")
        samples = sorted((ROOT / "tests" / "data" / "transcripts").glob("*"))
        page.set_input_files("#cc-eval-files input[type=file]", [str(s) for s in samples if s.suffix in {".jsonl", ".csv", ".txt"}])
        page.wait_for_timeout(1500)
        page.click("#cc-eval-run")
        page.wait_for_selector("#cc-eval-summary b", timeout=300_000)
        page.wait_for_timeout(800)
        snap("evaluator")


if __name__ == "__main__":
    main()
