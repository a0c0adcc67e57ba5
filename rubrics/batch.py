"""Batch scoring: many transcripts in, one Score (or error) line per transcript out, in order.

* Inputs are read leniently (``core.readers``); a transcript that cannot be
  read becomes ``{"id": …, "error": "file:line: …"}`` in its place and the rest are scored.
* Transcripts are scored in chunks through the analysis' ``analyze_many`` so each distinct
  sentence is embedded once per run (the embedder's cache lives for the whole run).
* Every output is written atomically (temp file + ``os.replace``). The JSONL output is also
  checkpointed after each chunk, so ``resume=True`` after a kill re-uses the lines already
  written and scores only the rest: the final file is the same as an uninterrupted run's.
* A line is re-used only for the same content: beside the output, ``.<name>.keys`` records
  which transcript content (and rubric) each score line came from, so an edited transcript is
  scored again even though its id is unchanged.
* Worker processes end when the process that started them dies (even by ``kill -9``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import sys
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.files import atomic_write_text
from core.readers import (
    DEFAULT_LIMITS,
    ReadError,
    TranscriptLimits,
    iter_located,
    one_line,
    writable,
)
from core.transcript import Transcript

CHUNK = 32


@dataclass
class BatchResult:
    """What a batch run produced: one record per input transcript, in input order."""

    records: list[dict[str, Any]]
    lines: list[str]
    scored: int = 0  # scored in this run
    resumed: int = 0  # taken over from an earlier run's output
    failed: int = 0  # error records (unreadable or unscorable)
    stats: dict[str, Any] = field(default_factory=dict)


def write_atomic(path: Path | str, text: str) -> None:
    """Write ``text`` to ``path`` so readers see the old file or the new one, never half.

    errors="replace": a lone surrogate that slipped past the readers must not cost the run."""
    atomic_write_text(path, text, errors="replace")


def keys_path(out: Path) -> Path:
    """The file beside ``out`` that says which content each of its score lines came from."""
    return out.with_name(f".{out.name}.keys")


def _line_hash(line: str) -> str:
    return hashlib.sha256(line.encode("utf-8", "replace")).hexdigest()


def previous_lines(out: Path | None, rubric_id: str | None = None) -> dict[str, deque[str]]:
    """Score lines of an earlier run, by resume key (transcript content and rubric), in order.

    A line is taken only when the keys file beside ``out`` says what content it scored; error
    lines, other rubrics' lines and torn or unreadable lines (a partial last line, a crash, a
    full disk) are skipped, so those transcripts are scored again. Without a keys file (an
    output from before keys were kept) nothing is re-used.
    """
    done: dict[str, deque[str]] = defaultdict(deque)
    if out is None:
        return done
    try:
        key_text = keys_path(out).read_text(encoding="utf-8", errors="replace")
        text = out.read_text(encoding="utf-8", errors="replace")
    except (OSError, ValueError):
        return done
    keys: dict[str, list[str]] = defaultdict(list)
    for row in key_text.split("\n"):
        parts = row.split(" ")
        if len(parts) == 2 and len(parts[0]) == len(parts[1]) == 64:
            keys[parts[0]].append(parts[1])
    for line in text.split("\n"):  # "\n" only: a score's text may hold U+2028 and friends
        found = keys.get(_line_hash(line)) if line else None
        if not found:
            continue
        try:
            rec = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if (
            isinstance(rec, dict) and "error" not in rec and isinstance(rec.get("id"), str)
            and "overall" in rec and (rubric_id is None or rec.get("rubric") == rubric_id)
        ):
            for key in dict.fromkeys(found):
                done[key].append(line)
    return done


class _Slot:
    """One input transcript's place in the output."""

    __slots__ = ("file", "line", "item", "key", "record_line", "line_hash")

    def __init__(self, file: str, line: int, item: Transcript | ReadError, key: str | None = None):
        self.file, self.line, self.item, self.key = file, line, item, key
        self.record_line: str | None = None
        self.line_hash: str | None = None  # set for score lines (not errors): what --resume may re-use


