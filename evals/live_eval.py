"""The live-call eval: whole calls written the way trainees talk, played through a real call session.

``evals/data/live_calls.yaml`` holds the calls (good, clumsy and hostile collectors; identity
questions, small talk, questions of fact, the mini-Miranda, recaps, goodbyes, typos). Each call is
played line by line through :class:`simulator.session.CallSession`, exactly as the web app plays a
trainee's call, and every reply is saved with the call so far, its intent, its source (the model,
its retry, or an authored fallback line), the guards that failed, and how long it took to start
and to finish. For the blind audit each row also keeps the persona's authored line for the same
intent at the same point of the call (the line a fallback would have said).

    python -m evals.live_eval run [--backend SPEC] [--seed N] [--calls N] [--personas ID,...] [--out DIR]
    python -m evals.live_eval score --replies DIR/replies.jsonl [--out DIR]
    python -m evals.live_eval packet --replies DIR/replies.jsonl --out PACKET_DIR
    python -m evals.live_eval audit --labels PACKET_DIR/labels.jsonl [--key PACKET_DIR/key.jsonl]

``run`` writes ``replies.jsonl``, ``report.json`` (evals/live_report.py: the automated proxies
and latency) and ``summary.md`` to ``--out``; ``packet`` and ``audit`` are evals/live_audit.py.
"""

from __future__ import annotations

import json
import re
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

import typer
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.analysis.types import Topic
from core.datafile import DataFileError, load_model, read_text
from core.files import atomic_write_text
from simulator.personas import Persona, load_personas

CALLS_FILE = Path(__file__).resolve().parent / "data" / "live_calls.yaml"
GUIDE = "the header of evals/data/live_calls.yaml"
IDENTITY_KINDS = ("name", "dob", "address", "zip", "ssn4")
_EXPECT = re.compile(
    rf"^(identity_answer:({'|'.join(IDENTITY_KINDS)})|answer_fact:({'|'.join(t.value for t in Topic)})|acknowledge|recap|goodbye)$"
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class Plan(_Strict):
    """A plan the collector reads back: the amount, whether it is monthly, and the first day if said."""

    amount: float = Field(gt=0)
    monthly: bool
    day: int | Literal[WEEKDAYS] | None = None  # day of the month ("the 15th": 15) or weekday ("Friday")

    @field_validator("day")
    @classmethod
    def _a_day_of_the_month(cls, v: object) -> object:
        if isinstance(v, int) and not 1 <= v <= 31:
            raise ValueError("a day of the month is 1-31 (or give a weekday: friday)")
        return v


class CollectorLine(_Strict):
    text: str = Field(min_length=1, max_length=400)
    expects: list[str] = Field(default_factory=list)  # what a correct reply must do (the file header lists them)
    plan: Plan | None = None  # with `expects: recap`

    @field_validator("expects", mode="before")
    @classmethod
    def _one_or_many(cls, v: object) -> object:
        return [v] if isinstance(v, str) else v

    @field_validator("expects")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        for e in v:
            if not _EXPECT.match(e):
                raise ValueError(
                    f"unknown expectation '{e}' (use identity_answer:<{'|'.join(IDENTITY_KINDS)}>, answer_fact:<topic>, "
                    "acknowledge, recap or goodbye)"
                )
        return v

    @model_validator(mode="after")
    def _recap_has_plan(self) -> CollectorLine:
        if self.plan is not None and "recap" not in self.expects:
            raise ValueError("a plan belongs to a line that expects: recap")
        return self


class LiveCall(_Strict):
    id: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=60)
    persona: str
    collector: Literal["good", "clumsy", "hostile"]
    agent_name: str = Field(min_length=1, max_length=40)  # the name the collector gives (the trainee's name)
    lines: list[CollectorLine] = Field(min_length=8, max_length=14)

    @field_validator("lines", mode="before")
    @classmethod
    def _plain_strings(cls, v: object) -> object:
        return [{"text": x} if isinstance(x, str) else x for x in v] if isinstance(v, list) else v


class LiveCalls(_Strict):
    version: Literal[1]
    calls: list[LiveCall] = Field(min_length=1)


class CallsError(DataFileError):
    """A live-calls file that cannot be used."""


