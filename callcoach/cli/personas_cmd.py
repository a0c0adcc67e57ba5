"""``callcoach personas``: list, validate and show debtor persona files.

Problems are printed as plain lines (``file: field: message``), never as tracebacks, so a
trainer can fix a file from the message alone.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich import box
from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from core.datafile import capped
from simulator.personas import (
    SHIPPED_DIR,
    Persona,
    PersonaError,
    load_persona_file,
    load_personas,
    persona_files,
)

personas_app = typer.Typer(
    help="List, validate and show debtor personas (personas/*.yaml).",
    no_args_is_help=True,
)

_DIR_HELP = "Folder or file of personas; repeat to add more (default: the shipped personas)."


def _echo_problems(problems: list[str], *, err: bool = True) -> None:
    """At most a screenful of problem lines, then how many lines more there are.

    Each file already reports at most a few lines and counts the rest itself.
    Plain echo, not rich: messages may hold [brackets] that rich would read as markup, and a
    one-line problem must stay on one line whatever the terminal width.
    """
    for line in capped(problems, noun="line"):
        typer.echo(line, err=err)


def _no_files(paths: list[Path] | None) -> list[str]:
    """A problem line for each folder given that holds no persona files."""
    problems = []
    for p in paths or [SHIPPED_DIR]:
        if p.is_dir() and not persona_files([p]):
            problems.append(f"{p}: (folder): no persona files (*.yaml) found")
    return problems


@personas_app.command("list")
def list_personas(
    dirs: list[Path] = typer.Option(None, "--dir", "-d", help=_DIR_HELP),
    lang: str = typer.Option(None, "--lang", help="Only the personas who speak this language (en, zh)."),
) -> None:
    """Show the personas as a table; files that fail to load are reported on stderr."""
    library = load_personas(dirs or None)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("id", no_wrap=True, style="bold")
    table.add_column("name")
    table.add_column("temperament", no_wrap=True)
    table.add_column("difficulty", no_wrap=True)
    table.add_column("language", no_wrap=True)
    table.add_column("situation")
    for persona in sorted(library.personas.values(), key=lambda p: p.id):
        if lang and persona.language != lang:
            continue
        table.add_row(
            persona.id,
            persona.name,
            persona.temperament.value,
            persona.difficulty,
            persona.language,
            Text(persona.situation),
        )
    console = Console()
    if not console.is_terminal:
        # piped or captured: keep each persona on one line so grep and logs stay readable
        console = Console(width=max(console.width, 200))
    console.print(table)
    _echo_problems(_no_files(dirs) + library.problems)


@personas_app.command("validate")
def validate_personas(
    paths: list[Path] = typer.Argument(
        None, help="Persona files or folders to check (default: the shipped personas)."
    ),
) -> None:
    """Check persona files; print one line per problem and exit 1 if there are any."""
    library = load_personas(paths or None)
    missing = _no_files(paths)
    problems = missing + library.problems
    if problems:
        count = len(missing) + library.problem_count
        _echo_problems(problems, err=False)
        valid = len(library.personas)
        noun = "problem" if count == 1 else "problems"
        typer.echo(f"{count:,} {noun}; {valid} personas valid", err=True)
        raise typer.Exit(1)
    count = len(library.personas)
    typer.echo(f"{count} persona{'' if count == 1 else 's'} valid")


def _find(persona_id: str, dirs: list[Path] | None) -> Persona:
    """A persona by id from the folders, or straight from a file path."""
    as_path = Path(persona_id)
    if as_path.suffix in (".yaml", ".yml") and as_path.is_file():
        return load_persona_file(as_path)
    library = load_personas(dirs or None)
    try:
        return library.get(persona_id)
    except KeyError as exc:
        # a broken file with that name is the likelier story; show its problems instead
        own = [p for p in library.problems if Path(p.split(":", 1)[0]).stem == persona_id]
        raise PersonaError(own or [exc.args[0]]) from None


def _section(console: Console, title: str) -> None:
    console.print()
    console.print(Text(title, style="bold underline"))


def _pairs(console: Console, rows: list[tuple[str, str]]) -> None:
    if not rows:
        console.print(Text("  (none)", style="dim"))
        return
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column()
    for key, value in rows:
        grid.add_row(key, Text(value))
    console.print(Padding(grid, (0, 0, 0, 2)))


def _bullets(console: Console, items: list[str], style: str = "") -> None:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(style=style)
    for item in items:
        grid.add_row("-", Text(item))
    console.print(Padding(grid, (0, 0, 0, 2)))


@personas_app.command("show")
def show_persona(
    persona_id: str = typer.Argument(
        ..., metavar="ID", help="Persona id (or a path to a .yaml file)."
    ),
    reveal: bool = typer.Option(
        False, "--reveal", help="Also show hidden facts, payment capacity, meters and thresholds."
    ),
    dirs: list[Path] = typer.Option(None, "--dir", "-d", help=_DIR_HELP),
) -> None:
    """Print a persona's card; hidden facts only with --reveal."""
    try:
        p = _find(persona_id, dirs)
    except PersonaError as exc:
        _echo_problems(exc.problems)
        raise typer.Exit(1) from None

    console = Console(highlight=False)
    _print_card(console, p)
    if not reveal:
        console.print()
        console.print(
            Text(f"{len(p.hidden_facts)} hidden facts; add --reveal to see them.", style="dim")
        )
        return
    _print_hidden_facts(console, p)
    _print_capacity_and_meters(console, p)