def score_inputs(
    inputs: Sequence[Path | str],
    rubric: str | Path = "default-en",
    *,
    out: Path | None = None,
    resume: bool = False,
    workers: int = 1,
    chunk: int = CHUNK,
    on_progress: Callable[[int, int], None] | None = None,
    scorer_factory: Callable[[], Any] | None = None,
    limits: TranscriptLimits = DEFAULT_LIMITS,
) -> BatchResult:
    """Score every transcript in ``inputs`` (files or folders); see the module docstring.

    ``on_progress(done, total)`` is called as transcripts are finished. ``scorer_factory``
    builds the scorer (tests pass one with a stub analyzer); by default a
    :class:`rubrics.scorer.Scorer` for ``rubric``. ``limits`` bound what a file or transcript
    may hold (one error line for a transcript over them).
    """
    rubric_id, fingerprint = _rubric_identity(rubric) if out is not None else (None, "")
    slots = [
        _Slot(f, ln, item, _resume_key(fingerprint, item) if out is not None and not isinstance(item, ReadError) else None)
        for f, ln, item in iter_located(inputs, limits)
    ]
    total = len(slots)
    done = previous_lines(out, rubric_id) if resume else {}
    pending: list[_Slot] = []
    result = BatchResult(records=[], lines=[])
    for s in slots:
        if isinstance(s.item, ReadError):
            s.record_line = writable(json.dumps(s.item.to_record(), ensure_ascii=False))
            result.failed += 1
        elif s.key in done and done[s.key]:
            s.record_line = done[s.key].popleft()
            s.line_hash = _line_hash(s.record_line)
            result.resumed += 1
        else:
            pending.append(s)
    finished = total - len(pending)
    if on_progress:
        on_progress(finished, total)

    def checkpoint() -> None:
        if out is None:
            return
        # keys first: killed between the two writes, the keys cover every line in the output
        write_atomic(keys_path(out), "".join(f"{s.line_hash} {s.key}\n" for s in slots if s.line_hash and s.key))
        write_atomic(out, "".join(s.record_line + "\n" for s in slots if s.record_line is not None))

    chunks = [pending[i : i + chunk] for i in range(0, len(pending), chunk)]
    for batch, lines in _score_chunks(chunks, rubric, workers, scorer_factory):
        for s, line in zip(batch, lines, strict=True):
            s.record_line = writable(line)
            if '"error"' in line[:200] and json.loads(line).get("error"):
                result.failed += 1
            else:
                s.line_hash = _line_hash(s.record_line)
                result.scored += 1
        finished += len(batch)
        checkpoint()
        if on_progress:
            on_progress(finished, total)
    result.lines = [s.record_line or "" for s in slots]
    result.records = [json.loads(line) for line in result.lines]
    checkpoint()
    return result


def _score_chunks(chunks, rubric, workers: int, scorer_factory):
    """Yield ``(chunk, json lines)`` in chunk order, in this process or in worker processes."""
    if not chunks:
        return
    if workers <= 1:
        scorer = scorer_factory() if scorer_factory else _make_scorer(rubric)
        for batch in chunks:
            yield batch, _score_batch(scorer, batch)
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    threads = max(1, (os.cpu_count() or 1) // workers)
    ctx = mp.get_context("spawn")  # torch and fork do not mix
    initargs = (str(rubric), threads, os.getpid())
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=initargs) as pool:
        payloads = [[(s.file, s.line, s.item.model_dump(mode="json")) for s in batch] for batch in chunks]
        for batch, lines in zip(chunks, pool.map(_worker_score, payloads), strict=True):
            yield batch, lines


