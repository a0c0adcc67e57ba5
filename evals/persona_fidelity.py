"""Persona fidelity: scripted collector calls against personas, with a real model.

Reports, per persona and overall: role confusion (the debtor speaking as the collector or as an
assistant), guard-failure, retry and fallback rates, hidden-fact leak attempts caught by the
guard (and any that got through), words per line and the outcome reached. With ``--heldout`` it
plays only what the tuning corpus never saw - the held-out personas, and calls built from every
collector move's held-out lines - and adds intent accuracy, relevance and copy rate
(evals/fidelity_metrics.py).

    python -m evals.persona_fidelity --out out/fidelity.json [--backend SPEC] [--personas ID,...]
        [--heldout] [--no-adapter] [--replies out/replies.jsonl] [--seed N] [--temperature T]
    python -m evals.persona_fidelity --rescore out/replies.jsonl --out out/fidelity.json
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

import typer
import yaml

from simulator.actor import check_line, leaked_fact, wrong_language
from simulator.personas import Persona, load_personas

ROLE_GUARDS = ("speaks_as_collector", "breaks_character")
_CJK = re.compile(r"[\u3400-\u9fff]")


def load_scripts(language: str = "en") -> dict[str, list[str]]:
    """The fixed collector scripts in ``language`` (collector_scripts.yaml, collector_scripts_zh.yaml)."""
    name = "data/collector_scripts.yaml" if language == "en" else f"data/collector_scripts_{language}.yaml"
    text = resources.files("evals").joinpath(name).read_text(encoding="utf-8")
    return yaml.safe_load(text)["scripts"]


def fill_line(line: str, persona: Persona) -> str:
    holder = persona.account_holder
    cap = persona.payment_capacity
    amount = cap.monthly_max or cap.lump_sum_max or 25
    said = f"{amount:.0f}元" if persona.language == "zh" else f"${amount:,.0f}"
    return line.format(debtor=holder.split()[0], full=holder, creditor=persona.debt.creditor, amount=said)


def heldout_scripts(persona: Persona, seed: int = 0, calls_per_plan: int = 1) -> dict[str, list[str]]:
    """Calls built only from the collector moves' held-out lines, one per plan and seed."""
    import random

    from training.banks import load_call_plans, load_collector_bank
    from training.build_corpus import AGENTS, collector_fill, plan_moves

    bank = load_collector_bank()
    plans = load_call_plans(collector=bank)
    out = {}
    for name in plans.plans:
        for k in range(calls_per_plan):
            rng = random.Random(f"{seed}-{persona.id}-{name}-{k}")
            fill = collector_fill(persona, rng, rng.choice(AGENTS))
            _, moves = plan_moves(plans, rng, only=name)
            out[f"{name}-{k}"] = [rng.choice(bank.moves[m].heldout).format(**fill) for m in moves if bank.moves[m].heldout]
    return out


@dataclass
class Tally:
    replies: int = 0
    role_confusion: int = 0
    fallback: int = 0
    retries: int = 0
    guard_failed: int = 0  # replies whose first try failed a guard (retried or fell back)
    leak_attempts: int = 0
    leaks_shipped: int = 0
    backend_errors: int = 0
    shipped_role: int = 0  # lines said (whatever their source) that the role guards reject
    wrong_language: int = 0  # lines said that are not in the persona's language
    words: list[int] = field(default_factory=list)
    guard_failures: dict[str, int] = field(default_factory=dict)

    def add(self, other: Tally) -> None:
        for k in ("replies", "role_confusion", "fallback", "retries", "guard_failed", "leak_attempts", "leaks_shipped", "backend_errors", "shipped_role", "wrong_language"):
            setattr(self, k, getattr(self, k) + getattr(other, k))
        self.words.extend(other.words)
        for k, v in other.guard_failures.items():
            self.guard_failures[k] = self.guard_failures.get(k, 0) + v

    def summary(self) -> dict:
        n = max(self.replies, 1)
        return {
            "replies": self.replies,
            "role_confusion_rate": round(self.role_confusion / n, 3),
            "shipped_role_confusion_rate": round(self.shipped_role / n, 3),
            "wrong_language_rate": round(self.wrong_language / n, 3),
            "fallback_rate": round(self.fallback / n, 3),
            "retry_rate": round(self.retries / n, 3),
            "guard_failure_rate": round(self.guard_failed / n, 3),
            "leak_attempts": self.leak_attempts,
            "leaks_shipped": self.leaks_shipped,
            "backend_errors": self.backend_errors,
            "words_per_model_line": round(statistics.mean(self.words), 1) if self.words else None,
            "guard_failures": dict(sorted(self.guard_failures.items())),
        }


