"""Persona fidelity baseline: fixed collector scripts against every persona, with a real model.

Reports, per persona and overall: role confusion (the debtor speaking as the collector or as an
assistant), fallback rate, hidden-fact leak attempts caught by the guard (and any that got
through), words per line and the outcome reached. These figures are the baseline for tuning
the debtor model.

    python -m evals.persona_fidelity --out out/fidelity.json [--backend SPEC] [--personas ID,...]
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

import typer
import yaml

from simulator.actor import leaked_fact
from simulator.personas import Persona, load_personas

ROLE_GUARDS = ("speaks_as_collector", "breaks_character")


def load_scripts() -> dict[str, list[str]]:
    text = resources.files("evals").joinpath("data/collector_scripts.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)["scripts"]


def fill_line(line: str, persona: Persona) -> str:
    holder = persona.third_party.account_holder if persona.third_party else persona.name
    cap = persona.payment_capacity
    amount = cap.monthly_max or cap.lump_sum_max or 25
    return line.format(debtor=holder.split()[0], full=holder, creditor=persona.debt.creditor, amount=f"${amount:,.0f}")


@dataclass
class Tally:
    replies: int = 0
    role_confusion: int = 0
    fallback: int = 0
    retries: int = 0
    leak_attempts: int = 0
    leaks_shipped: int = 0
    backend_errors: int = 0
    words: list[int] = field(default_factory=list)
    guard_failures: dict[str, int] = field(default_factory=dict)

    def add(self, other: Tally) -> None:
        for k in ("replies", "role_confusion", "fallback", "retries", "leak_attempts", "leaks_shipped", "backend_errors"):
            setattr(self, k, getattr(self, k) + getattr(other, k))
        self.words.extend(other.words)
        for k, v in other.guard_failures.items():
            self.guard_failures[k] = self.guard_failures.get(k, 0) + v

    def summary(self) -> dict:
        n = max(self.replies, 1)
        return {
            "replies": self.replies,
            "role_confusion_rate": round(self.role_confusion / n, 3),
            "fallback_rate": round(self.fallback / n, 3),
            "retry_rate": round(self.retries / n, 3),
            "leak_attempts": self.leak_attempts,
            "leaks_shipped": self.leaks_shipped,
            "backend_errors": self.backend_errors,
            "words_per_model_line": round(statistics.mean(self.words), 1) if self.words else None,
            "guard_failures": dict(sorted(self.guard_failures.items())),
        }


def play_script(persona: Persona, lines: list[str], backend, analyzer, seed: int = 0):
    """One scripted call; returns (tally, transcript)."""
    from simulator.session import CallSession

    session = CallSession(persona, backend, analyzer, seed=seed, agent_name="Sam")
    session.open()
    tally = Tally()
    for raw in lines:
        if session.ended:
            break
        revealed_before = session.state.revealed
        reply = session.say(fill_line(raw, persona))
        tally.replies += 1
        fails = reply.failures
        for f in fails:
            key = f.split(":")[0]
            tally.guard_failures[key] = tally.guard_failures.get(key, 0) + 1
        if any(f in ROLE_GUARDS for f in fails):
            tally.role_confusion += 1
        if any(f.startswith("leaks_fact") for f in fails):
            tally.leak_attempts += 1
        if "backend_error" in fails:
            tally.backend_errors += 1
        if reply.source == "fallback":
            tally.fallback += 1
        else:
            tally.words.append(len(reply.text.split()))
            if reply.source == "retry":
                tally.retries += 1
            if leaked_fact(reply.text, persona, revealed_before + reply.newly_revealed):
                tally.leaks_shipped += 1
    session.end()
    return tally, session.transcript()


def run(backend_spec: str | None, persona_ids: list[str] | None, seed: int = 0, transcripts_out: Path | None = None) -> dict:
    from simulator.analysis import default_analyzer
    from simulator.backends import make_backend

    lib = load_personas()
    personas = [lib.get(p) for p in persona_ids] if persona_ids else list(lib.personas.values())
    backend = make_backend(backend_spec)
    analyzer = default_analyzer()
    scripts = load_scripts()
    total = Tally()
    by_script: dict[str, Tally] = {k: Tally() for k in scripts}
    rows = []
    transcripts = []
    t0 = time.perf_counter()
    from rich.progress import Progress

    with Progress(transient=True) as progress:
        task = progress.add_task("scripted calls", total=len(personas) * len(scripts))
        for p in personas:
            for name, lines in scripts.items():
                progress.update(task, description=f"{p.id} / {name}")
                tally, transcript = play_script(p, lines, backend, analyzer, seed=seed)
                total.add(tally)
                by_script[name].add(tally)
                transcripts.append(transcript)
                rows.append({"persona": p.id, "script": name, "outcome": transcript.metadata.get("outcome"), **tally.summary()})
                progress.advance(task)
    if transcripts_out:
        from simulator.transcript import write_jsonl_atomic

        write_jsonl_atomic(transcripts_out, transcripts)
    return {
        "backend": backend.spec,
        "seed": seed,
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - t0, 1),
        "overall": total.summary(),
        "by_script": {k: v.summary() for k, v in by_script.items()},
        "calls": rows,
    }


def main(
    out: Path = typer.Option(Path("out/fidelity.json"), help="Where to write the JSON figures."),
    backend: str = typer.Option(None, help="Backend spec (default: the bundled model)."),
    personas: str = typer.Option(None, help="Comma-separated persona ids (default: all)."),
    seed: int = typer.Option(0),
    transcripts: Path = typer.Option(None, help="Also write the calls as JSONL."),
) -> None:
    """Run the persona-fidelity baseline and write its figures."""
    from rich.console import Console
    from rich.table import Table

    result = run(backend, personas.split(",") if personas else None, seed, transcripts)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    table = Table(title=f"Persona fidelity ({result['backend']})")
    for col in ("persona", "script", "outcome", "role_confusion_rate", "fallback_rate", "leak_attempts", "words_per_model_line"):
        table.add_column(col)
    for r in result["calls"]:
        table.add_row(*(str(r[c]) for c in ("persona", "script", "outcome", "role_confusion_rate", "fallback_rate", "leak_attempts", "words_per_model_line")))
    con = Console()
    con.print(table)
    con.print({"overall": result["overall"]})
    con.print(f"written to {out}")


if __name__ == "__main__":
    typer.run(main)