def _rubric_identity(rubric) -> tuple[str, str]:
    """The rubric's id and a hash of its loaded content (rulebook included)."""
    from rubrics.loader import load_rubric

    loaded = load_rubric(rubric)
    content = loaded.model_dump_json() + "\n" + loaded.rulebook_rules.model_dump_json()
    return loaded.id, hashlib.sha256(content.encode("utf-8", "replace")).hexdigest()


def _resume_key(rubric_fingerprint: str, transcript: Transcript) -> str:
    """What a score line depends on: the rubric's content and the transcript's content."""
    return hashlib.sha256(f"{rubric_fingerprint} {transcript.content_hash()}".encode()).hexdigest()


def _make_scorer(rubric):
    from rubrics.scorer import Scorer

    return Scorer(rubric)


def _score_batch(scorer, batch: list[_Slot]) -> list[str]:
    """Score a chunk together; if that fails, one by one so only the bad transcript errors."""
    transcripts = [s.item for s in batch]
    try:
        return [score.to_json_line() for score in scorer.score_many(transcripts)]
    except Exception:
        pass
    lines = []
    for s in batch:
        try:
            lines.append(scorer.score(s.item).to_json_line())
        except Exception as exc:
            msg = one_line(f"{s.file}:{s.line}: scoring failed: {type(exc).__name__}: {exc}")[:500]
            lines.append(writable(json.dumps({"id": s.item.id, "error": msg}, ensure_ascii=False)))
    return lines


_WORKER_SCORER = None


def _init_worker(rubric: str, threads: int, parent_pid: int) -> None:
    global _WORKER_SCORER
    exit_with_parent(parent_pid)
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:  # pragma: no cover
        pass
    _WORKER_SCORER = _make_scorer(rubric)


def _worker_score(payload: list[tuple[str, int, dict]]) -> list[str]:
    batch = [_Slot(f, ln, Transcript.model_validate(data)) for f, ln, data in payload]
    return _score_batch(_WORKER_SCORER, batch)


_PR_SET_PDEATHSIG = 1


def exit_with_parent(parent_pid: int, *, pdeathsig: bool = True, poll_s: float = 0.5) -> None:
    """End this process when ``parent_pid`` (the batch that started it) dies, even by ``kill -9``.

    A pool worker blocks on a queue whose other end it holds itself, so it would otherwise
    wait (holding its model) for ever. On Linux the kernel sends SIGKILL when the parent dies
    (``prctl(PR_SET_PDEATHSIG)``); everywhere, a daemon thread also polls ``os.getppid()``,
    which changes when the parent dies and the process is re-parented. (Windows does not
    re-parent, so there only the pool's own shutdown applies.)
    """
    if pdeathsig and sys.platform.startswith("linux"):
        try:
            import ctypes
            import signal

            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - no libc prctl: the thread below still watches
            pass
    if os.getppid() != parent_pid:  # the parent died before the watch began
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(poll_s)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


# --- summary CSV -----------------------------------------------------------------------------


def summary_csv(records: Iterable[dict[str, Any]]) -> str:
    """One row per transcript: scores per criterion, pass/fail, violation counts, error."""
    records = list(records)
    criteria: list[str] = []
    for r in records:
        for c in r.get("criteria", {}):
            if c not in criteria:
                criteria.append(c)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "rubric", "overall", "passed", *criteria, "violations", "blockers", "rules", "error"])
    for r in records:
        if "error" in r:
            w.writerow([r.get("id"), "", "", "", *([""] * len(criteria)), "", "", "", r["error"]])
            continue
        vs = r.get("violations", [])
        w.writerow([
            r["id"], r.get("rubric", ""), r.get("overall", ""), str(r.get("passed", "")).lower(),
            *[r.get("criteria", {}).get(c, {}).get("score", "") for c in criteria],
            len(vs), sum(v["severity"] == "blocker" for v in vs),
            ";".join(dict.fromkeys(v["rule"] for v in vs)), "",
        ])
    return buf.getvalue()