def play_script(
    persona: Persona, lines: list[str], backend, analyzer, seed: int = 0, log: list | None = None, script: str = "", temperature: float | None = None
):
    """One scripted call (lines already filled in); returns (tally, transcript).

    ``log`` collects one row per reply (collector line, reply, intent, source, guard failures).
    """
    from simulator.session import CallSession

    session = CallSession(persona, backend, analyzer, seed=seed, agent_name="Sam", temperature=temperature)
    session.open()
    tally = Tally()
    for line in lines:
        if session.ended:
            break
        revealed_before = session.state.revealed
        reply = session.say(line)
        tally.replies += 1
        fails = reply.failures
        for f in fails:
            key = f.split(":")[0]
            tally.guard_failures[key] = tally.guard_failures.get(key, 0) + 1
        if any(f in ROLE_GUARDS for f in fails):
            tally.role_confusion += 1
        if any(f != "backend_error" for f in fails):
            tally.guard_failed += 1
        if any(f.startswith("leaks_fact") for f in fails):
            tally.leak_attempts += 1
        if "backend_error" in fails:
            tally.backend_errors += 1
        # Every line said, authored or not, through the role guards and the language check
        said_fails = check_line(reply.text, persona, session.state, [], analyzer=session.analyzer)
        if any(f in ROLE_GUARDS for f in said_fails):
            tally.shipped_role += 1
        if wrong_language(reply.text, persona.language):
            tally.wrong_language += 1
        if reply.source == "fallback":
            tally.fallback += 1
        else:
            # words, or for Chinese characters
            tally.words.append(len(_CJK.findall(reply.text)) if persona.language == "zh" else len(reply.text.split()))
            if reply.source == "retry":
                tally.retries += 1
            if leaked_fact(reply.text, persona, revealed_before + reply.newly_revealed):
                tally.leaks_shipped += 1
        if log is not None:
            log.append({
                "persona": persona.id, "script": script, "collector": line, "reply": reply.text,
                "intent": reply.intent.value, "source": reply.source, "failures": list(fails),
            })
    session.end()
    return tally, session.transcript()


def run(
    backend_spec: str | None,
    persona_ids: list[str] | None,
    seed: int = 0,
    transcripts_out: Path | None = None,
    *,
    heldout: bool = False,
    adapter: bool = True,
    replies_out: Path | None = None,
    calls_per_plan: int = 1,
    temperature: float | None = None,
    language: str = "en",
) -> dict:
    from core.analysis import default_analyzer
    from simulator.backends import make_backend

    lib = load_personas()
    if heldout and not persona_ids:
        from training.build_corpus import HELDOUT_PERSONAS

        persona_ids = list(HELDOUT_PERSONAS)
    personas = [lib.get(p) for p in persona_ids] if persona_ids else [p for p in lib.personas.values() if p.language == language]
    backend = make_backend(backend_spec, adapter=adapter)
    analyzer = default_analyzer(language)
    fixed = load_scripts(language)
    plays = []
    for p in personas:
        scripts = {k: [fill_line(x, p) for x in v] for k, v in fixed.items()}
        if heldout:
            scripts.update(heldout_scripts(p, seed, calls_per_plan))
        plays += [(p, name, lines) for name, lines in scripts.items()]
    total = Tally()
    by_script: dict[str, Tally] = {}
    rows, transcripts, log = [], [], []
    t0 = time.perf_counter()
    from rich.progress import Progress

    with Progress(transient=True) as progress:
        task = progress.add_task("scripted calls", total=len(plays))
        for p, name, lines in plays:
            progress.update(task, description=f"{p.id} / {name}")
            tally, transcript = play_script(p, lines, backend, analyzer, seed=seed, log=log, script=name, temperature=temperature)
            total.add(tally)
            by_script.setdefault(name.rsplit("-", 1)[0] if heldout else name, Tally()).add(tally)
            transcripts.append(transcript)
            rows.append({"persona": p.id, "script": name, "outcome": transcript.metadata.get("outcome"), **tally.summary()})
            progress.advance(task)
    if transcripts_out:
        from core.transcript import write_jsonl_atomic

        write_jsonl_atomic(transcripts_out, transcripts)
    if replies_out:
        replies_out.parent.mkdir(parents=True, exist_ok=True)
        replies_out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in log), encoding="utf-8")
    overall = total.summary()
    if heldout:
        overall.update(line_metrics(log, lib.personas))
    return {
        "backend": backend.spec,
        "heldout": heldout,
        "seed": seed,
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - t0, 1),
        "overall": overall,
        "by_script": {k: v.summary() for k, v in by_script.items()},
        "calls": rows,
    }


