"""``callcoach chat``: a practice call in the terminal (works with piped stdin too)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console

err = Console(stderr=True)


def _fail(msg: str) -> None:
    err.print(f"[red]error:[/red] {msg}", highlight=False)
    raise typer.Exit(2)


def chat(
    persona: str = typer.Option(..., "--persona", "-p", help="Persona id (see `callcoach personas list`)."),
    backend: str = typer.Option(None, "--backend", "-b", help="Backend spec, e.g. transformers:default or openai:http://host:8000/v1#model."),
    seed: int = typer.Option(0, help="Seed for the debtor's choices and sampling."),
    out: Path = typer.Option(None, "--out", "-o", help="Append the transcript (JSONL) to this file."),
    show_state: bool = typer.Option(False, "--show-state", help="Show the debtor's meters and intent after each turn."),
    personas_dir: list[Path] = typer.Option(None, "--personas-dir", help="Extra persona folders or files."),
    agent_name: str = typer.Option(None, "--agent-name", help="Your name, as the debtor may use it."),
    no_adapter: bool = typer.Option(False, "--no-adapter", help="The embedded model without its tuned debtor adapter."),
) -> None:
    """Practise a call. Type the collector's lines; /end ends the call, /undo takes back a turn."""
    from simulator.backends import BackendError, make_backend
    from simulator.personas import SHIPPED_DIR, load_personas

    lib = load_personas([SHIPPED_DIR, *(personas_dir or [])])
    try:
        p = lib.get(persona)
    except KeyError as exc:
        _fail(str(exc.args[0]))
    try:
        lm = make_backend(backend, adapter=not no_adapter)
    except BackendError as exc:
        _fail(str(exc))
    from simulator.analysis import default_analyzer
    from simulator.session import CallSession

    session = CallSession(p, lm, default_analyzer(), seed=seed, agent_name=agent_name)
    interactive = sys.stdin.isatty()
    out_console = Console(highlight=False)
    live = out_console.is_terminal
    debtor = p.third_party.relation.split(" of ")[0].title() if p.third_party else p.name
    out_console.print(f"[bold]Calling {p.name}[/bold] - {p.situation}  [dim](/end to finish, /undo to take back)[/dim]")
    opening = session.open()
    out_console.print(f"[cyan]{debtor}:[/cyan] {opening.text}")

    def prompt() -> str | None:
        if interactive:
            try:
                return input("You: ")
            except EOFError:
                return None
        line = sys.stdin.readline()
        if not line:
            return None
        out_console.print(f"You: {line.rstrip()}")
        return line

    while not session.ended:
        line = prompt()
        if line is None or line.strip() == "/end":
            session.end()
            break
        line = line.strip()
        if not line:
            continue
        if line == "/undo":
            out_console.print("[dim](last turn taken back)[/dim]" if session.undo() else "[dim](nothing to undo)[/dim]")
            continue
        out_console.print(f"[cyan]{debtor}:[/cyan] ", end="")
        shown = ""
        reply = None
        for ev in session.say_stream(line):
            if ev.kind == "delta" and live:
                out_console.print(ev.text, end="")
                shown += ev.text
            elif ev.kind == "reset" and live:
                # erase what was shown: the line failed a guard and is being redone
                out_console.file.write("\b" * len(shown) + " " * len(shown) + "\b" * len(shown))
                shown = ""
            elif ev.kind == "final":
                reply = ev.reply
        if not live:
            out_console.print(reply.text, end="")
        out_console.print()
        if show_state and reply:
            st = reply.state
            m = st.meters
            out_console.print(
                f"[dim]  intent={reply.intent.value} source={reply.source} trust={m['trust']:.0f} "
                f"anger={m['anger']:.0f} distress={m['distress']:.0f} mood={st.mood()}"
                + (f" revealed={','.join(reply.newly_revealed)}" if reply.newly_revealed else "")
                + "[/dim]"
            )
    t = session.transcript()
    outcome = t.metadata.get("outcome") or "none"
    promise = t.metadata.get("promise")
    out_console.print(f"[bold]Call ended.[/bold] Outcome: {outcome}" + (f" ({promise['plan']})" if promise else ""))
    if out:
        from simulator.transcript import append_jsonl

        append_jsonl(out, t)
        out_console.print(f"Transcript written to {out}")
    lm.close()


def register(app: typer.Typer) -> None:
    app.command("chat")(chat)
