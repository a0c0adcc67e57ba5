"""The page in English and Chinese: the strings files kept in step, no words left in the code
or the templates, the page's language chosen, and a Chinese call coached, scored and shown in
Chinese (callcoach/ui/i18n.py, callcoach/ui/strings/, callcoach/prompts/coaching-zh.yaml)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from app_support import make_app, persona_dirs_with_chinese

import callcoach.serve as app_module
from callcoach.coaching import CoachingDataError, coaching_text, load_coaching_text, text_file
from callcoach.ui import i18n, views
from callcoach.ui.practice import start_call, stream_turn
from callcoach.ui.scorecard import outcome_text, worded_report, worded_scorecard
from core.transcript import Transcript
from rubrics.scorecard import OUTCOME_LABELS, render_report, render_scorecard

ROOT = Path(__file__).resolve().parent.parent
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def strings_copy(tmp_path, monkeypatch):
    """The strings files copied to a temp folder the app reads instead (caches cleared around)."""
    folder = tmp_path / "strings"
    shutil.copytree(i18n.STRINGS_DIR, folder)
    monkeypatch.setattr(i18n, "STRINGS_DIR", folder)
    i18n.strings_file.cache_clear()
    i18n.table.cache_clear()
    yield folder
    i18n.strings_file.cache_clear()
    i18n.table.cache_clear()


# --- the files kept in step ---------------------------------------------------------------------


def test_every_key_is_in_both_languages():
    assert i18n.strings_problems() == []
    en, zh = i18n.table("en"), i18n.table("zh")
    assert en.keys() == zh.keys()
    # a Chinese text is Chinese (the language picker's names and the few that are code aside)
    same = sorted(k for k in en if en[k] == zh[k])
    assert same == ["scorecard.of_100"], same


def test_a_key_added_to_one_language_only_fails(strings_copy):
    en = strings_copy / "en.yaml"
    en.write_text(en.read_text(encoding="utf-8").replace("    start: Start the call\n",
                                                          "    start: Start the call\n    restart: Start again\n"), encoding="utf-8")
    zh = strings_copy / "zh.yaml"
    text = zh.read_text(encoding="utf-8").replace("    say: 说\n", "").replace("第 {n} 轮", "第 {turn} 轮")
    zh.write_text(text.replace("    hint: 建议的下一句\n", "    hint: 建议的下一句\n    extra: 多出来的\n"), encoding="utf-8")
    assert i18n.strings_problems() == [
        f"{zh}: strings.practice.restart: missing (it is in en.yaml)",
        f"{zh}: strings.practice.say: missing (it is in en.yaml)",
        f"{zh}: strings.coaching.extra: not in en.yaml (add it there, or remove it)",
        f"{zh}: strings.scorecard.turn: placeholders ['turn'] differ from en.yaml's ['n']",
    ]
    # the page never breaks on a half-translated file: a missing key reads in English
    assert i18n.text("practice.say", "zh") == "Say it"


def test_a_strings_file_is_checked_like_every_data_file(strings_copy):
    zh = strings_copy / "zh.yaml"
    zh.write_text(zh.read_text(encoding="utf-8").replace("name: 中文\n", "name: 中文\nnmae: typo\n"), encoding="utf-8")
    with pytest.raises(i18n.StringsError, match=r"zh.yaml: nmae: unknown field"):
        i18n.strings_file("zh")


def test_coaching_words_are_in_both_languages(tmp_path):
    en, zh = coaching_text("en"), coaching_text("zh")
    for table in ("signals", "situations", "hints"):
        assert en[table].keys() == zh[table].keys(), table
        assert all(CJK.search(v) for v in zh[table].values()), table
    copy = tmp_path / "coaching-zh.yaml"
    text = text_file("zh").read_text(encoding="utf-8").replace("\n  close: ", "\n  closing: ")
    copy.write_text(text.replace("请问是{debtor}本人吗", "请问是{name}本人吗"), encoding="utf-8")
    with pytest.raises(CoachingDataError) as err:
        load_coaching_text(copy)
    assert err.value.problems == [
        f"{copy}: hints.close: missing (it is in coaching.yaml)",
        f"{copy}: hints.closing: not in coaching.yaml (add it there, or remove it)",
        f"{copy}: hints.introduce: placeholders ['agent', 'creditor', 'name'] differ from coaching.yaml's ['agent', 'creditor', 'debtor']",
    ]


def test_each_chinese_hint_is_read_as_the_step_it_is_for(an_zh):
    """Said as the trainee would, each Chinese hint is read by the Chinese analysis as its step,
    and the person-first ones never as money or pressure."""
    fill = {"agent": "王明", "debtor": "李娜", "first_name": "李娜", "creditor": "星河银行", "amount": "500元",
            "plan": "每月还500元，从12月1号开始"}
    expect = {"introduce": "self_identification", "verify": "identity_check", "verify_detail": "identifier_request",
              "safety_check": "safety_check", "crisis_line": "support_referral", "pause_and_follow_up": "follow_up",
              "mini_miranda": "mini_miranda", "dispute": "rights_statement", "calm_anger": "empathy",
              "propose_plan": "payment_offer", "recap": "recap", "close": "close"}
    hints = coaching_text("zh")["hints"]
    for key, signal in expect.items():
        a = an_zh.analyze_turn(hints[key].format(**fill), speaker="agent")
        assert signal in a.signals, (key, sorted(a.signals))
    for key in ("safety_check", "crisis_line", "pause_and_follow_up", "close_with_care", "close", "calm_anger"):
        a = an_zh.analyze_turn(hints[key].format(**fill), speaker="agent")
        assert a.signals.isdisjoint({"payment_offer", "pressure"}), (key, sorted(a.signals))


# --- no words left in the code ------------------------------------------------------------------


def test_templates_hold_no_words_of_their_own():
    """Every word of a template comes from the strings files (or from the data it shows)."""
    for path in sorted((ROOT / "callcoach/ui/templates").glob("*.j2")):
        src = path.read_text(encoding="utf-8")
        bare = re.sub(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}|<style>.*?</style>", " ", src, flags=re.S)
        bare = re.sub(r"<[^>]*>|&#?\w+;", " ", bare)  # tags with their attributes, entities
        words = set(re.findall(r"[A-Za-z]{2,}", bare)) - {"cc", "callcoach"}  # the logo and the brand
        assert not words, (path.name, sorted(words))


def test_the_web_app_code_passes_no_words_to_the_page():
    """No label, placeholder, button text or message written in one language in the web app's code."""
    words_in_code = re.compile(
        r"gr\.\w+\(\s*f?[\"'][A-Za-z]|\b(?:label|placeholder|title|auth_message|desc|unit|info)=\s*f?[\"'][A-Za-z]"
        r"|(?:SetupError|SaveError|error_html|notice_html)\(\s*f?[\"'][A-Za-z]"
    )
    code = [p for p in sorted((ROOT / "callcoach/ui").glob("*.py")) if p.name != "style.py"]  # style.py: CSS
    for path in [*code, ROOT / "callcoach/serve.py", ROOT / "app.py"]:
        hits = words_in_code.findall(path.read_text(encoding="utf-8"))
        assert not hits, (path.name, hits)