def load_calls(path: Path = CALLS_FILE, personas: dict[str, Persona] | None = None) -> LiveCalls:
    """Read and check the calls file: one ``file: field: message`` line per problem."""
    source = str(path)
    if not path.is_file():
        raise CallsError([f"{source}: (file): no such file"])
    calls = load_model(LiveCalls, read_text(path, CallsError), source, guide=GUIDE, error=CallsError)
    personas = personas if personas is not None else load_personas().personas
    problems, seen = [], set()
    for i, c in enumerate(calls.calls):
        if c.persona not in personas:
            problems.append(f"{source}: calls[{i}].persona: unknown persona '{c.persona}' (known: {', '.join(sorted(personas))})")
        if c.id in seen:
            problems.append(f"{source}: calls[{i}].id: '{c.id}' is used twice; give each call its own id")
        seen.add(c.id)
    if problems:
        raise CallsError(problems)
    return calls


def select(calls: list[LiveCall], persona_ids: list[str] | None = None, n_calls: int | None = None, ids: list[str] | None = None) -> list[LiveCall]:
    """The calls to play: by id and persona, then the first ``n_calls`` taken round-robin by persona."""
    chosen = [c for c in calls if (not ids or c.id in ids) and (not persona_ids or c.persona in persona_ids)]
    if n_calls is None:
        return chosen
    by_persona: dict[str, list[LiveCall]] = {}
    for c in chosen:
        by_persona.setdefault(c.persona, []).append(c)
    out: list[LiveCall] = []
    while len(out) < min(n_calls, len(chosen)):
        for queue in by_persona.values():
            if queue and len(out) < n_calls:
                out.append(queue.pop(0))
    return out


# --- playing ---------------------------------------------------------------------------------------
def authored_line(session, decision, earlier: list[str], used: dict) -> str:
    """The persona's own line for the decision, as a fallback at this point would say it.

    ``used`` is the actor's count of fallback lines per intent before this reply, so the choice is
    the one the actor would have made, without touching the call.
    """
    from simulator.actor import placeholders

    persona, agent = session.persona, session.agent_name
    text = session.actor.detail_line(decision, len(session.turns))
    if text is not None:
        return text
    lines = persona.fallback_lines[decision.intent]
    fill = placeholders(persona, decision, agent)
    start = used.get(decision.intent, 0)
    for k in range(len(lines)):
        text = lines[(start + k) % len(lines)].format_map(fill)
        if text not in earlier:
            return text
    return lines[start % len(lines)].format_map(fill)


def play_call(
    call: LiveCall, persona: Persona, backend, analyzer, seed: int = 0, temperature: float | None = None, deadline: float | None = None
) -> tuple[list[dict], dict]:
    """Play one call; returns a row per reply and the call's summary (outcome, lines left unplayed).

    Past ``deadline`` (a ``time.perf_counter()`` value) no further line is said.
    """
    from simulator.session import CallSession

    session = CallSession(persona, backend, analyzer, seed=seed, agent_name=call.agent_name, call_id=call.id, temperature=temperature)
    decisions = []
    step = session.director.step

    def recording_step(state, analysis):  # the decision behind each reply, for the authored line
        decisions.append(step(state, analysis))
        return decisions[-1]

    session.director.step = recording_step
    session.open()
    rows, out_of_time = [], False
    for k, line in enumerate(call.lines):
        if session.ended:
            break
        if deadline is not None and time.perf_counter() > deadline:
            out_of_time = True
            break
        earlier = [t.text for t in session.turns if t.speaker != "agent"]
        used = dict(session.actor.fallback_used)
        t0 = time.perf_counter()
        first, reply = None, None
        for ev in session.say_stream(line.text):
            if ev.kind == "delta" and first is None:
                first = time.perf_counter()
            elif ev.kind == "final":
                reply = ev.reply
        done = time.perf_counter()
        assert reply is not None
        promise = reply.state.promise
        rows.append({
            "call": call.id, "persona": persona.id, "collector_style": call.collector, "agent_name": call.agent_name,
            "line": k, "turn": reply.turn,
            "so_far": [{"speaker": t.speaker, "text": t.text} for t in session.turns[: reply.turn]],
            "collector": line.text, "expects": list(line.expects), "plan": line.plan.model_dump() if line.plan else None,
            "reply": reply.text, "intent": reply.intent.value, "source": reply.source, "failures": list(reply.failures),
            "ms_first": round(((first or done) - t0) * 1000, 1), "ms_total": round((done - t0) * 1000, 1),
            "authored": authored_line(session, decisions[-1], earlier, used),
            "promise": {"amount": promise.amount, "monthly": promise.monthly, "due": promise.due} if promise else None,
            "ended": reply.ended,
            # a recap that read back more or sooner than agreed, corrected by the debtor
            "corrected": decisions[-1].detail.get("correct"),
        })
    session.end()
    outcome = session.outcome
    summary = {
        "call": call.id, "persona": persona.id, "collector_style": call.collector, "replies": len(rows),
        "lines_unplayed": len(call.lines) - len(rows), "outcome": outcome.value if outcome else None, "stopped_for_time": out_of_time,
    }
    return rows, summary