def line_metrics(log: list[dict], personas: dict) -> dict:
    """Intent accuracy, relevance and copy rate over the model's own lines (fallbacks excluded)."""
    from evals.fidelity_metrics import corpus_targets, fit_intent_classifier, norm, relevance
    from training.build_corpus import CORPUS_FILE, HELDOUT_PERSONAS

    model_rows = [r for r in log if r["source"] != "fallback"]
    clf = fit_intent_classifier(personas, HELDOUT_PERSONAS)
    predicted = clf.predict([r["reply"] for r in model_rows])
    right = sum(p == r["intent"] for p, r in zip(predicted, model_rows, strict=True))
    misses = Counter(f"{r['intent']} -> {p}" for p, r in zip(predicted, model_rows, strict=True) if p != r["intent"])
    targets = corpus_targets(CORPUS_FILE)
    copies = sum(norm(r["reply"]) in targets for r in model_rows)
    calls: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for r in model_rows:
        calls.setdefault((r["persona"], r["script"]), []).append((r["collector"], r["reply"]))
    return {
        "intent_accuracy": round(right / len(model_rows), 3) if model_rows else None,
        "intent_classifier_ceiling": clf.loo_accuracy,
        "intent_classifier_ceiling_by_source": clf.loo_by_source,
        "intent_classifier_lines": clf.lines,
        "intent_misses": dict(misses.most_common(8)),  # asked -> judged, the commonest first
        "copy_rate": round(copies / len(model_rows), 3) if model_rows else None,
        "corpus_targets": len(targets),
        **relevance(list(calls.values()), clf.embedder),
    }


def rescore_replies(replies: Path, out: Path) -> dict:
    """Intent accuracy, relevance and copy rate of saved replies, merged into the figures at ``out``."""
    if not replies.is_file():
        raise SystemExit(f"{replies}: no such file (write one with --heldout --replies {replies})")
    log = [json.loads(line) for line in replies.read_text(encoding="utf-8").splitlines() if line.strip()]
    result = json.loads(out.read_text(encoding="utf-8")) if out.is_file() else {"heldout": True, "overall": {}}
    result["overall"].update(line_metrics(log, load_personas().personas))
    result["rescored"] = {"replies": str(replies), "when": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    return result["overall"]


def main(
    out: Path = typer.Option(Path("out/fidelity.json"), help="Where to write the JSON figures."),
    backend: str = typer.Option(None, help="Backend spec (default: the bundled model)."),
    personas: str = typer.Option(None, help="Comma-separated persona ids (default: all)."),
    seed: int = typer.Option(0),
    transcripts: Path = typer.Option(None, help="Also write the calls as JSONL."),
    heldout: bool = typer.Option(False, "--heldout", help="Only what tuning never saw: held-out personas and collector lines; adds intent accuracy, relevance and copy rate."),
    no_adapter: bool = typer.Option(False, "--no-adapter", help="The bundled model without the debtor adapter."),
    replies: Path = typer.Option(None, help="Also write every reply (with its collector line) as JSONL."),
    calls_per_plan: int = typer.Option(1, help="--heldout: calls per call plan and persona, besides the fixed scripts."),
    temperature: float = typer.Option(None, help="Sampling temperature of the debtor (default: the call session's)."),
    rescore: Path = typer.Option(None, help="Run no model: score the replies JSONL of an earlier --heldout run again and update --out."),
    lang: str = typer.Option("en", "--lang", help="The personas and collector scripts of this language (en, zh)."),
) -> None:
    """Run the persona-fidelity calls and write their figures."""
    from rich.console import Console
    from rich.table import Table

    if rescore:
        con = Console()
        con.print({"overall": rescore_replies(rescore, out)})
        con.print(f"written to {out}")
        return
    result = run(
        backend, personas.split(",") if personas else None, seed, transcripts,
        heldout=heldout, adapter=not no_adapter, replies_out=replies, calls_per_plan=calls_per_plan, temperature=temperature,
        language=lang,
    )
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
