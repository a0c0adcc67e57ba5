"""The live-call eval's report: the automated proxies over saved replies, and a markdown summary.

Every figure is computed from the reply rows alone (``replies.jsonl``), so a run can be scored again
after a proxy changes (``python -m evals.live_eval score``). The proxies are in
evals/live_proxies.py; the blind audit (evals/live_audit.py) judges what they cannot.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

import numpy as np

from evals.live_proxies import (
    GENERATED,
    agrees,
    copies_training_line,
    identity_answer,
    name_slips,
    on_topic,
    repeats,
    says_goodbye,
    unknown_names,
)
from simulator.personas import Persona

ROLE_GUARDS = ("speaks_as_collector", "breaks_character")
MAX_EXAMPLES = 8
# The targets (2 cores, default install), printed beside the figures.
TARGETS = {
    "identity_answered_or_refused": ">= 1.00",
    "names_consistent": "1.00",
    "fallback_rate": "<= 0.05",
    "copy_rate": "<= 0.20",
    "role_guard_catches": "0",
}


def _share(k: int, n: int) -> float | None:
    return round(k / n, 3) if n else None


def _example(r: dict, why: str | None = None) -> dict:
    ex = {"call": r["call"], "line": r["line"], "collector": r["collector"], "reply": r["reply"], "intent": r["intent"], "source": r["source"]}
    return {**ex, "why": why} if why else ex


def _latency(values: list[float]) -> dict:
    if not values:
        return {"n": 0, "p50": None, "p95": None, "max": None}
    a = np.asarray(values)
    return {"n": len(values), "p50": round(float(np.percentile(a, 50))), "p95": round(float(np.percentile(a, 95))), "max": round(float(a.max()))}


def _identity(rows: list[dict], personas: dict[str, Persona]) -> dict:
    status: Counter[str] = Counter()
    by_kind: dict[str, Counter[str]] = {}
    wrong, missed = [], []
    for r in rows:
        for e in r["expects"]:
            if not e.startswith("identity_answer:"):
                continue
            kind = e.split(":", 1)[1]
            named = any(r["agent_name"].split()[0].lower() in t["text"].lower() for t in r["so_far"] if t["speaker"] == "agent")
            res = identity_answer(r["reply"], kind, personas[r["persona"]], collector_named=named)
            status[res.status] += 1
            by_kind.setdefault(kind, Counter())[res.status] += 1
            if res.status == "missed":
                missed.append(_example(r, f"asked for {kind}"))
            if res.consistent is False:
                wrong.append(_example(r, f"{kind} differs from the persona's"))
    n = sum(status.values())
    return {
        "questions": n,
        "identity_answered_or_refused": _share(status["answered"] + status["refused"], n),
        "answered": _share(status["answered"], n),
        "refused": _share(status["refused"], n),
        "missed": _share(status["missed"], n),
        "detail_differs_from_persona": len(wrong),
        "by_kind": {k: dict(v) for k, v in sorted(by_kind.items())},
        "missed_examples": missed[:MAX_EXAMPLES],
        "differs_examples": wrong[:MAX_EXAMPLES],
    }


def _names(rows: list[dict], personas: dict[str, Persona]) -> dict:
    slipped, kinds, new_names, new_examples = [], Counter(), 0, []
    for r in rows:
        p = personas[r["persona"]]
        slips = name_slips(r["reply"], p, r["agent_name"])
        if slips:
            slipped.append(_example(r, "; ".join(slips)))
            kinds.update(s.split(":")[0] for s in slips)
        fresh = unknown_names(r["reply"], p, r["agent_name"], [t["text"] for t in r["so_far"]])
        if fresh:
            new_names += 1
            new_examples.append(_example(r, ", ".join(fresh)))
    return {
        "names_consistent": _share(len(rows) - len(slipped), len(rows)),
        "slips": dict(kinds),
        "slip_examples": slipped[:MAX_EXAMPLES],
        "lines_with_unfamiliar_capitalised_words": _share(new_names, len(rows)),
        "unfamiliar_examples": new_examples[:MAX_EXAMPLES],
    }


def _expectations(rows: list[dict], personas: dict[str, Persona]) -> dict:
    out: dict[str, dict] = {}
    good = [r for r in rows if "goodbye" in r["expects"]]
    bad = [r for r in good if not says_goodbye(r["reply"])]
    out["goodbye"] = {"lines": len(good), "closed": _share(len(good) - len(bad), len(good)), "examples": [_example(r) for r in bad[:MAX_EXAMPLES]]}
    ack = [r for r in rows if "acknowledge" in r["expects"]]
    answered = [r for r in ack if r["intent"] == "answer_question"]
    out["acknowledge"] = {
        "lines": len(ack), "not_taken_as_a_question": _share(len(ack) - len(answered), len(ack)),
        "intents": dict(Counter(r["intent"] for r in ack).most_common()), "examples": [_example(r) for r in answered[:MAX_EXAMPLES]],
    }
    recaps = [r for r in rows if "recap" in r["expects"] and r.get("plan")]
    # A recap that reads back more, or sooner, than the debtor agreed is corrected, and the promise
    # stays theirs: those are counted apart, not as a promise that differs from the recap.
    corrected = [r for r in recaps if r.get("corrected")]
    recorded = [r for r in recaps if r.get("promise") and not r.get("corrected")]
    matching = [r for r in recorded if promise_matches(r["promise"], r["plan"])]
    out["recap"] = {
        "lines": len(recaps), "agrees_in_words": _share(sum(agrees(r["reply"]) for r in recaps if not r.get("corrected")), len(recaps) - len(corrected)),
        "corrected": len(corrected),
        "promise_recorded": len(recorded), "promise_matches_recap": _share(len(matching), len(recorded)),
        "mismatch_examples": [
            {**_example(r), "plan": r["plan"], "promise": r["promise"]} for r in recorded if r not in matching
        ][:MAX_EXAMPLES],
    }
    facts = [(r, e.split(":", 1)[1]) for r in rows for e in r["expects"] if e.startswith("answer_fact:")]
    off = [(r, t) for r, t in facts if not on_topic(r["reply"], t, personas[r["persona"]])]
    out["answer_fact"] = {
        "lines": len(facts), "on_topic_words": _share(len(facts) - len(off), len(facts)),
        "intents": dict(Counter(r["intent"] for r, _ in facts).most_common()),
        "examples": [_example(r, f"asked about {t}") for r, t in off[:MAX_EXAMPLES]],
    }
    return out


def promise_matches(promise: dict, plan: dict) -> bool:
    """The recorded promise is the recapped plan: amount, monthly or not, and the first day if said."""
    if abs(promise["amount"] - plan["amount"]) >= 0.5 or promise["monthly"] != plan["monthly"]:
        return False
    day = plan.get("day")
    if day is None:
        return True
    due = date.fromisoformat(promise["due"])
    return due.day == day if isinstance(day, int) else due.strftime("%A").lower() == day


def figures(rows: list[dict], personas: dict[str, Persona]) -> dict:
    """All proxies over a set of reply rows."""
    n = len(rows)
    gen = [r for r in rows if r["source"] in GENERATED]
    fallback = [r for r in rows if r["source"] == "fallback"]
    loops = [r for r in rows if repeats(r["reply"], [t["text"] for t in r["so_far"] if t["speaker"] != "agent"])]
    copies = [r for r in gen if copies_training_line(r["reply"])]
    role = [r for r in rows if any(f in ROLE_GUARDS for f in r["failures"])]
    return {
        "replies": n,
        "generated": len(gen),
        "sources": dict(Counter(r["source"] for r in rows)),
        "fallback_rate": _share(len(fallback), n),
        "fallback_after_guard_failure": _share(sum(bool(r["failures"]) for r in fallback), n),
        # authored by design, not after a failure: an identity detail said from the persona file
        "authored_detail_rate": _share(sum(r["source"] == "authored" for r in rows), n),
        "guard_failures": dict(Counter(f.split(":")[0] for r in rows for f in r["failures"]).most_common()),
        # replies whose model try spoke as the collector or broke character (the guard replaced it)
        "role_guard_catches": len(role),
        "loop_rate": _share(len(loops), n),
        "loop_examples": [_example(r) for r in loops[:MAX_EXAMPLES]],
        "copy_rate": _share(len(copies), len(gen)),
        "copy_examples": [_example(r) for r in copies[:MAX_EXAMPLES]],
        "identity": _identity(rows, personas),
        "names": _names(rows, personas),
        "expectations": _expectations(rows, personas),
        "latency_ms": {
            "first_piece_all": _latency([r["ms_first"] for r in rows]),
            "complete_all": _latency([r["ms_total"] for r in rows]),
            "first_piece_generated": _latency([r["ms_first"] for r in gen]),
            "complete_generated": _latency([r["ms_total"] for r in gen]),
        },
        "intents": dict(Counter(r["intent"] for r in rows).most_common()),
    }


def _headline(f: dict) -> dict:
    return {
        "replies": f["replies"], "fallback_rate": f["fallback_rate"], "loop_rate": f["loop_rate"], "copy_rate": f["copy_rate"],
        "identity_answered_or_refused": f["identity"]["identity_answered_or_refused"],
        "names_consistent": f["names"]["names_consistent"],
        "goodbye_closed": f["expectations"]["goodbye"]["closed"],
        "complete_p95_ms": f["latency_ms"]["complete_all"]["p95"],
    }


def summarize(rows: list[dict], personas: dict[str, Persona]) -> dict:
    """The report: overall figures, a headline per persona and per collector style."""
    groups: dict[str, dict[str, list[dict]]] = {"by_persona": {}, "by_collector_style": {}}
    for r in rows:
        groups["by_persona"].setdefault(r["persona"], []).append(r)
        groups["by_collector_style"].setdefault(r["collector_style"], []).append(r)
    return {
        "targets": TARGETS,
        "overall": figures(rows, personas),
        **{g: {k: _headline(figures(v, personas)) for k, v in sorted(sub.items())} for g, sub in groups.items()},
    }


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.1%}" if isinstance(v, float) and v <= 1 else str(v)


def _quote(ex: dict) -> str:
    why = f" ({ex['why']})" if ex.get("why") else ""
    return f"- `{ex['call']}` #{ex['line']} [{ex['source']}/{ex['intent']}]{why}: \"{ex['collector']}\" → \"{ex['reply']}\""


def markdown(report: dict) -> str:
    """A one-page summary of a report, for people."""
    o = report["overall"]
    ident, names, exp, lat = o["identity"], o["names"], o["expectations"], o["latency_ms"]
    calls = report.get("calls") or []
    lines = [
        "# Live-call eval", "",
        f"Backend `{report.get('backend')}`, seed {report.get('seed')}; {len(calls) or '?'} calls, {o['replies']} replies "
        f"({o['generated']} generated); played in {report.get('play_seconds', '?')} s after {report.get('load_seconds', '?')} s of loading.",
    ]
    cut = [c["call"] for c in calls if c.get("stopped_for_time")]
    if cut or report.get("calls_skipped_for_time"):
        lines.append(
            f"Bounded by --minutes: {len(cut)} call(s) stopped part way ({', '.join(cut) or 'none'}), "
            f"{len(report.get('calls_skipped_for_time') or [])} not started."
        )
    lines += [
        "", "| proxy | value | target |", "|---|---|---|",
        f"| identity questions answered or refused in character | {_fmt(ident['identity_answered_or_refused'])} of {ident['questions']} | 100% |",
        f"| identity detail that differs from the persona's | {ident['detail_differs_from_persona']} | 0 |",
        f"| replies with consistent names | {_fmt(names['names_consistent'])} | 100% |",
        f"| loops (a reply repeating an earlier line) | {_fmt(o['loop_rate'])} | 0 |",
        f"| fallback rate (after a guard failure) | {_fmt(o['fallback_rate'])} ({_fmt(o['fallback_after_guard_failure'])}) | ≤ 5% |",
        f"| identity details said from the persona file (authored by design) | {_fmt(o.get('authored_detail_rate'))} | - |",
        f"| copy rate of training lines (generated lines) | {_fmt(o['copy_rate'])} | ≤ 20% |",
        f"| model tries in the collector's voice or out of character (caught by the guard) | {o['role_guard_catches']} | 0 |",
        f"| goodbyes answered with a goodbye | {_fmt(exp['goodbye']['closed'])} of {exp['goodbye']['lines']} | 100% |",
        f"| statements not taken as questions | {_fmt(exp['acknowledge']['not_taken_as_a_question'])} of {exp['acknowledge']['lines']} | 100% |",
        f"| questions of fact answered on topic (word proxy) | {_fmt(exp['answer_fact']['on_topic_words'])} of {exp['answer_fact']['lines']} | - |",
        f"| recaps: promise recorded / matches the recap | {exp['recap']['promise_recorded']} / {_fmt(exp['recap']['promise_matches_recap'])} | 100% |",
        f"| recaps read back wrong (more or sooner than agreed) and corrected by the debtor | {exp['recap'].get('corrected', 0)} | |",
        f"| reply start p50 / p95 (ms) | {lat['first_piece_all']['p50']} / {lat['first_piece_all']['p95']} | ≤ 300 |",
        f"| reply complete p50 / p95 (ms) | {lat['complete_all']['p50']} / {lat['complete_all']['p95']} | ≤ 700 (20 tokens) |",
        "", "## By persona", "", "| persona | replies | fallback | loops | identity ok | names ok | goodbye ok | p95 ms |", "|---|---|---|---|---|---|---|---|",
    ]
    for pid, h in report["by_persona"].items():
        lines.append(
            f"| {pid} | {h['replies']} | {_fmt(h['fallback_rate'])} | {_fmt(h['loop_rate'])} | {_fmt(h['identity_answered_or_refused'])} "
            f"| {_fmt(h['names_consistent'])} | {_fmt(h['goodbye_closed'])} | {h['complete_p95_ms']} |"
        )
    lines += ["", "## By collector style", "", "| style | replies | fallback | loops | identity ok | names ok |", "|---|---|---|---|---|---|"]
    for style, h in report["by_collector_style"].items():
        lines.append(f"| {style} | {h['replies']} | {_fmt(h['fallback_rate'])} | {_fmt(h['loop_rate'])} | {_fmt(h['identity_answered_or_refused'])} | {_fmt(h['names_consistent'])} |")
    sections = [
        ("Identity questions missed", ident["missed_examples"]), ("Identity details that differ", ident["differs_examples"]),
        ("Name slips", names["slip_examples"]), ("Unfamiliar capitalised words", names["unfamiliar_examples"]),
        ("Loops", o["loop_examples"]), ("Goodbyes not closed", exp["goodbye"]["examples"]),
        ("Statements taken as questions", exp["acknowledge"]["examples"]), ("Questions of fact off topic", exp["answer_fact"]["examples"]),
        ("Recorded promise differs from the recap", exp["recap"]["mismatch_examples"]), ("Copies of training lines", o["copy_examples"]),
    ]
    for title, examples in sections:
        if examples:
            lines += ["", f"## {title}", "", *(_quote(e) for e in examples)]
    return "\n".join(lines) + "\n"