# --- the page's language --------------------------------------------------------------------------


@pytest.mark.parametrize("tag, lang", [("zh", "zh"), ("zh-CN", "zh"), ("zh_TW", "zh"), ("zh-Hant-HK", "zh"), ("ZH", "zh"),
                                       ("en-GB", "en"), ("fr-FR", None), ("", None), (None, None), ("zh; DROP", None)])
def test_a_language_tag_names_an_app_language(tag, lang):
    assert i18n.language_of(tag) == lang


def test_the_browsers_languages_in_order_of_preference():
    assert i18n.from_accept_language("fr-FR,fr;q=0.9,zh-CN;q=0.8,en;q=0.5") == "zh"
    assert i18n.from_accept_language("en;q=0.3, zh-TW;q=0.9") == "zh"
    assert i18n.from_accept_language("de-DE,de;q=0.9") is None and i18n.from_accept_language(None) is None
    # the address, the page's picker, the app's --lang, the browser: the first that names one
    assert i18n.choose_language("zh", "en", "en", "en-US") == "zh"
    assert i18n.choose_language(None, "zh", "en", "en-US") == "zh"
    assert i18n.choose_language("xx", None, None, "zh-CN") == "zh"
    assert i18n.choose_language(None, None, None, "fr") == "en"


def test_the_lang_option_and_its_environment_variable(monkeypatch):
    monkeypatch.delenv("CALLCOACH_LANG", raising=False)
    assert app_module.parse_args([]).lang is None
    assert app_module.parse_args(["--lang", "zh"]).lang == "zh"
    monkeypatch.setenv("CALLCOACH_LANG", "zh-CN")
    assert app_module.parse_args([]).lang == "zh"
    monkeypatch.setenv("CALLCOACH_LANG", "klingon")
    with pytest.raises(SystemExit):
        app_module.parse_args([])


