"""The validity report (evals/validity.py) on a tiny slice written for the tests.

tests/data/validity/ holds rows in each dev-label set's own format (written for these tests, not
copied from the sets), so the readers, the scoring with the real analysis and scorer, the
figures and the page writing all run as ``make validity`` runs them.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from evals import validity
from evals import validity_sets as vs

FIXTURES = Path(__file__).parent / "data" / "validity"
ALL = {"strategies": None, "dialogues": None, "readability": None, "offensive": None}


def test_figures_on_known_values():
    assert vs.modal_share([1.0, 1.0, 2.0, 3.0]) == 0.5
    assert vs.modal_share([1.04, 1.0, 2.0]) == pytest.approx(2 / 3)  # compared as shown, one decimal
    assert vs.auroc([True, False, True, False], [0.9, 0.1, 0.8, 0.2]) == 1.0
    f = vs.binary_figures([True, True, False, False], [True, False, True, False])
    assert (f["precision"], f["recall"], f["fpr"]) == (0.5, 0.5, 0.5)
    rows = [vs.ReadabilityRow(str(i), "", t, 0.1, "") for i, t in enumerate([0.0, 1.0, 2.0])]
    assert vs.pair_accuracy(rows, [0.0, 1.0, 2.0]) == (1.0, 3)
    assert vs.pair_accuracy(rows, [2.0, 1.0, 0.0]) == (0.0, 3)
    assert vs.pair_accuracy(rows, [1.0, 1.0, 1.0]) == (0.5, 3)  # ties count half


def test_readers_subsample_deterministically_and_skip_unrated():
    a = vs.read_strategies(FIXTURES / "esconv_strategies.jsonl", limit=5)
    b = vs.read_strategies(FIXTURES / "esconv_strategies.jsonl", limit=5)
    assert a == b and len(a) == 5
    dialogues = vs.read_rated_dialogues(FIXTURES / "esconv_failed_dialogues.json")
    assert len(dialogues) == 3  # the one without a rating is left out
    assert dialogues[0].turns[0][0] == "debtor" and dialogues[0].turns[1][0] == "agent"
    assert vs.clean_tweet("RT @someone: you &amp; me http://t.co/x") == "you & me"


def test_a_bad_label_file_is_one_clear_line(tmp_path):
    bad = tmp_path / "esconv_strategies.jsonl"
    bad.write_text('{"seeker": "hi"}\n', encoding="utf-8")
    with pytest.raises(vs.LabelSetError, match=r"esconv_strategies.jsonl:1: needs seeker, supporter and strategy"):
        vs.read_strategies(bad)
    with pytest.raises(vs.LabelSetError, match="no such file"):
        vs.read_offensive(tmp_path / "missing.csv")


def test_validity_runs_on_the_fixture_slice_and_writes_the_page(tmp_path):
    rows = validity.run(FIXTURES, dict(ALL), log=lambda *_: None)
    assert [r.set for r in rows] == ["ESConv replies"] * 3 + ["ESConv rated dialogues"] + ["CommonLit excerpts"] * 2 + [
        "Davidson tweets"]
    assert [r.items for r in rows] == [12, 12, 12, 3, 8, 8, 12]
    for r in rows:
        assert not math.isnan(r.scorer) and -1.0 <= r.scorer <= 1.0, r
        assert not math.isnan(r.baseline) and -1.0 <= r.baseline <= 1.0, r
    questions = rows[1]
    assert questions.scorer >= 0.75  # the fixture's questions are plain open questions
    doc = tmp_path / "VALIDITY.md"
    validity.write_section(doc, "before", "kept\n")
    validity.write_section(doc, "now", validity.table(rows))
    text = doc.read_text(encoding="utf-8")
    assert "<!-- validity:before -->\nkept\n<!-- /validity:before -->" in text
    assert text.count("| ESConv replies |") == 3 and "| Davidson tweets | 12 |" in text


def test_a_page_without_its_markers_is_refused(tmp_path):
    doc = tmp_path / "VALIDITY.md"
    doc.write_text("# someone's own page\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="markers"):
        validity.write_section(doc, "now", "x\n")
