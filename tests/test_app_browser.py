"""End to end in a real headless browser: Debian's chromium driven by Playwright (no download).

The app runs on 127.0.0.1 on a free port with the scripted debtor. The test opens the page,
picks a persona, plays a call, ends it, and checks the scorecard and the saved transcript.
"""

from __future__ import annotations

import pytest
from app_support import OPENING_LINES, make_app, serving
from browser_support import new_page

pytestmark = pytest.mark.browser

DEBTOR_LINES = [
    "Yes, this is Maria. Who's calling?",
    "Oh. Okay. I know I'm behind on that card.",
    "Honestly it's been a rough few months with my hours.",
    "I think I could manage that, yes.",
]


@pytest.fixture
def served(tmp_path):
    demo = make_app(tmp_path / "data", replies=DEBTOR_LINES, delay_s=0.05)
    with serving(demo) as url:
        yield demo, url + "/"


def test_a_full_practice_call_in_the_browser(browser, served, tmp_path):
    demo, url = served
    with new_page(browser, tmp_path / "failure.png") as page:
        _play_a_call(page, demo, url)


def _play_a_call(page, demo, url):
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_selector(".cc-card", timeout=90_000)
    assert page.locator(".cc-card").count() >= 8

    page.fill("#cc-name textarea, #cc-name input", "Sam Rivera")
    page.click(".cc-card[data-id='cooperative-maria']")
    page.wait_for_selector(".cc-card.cc-selected[data-id='cooperative-maria']")
    page.click("#cc-start")
    page.wait_for_selector("#cc-chat .message", timeout=90_000)
    assert "Maria" in page.inner_text("#cc-panel")

    box = "#cc-msg textarea"
    for i, line in enumerate(OPENING_LINES):
        page.fill(box, line)
        page.press(box, "Enter")
        # the turn is done when the debtor panel reflects it (after the reply has streamed in)
        page.wait_for_selector(f"#cc-panel .cc-panel[data-turns='{2 * (i + 1) + 1}']", timeout=90_000)
        last = page.locator("#cc-chat .message-row").last.inner_text()
        assert DEBTOR_LINES[i] in last, last
        if i == 0:
            page.wait_for_selector("#cc-coaching .cc-flag", timeout=90_000)
    # coaching numbers the trainee's own lines, not both sides' turns
    assert f"line {len(OPENING_LINES)}" in page.inner_text("#cc-coaching").lower()

    page.click("#cc-hint-btn")
    page.wait_for_selector("#cc-hint .cc-hint-text", timeout=90_000)

    page.click("#cc-end")
    page.wait_for_selector("#cc-scorecard .cc-scorecard", timeout=120_000)
    card = page.inner_text("#cc-scorecard")
    assert "Outcome" in card and ("Passed" in card or "Not passed" in card)
    assert page.locator("#cc-scorecard svg").count() >= 1
    assert page.locator("#cc-transcript-file a, #cc-transcript-file .file-preview").count() >= 1

    # the saved transcript has every line the trainee typed, in order
    [rec] = demo.callcoach.history.list_calls("Sam Rivera")
    saved = demo.callcoach.history.transcript(rec.id)
    agent_lines = [t.text for t in saved.turns if t.speaker == "agent"]
    assert agent_lines == OPENING_LINES
    assert rec.overall is not None and rec.ended_at
    assert not errors, errors


def test_exam_mode_hides_coaching(browser, served, tmp_path):
    _, url = served
    with new_page(browser, tmp_path / "exam-failure.png") as page:
        page.goto(url)
        page.wait_for_selector(".cc-card", timeout=90_000)
        # a mistake is a message next to the form, and the form still works after it
        page.click("#cc-start")
        page.wait_for_selector("#cc-setup-error .cc-error", timeout=30_000)
        assert "Enter your name" in page.inner_text("#cc-setup-error")
        page.fill("#cc-name textarea, #cc-name input", "Exam Taker")
        page.check("#cc-exam input")  # ticked on the set-up screen: once an error here
        page.wait_for_timeout(500)
        assert page.locator(".toast-body").count() == 0
        page.click(".cc-card[data-id='hostile-mark']")
        page.click("#cc-start")
        page.wait_for_selector("#cc-chat .message", timeout=90_000)
        assert page.locator("#cc-setup-error .cc-error").count() == 0
        page.fill("#cc-msg textarea", OPENING_LINES[0])
        page.press("#cc-msg textarea", "Enter")
        page.wait_for_function("() => document.querySelectorAll('#cc-chat .message-row').length >= 3", timeout=90_000)
        page.wait_for_timeout(500)
        # only the conversation until the call ends: no coaching, hints, mood meters, facts or checklist
        for crib in ("#cc-coaching .cc-flag", "#cc-hint-btn", "#cc-panel .cc-meter", "#cc-panel .cc-checklist"):
            assert not page.locator(crib).first.is_visible(), crib
        page.click("#cc-end")
        page.wait_for_selector("#cc-scorecard .cc-scorecard", timeout=120_000)
        assert page.locator("#cc-panel .cc-checklist").first.is_visible()  # after the call, the review
        assert page.locator(".toast-body").count() == 0


def test_trainer_test_call_opens_the_draft_on_the_practice_tab(browser, served, tmp_path):
    _, url = served
    with new_page(browser, tmp_path / "trainer-failure.png") as page:
        page.goto(url)
        page.wait_for_selector(".cc-card", timeout=90_000)
        page.click("#cc-tab-trainer-button")
        page.click("#cc-start-from input")
        page.keyboard.type("wrong-party-linda")
        page.keyboard.press("Enter")
        page.wait_for_selector("#cc-validation .cc-valid", timeout=90_000)
        page.click("#cc-test-call")
        page.wait_for_selector("#cc-chat .message-row", timeout=90_000)
        assert "Linda Brennan" in page.inner_text("#cc-on-line")
        assert page.locator("#cc-tab-practice-button[aria-selected='true']").count() == 1
