"""Build the debtor-tuning corpus by simulating calls with the real director.

A scripted collector runs a call plan (training/data/call_plans.yaml) with lines drawn from
training/data/collector_lines.yaml; for each debtor turn the real analyzer and director decide the
intent, mood, facts and amounts, exactly as in a live call, and the target is a hand-written line
for that persona and intent (personas/lines/). The prompt is rendered by the actor itself
(``build_messages(style="tuned")``), so training and inference see the same text.

Held out, never in the corpus: the personas in HELDOUT_PERSONAS, every collector move's
``heldout`` lines, and the personas' own fallback/example lines (banks.py rejects copies).

    python -m training.build_corpus [--out training/data/corpus.jsonl] [--seed 0]
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from collections import Counter
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import typer

from core.transcript import Turn
from simulator.actor import TUNED_HISTORY_TURNS, build_messages, placeholders, say_money
from simulator.director import Decision, Director, initial_state
from simulator.intents import Intent
from simulator.personas import Persona, load_personas
from training.banks import (
    DATA_DIR,
    AuthoredLine,
    BankError,
    CallPlans,
    CollectorBank,
    LineBank,
    is_held_back,
    load_banks,
    load_call_plans,
    load_collector_bank,
)

HELDOUT_PERSONAS = ("disputing-priya", "busy-greg")
CORPUS_FILE = DATA_DIR / "corpus.jsonl"
EVAL_FILE = DATA_DIR / "corpus-eval.jsonl"  # held-out personas and collector lines: never trained on
MAX_REUSE = 3  # a hand-written target line appears at most this many times
TODAY = date(2026, 11, 30)  # fixed, so the director's payment dates (and the corpus) reproduce
AGENTS = ["Sam", "Jordan", "Alex", "Morgan", "Chris", "Taylor", "Jamie", "Casey", "Robin", "Dana Lee"]
COMPANIES = ["Acme Recovery", "Summit Collections", "Keystone Financial Services", "Northgate Recovery", "Bluewater Credit Solutions"]
DATES = ["next Friday", "the 15th", "this Friday", "December 4th", "next week", "the 1st", "Monday the 7th"]
# Runtime never asks the model for these: the opening is authored (CallSession.open).
NOT_GENERATED = {Intent.answer}


@dataclass
class Example:
    persona: str
    messages: list[dict]
    target: str
    meta: dict

    def to_json(self) -> str:
        return json.dumps({"persona": self.persona, "messages": self.messages, "target": self.target, "meta": self.meta}, ensure_ascii=False)


def collector_fill(persona: Persona, rng: random.Random, agent: str) -> dict[str, str]:
    holder = persona.account_holder
    cap = persona.payment_capacity
    plan = cap.monthly_max or cap.lump_sum_max or 25
    plan = max(10, round(plan * rng.choice([0.6, 0.75, 0.85, 1.0]) / 5) * 5)
    big = max(persona.debt.amount * rng.choice([0.5, 0.8, 1.0]), (cap.lump_sum_max or 0) * 3 + 200)
    return {
        "full": holder,
        "debtor": holder.split()[0],
        "creditor": persona.debt.creditor,
        "agent": agent,
        "company": rng.choice(COMPANIES),
        "balance": say_money(persona.debt.amount),
        "plan": say_money(plan),
        "big": say_money(round(big)),
        "date": rng.choice(DATES),
    }


def plan_moves(plans: CallPlans, rng: random.Random, only: str | None = None) -> tuple[str, list[str]]:
    """One call's sequence of collector moves: a plan (drawn by weight, or ``only``), perturbed."""
    names = list(plans.plans)
    name = only or rng.choices(names, weights=[plans.plans[n].weight for n in names])[0]
    moves = [rng.choice(s) if isinstance(s, list) else s for s in plans.plans[name].steps]
    ins = plans.inserts
    middle = [m for m in moves[1:-1] if rng.random() >= ins["drop"]]
    if len(middle) > 2 and rng.random() < 0.3:
        i = rng.randrange(len(middle) - 1)
        middle[i], middle[i + 1] = middle[i + 1], middle[i]
    for extra in ("off_topic", "break_character"):
        if rng.random() < ins[extra]:
            middle.insert(rng.randrange(len(middle) + 1), extra)
    return name, [moves[0], *middle, moves[-1]]


