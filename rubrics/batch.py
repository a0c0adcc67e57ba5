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
* Each transcript is scored with the rubric of its language (``zh``, ``zh-TW`` -> ``default-zh``;
  ``en`` -> ``default-en``; a call that names no language is read from its script) unless one
  rubric is given for all (:class:`RubricRouter`). Chinese calls in Traditional characters are
  analysed as Simplified (``core.analysis.script``), and every score lists the rules its call's
  facts could not settle (``not_checked``).
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

from core.analysis.script import language_family, looks_chinese
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
    rubric: str | Path | None = None,
    *,
    out: Path | None = None,
    resume: bool = False,
    workers: int = 1,
    chunk: int = CHUNK,
    on_progress: Callable[[int, int], None] | None = None,
    scorer_factory: Callable[[], Any] | None = None,
    limits: TranscriptLimits = DEFAULT_LIMITS,
    by_language: dict[str, str | Path] | None = None,
) -> BatchResult:
    """Score every transcript in ``inputs`` (files or folders); see the module docstring.

    ``rubric`` (an id or a path) scores every transcript; without it each is scored with the
    rubric of its language (``by_language``, default :data:`rubrics.loader.DEFAULT_RUBRICS`).
    ``on_progress(done, total)`` is called as transcripts are finished. ``scorer_factory``
    builds the scorer (tests pass one with a stub analyzer; the app passes a router that reuses
    its analyzer); by default a :class:`RubricRouter`. ``limits`` bound what a file or
    transcript may hold (one error line for a transcript over them).
    """
    keyer = RubricRouter(rubric, by_language=by_language)
    slots = [
        _Slot(f, ln, item, _resume_key(keyer, item) if out is not None and not isinstance(item, ReadError) else None)
        for f, ln, item in iter_located(inputs, limits)
    ]
    rubric_id = _rubric_identity(rubric)[0] if out is not None and rubric is not None else None
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
    for batch, lines in _score_chunks(chunks, rubric, workers, scorer_factory, by_language):
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


def _score_chunks(chunks, rubric, workers: int, scorer_factory, by_language=None):
    """Yield ``(chunk, json lines)`` in chunk order, in this process or in worker processes."""
    if not chunks:
        return
    if workers <= 1:
        scorer = scorer_factory() if scorer_factory else RubricRouter(rubric, by_language=by_language)
        for batch in chunks:
            yield batch, _score_batch(scorer, batch)
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    threads = max(1, (os.cpu_count() or 1) // workers)
    ctx = mp.get_context("spawn")  # torch and fork do not mix
    languages = {k: str(v) for k, v in (by_language or {}).items()}
    initargs = (str(rubric) if rubric is not None else None, threads, os.getpid(), languages)
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=initargs) as pool:
        payloads = [[(s.file, s.line, s.item.model_dump(mode="json")) for s in batch] for batch in chunks]
        for batch, lines in zip(chunks, pool.map(_worker_score, payloads), strict=True):
            yield batch, lines


_IDENTITIES: dict[int, tuple[Any, tuple[str, str]]] = {}


def _rubric_identity(rubric) -> tuple[str, str]:
    """The rubric's id and a hash of its loaded content (rulebook included), once per loaded rubric."""
    from rubrics.loader import load_rubric

    loaded = load_rubric(rubric)
    known = _IDENTITIES.get(id(loaded))
    if known is not None and known[0] is loaded:
        return known[1]
    content = loaded.model_dump_json() + "\n" + loaded.rulebook_rules.model_dump_json()
    identity = loaded.id, hashlib.sha256(content.encode("utf-8", "replace")).hexdigest()
    _IDENTITIES[id(loaded)] = (loaded, identity)
    return identity


def _resume_key(router: RubricRouter, transcript: Transcript) -> str:
    """What a score line depends on: its rubric's content and the transcript's content."""
    try:
        fingerprint = _rubric_identity(router.rubric_for(transcript))[1]
    except ValueError:  # no rubric for its language: scored again (as an error line) every run
        fingerprint = "no-rubric"
    return hashlib.sha256(f"{fingerprint} {transcript.content_hash()}".encode()).hexdigest()


