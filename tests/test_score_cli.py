"""`callcoach score`: mixed-format folders with broken files, ordering, outputs, resume after a kill.

Most tests swap in the stand-in analyzer of tests/batch_support.py (the ``blank`` fixture) so
they exercise the batch machinery quickly; one test runs the real analysis.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from batch_support import BlankAnalyzer, records, run_score, score_with

import rubrics.batch as batch

SAMPLES = Path(__file__).parent / "data" / "transcripts"
EXPECTED_ORDER = ["good-001", "threat-002", f"{SAMPLES / 'a-calls.jsonl'}:3", "third-003", "json-004",
                  "json-005", "csv-006", "csv-007", "txt-008", f"{SAMPLES / 'e-broken.csv'}:1", "f-notes"]


def test_mixed_folder_one_line_per_transcript_in_order(blank, tmp_path):
    out, summary, html = tmp_path / "s.jsonl", tmp_path / "s.csv", tmp_path / "r.html"
    result = run_score(SAMPLES, "--out", out, "--csv", summary, "--html", html, "--quiet")
    assert result.exit_code == 1, result.output  # some transcripts could not be read
    recs = records(out)
    assert [r["id"] for r in recs] == EXPECTED_ORDER
    errors = {r["id"]: r["error"] for r in recs if "error" in r}
    assert errors[EXPECTED_ORDER[2]] == f"{SAMPLES / 'a-calls.jsonl'}:3: invalid JSON: Expecting value (column 1)"
    assert errors["json-005"].startswith(f"{SAMPLES / 'b-more.json'}:9: turns[0].speaker")
    assert errors[EXPECTED_ORDER[9]].startswith(f"{SAMPLES / 'e-broken.csv'}:1: header")
    assert errors["f-notes"].startswith(f"{SAMPLES / 'f-notes.txt'}:1:")
    for r in recs:
        if "error" not in r:
            # not_checked (rules the call's facts could not settle) and not_applicable (criteria the
            # conversation gives nothing to grade) appear only when they list some
            optional = {"not_checked", "not_applicable"}
            assert set(r) - optional == {"id", "rubric", "overall", "passed", "criteria", "violations", "feedback"}
            assert r.get("not_checked") != [] and r.get("not_applicable") != []
            assert not set(r.get("not_applicable", [])) & set(r["criteria"])
            for n in r.get("not_checked", []):
                assert set(n) == {"rule", "title", "needs"} and n["needs"], n
    rows = list(csv.DictReader(io.StringIO(summary.read_text())))
    assert [r["id"] for r in rows] == EXPECTED_ORDER
    assert rows[0]["overall"] and rows[2]["error"]
    assert "7 scored" in result.output and "4 failed" in result.output


def test_stdout_when_no_out_and_exit_zero_when_all_read(blank, tmp_path):
    good = tmp_path / "in"
    good.mkdir()
    shutil.copy(SAMPLES / "d-plain.txt", good)
    shutil.copy(SAMPLES / "c-rows.csv", good)
    result = run_score(good, "--quiet")
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in result.stdout.splitlines() if x.startswith("{")]
    assert [x["id"] for x in lines] == ["csv-006", "csv-007", "txt-008"]


def test_html_report_is_self_contained(blank, tmp_path):
    html = tmp_path / "r.html"
    run_score(SAMPLES, "--out", tmp_path / "s.jsonl", "--html", html, "--quiet")
    text = html.read_text()
    assert text.startswith("<!doctype html>") and "<svg" in text and "<style>" in text
    assert "http://" not in text and "https://" not in text and "<script" not in text
    for call_id in ("good-001", "csv-007"):
        assert f'id="call-{call_id}"' in text
    assert "Pass rate" in text and "Unreadable transcripts" in text


def test_bad_rubric_and_missing_input(blank, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\n")
    r = run_score(SAMPLES, "--rubric", bad)
    assert r.exit_code == 2 and f"{bad}: " in r.output and "Traceback" not in r.output
    r = run_score(tmp_path / "nope")
    assert r.exit_code == 2 and "no such file" in r.output


def test_resume_after_an_interrupted_run_gives_the_same_output(tmp_path, monkeypatch):
    full, part = tmp_path / "full.jsonl", tmp_path / "part.jsonl"
    score_with(monkeypatch)
    batch.score_inputs([SAMPLES], out=full, chunk=2)

    class Killed(BaseException):
        pass

    class DiesAfterTwoChunks(BlankAnalyzer):
        calls = 0

        def analyze_many(self, transcripts):
            DiesAfterTwoChunks.calls += 1
            if DiesAfterTwoChunks.calls > 2:
                raise Killed
            return super().analyze_many(transcripts)

    score_with(monkeypatch, DiesAfterTwoChunks)
    with pytest.raises(Killed):
        batch.score_inputs([SAMPLES], out=part, chunk=2)
    partial = records(part)
    assert 0 < sum("error" not in r for r in partial) < 7  # a checkpoint, not the whole run

    scored_again = []

    class Counting(BlankAnalyzer):
        def analyze_many(self, transcripts):
            scored_again.extend(t.id for t in transcripts)
            return super().analyze_many(transcripts)

    score_with(monkeypatch, Counting)
    result = batch.score_inputs([SAMPLES], out=part, resume=True, chunk=2)
    assert part.read_bytes() == full.read_bytes()
    assert result.resumed == 4 and not set(scored_again) & {r["id"] for r in partial if "error" not in r}


def test_resume_after_sigkill(tmp_path):
    """A real kill -9 mid-run: resuming gives the uninterrupted run's file, nothing lost or doubled."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    for k in range(3):
        (inputs / f"calls{k}.jsonl").write_text((SAMPLES / "a-calls.jsonl").read_text().replace('"id": "', f'"id": "k{k}-'))
        (inputs / f"more{k}.json").write_text((SAMPLES / "b-more.json").read_text().replace('"json-00', f'"json{k}-00'))
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        import rubrics.batch as batch
        from rubrics.scorer import Scorer
        from batch_support import BlankAnalyzer
        delay = float(sys.argv[2])
        batch._make_scorer = lambda rubric: Scorer(rubric, BlankAnalyzer(delay))
        batch.score_inputs([{str(inputs)!r}], out=__import__('pathlib').Path(sys.argv[1]), chunk=2, resume=True)
    """)
    env = {**os.environ, "PYTHONPATH": str(Path.cwd())}
    full, part = tmp_path / "full.jsonl", tmp_path / "part.jsonl"
    subprocess.run([sys.executable, "-c", script, str(full), "0"], check=True, env=env, timeout=120)
    proc = subprocess.Popen([sys.executable, "-c", script, str(part), "0.5"], env=env)
    deadline = time.time() + 60
    while time.time() < deadline and not (part.exists() and sum(1 for _ in part.open()) >= 8):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = records(part)
    assert len(killed_at) < len(records(full))
    subprocess.run([sys.executable, "-c", script, str(part), "0"], check=True, env=env, timeout=120)
    assert part.read_bytes() == full.read_bytes()
    ids = [r["id"] for r in records(part) if "error" not in r]
    assert len(ids) == len(set(ids))


def test_workers_give_the_same_output(tmp_path):
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    inputs = [SAMPLES / "a-calls.jsonl", SAMPLES / "c-rows.csv", SAMPLES / "d-plain.txt"]
    r1 = run_score(*inputs, "--out", one, "--quiet")
    r2 = run_score(*inputs, "--out", two, "--workers", "2", "--quiet")
    assert r1.exit_code == r2.exit_code == 1
    assert one.read_text() == two.read_text()
    recs = {r["id"]: r for r in records(one)}
    assert recs["good-001"]["passed"] and not recs["threat-002"]["passed"]
