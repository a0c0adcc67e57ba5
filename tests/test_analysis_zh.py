"""Chinese turn analysis on labelled collector lines: precision and recall floors per signal and
per exemplar indicator (tests/data/labelled_signals_zh.yaml, and a held-out set written after the
patterns were fixed), Traditional input read as Simplified, Chinese money amounts and dates, and
the rubric's exemplar indicators graded in Chinese by character n-gram similarity.

`make zh-analysis` prints the table these floors were set from."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import pytest
import yaml

from core.analysis.amounts import find_amounts, find_date
from core.analysis.script import to_simplified
from core.transcript import Transcript
from evals.zh_analysis import OPEN_QUESTION, load_labelled, measure

DATA = Path(__file__).parent / "data"
MAIN = DATA / "labelled_signals_zh.yaml"
HELDOUT = DATA / "labelled_signals_zh_heldout.yaml"

# Measured (python -m evals.zh_analysis): every signal row 1.00/1.00 on the main set, which the
# patterns were fixed against; on the held-out set, first read: 0.75-1.00. The exemplar
# indicators (n-gram similarity): main P 1.00, R 0.88 (checks) / 0.75 (thanks); held-out P 1.00,
# R 0.50 / 0.83. Floors sit a little under each, never at 0.
SIGNAL_FLOOR = {MAIN: 0.85, HELDOUT: 0.75}
INDICATOR_FLOOR = {
    MAIN: {"checks_understanding": (0.85, 0.8), "thanks_and_respect": (0.85, 0.7)},
    HELDOUT: {"checks_understanding": (0.8, 0.45), "thanks_and_respect": (0.8, 0.65)},
}


def _lines(data: dict) -> list[str]:
    return [t for sec in ("signals", "indicators") for b in data.get(sec, {}).values()
            for label in ("positive", "negative") for t in b[label]]


@pytest.fixture(scope="module")
def zh():
    from core.analysis import Analyzer

    return Analyzer(embedder=None, language="zh")  # the zh analysis is pattern-only: no model


@pytest.fixture(scope="module")
def scorer(zh):
    from rubrics.scorer import Scorer

    return Scorer("default-zh", zh)


def test_the_set_is_large_mixed_script_and_labelled_with_real_names(zh):
    data = load_labelled(MAIN)
    lines = _lines(data)
    assert len(lines) >= 300
    traditional = [t for t in lines if to_simplified(t) != t]
    assert 0.15 <= len(traditional) / len(lines) <= 0.35
    for path in (MAIN, HELDOUT):
        for name, spec in load_labelled(path)["signals"].items():
            assert name == OPEN_QUESTION or name in zh.catalogue.signals, name
            if name != OPEN_QUESTION:
                assert spec["speaker"] == zh.catalogue.signals[name].speaker, name
            assert len(spec["positive"]) >= 3 and len(spec["negative"]) >= 3, name


def test_no_labelled_line_is_an_exemplar_or_background_line(scorer):
    from core.analysis.ngram import DATA as NGRAM

    known = set(yaml.safe_load(NGRAM["zh"].read_text(encoding="utf-8"))["background"])
    known |= {e for c in scorer.rubric.criteria for ind in c.indicators for e in getattr(ind, "exemplars", [])}
    labelled = set(_lines(load_labelled(MAIN))) | set(_lines(load_labelled(HELDOUT)))
    assert not {to_simplified(t) for t in labelled} & {to_simplified(t) for t in known}


@pytest.mark.parametrize("path", [MAIN, HELDOUT], ids=["main", "heldout"])
def test_precision_and_recall_floors(zh, scorer, path):
    rows = measure(path, analyzer=zh, scorer=scorer)
    low = []
    for r in rows.values():
        p_floor, r_floor = (INDICATOR_FLOOR[path][r.name] if r.kind == "indicator"
                            else (SIGNAL_FLOOR[path],) * 2)
        if r.precision < p_floor or r.recall < r_floor:
            low.append(f"{r.name}: precision {r.precision:.2f} recall {r.recall:.2f}")
    misses = [m for r in rows.values() for m in r.misses]
    assert not low, "\n".join(["below the floor:", *low, "", *misses])


def test_traditional_lines_read_as_their_simplified_form_and_quote_as_said(zh):
    for text in [t for t in _lines(load_labelled(MAIN)) if to_simplified(t) != t]:
        said, simple = zh.analyze_turn(text), zh.analyze_turn(to_simplified(text))
        assert said.signals == simple.signals and said.question == simple.question, text
        assert said.text == text and all(h.quote in text for h in said.hits), text


def test_opencc_reads_taiwan_variants_and_both_account_characters():
    assert to_simplified("不還錢就等著吧，您的帳單") == "不还钱就等着吧，您的账单"
    assert to_simplified("plain English stays") == "plain English stays"


def test_the_scorer_reads_traditional_calls_as_simplified(zh):
    from rubrics.scorer import score_transcript

    call = Transcript(id="t", language="zh-TW", turns=[
        {"speaker": "agent", "text": "您好，我是華信公司的小王，請問是陳先生本人嗎？"},
        {"speaker": "debtor", "text": "對，是我。"},
        {"speaker": "agent", "text": "你這個老賴，我會通知你單位領導。"},
    ])
    score = score_transcript(call, analyzer=zh)
    rules = {v.rule: v.quote for v in score.violations}
    assert "cn-insult" in rules and "cn-pipl-contacts" in rules
    assert "老賴" in rules["cn-insult"]  # quoted as said, in Traditional characters


@pytest.mark.parametrize("text, amounts", [
    ("本月先还最低还款额一千二百元，可以吗？", [1200]), ("那就这周六先还六百。", [600]),
    ("您一共欠一万二。", [12000]), ("您还欠三千二百块钱。", [3200]), ("先还1万元。", [10000]),
    ("我们可以分十二期。", []), ("一年三百六十五天都在催。", []), ("I can pay $50 a month", [50]),
])
def test_chinese_money_amounts(text, amounts):
    assert [a.value for a in find_amounts(text)] == amounts


@pytest.mark.parametrize("text, days", [("这周五前还", 2), ("下周一还", 5), ("每月十五号还", 9), ("周日", 4)])
def test_chinese_dates(text, days):
    assert find_date(text, date(2026, 5, 6))[1] == days  # a Wednesday


def test_default_zh_grades_its_semantic_indicators(scorer):
    from rubrics.indicators import NgramExemplarMatcher
    from rubrics.scorer import Scorer

    assert isinstance(scorer.matcher, NgramExemplarMatcher)
    call = Transcript(id="s", language="zh", turns=[
        {"speaker": "agent", "text": "您好，我是华信公司的小王，请问是陈先生本人吗？"},
        {"speaker": "debtor", "text": "是我。我上个月失业了，这笔钱我觉得金额不对。"},
        {"speaker": "agent", "text": "谢谢您告诉我这些。您的意思是金额有问题，对吗？您有权要求我们提供还款明细。"},
        {"speaker": "agent", "text": "我们可以分六期，每月还五百元。这样说您明白吗？"},
    ])
    scored = scorer.score(call)
    evidence = {e.indicator for c in scored.criteria.values() for e in c.evidence if e.effect == "+"}
    assert {"thanks_and_respect", "checks_understanding", "active_listening", "states_rights"} <= evidence
    assert type(Scorer("default-en", scorer.analyzer).matcher).__name__ != "NgramExemplarMatcher"


def test_a_chinese_turn_is_analysed_well_within_the_live_budget(zh, scorer):
    lines = _lines(load_labelled(MAIN))
    zh.analyze_turn("预热")
    start = time.perf_counter()
    for text in lines:
        zh.analyze_turn(text)
        scorer.matcher.best(text, ["谢谢您告诉我这些。", "这样说您明白吗？"])
    per_turn_ms = (time.perf_counter() - start) * 1000 / len(lines)
    assert per_turn_ms < 30, per_turn_ms


def test_the_first_payment_date_not_the_monthly_due_day():
    """"每月10号还款，首期从下个月10号开始": the plan starts on the 10th of next month."""
    from datetime import date

    from core.analysis.amounts import find_date

    today = date(2026, 12, 7)
    assert find_date("申请个性化分期，每月1200元，每月10号还款，首期从下个月10号开始", today) == ("下个月10号", 34)
    assert find_date("每月10号还", today) == ("10号", 3)  # no other date: the due day is the start
    assert find_date("12月15号还", today) == ("12月15号", 8)
