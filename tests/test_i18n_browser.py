"""The page in Chinese in a real headless browser (Debian's chromium, tests/browser_support.py).

A browser whose language is Chinese gets the page in Chinese (gr.I18n, then the server's own
HTML in the same language), with the Chinese personas only, and a short call in Chinese ends on
a Chinese scorecard. An English browser gets it with ``?lang=zh``, and the header's picker
switches it back to English without a reload.
"""

from __future__ import annotations

import re
from contextlib import contextmanager

import pytest
from app_support import make_app, persona_dirs_with_chinese, serving

pytestmark = pytest.mark.browser

DEBTOR_LINES = ["喂，我是李娜，你是哪位？", "我是1974年4月9日出生的。", "最近手头确实很紧。"]
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def served(tmp_path):
    demo = make_app(tmp_path / "data", replies=DEBTOR_LINES, delay_s=0.02,
                    personas_dirs=persona_dirs_with_chinese(tmp_path / "personas"))
    with serving(demo) as url:
        yield demo, url + "/"


@contextmanager
def page_in(browser, locale: str, shot):
    """A desktop-sized page of a browser set to ``locale``; a screenshot at ``shot`` if the block fails."""
    context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        yield page
    except Exception:
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot of the page at failure: {shot}")
        raise
    finally:
        context.close()


def _cards(page) -> list[str]:
    return [c.get_attribute("data-id") for c in page.locator(".cc-card").all()]


def test_a_chinese_browser_gets_the_page_and_a_call_in_chinese(browser, served, tmp_path):
    demo, url = served
    with page_in(browser, "zh-CN", tmp_path / "zh-failure.png") as page:
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url)
        page.wait_for_selector(".cc-card[data-id='zh-test-lina']", timeout=90_000)
        assert _cards(page) == ["zh-test-lina"]  # the Chinese personas only
        assert page.inner_text("#cc-start").strip() == "开始通话"
        assert page.inner_text("#cc-tab-practice-button").strip() == "练习"
        assert "您的姓名" in page.inner_text("#cc-name") and "简单" in page.inner_text(".cc-card")
        assert "与模拟债务人练习催收电话" in page.inner_text("#cc-header")

        page.fill("#cc-name textarea, #cc-name input", "王明")
        page.click(".cc-card[data-id='zh-test-lina']")
        # the server's answer, in the page's language
        page.wait_for_function("() => document.querySelector('#cc-picked').innerText.includes('已选择')", timeout=30_000)
        page.click("#cc-start")
        page.wait_for_selector("#cc-chat .message", timeout=90_000)
        assert "通话中" in page.inner_text("#cc-on-line")
        page.fill("#cc-msg textarea", "您好，我是专员王明，受星河银行委托来电。请问是李娜本人吗？")
        page.press("#cc-msg textarea", "Enter")
        page.wait_for_selector("#cc-panel .cc-panel[data-turns='3']", timeout=90_000)
        page.wait_for_selector("#cc-coaching .cc-flag", timeout=30_000)
        assert "您的上一句" in page.inner_text("#cc-coaching") and "很好" in page.inner_text("#cc-coaching")
        assert "通话清单" in page.inner_text("#cc-panel")
        page.click("#cc-end")
        page.wait_for_selector("#cc-scorecard .cc-scorecard", timeout=120_000)
        card = page.inner_text("#cc-scorecard")
        assert "结果：" in card and "评分标准：" in card and ("通过" in card or "未通过" in card), card
        assert "Outcome" not in card
        assert page.inner_text("#cc-new").strip() == "再练一通"
        [rec] = demo.callcoach.history.list_calls("王明")
        assert demo.callcoach.history.score(rec.id)["rubric"] == "default-zh"
        assert not errors, errors


def test_an_english_browser_switches_to_chinese_and_back(browser, served, tmp_path):
    _, url = served
    with page_in(browser, "en-US", tmp_path / "switch-failure.png") as page:
        page.goto(url + "?lang=zh")
        page.wait_for_selector(".cc-card[data-id='zh-test-lina']", timeout=90_000)
        page.wait_for_function("() => document.querySelector('#cc-start').innerText.trim() === '开始通话'", timeout=30_000)
        assert page.inner_text("#cc-tab-trainer-button").strip() == "培训师"
        # the header's picker: English at once, without a reload, and the English personas
        page.click("#cc-lang label:has-text('English')")
        page.wait_for_selector(".cc-card[data-id='cooperative-maria']", timeout=30_000)
        page.wait_for_function("() => document.querySelector('#cc-start').innerText.trim() === 'Start the call'",
                               timeout=30_000)
        assert _cards(page) == ["cooperative-maria"]
        assert not CJK.search(page.inner_text("#cc-setup"))
