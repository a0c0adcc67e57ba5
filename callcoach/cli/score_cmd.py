"""``callcoach score``: batch-score transcripts into JSONL, a CSV summary and an HTML report."""

from __future__ import annotations

from pathlib import Path

import typer

from core.readers import DEFAULT_LIMITS


def register(app: typer.Typer) -> None:
    """Add the top-level ``score`` command to the ``callcoach`` app."""
    app.command("score")(score_command)


def score_command(
    inputs: list[Path] = typer.Argument(
        ..., metavar="INPUT...", help="Transcript files or folders (JSONL, JSON, CSV, plain text)."
    ),
    rubric: str = typer.Option("default-en", "--rubric", "-r", help="Rubric id (see `callcoach rubrics list`) or a YAML path."),
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
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from core.readers import TranscriptLimits
    from rubrics.batch import score_inputs, summary_csv, write_atomic
    from rubrics.loader import RubricError, load_rubric

    if resume and out is None:
        typer.echo("--resume needs --out (the file to resume)", err=True)
        raise typer.Exit(2)
    if out is not None and out.is_dir():
        typer.echo(f"{out}: is a folder; --out names the scores file", err=True)
        raise typer.Exit(2)
    limits = TranscriptLimits(max_file_mb=max_file_mb, max_turns=max_turns, max_turn_chars=max_turn_chars)
    missing = [str(p) for p in inputs if not p.exists()]
    if missing:
        for p in missing:
            typer.echo(f"{p}: no such file or folder", err=True)
        raise typer.Exit(2)
    try:
        loaded = load_rubric(rubric)
    except RubricError as exc:
        for line in exc.problems:
            typer.echo(line, err=True)
        raise typer.Exit(2) from None

    console = Console(stderr=True)
    progress = Progress(
        TextColumn("scoring"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=console, disable=quiet, transient=False,
    )
    with progress:
        task = progress.add_task("score", total=None)

        def on_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            result = score_inputs(
                inputs, loaded.source or rubric, out=out, resume=resume, workers=workers,
                on_progress=on_progress, limits=limits,
            )
        except OSError as exc:  # the output cannot be written (a full disk, no permission)
            typer.echo(f"{exc.filename or out}: cannot write: {exc.strerror or exc}", err=True)
            raise typer.Exit(2) from None
    if out is None:
        for line in result.lines:
            typer.echo(line)
    try:
        if csv_path is not None:
            write_atomic(csv_path, summary_csv(result.records))
        if html is not None:
            from rubrics.report import render_report

            write_atomic(html, render_report(result.records, rubric=loaded))
    except OSError as exc:
        typer.echo(f"{exc.filename}: cannot write: {exc.strerror or exc}", err=True)
        raise typer.Exit(2) from None
    scored = sum("error" not in r for r in result.records)
    passed = sum(bool(r.get("passed")) for r in result.records)
    summary = f"{len(result.records)} transcripts: {scored} scored ({result.resumed} resumed), {result.failed} failed"
    if scored:
        summary += f"; pass rate {100 * passed / scored:.0f}%"
    typer.echo(summary, err=True)
    if result.failed:
        raise typer.Exit(1)