def run(
    backend_spec: str | None, *, seed: int = 0, persona_ids: list[str] | None = None, n_calls: int | None = None,
    ids: list[str] | None = None, calls_file: Path = CALLS_FILE, adapter: bool = True, temperature: float | None = None,
    minutes: float | None = None, progress=None,
) -> tuple[list[dict], dict]:
    """Play the chosen calls; returns (reply rows, run facts). Says no line after ``minutes`` of playing."""
    from core.analysis import default_analyzer
    from simulator.backends import make_backend

    lib = load_personas()
    chosen = select(load_calls(calls_file, lib.personas).calls, persona_ids, n_calls, ids)
    if not chosen:
        raise CallsError([f"{calls_file}: no call matches the chosen personas/ids"])
    t_load = time.perf_counter()
    backend = make_backend(backend_spec, adapter=adapter)
    analyzer = default_analyzer()
    load_s = time.perf_counter() - t_load
    t0 = time.perf_counter()
    deadline = t0 + minutes * 60 if minutes is not None else None
    rows, summaries, skipped = [], [], []
    for c in chosen:
        if deadline is not None and time.perf_counter() > deadline:
            skipped.append(c.id)
            continue
        call_rows, summary = play_call(c, lib.get(c.persona), backend, analyzer, seed=seed, temperature=temperature, deadline=deadline)
        for r in call_rows:
            r.update(backend=backend.spec, seed=seed)
        rows += call_rows
        summaries.append(summary)
        if progress:
            progress(summary, time.perf_counter() - t0, rows)
    facts = {
        "backend": backend.spec, "seed": seed, "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "load_seconds": round(load_s, 1), "play_seconds": round(time.perf_counter() - t0, 1),
        "calls": summaries, "calls_skipped_for_time": skipped,
    }
    return rows, facts


def read_replies(path: Path) -> list[dict]:
    if not path.is_file():
        raise SystemExit(f"{path}: no such file (write one with: python -m evals.live_eval run --out DIR)")
    rows = []
    for n, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if text.strip():
            try:
                rows.append(json.loads(text))
            except ValueError as exc:
                raise SystemExit(f"{path}:{n}: not a JSON line ({exc})") from None
    return rows


