"""A batch never loses a transcript: lines in = lines out, in order, an error line for each
unreadable transcript, exit 1 if any (issue 16).

Hostile inputs (lone surrogates, deep nesting, 5,000-digit numbers, U+2028 and friends, JSON
syntax errors, CSV fields over 128 KiB, unclosed CSV quotes, Latin-1 and UTF-16 files,
transcripts over the limits) are generated, scored with the stand-in analyzer and counted;
then resume, the limits on the command line, and workers whose parent is killed.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
from batch_support import BlankAnalyzer, records, run_score, score_with
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import rubrics.batch as batch
from callcoach.cli import app
from core.readers import TranscriptLimits
from rubrics.scorer import Scorer

HELPER = Path(__file__).parent / "data" / "reliability_score.py"
REPO = Path(__file__).resolve().parents[1]

# Small turn counts keep examples quick; the turn size sits just over csv's 128 KiB field limit.
LIMITS = TranscriptLimits(max_turns=6, max_turn_chars=131_200)
BIG = 131_100  # characters: over csv's default field limit (131,072), under LIMITS

GOOD = ("ok", "linesep", "big")
JSON_KINDS = (*GOOD, "surrogate", "deep", "bigint", "syntax", "many_turns", "long_turn")
CSV_KINDS = (*GOOD, "bad_quote", "many_turns", "long_turn")
# What the error line says for each hostile kind: an expected, reported outcome. A reader that
# raised would say "unreadable (TypeError: …)" and a scorer crash "scoring failed: …" instead.
REASON = {
    "surrogate": "lone surrogate \\ud83d (not valid Unicode text)",
    "deep": "invalid JSON: nested too deeply to read",
    "bigint": f"invalid JSON: a number of more than {sys.get_int_max_str_digits():,} digits",
    "syntax": "invalid JSON: Expecting ':' delimiter",
    "many_turns": f"over the limit of {LIMITS.max_turns} a call (--max-turns)",
    "long_turn": f"over the limit of {LIMITS.max_turn_chars:,} a turn (--max-turn-chars)",
    "bad_quote": "invalid CSV: a quote opened on this line",
}
WORDS = ["Hello", "yes, fine", "Café", "Señor", "naïve", "£20", "today", "pay", "ok"]
WIDE_WORDS = [*WORDS, "您好", "请问", "Grüße"]  # not in Latin-1


def _score(inputs, out: Path, **kw) -> batch.BatchResult:
    return batch.score_inputs(
        inputs, out=out, scorer_factory=lambda: Scorer("default-en", BlankAnalyzer()), limits=LIMITS, **kw
    )


# --- building hostile files ------------------------------------------------------------------


def _text(kind: str, words: list[str], latin1: bool) -> str:
    text = " ".join(words)
    if kind == "linesep":
        return text + ("\x85more" if latin1 else "\u2028a\u2029b\x85c")
    if kind == "big":
        return "b" * BIG
    if kind == "long_turn":
        return "l" * (LIMITS.max_turn_chars + 1)
    return text


def _json_call(i: int, tid: str, kind: str, words: list[str], latin1: bool) -> tuple[dict, dict[str, str]]:
    """A call object and the placeholder swaps that make it hostile once serialised."""
    turns = [{"speaker": "agent", "text": _text(kind, words, latin1)}, {"speaker": "customer", "text": "ok"}]
    call: dict = {"id": tid, "turns": turns * 4 if kind == "many_turns" else turns}
    swaps: dict[str, str] = {}
    if kind == "surrogate":  # half of an emoji's surrogate pair, in the id or in a turn
        where = call if i % 2 else turns[0]
        where["id" if i % 2 else "text"] = f"SURR-{i}"
        swaps[f'"SURR-{i}"'] = f'"{tid}\\ud83d"' if i % 2 else '"cut \\ud83d emoji"'
    elif kind in ("deep", "bigint"):
        call["metadata"] = {"x": f"HOSTILE-{i}"}
        swaps[f'"HOSTILE-{i}"'] = "[" * 5000 + "]" * 5000 if kind == "deep" else "9" * 5000
    elif kind == "syntax":
        call["note"] = f"SYNTAX-{i}"
        swaps[f'"note": "SYNTAX-{i}"'] = f'"note" "SYNTAX-{i}"'
    return call, swaps


def _swap(text: str, swaps: dict[str, str]) -> str:
    for old, new in swaps.items():
        assert text.count(old) == 1
        text = text.replace(old, new)
    return text


def _csv_text(calls: list[tuple[str, str, list[str]]], latin1: bool) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "turn", "speaker", "text"])
    for tid, kind, words in calls:
        texts = [_text(kind, words, latin1), "ok"] * (4 if kind == "many_turns" else 1)
        for n, text in enumerate(texts):
            if kind == "bad_quote" and n == 0:  # a quote opened and never closed
                buf.write(f'{tid},0,agent,"{" ".join(words)}\n')
                continue
            w.writerow([tid, n, "agent" if n % 2 == 0 else "debtor", text])
    return buf.getvalue()


def _expected_id(i: int, tid: str, kind: str) -> str | None:
    """The id of the record in a call's place (None: named ``file:line``, no id could be read)."""
    if kind in ("syntax", "deep", "bigint"):
        return None
    return f"{tid}\\ud83d" if kind == "surrogate" and i % 2 else tid


