"""``callcoach rubrics``: list and validate rubric and rulebook files.

Problems are printed as plain lines (``file: field: message``), never as tracebacks.
"""

from __future__ import annotations

from pathlib import Path

import typer

from rubrics.loader import SHIPPED_DIR, RubricError, load_rubric, shipped_rubrics, validate_file

rubrics_app = typer.Typer(
    help="List and validate rubrics (rubrics/*.yaml) and compliance rulebooks (rubrics/rules-*.yaml).",
    no_args_is_help=True,
)


def _files(paths: list[Path] | None) -> tuple[list[Path], list[str]]:
    """YAML files named or found in folders; a problem line for folders holding none."""
    files: list[Path] = []
    problems: list[str] = []
    for p in paths or [SHIPPED_DIR]:
        if p.is_dir():
            found = sorted([*p.glob("*.yaml"), *p.glob("*.yml")])
            if not found:
                problems.append(f"{p}: (folder): no rubric files (*.yaml) found")
            files += found
        else:
            files.append(p)
    return files, problems


@rubrics_app.command("validate")
def validate_rubrics(
    paths: list[Path] = typer.Argument(
        None, help="Rubric or rulebook files or folders to check (default: the shipped ones)."
    ),
) -> None:
    """Check rubric and rulebook files; one line per problem and exit 1 if there are any."""
    files, problems = _files(paths)
    valid = 0
    for f in files:
        found = validate_file(f)
        problems += found
        valid += not found
    if problems:
        for line in problems:
            typer.echo(line)
        noun = "problem" if len(problems) == 1 else "problems"
        typer.echo(f"{len(problems)} {noun}; {valid} files valid", err=True)
        raise typer.Exit(1)
    typer.echo(f"{valid} file{'' if valid == 1 else 's'} valid")


@rubrics_app.command("list")
def list_rubrics(
    paths: list[Path] = typer.Argument(None, help="Rubric files or folders (default: the shipped ones)."),
) -> None:
    """One line per rubric: id, version, language, rulebook, criteria and their weights."""
    files = shipped_rubrics() if not paths else [f for f in _files(paths)[0] if not f.name.startswith("rules-")]
    failed = False
    for f in files:
        try:
            r = load_rubric(f)
        except RubricError as exc:
            for line in exc.problems:
                typer.echo(line, err=True)
            failed = True
            continue
        crits = ", ".join(f"{c.id} {c.weight:g}" for c in r.criteria)
        rules = len(r.rulebook_rules.rules)
        typer.echo(f"{r.id}  v{r.version}  {r.language}  {r.rulebook} ({rules} rules)  pass {r.pass_mark:g}  [{crits}]")
    if failed:
        raise typer.Exit(1)