def _by_id(updates: dict, elem_id: str) -> dict:
    [(_, update)] = [(c, u) for c, u in updates.items() if getattr(c, "elem_id", None) == elem_id]
    return update


def test_the_chinese_page_has_chinese_words_and_chinese_personas(tmp_path):
    demo = make_app(tmp_path / "data", personas_dirs=persona_dirs_with_chinese(tmp_path / "personas"))
    labels = demo.callcoach_labels
    # gr.I18n has every worded key in both languages: the browser's language shows at once
    translations = demo.callcoach_launch["i18n"].translations_dict
    assert translations["zh"]["practice.start"] == "开始通话" and translations["en"]["practice.start"] == "Start the call"
    assert set(translations["zh"]) == labels.keys() == set(translations["en"])
    zh = labels.updates("zh")
    assert _by_id(zh, "cc-start")["value"] == "开始通话"
    assert _by_id(zh, "cc-name")["label"] == "您的姓名" and _by_id(zh, "cc-msg")["placeholder"] == i18n.text("practice.say_hint", "zh")
    assert _by_id(zh, "cc-tab-practice")["label"] == "练习"
    assert _by_id(zh, "cc-history-table")["value"]["headers"][0] == "时间"
    # the picker: the Chinese personas only, their cards in Chinese
    cards = _by_id(zh, "cc-picker")["cards"]
    assert [c["id"] for c in cards] == ["zh-test-lina"] and cards[0]["difficulty_label"] == "简单"
    assert cards[0]["debt"] == "¥1,842.37 · 逾期 47 天"
    assert [c["id"] for c in _by_id(labels.updates("en"), "cc-picker")["cards"]] == ["cooperative-maria"]
    # every worded component has Chinese words on a Chinese page
    for update in zh.values():
        for prop in ("label", "placeholder"):
            if isinstance(update, dict) and isinstance(update.get(prop), str):
                assert CJK.search(update[prop]) or update[prop] == "YAML", update


def test_an_app_in_chinese_shows_chinese_to_every_browser(tmp_path):
    from app_support import shared_analyzer

    from simulator.backends.scripted import ScriptedBackend

    demo = app_module.build_app(backend=ScriptedBackend([]), analyzer=shared_analyzer(), data_dir=tmp_path / "d", lang="zh")
    translations = demo.callcoach_launch["i18n"].translations_dict
    assert translations["en"]["practice.start"] == "开始通话"  # an English browser too, from the first paint
    assert demo.title == "callcoach：催收通话练习" and demo.callcoach.lang == "zh"


# --- a Chinese call --------------------------------------------------------------------------------