@st.composite
def hostile_files(draw):
    """(name, bytes, [(expected id or None, kind)]) for 1-3 files of hostile transcripts."""
    files = []
    for f in range(draw(st.integers(1, 3))):
        fmt = draw(st.sampled_from(["jsonl", "json", "csv"]))
        encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "latin-1"]))
        latin1 = encoding == "latin-1"
        kinds = draw(st.lists(st.sampled_from(CSV_KINDS if fmt == "csv" else JSON_KINDS), min_size=1, max_size=7))
        calls = [
            (f"f{f}-c{i}", kind, draw(st.lists(st.sampled_from(WORDS if latin1 else WIDE_WORDS), min_size=1, max_size=4)))
            for i, kind in enumerate(kinds)
        ]
        if fmt == "csv":
            text = _csv_text(calls, latin1)
        else:
            built = [_json_call(i, tid, kind, words, latin1) for i, (tid, kind, words) in enumerate(calls)]
            swaps = {k: v for _, s in built for k, v in s.items()}
            objs = [c for c, _ in built]
            if fmt == "jsonl":
                newline = draw(st.sampled_from(["\n", "\r\n"]))
                text = _swap(newline.join(json.dumps(c, ensure_ascii=False) for c in objs), swaps) + newline
            else:
                text = _swap(json.dumps(objs, ensure_ascii=False, indent=draw(st.sampled_from([None, 1, 2]))), swaps)
        expected = [(_expected_id(i, tid, kind), kind) for i, (tid, kind, _) in enumerate(calls)]
        files.append((f"in{f}.{fmt}", text.encode(encoding), expected))
    return files


# --- the property ----------------------------------------------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(files=hostile_files())
def test_lines_in_equal_lines_out_in_order_for_hostile_inputs(files):
    with tempfile.TemporaryDirectory() as tmp:
        folder, out = Path(tmp) / "in", Path(tmp) / "scores.jsonl"
        folder.mkdir()
        for name, data, _ in files:
            (folder / name).write_bytes(data)
        result = _score([folder], out)
        expected = [(folder / name, tid, kind) for name, _, exp in files for tid, kind in exp]
        recs = records(out)
        assert len(recs) == len(result.lines) == len(expected)
        for rec, (path, tid, kind) in zip(recs, expected, strict=True):
            if kind in GOOD:
                assert "error" not in rec and rec["id"] == tid, rec
            else:  # reported where it stood, for the reason its kind gives (not a reader or scorer crash)
                assert rec["error"].startswith(f"{path}:") and "\n" not in rec["error"], rec
                assert REASON[kind] in rec["error"], (kind, rec)
                assert tid is None or rec["id"] == tid
        assert result.failed == sum(kind not in GOOD for _, _, kind in expected)  # exit 1 exactly when > 0
        # resuming the finished run changes nothing and scores nothing again
        again = _score([folder], out, resume=True)
        assert again.lines == result.lines and again.scored == 0 and again.resumed == len(expected) - result.failed