class TargetPicker:
    """Picks the hand-written line for a decision: right intent, right fact, right topic, least used."""

    def __init__(self, bank: LineBank, rng: random.Random):
        self.bank, self.rng = bank, rng
        self.used: Counter[tuple[str, int]] = Counter()
        self.per_intent: Counter[str] = Counter()

    def branch_intent(self, options: list[Intent], not_this: Intent) -> Intent | None:
        """The least-trained plausible intent for a branch example."""
        options = [o for o in options if o is not not_this]
        if not options:
            return None
        low = min(self.per_intent[o.value] for o in options)
        return self.rng.choice([o for o in options if self.per_intent[o.value] == low])

    def pick(self, decision: Decision, asked: tuple, for_target: bool) -> tuple[tuple[str, int], AuthoredLine] | None:
        intent = decision.intent
        fact = decision.detail.get("fact")
        items = [(i, x) for i, x in enumerate(self.bank.lines.get(intent, [])) if not is_held_back(i, x)]
        if fact:
            cands = [(i, x) for i, x in items if x.reveals == fact]
        else:
            cands = [(i, x) for i, x in items if x.reveals is None or x.reveals in decision.state.revealed]
            on_topic = [(i, x) for i, x in cands if x.topic in asked]
            if intent is Intent.answer_question and asked:
                cands = on_topic or [(i, x) for i, x in cands if x.topic is None] or cands
        if for_target:
            cands = [(i, x) for i, x in cands if self.used[(intent.value, i)] < MAX_REUSE]
        if not cands:
            return None
        low = min(self.used[(intent.value, i)] for i, _ in cands)
        i, item = self.rng.choice([(i, x) for i, x in cands if self.used[(intent.value, i)] == low])
        if for_target:
            self.used[(intent.value, i)] += 1
            self.per_intent[intent.value] += 1
        return (intent.value, i), item


def simulate_call(
    persona: Persona,
    picker: TargetPicker,
    collector: CollectorBank,
    plans: CallPlans,
    analyzer,
    rng: random.Random,
    call_no: int,
    part: str = "lines",
) -> list[Example]:
    """One simulated call; ``part`` is which collector lines to use ("lines", or "heldout" for eval)."""
    agent = rng.choice(AGENTS)
    fill = collector_fill(persona, rng, agent)
    plan, moves = plan_moves(plans, rng)
    director = Director(persona, seed=rng.randrange(10**6), today=TODAY)
    state = initial_state(persona)
    context = None
    history: list[Turn] = []
    speaker = "third_party" if persona.third_party else "debtor"

    def say(text: str, who: str) -> None:
        nonlocal context
        kw = {"context": context} if context is not None else {}
        a = analyzer.analyze_turn(text, speaker=who, index=len(history), **kw)
        history.append(Turn(speaker=who, text=text))
        context = a.after
        return a

    opening = director.opening(state)
    state = opening.state
    first = picker.pick(opening, (), for_target=False)
    say(first[1].text.format_map(placeholders(persona, opening, agent)) if first else "Hello?", speaker)
    out: list[Example] = []
    for move in moves:
        if state.ended:
            break
        pool = getattr(collector.moves[move], part)
        if not pool:
            continue
        line = rng.choice(pool).format(**fill)
        analysis = say(line, "agent")
        before = state
        decision = director.step(state, analysis)
        state = decision.state

        def example(d: Decision, branch: bool, analysis=analysis, move=move) -> Example | None:
            chosen = None if d.intent in NOT_GENERATED else picker.pick(d, analysis.question_topics, for_target=True)
            if chosen is None:
                return None
            messages = build_messages(persona, d, history, history_turns=TUNED_HISTORY_TURNS, agent_name=agent, style="tuned")
            meta = {
                "intent": d.intent.value,
                "mood": d.state.mood(),
                "plan": plan,
                "move": move,
                "call": call_no,
                "branch": branch,
                "line": f"{chosen[0][0]}[{chosen[0][1]}]",
                "reveals": chosen[1].reveals,
                "topic": chosen[1].topic.value if chosen[1].topic else None,
            }
            return Example(persona.id, messages, chosen[1].text.format_map(placeholders(persona, d, agent)), meta)

        main_example = example(decision, False)
        forced = picker.branch_intent(plans.branches.get(move, []), decision.intent) if rng.random() < plans.branch_rate else None
        if forced is not None:
            # Same history and mood, another plausible intent; the call goes on with the director's.
            alt = Decision(forced, replace(decision.state, intent=forced, revealed=before.revealed), reason="branch")
            branch_example = example(alt, True)
            if branch_example is not None:
                out.append(branch_example)
        if main_example is not None:
            out.append(main_example)
            reply = main_example.target
        else:
            chosen = picker.pick(decision, analysis.question_topics, for_target=False)
            backup = chosen
            reply = backup[1].text.format_map(placeholders(persona, decision, agent)) if backup else "Okay."
        say(reply, speaker)
    return out


