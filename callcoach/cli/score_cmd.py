"""``callcoach score``: batch-score transcripts into JSONL, a CSV summary and an HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

from core.readers import DEFAULT_LIMITS

if TYPE_CHECKING:
    from core.readers import TranscriptLimits
    from rubrics.batch import BatchResult
    from rubrics.schema import Rubric


def register(app: typer.Typer) -> None:
    """Add the top-level ``score`` command to the ``callcoach`` app."""
    app.command("score")(score_command)


def score_command(
    inputs: list[Path] = typer.Argument(
        ..., metavar="INPUT...", help="Transcript files or folders (JSONL, JSON, CSV, plain text)."
    ),
    rubric: str = typer.Option(
        None, "--rubric", "-r",
        help="Rubric id (see `callcoach rubrics list`) or a YAML path for every call; default: each call's language's.",
    ),
    out: Path = typer.Option(None, "--out", "-o", help="Scores as JSON Lines (default: standard output)."),
    csv_path: Path = typer.Option(None, "--csv", help="Also write a one-row-per-call CSV summary."),
    html: Path = typer.Option(None, "--html", help="Also write a self-contained HTML report."),
    resume: bool = typer.Option(
        False, "--resume", help="Keep calls already scored in --out (same content, same rubric); score the rest."
    ),
    workers: int = typer.Option(1, "--workers", "-w", min=1, help="Worker processes (each loads the embedder)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    max_turns: int = typer.Option(
        DEFAULT_LIMITS.max_turns, "--max-turns", min=1, help="A call with more turns is an error line, not scored."
    ),
    max_turn_chars: int = typer.Option(
        DEFAULT_LIMITS.max_turn_chars, "--max-turn-chars", min=1,
        help="A call with a longer turn (in characters) is an error line, not truncated.",
    ),
    max_file_mb: float = typer.Option(
        DEFAULT_LIMITS.max_file_mb, "--max-file-mb", min=0, help="A larger input file is one error line, not read."
    ),
) -> None:
    """Score transcripts against a rubric: one line per input transcript, in input order.

    Unreadable transcripts, and those over the limits, give an {"id", "error"} line naming the
    file and line; the rest are still scored, and the exit code is 1.
    """
    from core.readers import TranscriptLimits

    _check_paths(inputs, out, resume)
    loaded = _load_rubric(rubric) if rubric else None  # None: each call scored with its language's rubric
    limits = TranscriptLimits(max_file_mb=max_file_mb, max_turns=max_turns, max_turn_chars=max_turn_chars)
    result = _score_with_progress(
        inputs, (loaded.source or rubric) if loaded else None, out=out, resume=resume, workers=workers, quiet=quiet,
        limits=limits,
    )
    if out is None:
        for line in result.lines:
            typer.echo(line)
    _write_summaries(result.records, loaded, csv_path=csv_path, html=html)
    typer.echo(_summary_line(result), err=True)
    if result.failed:
        raise typer.Exit(1)


def _fail(*lines: str) -> NoReturn:
    """Usage problems: each on one line on standard error, exit code 2."""
    for line in lines:
        typer.echo(line, err=True)
    raise typer.Exit(2)


def _check_paths(inputs: list[Path], out: Path | None, resume: bool) -> None:
    """Exit 2 before any work when the options cannot make sense or an input does not exist."""
    if resume and out is None:
        _fail("--resume needs --out (the file to resume)")
    if out is not None and out.is_dir():
        _fail(f"{out}: is a folder; --out names the scores file")
    missing = [str(p) for p in inputs if not p.exists()]
    if missing:
        _fail(*(f"{p}: no such file or folder" for p in missing))


def _load_rubric(rubric: str) -> Rubric:
    from rubrics.loader import RubricError, load_rubric

    try:
        return load_rubric(rubric)
    except RubricError as exc:
        _fail(*exc.problems)


def _score_with_progress(
    inputs: list[Path], rubric: str | None, *, out: Path | None, resume: bool, workers: int, quiet: bool,
    limits: TranscriptLimits,
) -> BatchResult:
    """Score every input under a progress bar on standard error (none with ``quiet``)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from rubrics.batch import score_inputs

    progress = Progress(
        TextColumn("scoring"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=Console(stderr=True), disable=quiet, transient=False,
    )
    with progress:
        task = progress.add_task("score", total=None)

        def on_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            return score_inputs(
                inputs, rubric, out=out, resume=resume, workers=workers, on_progress=on_progress, limits=limits
            )
        except OSError as exc:  # the output cannot be written (a full disk, no permission)
            _fail(f"{exc.filename or out}: cannot write: {exc.strerror or exc}")


def _write_summaries(records: list[dict], rubric: Rubric | None, *, csv_path: Path | None, html: Path | None) -> None:
    """The optional CSV summary and HTML report; exit 2 if either cannot be written."""
    from rubrics.batch import summary_csv, write_atomic

    try:
        if csv_path is not None:
            write_atomic(csv_path, summary_csv(records))
        if html is not None:
            from rubrics.report import render_report

            write_atomic(html, render_report(records, rubric=rubric))
    except OSError as exc:
        _fail(f"{exc.filename}: cannot write: {exc.strerror or exc}")


def _summary_line(result: BatchResult) -> str:
    """``11 transcripts: 7 scored (0 resumed), 4 failed; pass rate 57%``."""
    scored = sum("error" not in r for r in result.records)
    passed = sum(bool(r.get("passed")) for r in result.records)
    summary = f"{len(result.records)} transcripts: {scored} scored ({result.resumed} resumed), {result.failed} failed"
    if scored:
        summary += f"; pass rate {100 * passed / scored:.0f}%"
    return summary