# --- through the command line ----------------------------------------------------------------


def _call(tid: str, text: str = "Hello, this is Sam from Acme.") -> str:
    return json.dumps({"id": tid, "turns": [{"speaker": "agent", "text": text}, {"speaker": "debtor", "text": "Yes?"}]})


def test_lone_surrogate_is_an_error_line_and_the_run_and_resume_finish(blank, tmp_path):
    src = tmp_path / "calls.jsonl"
    src.write_text("\n".join([_call("a"), '{"id": "b\\ud800", "turns": []}', _call("c", "cut \\udc00 here")]) + "\n")
    out = tmp_path / "s.jsonl"
    r = run_score(src, "--out", out, "--quiet")
    assert r.exit_code == 1 and "Traceback" not in r.output, r.output
    recs = records(out)
    assert [x["id"] for x in recs] == ["a", "b\\ud800", "c"] and "error" not in recs[0]
    assert recs[1]["error"] == f"{src}:2: id: lone surrogate \\ud800 (not valid Unicode text)"
    first = out.read_bytes()
    r = run_score(src, "--out", out, "--resume", "--quiet")
    assert r.exit_code == 1 and out.read_bytes() == first
    r = run_score(src, "--quiet")  # to standard output
    assert r.exit_code == 1 and [json.loads(x)["id"] for x in r.stdout.splitlines() if x.startswith("{")][1] == "b\\ud800"


def test_deep_nesting_and_huge_numbers_keep_the_rest_of_the_file(blank, tmp_path):
    src = tmp_path / "calls.jsonl"
    deep = '{"id": "d", "turns": [], "metadata": {"x": ' + "[" * 100_000 + "]" * 100_000 + "}}"
    huge = '{"id": "h", "turns": [], "metadata": {"x": ' + "1" * 4_301 + "}}"
    src.write_text("\n".join([_call("a"), deep, huge, _call("b")]) + "\n")
    out = tmp_path / "s.jsonl"
    r = run_score(src, "--out", out, "--quiet")
    recs = records(out)
    assert r.exit_code == 1 and len(recs) == 4 and [x["id"] for x in (recs[0], recs[3])] == ["a", "b"]
    assert "nested too deeply" in recs[1]["error"] and "more than 4,300 digits" in recs[2]["error"]


def test_csv_field_over_128_kib_and_an_unclosed_quote(blank, tmp_path):
    src = tmp_path / "calls.csv"
    src.write_text(
        "id,turn,speaker,text\n"
        f"a,0,agent,hi\nb,0,agent,{'x' * 140_000}\n"
        'c,0,agent,"this quote is never closed\n'
        "d,0,agent,bye\n"
    )
    out = tmp_path / "s.jsonl"
    r = run_score(src, "--out", out, "--quiet", "--max-turn-chars", "150000")
    recs = records(out)
    assert r.exit_code == 1, r.output
    assert [x["id"] for x in recs] == ["a", "b", "c", "d"]
    assert ["error" in x for x in recs] == [False, False, True, False]
    assert recs[2]["error"] == f"{src}:4: invalid CSV: a quote opened on this line is never closed"