def _make_scorer(rubric):
    """A scorer for one rubric with the analysis of its language; Chinese in either script."""
    from rubrics.loader import load_rubric
    from rubrics.scorer import Scorer

    loaded = load_rubric(rubric)
    if loaded.language != "zh":
        return Scorer(loaded)
    from core.analysis import default_analyzer
    from core.analysis.script import ChineseScriptAnalyzer

    return Scorer(loaded, ChineseScriptAnalyzer(default_analyzer("zh")))


def transcript_language(transcript: Transcript) -> str:
    """The analysis language of a call: its ``language`` (zh-TW -> zh), or, when the call names
    none, Chinese if its words are mostly Chinese characters, else English."""
    if "language" in transcript.model_fields_set and transcript.language:
        return language_family(transcript.language)
    texts = [t.get("text", "") if isinstance(t, dict) else t.text for t in transcript.turns]
    return "zh" if looks_chinese(texts) else language_family(transcript.language)


class RubricRouter:
    """Scores each transcript with the rubric of its language, or every one with ``rubric``.

    ``by_language`` maps a language to a rubric id or path (defaults: the shipped
    ``default-en``/``default-zh``); ``scorers`` are scorers already built, by rubric reference
    (the app's, bound to its shared analyzer). A transcript in a language with no rubric is an
    error for that transcript alone. Each score lists the rules the call's facts could not
    settle (``Score.not_checked``).
    """

    def __init__(
        self,
        rubric: str | Path | None = None,
        *,
        by_language: dict[str, str | Path] | None = None,
        scorers: dict[str, Any] | None = None,
    ) -> None:
        from rubrics.loader import DEFAULT_RUBRICS

        self.rubric = rubric
        self.by_language: dict[str, str | Path] = {**DEFAULT_RUBRICS, **(by_language or {})}
        self._scorers: dict[str, Any] = dict(scorers or {})
        self._lock = threading.Lock()

    def rubric_for(self, transcript: Transcript) -> str | Path:
        if self.rubric is not None:
            return self.rubric
        language = transcript_language(transcript)
        ref = self.by_language.get(language)
        if ref is None:
            known = ", ".join(sorted(self.by_language))
            raise ValueError(f"no rubric for language {transcript.language!r} (known: {known}); give --rubric")
        return ref

    def scorer_for(self, transcript: Transcript):
        ref = self.rubric_for(transcript)
        key = str(ref)
        with self._lock:
            scorer = self._scorers.get(key)
            if scorer is None:
                scorer = self._scorers[key] = _make_scorer(ref)
        return scorer

    def score(self, transcript: Transcript):
        scorer = self.scorer_for(transcript)
        return _with_checks(scorer, transcript, scorer.score(transcript))

    def score_many(self, transcripts: Sequence[Transcript]) -> list:
        """Score a batch, each rubric's transcripts together (its sentences embedded once)."""
        groups: dict[int, tuple[Any, list[int]]] = {}
        for i, t in enumerate(transcripts):
            scorer = self.scorer_for(t)
            groups.setdefault(id(scorer), (scorer, []))[1].append(i)
        out: list = [None] * len(transcripts)
        for scorer, idx in groups.values():
            for i, score in zip(idx, scorer.score_many([transcripts[i] for i in idx]), strict=True):
                out[i] = _with_checks(scorer, transcripts[i], score)
        return out


def _with_checks(scorer, transcript: Transcript, score):
    """The score with the checks its call's facts could not settle (unless it has them already)."""
    from rubrics.rulebook import checks_not_made

    rubric = getattr(scorer, "rubric", None)
    if getattr(score, "not_checked", None) or rubric is None or rubric._rulebook is None:
        return score
    missing = checks_not_made(rubric.rulebook_rules, transcript)
    return score.model_copy(update={"not_checked": missing}) if missing else score


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


def _init_worker(rubric: str | None, threads: int, parent_pid: int, by_language: dict[str, str] | None = None) -> None:
    global _WORKER_SCORER
    exit_with_parent(parent_pid)
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:  # pragma: no cover
        pass
    _WORKER_SCORER = RubricRouter(rubric, by_language=by_language)


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