def build(
    seed: int = 0, calls_per_persona: int = 400, personas: list[str] | None = None, progress: bool = True, *, evaluation: bool = False
) -> tuple[list[Example], dict]:
    """Simulate calls for every training persona; returns the examples and a summary.

    ``evaluation=True`` builds the evaluation split instead: the held-out personas, with only the
    collector moves' held-out lines (for a held-out loss; never trained on).
    """
    from core.analysis import default_analyzer

    lib = load_personas()
    banks = load_banks(personas=lib.personas)
    if banks.problems:
        raise SystemExit("line banks have problems:\n" + "\n".join(banks.problems))
    collector = load_collector_bank()
    try:
        plans = load_call_plans(collector=collector)
    except BankError as exc:
        raise SystemExit("\n".join(exc.problems)) from None
    if evaluation:
        ids = personas or [p for p in HELDOUT_PERSONAS if p in banks.banks]
    else:
        # English only: the embedded model is English-only; a Chinese persona speaks its bank
        ids = personas or sorted(p for p in banks.banks if p not in HELDOUT_PERSONAS and lib.get(p).language == "en")
    analyzer = default_analyzer()
    examples: list[Example] = []
    from rich.progress import Progress

    with Progress(transient=True, disable=not progress) as bar:
        task = bar.add_task("simulated calls", total=len(ids) * calls_per_persona)
        for pid in ids:
            rng = random.Random(f"{seed}-{pid}")
            picker = TargetPicker(banks.banks[pid], rng)
            for n in range(calls_per_persona):
                part = "heldout" if evaluation else "lines"
                examples.extend(simulate_call(lib.get(pid), picker, collector, plans, analyzer, rng, n, part))
                bar.advance(task)
    targets = Counter(e.target for e in examples)
    summary = {
        "examples": len(examples),
        "personas": dict(Counter(e.persona for e in examples)),
        "intents": dict(Counter(e.meta["intent"] for e in examples).most_common()),
        "distinct_targets": len(targets),
        "max_target_reuse": max(targets.values(), default=0),
        "heldout_personas": list(HELDOUT_PERSONAS),
        "seed": seed,
        "calls_per_persona": calls_per_persona,
    }
    return examples, summary


def write_corpus(examples: list[Example], path: Path) -> str:
    """Write JSONL atomically; returns its sha256 (recorded with the adapter)."""
    text = "".join(e.to_json() + "\n" for e in examples)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return hashlib.sha256(text.encode()).hexdigest()


def main(
    out: Path = typer.Option(CORPUS_FILE, help="Where to write the corpus (JSONL)."),
    seed: int = typer.Option(0),
    calls: int = typer.Option(300, help="Simulated calls per training persona."),
    eval_calls: int = typer.Option(40, help="Simulated calls per held-out persona (evaluation split)."),
) -> None:
    """Simulate calls and write the debtor-tuning corpus and its evaluation split."""
    examples, summary = build(seed, calls)
    held, held_summary = build(seed, eval_calls, evaluation=True)
    summary["sha256"] = write_corpus(examples, out)
    held_out = out.with_name(out.stem + "-eval.jsonl")
    summary["eval"] = {k: held_summary[k] for k in ("examples", "personas", "intents", "calls_per_persona")}
    summary["eval"]["sha256"] = write_corpus(held, held_out)
    out.with_suffix(".summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k not in ("intents", "eval")}, indent=2))
    print("intents:", summary["intents"], file=sys.stderr)
    print(f"evaluation split: {len(held)} examples in {held_out}", file=sys.stderr)


if __name__ == "__main__":
    typer.run(main)