def test_line_separators_json_list_errors_and_encodings(blank, tmp_path):
    (tmp_path / "a.jsonl").write_text("\n".join(_call(f"s{i}", f"one{c}two") for i, c in enumerate("\u2028\u2029\x85" * 3)))
    listing = json.dumps([json.loads(_call(f"l{i}")) for i in range(3)], indent=2).replace('"id": "l1"', '"id" = "l1"')
    (tmp_path / "b.json").write_text(listing)
    l1_line = listing[: listing.index('"id" = "l1"')].count("\n")  # the line of its "{"
    (tmp_path / "c.jsonl").write_bytes("\n".join(_call(f"u{i}", "Grüße") for i in range(2)).encode("utf-16"))
    (tmp_path / "d.jsonl").write_bytes("\n".join(_call(f"w{i}", "Café") for i in range(2)).encode("latin-1"))
    out = tmp_path / "s.jsonl"
    r = run_score(*(tmp_path / n for n in ("a.jsonl", "b.json", "c.jsonl", "d.jsonl")), "--out", out, "--quiet")
    recs = records(out)
    assert r.exit_code == 1
    assert [x["id"] for x in recs[:9]] == [f"s{i}" for i in range(9)]  # 9 in, 9 out
    assert [x["id"] for x in recs[9:]] == ["l0", f"{tmp_path / 'b.json'}:{l1_line}", "l2", "u0", "u1", "w0", "w1"]
    assert sum("error" in x for x in recs) == 1


def test_limits_are_options_with_one_error_line_each(blank, tmp_path):
    src = tmp_path / "calls.jsonl"
    many = json.dumps({"id": "many", "turns": [{"speaker": "agent", "text": "hi"}] * 3})
    src.write_text("\n".join([_call("ok", "short"), many, _call("long", "z" * 30)]) + "\n")
    out = tmp_path / "s.jsonl"
    r = run_score(src, "--out", out, "--quiet", "--max-turns", "2", "--max-turn-chars", "20")
    recs = records(out)
    assert r.exit_code == 1 and [x["id"] for x in recs] == ["ok", "many", "long"] and "error" not in recs[0]
    assert recs[1]["error"] == f"{src}:2: 3 turns, over the limit of 2 a call (--max-turns)"
    assert recs[2]["error"] == f"{src}:3: turns[0].text: 30 characters, over the limit of 20 a turn (--max-turn-chars)"
    r = run_score(src, "--out", out, "--quiet", "--max-file-mb", "0.0001")
    assert r.exit_code == 1 and records(out) == [
        {"id": f"{src}:0", "error": f"{src}:0: file is {src.stat().st_size} bytes, over the limit of 0.0001 MB (--max-file-mb)"}
    ]
    r = run_score(src, "--out", out, "--quiet")  # the defaults: 400 turns, 4,000 characters, 50 MB
    assert r.exit_code == 0, r.output
    help_text = CliRunner().invoke(app, ["score", "--help"], terminal_width=200).output
    assert "--max-turns" in help_text and "--max-turn-chars" in help_text and "--max-file-mb" in help_text


# --- resume ----------------------------------------------------------------------------------


def test_resume_rescores_an_edited_transcript(tmp_path, monkeypatch):
    src, out = tmp_path / "calls.jsonl", tmp_path / "s.jsonl"
    src.write_text("\n".join([_call("a"), _call("b"), _call("c")]) + "\n")
    scored: list[str] = []

    class Counting(BlankAnalyzer):
        def analyze_many(self, transcripts):
            scored.extend(t.id for t in transcripts)
            return super().analyze_many(transcripts)

    score_with(monkeypatch, Counting)
    batch.score_inputs([src], out=out)
    threat = "Pay today or we will send the sheriff to arrest you."
    src.write_text("\n".join([_call("a"), _call("b", threat), _call("c")]) + "\n")
    scored.clear()
    result = batch.score_inputs([src], out=out, resume=True)
    assert scored == ["b"] and result.resumed == 2  # same id, new content: scored again
    fresh = tmp_path / "fresh.jsonl"
    batch.score_inputs([src], out=fresh)
    assert out.read_bytes() == fresh.read_bytes()


