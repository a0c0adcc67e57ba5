"""``callcoach chat``: a practice call in the terminal (works with piped stdin too).

What the trainee types and what the model says is printed as plain text (rich ``Text``), never
read as markup: ``[/b]`` or ``[/INST]`` in a line is just text. The transcript is written
whatever happens mid-call (an error, Ctrl-C), so a call is never lost.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.text import Text

err = Console(stderr=True, highlight=False)
log = logging.getLogger(__name__)


def _fail(msg: str, code: int = 2) -> None:
    err.print(Text.assemble(("error:", "red"), " ", msg))
    raise typer.Exit(code)


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
    from core.analysis import default_analyzer
    from simulator.session import CallSession

    session = CallSession(p, lm, default_analyzer(), seed=seed, agent_name=agent_name)
    out_console = Console(highlight=False)
    try:
        _run_call(session, out_console, show_state)
    except KeyboardInterrupt:
        out_console.print()
        out_console.print(Text("(call interrupted)", style="dim"))
        _finish(session, out_console, out)
        raise
    except Exception as exc:  # noqa: BLE001 - the call's transcript is saved, then one line
        log.debug("chat failed mid-call", exc_info=True)
        out_console.print()
        _finish(session, out_console, out)
        _fail(f"the call stopped: {type(exc).__name__}: {exc}", code=1)
    else:
        _finish(session, out_console, out)
    finally:
        lm.close()


def _run_call(session, out_console: Console, show_state: bool) -> None:
    p = session.persona
    interactive = sys.stdin.isatty()
    live = out_console.is_terminal
    debtor = p.third_party.relation.split(" of ")[0].title() if p.third_party else p.name
    out_console.print(
        Text.assemble(
            (f"Calling {p.name}", "bold"), f" - {p.situation}  ", ("(/end to finish, /undo to take back)", "dim")
        )
    )
    opening = session.open()
    out_console.print(Text.assemble((f"{debtor}:", "cyan"), " ", opening.text))

    def prompt() -> str | None:
        if interactive:
            try:
                return input("You: ")
            except EOFError:
                return None
        line = sys.stdin.readline()
        if not line:
            return None
        out_console.print(Text(f"You: {line.rstrip()}"))
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
            done = session.undo()
            out_console.print(Text("(last turn taken back)" if done else "(nothing to undo)", style="dim"))
            continue
        out_console.print(Text.assemble((f"{debtor}:", "cyan"), " "), end="")
        shown = ""
        reply = None
        for ev in session.say_stream(line):
            if ev.kind == "delta" and live:
                out_console.print(Text(ev.text), end="")
                shown += ev.text
            elif ev.kind == "reset" and live:
                # erase what was shown: the line failed a guard and is being redone
                out_console.file.write("\b" * len(shown) + " " * len(shown) + "\b" * len(shown))
                shown = ""
            elif ev.kind == "final":
                reply = ev.reply
        if not live and reply is not None:
            out_console.print(Text(reply.text), end="")
        out_console.print()
        if show_state and reply:
            st = reply.state
            m = st.meters
            out_console.print(
                Text(
                    f"  intent={reply.intent.value} source={reply.source} trust={m['trust']:.0f} "
                    f"anger={m['anger']:.0f} distress={m['distress']:.0f} mood={st.mood()}"
                    + (f" revealed={','.join(reply.newly_revealed)}" if reply.newly_revealed else ""),
                    style="dim",
                )
            )


def _finish(session, out_console: Console, out: Path | None) -> None:
    """Say how the call ended and append its transcript to ``out`` (a failure is one line)."""
    t = session.transcript()
    outcome = t.metadata.get("outcome") or "none"
    promise = t.metadata.get("promise")
    out_console.print(
        Text.assemble(("Call ended.", "bold"), f" Outcome: {outcome}" + (f" ({promise['plan']})" if promise else ""))
    )
    if not out or not t.turns:
        return
    from core.transcript import append_jsonl

    try:
        append_jsonl(out, t)
    except OSError as exc:
        _fail(f"cannot write the transcript to {out}: {exc.strerror or exc}", code=1)
    out_console.print(Text(f"Transcript written to {out}"))


def register(app: typer.Typer) -> None:
    app.command("chat")(chat)
