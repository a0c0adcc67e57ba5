"""Measures of how well generated debtor lines play the part, beyond the actor's guards.

- **Intent accuracy**: a classifier (MiniLM sentence embeddings + logistic regression) fitted
  only on *held-back* authored lines, never on the tuning corpus: every persona's own
  ``fallback_lines`` plus the line banks of the held-out personas. Its own leave-one-persona-out
  accuracy is reported too: that is the ceiling a generated line can be judged against.
- **Relevance**: does a reply answer the collector's line it follows? For each reply, the call's
  collector lines are ranked by cosine similarity to it; relevance@1 is the share where the line
  it answers ranks first (chance = 1 / lines in the call). Mean cosine is reported as well.
- **Copy rate**: the share of generated lines that appear verbatim (same words) in the corpus.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simulator.intents import Intent
from simulator.personas import Persona
from training.banks import norm  # "the same line": one definition for the corpus and the eval


def held_back_lines(personas: dict[str, Persona], heldout_ids: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """(persona id, intent, line) for every line the tuning corpus never uses as a target."""
    from training.banks import LINES_DIR, fill_sample, is_held_back, load_banks

    rows = [(p.id, i.value, fill_sample(x, p)) for p in personas.values() for i, lines in p.fallback_lines.items() for x in lines]

    banks = load_banks(sorted(LINES_DIR.glob("*.yaml")), personas)
    for pid, bank in banks.banks.items():
        for intent, items in bank.lines.items():
            # all of a held-out persona's lines; a training persona's held-back slice only
            rows += [
                (pid, intent.value, fill_sample(x.text, personas[pid]))
                for k, x in enumerate(items)
                if pid in heldout_ids or is_held_back(k, x)
            ]
    return rows


@dataclass
class IntentClassifier:
    """Logistic regression over sentence embeddings, fitted on held-back lines."""

    model: object
    embedder: object
    loo_accuracy: float  # leave-one-persona-out accuracy on the held-back lines themselves
    loo_by_intent: dict[str, float]
    lines: int

    def predict(self, texts: list[str]) -> list[str]:
        if not texts:
            return []
        return list(self.model.predict(self.embedder.encode(texts)))


def _fit(x: np.ndarray, y: list[str]):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=4.0, max_iter=2000).fit(x, y)


def fit_intent_classifier(personas: dict[str, Persona], heldout_ids: tuple[str, ...], embedder=None) -> IntentClassifier:
    """Fit on held-back lines; measure itself by leaving each persona out in turn."""
    from simulator.analysis.embedder import default_embedder

    embedder = embedder or default_embedder()
    rows = held_back_lines(personas, heldout_ids)
    x = embedder.encode([r[2] for r in rows])
    y = [r[1] for r in rows]
    owner = np.array([r[0] for r in rows])
    right: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    for pid in sorted(set(owner)):
        test = owner == pid
        clf = _fit(x[~test], [v for v, t in zip(y, test, strict=True) if not t])
        for pred, true in zip(clf.predict(x[test]), [v for v, t in zip(y, test, strict=True) if t], strict=True):
            seen[true] += 1
            right[true] += pred == true
    by_intent = {i.value: round(right[i.value] / seen[i.value], 3) for i in Intent if seen[i.value]}
    return IntentClassifier(_fit(x, y), embedder, round(sum(right.values()) / max(1, sum(seen.values())), 3), by_intent, len(rows))


def corpus_targets(path: Path) -> set[str]:
    """Normalised target lines of the tuning corpus (empty when there is no corpus)."""
    if not path.is_file():
        return set()
    return {norm(json.loads(line)["target"]) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()}


def relevance(calls: list[list[tuple[str, str]]], embedder) -> dict:
    """relevance@1 and mean cosine over (collector line, reply) pairs grouped by call."""
    hits, cosines, chance = [], [], []
    for pairs in calls:
        if len(pairs) < 2:
            continue
        agent = embedder.encode([a for a, _ in pairs])
        reply = embedder.encode([r for _, r in pairs])
        sims = reply @ agent.T
        for i in range(len(pairs)):
            hits.append(int(np.argmax(sims[i]) == i))
            cosines.append(float(sims[i, i]))
            chance.append(1 / len(pairs))
    n = max(1, len(hits))
    return {
        "relevance_at_1": round(sum(hits) / n, 3),
        "relevance_chance": round(sum(chance) / n, 3),
        "mean_cosine": round(sum(cosines) / n, 3),
        "pairs": len(hits),
    }