@pytest.mark.parametrize(
    "tail", ['{"id": "c", "rubric": "default-en", "overall": 5', "\x00" * 64, "[" * 100_000, "9" * 5_000, "\udcff\n"]
)
def test_resume_survives_a_corrupt_last_line(tmp_path, monkeypatch, tail):
    score_with(monkeypatch)
    src, out, full = tmp_path / "calls.jsonl", tmp_path / "s.jsonl", tmp_path / "full.jsonl"
    src.write_text("\n".join(_call(t) for t in "abc") + "\n")
    batch.score_inputs([src], out=full)
    lines = full.read_text().split("\n")
    out.write_text("\n".join(lines[:2]) + "\n" + tail, errors="surrogateescape")  # "c" torn or garbled
    out.with_name(f".{out.name}.keys").write_bytes(full.with_name(f".{full.name}.keys").read_bytes())
    result = batch.score_inputs([src], out=out, resume=True)
    assert result.resumed == 2 and result.scored == 1
    assert out.read_bytes() == full.read_bytes()


def test_resume_without_a_keys_file_scores_everything_again(tmp_path, monkeypatch):
    score_with(monkeypatch)
    src, out = tmp_path / "calls.jsonl", tmp_path / "s.jsonl"
    src.write_text(_call("a") + "\n")
    batch.score_inputs([src], out=out)
    batch.keys_path(out).unlink()
    result = batch.score_inputs([src], out=out, resume=True)
    assert result.resumed == 0 and result.scored == 1


# --- workers die with their parent ------------------------------------------------------------


def _alive(pid: int) -> bool:
    if not Path("/proc/self/stat").exists():  # no /proc (macOS): signal 0 says whether it exists
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited


def _wait(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_exit_when_the_parent_is_killed(tmp_path):
    src, busy = tmp_path / "calls.jsonl", tmp_path / "busy"
    busy.mkdir()
    src.write_text("\n".join(_call(f"c{i}") for i in range(96)) + "\n")  # three chunks
    env = {**os.environ, "PYTHONPATH": str(REPO), "RELIABILITY_DELAY": "120", "RELIABILITY_BUSY_DIR": str(busy)}
    cmd = [sys.executable, str(HELPER), str(src), "--out", str(tmp_path / "s.jsonl"), "--workers", "2", "--quiet"]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path)
    workers: list[int] = []
    try:
        assert _wait(lambda: len(list(busy.iterdir())) >= 2 or proc.poll() is not None, 180), "workers never started"
        workers = [int(p.name) for p in busy.iterdir()]
        assert len(workers) == 2 and proc.pid not in workers and all(_alive(pid) for pid in workers)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert _wait(lambda: not any(_alive(pid) for pid in workers), 5), "workers outlived their parent"
    finally:
        for pid in [proc.pid, *workers]:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


@pytest.mark.skipif(sys.platform == "win32", reason="Windows does not re-parent orphans")
def test_exit_with_parent_without_pdeathsig_polls_the_parent(tmp_path):
    """The portable fallback alone (no prctl): an orphaned worker notices within a poll or two."""
    middle = textwrap.dedent("""
        import os, subprocess, sys, time
        worker = (
            "import sys, time\\n"
            "from rubrics.batch import exit_with_parent\\n"
            "exit_with_parent(int(sys.argv[1]), pdeathsig=False, poll_s=0.1)\\n"
            "print('ready', flush=True)\\n"
            "time.sleep(120)\\n"
        )
        child = subprocess.Popen([sys.executable, "-c", worker, str(os.getpid())])
        print(child.pid, flush=True)
        time.sleep(120)
    """)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", middle], env=env, stdout=subprocess.PIPE, text=True)
    worker = 0
    try:
        worker = int(proc.stdout.readline())
        assert proc.stdout.readline().strip() == "ready"
        assert _alive(worker)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert _wait(lambda: not _alive(worker), 5), "the orphan kept running"
    finally:
        for pid in (proc.pid, worker):
            try:
                if pid:
                    os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