def write_results(out: Path, rows: list[dict], facts: dict, *, write_rows: bool = True) -> dict:
    """replies.jsonl, report.json and summary.md in ``out``; returns the report."""
    from evals.live_report import markdown, summarize

    report = {**facts, **summarize(rows, load_personas().personas)}
    out.mkdir(parents=True, exist_ok=True)
    if write_rows:
        atomic_write_text(out / "replies.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    atomic_write_text(out / "report.json", json.dumps(report, indent=2) + "\n")
    atomic_write_text(out / "summary.md", markdown(report))
    return report


# --- command line ----------------------------------------------------------------------------------
app = typer.Typer(add_completion=False, no_args_is_help=True, help="The live-call eval: whole trainee-style calls against every persona.")


def _ids(value: str | None) -> list[str] | None:
    return [x.strip() for x in value.split(",") if x.strip()] if value else None


@app.command("run")
def run_cmd(
    backend: str = typer.Option(None, help="Backend spec (default: the app's default, llamacpp:default)."),
    seed: int = typer.Option(0),
    calls: int = typer.Option(None, "--calls", min=1, help="Play only this many calls, taken in turn from each persona."),
    personas: str = typer.Option(None, help="Comma-separated persona ids (default: all)."),
    ids: str = typer.Option(None, help="Comma-separated call ids (default: all)."),
    calls_file: Path = typer.Option(CALLS_FILE, "--calls-file", help="The calls (YAML)."),
    out: Path = typer.Option(Path("out/live"), help="Folder for replies.jsonl, report.json and summary.md."),
    no_adapter: bool = typer.Option(False, "--no-adapter", help="The bundled model without the debtor adapter."),
    temperature: float = typer.Option(None, help="Sampling temperature (default: the call session's)."),
    minutes: float = typer.Option(30.0, help="Say no further line after this many minutes of playing (calls cut short are marked)."),
) -> None:
    """Play the calls and write the replies, the report and its summary."""

    def progress(summary: dict, elapsed: float, rows: list[dict]) -> None:
        print(f"[{elapsed:6.0f}s] {summary['call']}: {summary['replies']} replies, outcome {summary['outcome']}", file=sys.stderr, flush=True)
        # the replies so far, after every call: a run stopped part way keeps what it played
        atomic_write_text(out / "replies.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))

    try:
        rows, facts = run(
            backend, seed=seed, persona_ids=_ids(personas), n_calls=calls, ids=_ids(ids), calls_file=calls_file,
            adapter=not no_adapter, temperature=temperature, minutes=minutes, progress=progress,
        )
    except DataFileError as exc:
        raise SystemExit("\n".join(exc.problems)) from None
    report = write_results(out, rows, facts)
    print((out / "summary.md").read_text(encoding="utf-8"))
    print(f"written to {out}/ (replies.jsonl, report.json, summary.md); {report['overall']['replies']} replies")


@app.command("score")
def score_cmd(
    replies: Path = typer.Option(..., help="replies.jsonl of an earlier run."),
    out: Path = typer.Option(None, help="Where to write report.json and summary.md (default: beside the replies)."),
) -> None:
    """Compute the report again from saved replies (no model)."""
    rows = read_replies(replies)
    earlier = replies.parent / "report.json"  # keep the run's own facts (backend, timings, calls)
    facts = json.loads(earlier.read_text(encoding="utf-8")) if earlier.is_file() else {"backend": rows[0].get("backend") if rows else None}
    facts = {k: v for k, v in facts.items() if k not in ("targets", "overall", "by_persona", "by_collector_style")}
    facts["rescored_from"] = str(replies)
    write_results(out or replies.parent, rows, facts, write_rows=False)
    print(((out or replies.parent) / "summary.md").read_text(encoding="utf-8"))


@app.command("packet")
def packet_cmd(
    replies: Path = typer.Option(..., help="replies.jsonl of a run."),
    out: Path = typer.Option(..., help="Folder for the packet: items.jsonl, items.md, key.jsonl, labels-template.jsonl."),
    seed: int = typer.Option(0, help="Shuffle (and sampling) seed."),
    positions: int = typer.Option(None, min=1, help="Only this many replies, drawn at random (each with its authored twin)."),
    before: Path = typer.Option(None, help="replies.jsonl of the same calls on an earlier version: its line is added "
                                           "(source 'before') wherever the two differ."),
) -> None:
    """Write a blind-audit packet: each reply and the persona's authored line, shuffled."""
    from evals.live_audit import before_after_rows, write_packet

    rows = read_replies(replies)
    if before is not None:
        rows = before_after_rows(rows, read_replies(before))
    counts = write_packet(rows, out, seed=seed, positions=positions)
    print(f"{sum(counts.values())} items ({', '.join(f'{k}: {v}' for k, v in sorted(counts.items()))}) written to {out}/")


@app.command("audit")
def audit_cmd(
    labels: Path = typer.Option(..., help="The annotator's labels (JSONL, one per item)."),
    key: Path = typer.Option(None, help="The packet's key.jsonl (default: beside the labels)."),
    out: Path = typer.Option(None, help="Also write the figures as JSON here."),
    by_version: bool = typer.Option(False, "--versions", help="A before/after packet (packet --before): shares over "
                                                              "whole calls for each version."),
) -> None:
    """Shares of ok / garbled / off-point / contradicting / ignoring / illogical lines per source."""
    from evals.live_audit import AuditError, audit, audit_table, load_key, load_labels, versions

    try:
        figures = (versions if by_version else audit)(load_labels(labels), load_key(key or labels.parent / "key.jsonl"))
    except AuditError as exc:
        raise SystemExit(str(exc)) from None
    print(audit_table(figures))
    if out:
        atomic_write_text(out, json.dumps(figures, indent=2) + "\n")
        print(f"written to {out}")


if __name__ == "__main__":
    app()
