"""Batch scoring: many transcripts in, one Score (or error) line per transcript out, in order.

* Inputs are read leniently (``simulator.transcript_formats``); a transcript that cannot be
  read becomes ``{"id": …, "error": "file:line: …"}`` in its place and the rest are scored.
* Transcripts are scored in chunks through the analysis' ``analyze_many`` so each distinct
  sentence is embedded once per run (the embedder's cache lives for the whole run).
* Every output is written atomically (temp file + ``os.replace``). The JSONL output is also
  checkpointed after each chunk, so ``resume=True`` after a kill re-uses the lines already
  written and scores only the rest: the final file is the same as an uninterrupted run's.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulator.transcript import Transcript
from simulator.transcript_formats import ReadError, iter_located

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
    """Write ``text`` to ``path`` so readers see the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, _file_mode(path))  # mkstemp makes 0600; keep the usual permissions
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _file_mode(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def previous_lines(out: Path | None, rubric_id: str | None = None) -> dict[str, deque[str]]:
    """Score lines of an earlier run with the same rubric (errors are retried), by id, in order."""
    done: dict[str, deque[str]] = defaultdict(deque)
    if out is None or not out.exists():
        return done
    for line in out.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # a torn line from a kill mid-write (not possible with atomic writes, but cheap)
        if (
            isinstance(rec, dict) and "error" not in rec and isinstance(rec.get("id"), str)
            and "overall" in rec and (rubric_id is None or rec.get("rubric") == rubric_id)
        ):
            done[rec["id"]].append(line)
    return done


class _Slot:
    """One input transcript's place in the output."""

    __slots__ = ("file", "line", "item", "record_line")

    def __init__(self, file: str, line: int, item: Transcript | ReadError):
        self.file, self.line, self.item = file, line, item
        self.record_line: str | None = None


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
) -> BatchResult:
    """Score every transcript in ``inputs`` (files or folders); see the module docstring.

    ``on_progress(done, total)`` is called as transcripts are finished. ``scorer_factory``
    builds the scorer (tests pass one with a stub analyzer); by default a
    :class:`rubrics.scorer.Scorer` for ``rubric``.
    """
    slots = [_Slot(f, ln, item) for f, ln, item in iter_located(inputs)]
    total = len(slots)
    done = previous_lines(out, _rubric_id(rubric)) if resume else {}
    pending: list[_Slot] = []
    result = BatchResult(records=[], lines=[])
    for s in slots:
        if isinstance(s.item, ReadError):
            s.record_line = json.dumps(s.item.to_record(), ensure_ascii=False)
            result.failed += 1
        elif done.get(s.item.id):
            s.record_line = done[s.item.id].popleft()
            result.resumed += 1
        else:
            pending.append(s)
    finished = total - len(pending)
    if on_progress:
        on_progress(finished, total)

    def checkpoint() -> None:
        if out is not None:
            write_atomic(out, "".join(s.record_line + "\n" for s in slots if s.record_line is not None))

    chunks = [pending[i : i + chunk] for i in range(0, len(pending), chunk)]
    for batch, lines in _score_chunks(chunks, rubric, workers, scorer_factory):
        for s, line in zip(batch, lines, strict=True):
            s.record_line = line
            if '"error"' in line[:200] and json.loads(line).get("error"):
                result.failed += 1
            else:
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
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(str(rubric), threads)) as pool:
        payloads = [[(s.file, s.line, s.item.model_dump(mode="json")) for s in batch] for batch in chunks]
        for batch, lines in zip(chunks, pool.map(_worker_score, payloads), strict=True):
            yield batch, lines


def _rubric_id(rubric) -> str:
    from rubrics.loader import load_rubric

    return load_rubric(rubric).id


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
            msg = f"{s.file}:{s.line}: scoring failed: {type(exc).__name__}: {exc}"
            lines.append(json.dumps({"id": s.item.id, "error": msg}, ensure_ascii=False))
    return lines


_WORKER_SCORER = None


def _init_worker(rubric: str, threads: int) -> None:
    global _WORKER_SCORER
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:  # pragma: no cover
        pass
    _WORKER_SCORER = _make_scorer(rubric)


def _worker_score(payload: list[tuple[str, int, dict]]) -> list[str]:
    batch = [_Slot(f, ln, Transcript.model_validate(data)) for f, ln, data in payload]
    return _score_batch(_WORKER_SCORER, batch)


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