def _print_card(console: Console, p: Persona) -> None:
    """What a trainee may see: the heading, who the debtor is, the debt and the voice."""
    console.print(Text(f"{p.name}  ({p.id})", style="bold"))
    console.print(Text(f"{p.temperament.value} · {p.difficulty} · {p.language}", style="dim"))
    console.print(Text(p.situation, style="italic"))

    _section(console, "Who")
    rows = [
        ("age", str(p.profile.age)),
        ("occupation", p.profile.occupation),
        ("household", p.profile.household),
        ("background", " ".join(p.profile.background.split())),
    ]
    if p.third_party:
        rows.append(("on the phone", f"{p.name}, {p.third_party.relation}"))
        rows.append(("account holder", p.third_party.account_holder))
    if p.attorney:
        rows.append(("attorney", f"{p.attorney.name}, {p.attorney.firm}, {p.attorney.phone}"))
    _pairs(console, rows)

    d = p.debt
    _section(console, "Debt")
    _pairs(
        console,
        [
            ("creditor", d.creditor),
            ("product", f"{d.product}, account ending {d.account_last4}"),
            ("amount", f"{d.amount:,.2f} {d.currency} (fees {d.fees_included:,.2f})"),
            ("days past due", str(d.days_past_due)),
        ],
    )

    _section(console, "Voice")
    _bullets(console, p.voice.style_notes)
    console.print(Text("  sounds like:", style="dim"))
    _bullets(console, [f'"{line}"' for line in p.voice.example_lines], style="cyan")


def _print_hidden_facts(console: Console, p: Persona) -> None:
    """Each hidden fact with what reveals it (--reveal only)."""
    _section(console, "Hidden facts")
    for f in p.hidden_facts:
        console.print(Padding(Text(f.id, style="bold"), (0, 0, 0, 2)))
        rows = [
            ("fact", f.fact),
            ("revealed by", ", ".join(t.value for t in f.revealed_by)),
            ("min trust", f"{f.min_trust:g}"),
        ]
        if f.leak_terms:
            rows.append(("leak terms", ", ".join(f.leak_terms)))
        _pairs(console, rows)
    if not p.hidden_facts:
        console.print(Text("  (none)", style="dim"))


def _print_capacity_and_meters(console: Console, p: Persona) -> None:
    """What the debtor can pay, where the meters start and what moves them (--reveal only)."""
    c = p.payment_capacity
    _section(console, "Payment capacity")
    _pairs(
        console,
        [
            ("lump sum max", f"{c.lump_sum_max:,.2f}"),
            ("monthly max", f"{c.monthly_max:,.2f}"),
            ("first payment", f"within {c.first_payment_within_days} days"),
            ("preferred plan", c.preferred_plan),
        ],
    )

    t = p.thresholds
    _section(console, "Meters and thresholds")
    _pairs(
        console,
        [
            ("start", ", ".join(f"{m.value} {v:g}" for m, v in p.meters.items())),
            ("agree at trust", f"{t.agree_trust:g}"),
            ("hang up at anger", f"{t.hang_up_anger:g}"),
            ("complain at anger", f"{t.complaint_anger:g}"),
            ("agreement after", f"{t.min_turns_before_agreement} agent turns"),
            ("patience", f"{t.patience_turns} agent turns"),
        ],
    )

    _section(console, "Sensitivities (trust / anger / distress)")
    _pairs(
        console,
        [
            (s.value, f"{v.trust:+g} / {v.anger:+g} / {v.distress:+g}")
            for s, v in p.sensitivities.items()
        ],
    )
