"""Measures of how well generated debtor lines play the part, beyond the actor's guards.

- **Intent accuracy**: a judge fitted only on *held-back* authored lines, never on the tuning
  corpus's targets: every persona's own ``fallback_lines``, the held-out personas' line banks,
  every 8th plain line of the other banks, and ``evals/data/judge_lines/`` (lines written only for
  the judge). The judge averages two logistic regressions, one over MiniLM sentence embeddings
  (meaning) and one over word n-grams (the phrases an intent is said with). Its own
  leave-one-persona-out accuracy on those lines is reported too: the ceiling a generated line can
  be judged against.
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

from simulator.personas import Persona
from training.banks import norm  # "the same line": one definition for the corpus and the eval

JUDGE_DIR = Path(__file__).resolve().parent / "data" / "judge_lines"


@dataclass(frozen=True)
class JudgeLine:
    persona: str
    intent: str
    text: str
    source: str  # "fallback", "bank" (held back from the corpus) or "judge" (written for the judge)


def held_back_lines(personas: dict[str, Persona], heldout_ids: tuple[str, ...], judge_dir: Path | None = JUDGE_DIR) -> list[JudgeLine]:
    """Every authored line the tuning corpus never uses as a target, with its intent."""
    from training.banks import LINES_DIR, BankError, fill_sample, is_held_back, load_banks

    rows = [JudgeLine(p.id, i.value, fill_sample(x, p), "fallback") for p in personas.values() for i, lines in p.fallback_lines.items() for x in lines]
    banks = load_banks(sorted(LINES_DIR.glob("*.yaml")), personas)
    for pid, bank in banks.banks.items():
        for intent, items in bank.lines.items():
            # all of a held-out persona's lines; a training persona's held-back slice only
            rows += [
                JudgeLine(pid, intent.value, fill_sample(x.text, personas[pid]), "bank")
                for k, x in enumerate(items)
                if pid in heldout_ids or is_held_back(k, x)
            ]
    if judge_dir is not None and judge_dir.is_dir():
        judged = load_banks(sorted(judge_dir.glob("*.yaml")), personas)
        if judged.problems:
            raise BankError(judged.problems)
        for pid, bank in judged.banks.items():
            rows += [JudgeLine(pid, i.value, fill_sample(x.text, personas[pid]), "judge") for i, items in bank.lines.items() for x in items]
    return rows


class IntentJudge:
    """Intent from a debtor line: embeddings + word n-grams, two logistic regressions averaged."""

    def __init__(self, embedder) -> None:
        self.embedder = embedder

    def fit(self, texts: list[str], intents: list[str], vectors: np.ndarray | None = None) -> IntentJudge:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        vectors = self.embedder.encode(texts) if vectors is None else vectors
        # C=4 was the best of 1/4/16 for the embeddings, left one persona out on authored lines;
        # the n-gram model's C=10 was not tuned. Nothing here was ever tuned on model replies.
        self.meaning = LogisticRegression(C=4.0, max_iter=3000).fit(vectors, intents)
        self.words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
        self.phrasing = LogisticRegression(C=10.0, max_iter=3000).fit(self.words.fit_transform(texts), intents)
        return self

    def predict(self, texts: list[str], vectors: np.ndarray | None = None) -> list[str]:
        if not texts:
            return []
        vectors = self.embedder.encode(texts) if vectors is None else vectors
        p = self.meaning.predict_proba(vectors) + self.phrasing.predict_proba(self.words.transform(texts))
        return [str(c) for c in self.meaning.classes_[p.argmax(axis=1)]]


@dataclass
class IntentClassifier:
    """The fitted judge plus how well it labels authored lines of a persona it has not seen."""

    judge: IntentJudge
    loo_accuracy: float  # leave-one-persona-out accuracy on the held-back lines themselves
    loo_by_intent: dict[str, float]
    loo_by_source: dict[str, float]
    lines: int
    fitted: frozenset[str]  # the fitting lines, normalised: a judge is not tested on these

    @property
    def embedder(self):
        return self.judge.embedder

    def predict(self, texts: list[str]) -> list[str]:
        return self.judge.predict(texts)


def fit_intent_classifier(
    personas: dict[str, Persona], heldout_ids: tuple[str, ...], embedder=None, judge_dir: Path | None = JUDGE_DIR
) -> IntentClassifier:
    """Fit on held-back lines; measure the judge by leaving each persona out in turn."""
    from core.analysis.embedder import default_embedder

    embedder = embedder or default_embedder()
    rows = held_back_lines(personas, heldout_ids, judge_dir)
    texts = [r.text for r in rows]
    y = np.array([r.intent for r in rows])
    x = embedder.encode(texts)
    owner = np.array([r.persona for r in rows])
    right: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    for pid in sorted(set(owner)):
        test = np.flatnonzero(owner == pid)
        train = np.flatnonzero(owner != pid)
        judge = IntentJudge(embedder).fit([texts[i] for i in train], list(y[train]), x[train])
        for i, pred in zip(test, judge.predict([texts[i] for i in test], x[test]), strict=True):
            for key in (f"intent:{y[i]}", f"source:{rows[i].source}"):
                seen[key] += 1
                right[key] += pred == y[i]
    total = sum(v for k, v in seen.items() if k.startswith("intent:"))
    hits = sum(v for k, v in right.items() if k.startswith("intent:"))

    def share(prefix: str) -> dict[str, float]:
        return {k.split(":", 1)[1]: round(right[k] / seen[k], 3) for k in sorted(seen) if k.startswith(prefix)}

    judge = IntentJudge(embedder).fit(texts, list(y), x)
    return IntentClassifier(judge, round(hits / max(1, total), 3), share("intent:"), share("source:"), len(rows), frozenset(norm(t) for t in texts))


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