def test_a_chinese_call_is_coached_scored_and_shown_in_chinese(tmp_path):
    replies = ["喂，我是李娜，你是哪位？", "我是1974年4月9日出生的。", "最近手头确实很紧。", "可以，每月五百可以。"]
    demo = make_app(tmp_path / "data", replies=replies, personas_dirs=persona_dirs_with_chinese(tmp_path / "personas"))
    res = demo.callcoach
    call = start_call(res, "王明", "zh-test-lina", lang="zh")
    lines = ["您好，我是专员王明，受星河银行委托来电。请问是李娜本人吗？", "谢谢您。麻烦您核实一下您的身份：请说一下您的出生日期。",
             "我理解您最近不容易，能跟我说说发生了什么吗？"]
    for line in lines:
        list(stream_turn(call, line))
    # coached in the call's language: the Chinese words of coaching.yaml's notes
    notes = coaching_text("zh")["signals"]
    first = {f.code: f.message for f in call.flags[0][1]}
    assert first["self_identification"] == notes["self_identification"]
    assert all(CJK.search(f.message) for _, flags in call.flags for f in flags)
    assert CJK.search(call.suggest().text)
    panel = call.panel_html()
    assert "通话清单" in panel and "说明了您的身份" in panel and "信任" in panel and "¥1,842.37" in panel
    assert "您的上一句（第 3 句）" in call.coaching_html()
    score = call.finish()
    assert score["rubric"] == "default-zh", score  # the persona's language's rubric, not the app's
    card = call.scorecard_html()
    assert "评分标准：" in card and "结果：" in card and ("通过" in card or "未通过" in card)
    assert not re.search(r"\b(?:Outcome|Rubric|Passed|Violations|Strengths|Suggestions|Turn \d)\b", card), card
    report = call.report_path.read_text(encoding="utf-8")
    assert '<html lang="zh">' in report and "通话记录" in report and "催收员" in report
    # the same call on an English page: English words around the rubric's Chinese ones
    assert "Outcome" in call.scorecard_html("en") and "Call checklist" in call.panel_html("en")


def test_errors_are_said_in_the_pages_language(tmp_path):
    demo = make_app(tmp_path / "data", personas_dirs=persona_dirs_with_chinese(tmp_path / "personas"))
    from callcoach.ui.calls import SetupError

    with pytest.raises(SetupError, match="请先输入您的姓名"):
        start_call(demo.callcoach, " ", "zh-test-lina", lang="zh")
    with pytest.raises(SetupError, match="请选择要拨打的债务人"):
        start_call(demo.callcoach, "王明", "", lang="zh")
    call = start_call(demo.callcoach, "王明", "zh-test-lina", lang="zh")
    with pytest.raises(SetupError, match="个字符"):
        list(stream_turn(call, "喂" * (views.MAX_LINE_CHARS + 1)))


# --- the scorecard's words, in step with rubrics/scorecard.py ----------------------------------------


def test_the_worded_scorecard_in_english_is_the_rubrics_own(tmp_path):
    """The Chinese scorecard is rubrics' template worded from the strings files: rendered in
    English it must be rubrics' own, byte for byte, or one of the two changed without the other."""
    demo = make_app(tmp_path / "data")
    t = Transcript.model_validate({"id": "c1", "persona": "hostile-mark", "metadata": {"outcome": "promise_to_pay"}, "turns": [
        {"speaker": "agent", "text": "Hello, you owe $500. Pay today or you'll be arrested."},
        {"speaker": "debtor", "text": "What? I lost my job."},
        {"speaker": "agent", "text": "I understand this must be a stressful time. Would $50 a month starting Friday work?"},
        {"speaker": "debtor", "text": "Okay."},
    ]})
    score = demo.callcoach.scorer().score(t)
    promise = {"plan": "$50 a month from Friday"}
    assert worded_scorecard(score, outcome="promise_to_pay", promise=promise) == render_scorecard(
        score, outcome="promise_to_pay", promise=promise)
    assert worded_scorecard({"error": "broken"}) == render_scorecard({"error": "broken"})
    assert worded_report(score, t) == render_report(score, t)
    assert {k: outcome_text(k) for k in OUTCOME_LABELS} == OUTCOME_LABELS
    assert outcome_text("promise_to_pay", promise, "zh") == "承诺还款：$50 a month from Friday"
