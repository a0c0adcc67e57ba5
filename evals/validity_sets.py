"""The human-labelled sets of the validity report, read into plain rows, and the figures on them.

Each reader takes the set's file as published (``../shared/data/dev-labels/``, see its README)
and returns the rows the report scores; a subsample is deterministic (the rows whose text hashes
lowest), so a rerun scores the same rows. The metrics are the usual ones (scikit-learn, scipy);
``modal_share`` is the issue's spread check: the share of items tied at the most common score.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.heldout import clean_tweet, held_out, stable_key

REFLECTIVE = frozenset({"Reflection of feelings", "Restatement or Paraphrasing"})
# The README's mapping: these are what a graded empathy score should rank above the others.
EMPATHIC = REFLECTIVE | {"Questions", "Affirmation and Reassurance"}


class LabelSetError(ValueError):
    """A label file that cannot be read; the message names the file and what is wrong."""


@dataclass(frozen=True)
class StrategyRow:
    seeker: str
    supporter: str
    strategy: str


@dataclass(frozen=True)
class ReadabilityRow:
    id: str
    excerpt: str
    target: float
    standard_error: float
    license: str


@dataclass(frozen=True)
class OffensiveRow:
    text: str
    label: str  # hate / offensive / neither


@dataclass(frozen=True)
class RatedDialogue:
    turns: tuple[tuple[str, str], ...]  # (speaker: "agent" | "debtor", text)
    empathy: int  # the seeker's 1-5 rating of the supporter's empathy


def subsample(rows: list, limit: int | None, key) -> list:
    """The ``limit`` rows whose key hashes lowest (all rows when ``limit`` is None or larger)."""
    if limit is None or limit >= len(rows):
        return rows
    return sorted(rows, key=lambda r: stable_key(key(r)))[:limit]


def _need(path: Path) -> Path:
    if not path.is_file():
        raise LabelSetError(f"{path}: no such file (the dev-labels folder is ../shared/data/dev-labels)")
    return path


def read_strategies(path: Path, limit: int | None = None) -> list[StrategyRow]:
    rows = []
    with _need(path).open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                rows.append(StrategyRow(str(d["seeker"]), str(d["supporter"]), str(d["strategy"])))
            except (ValueError, KeyError, TypeError) as exc:
                raise LabelSetError(f"{path}:{n}: needs seeker, supporter and strategy ({exc})") from None
    return subsample(rows, limit, lambda r: r.seeker + "\n" + r.supporter)


def read_readability(path: Path, limit: int | None = None) -> list[ReadabilityRow]:
    """The excerpts the shipped clarity model never saw (``training/heldout.py``; every row
    whose licence keeps it out of training is among them too)."""
    rows = []
    with _need(path).open(encoding="utf-8", newline="") as fh:
        for n, d in enumerate(csv.DictReader(fh), 2):
            try:
                rows.append(ReadabilityRow(d["id"], d["excerpt"], float(d["target"]),
                                           float(d["standard_error"]), d.get("license") or ""))
            except (KeyError, TypeError, ValueError) as exc:
                raise LabelSetError(f"{path}:{n}: needs id, excerpt, target, standard_error ({exc})") from None
    return subsample([r for r in rows if held_out(r.id)], limit, lambda r: r.id)


def read_offensive(path: Path, limit: int | None = None) -> list[OffensiveRow]:
    """The tweets the shipped abuse model never saw (``training/heldout.py``), cleaned."""
    rows = []
    with _need(path).open(encoding="utf-8", newline="") as fh:
        for n, d in enumerate(csv.DictReader(fh), 2):
            label = (d.get("label") or "").strip()
            if label not in ("hate", "offensive", "neither"):
                raise LabelSetError(f"{path}:{n}: label must be hate, offensive or neither, not {label!r}")
            rows.append(OffensiveRow(clean_tweet(d.get("text") or ""), label))
    return subsample([r for r in rows if held_out(r.text)], limit, lambda r: r.text)


def read_rated_dialogues(path: Path, limit: int | None = None) -> list[RatedDialogue]:
    """ESConv dialogues the seeker rated; the seeker is the 'debtor' side, the supporter the agent."""
    try:
        data = json.loads(_need(path).read_text(encoding="utf-8"))
    except ValueError as exc:
        raise LabelSetError(f"{path}: not JSON ({exc})") from None
    out = []
    for d in data:
        rating = ((d.get("survey_score") or {}).get("seeker") or {}).get("empathy")
        if rating in (None, ""):
            continue
        turns = tuple(
            ("agent" if t.get("speaker") == "listener" else "debtor", " ".join(str(t.get("content", "")).split()))
            for t in d.get("dialog", [])
        )
        out.append(RatedDialogue(tuple(t for t in turns if t[1]), int(rating)))
    return subsample(out, limit, lambda r: "\n".join(t for _, t in r.turns))


# --- figures ----------------------------------------------------------------------------------


def auroc(labels: Sequence[bool], scores: Sequence[float]) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(np.asarray(labels, dtype=int), np.asarray(scores, dtype=float)))


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def modal_share(scores: Sequence[float], decimals: int = 1) -> float:
    """The share of items whose score (as shown, one decimal) equals the most common one."""
    if not scores:
        return 0.0
    counts = Counter(round(float(s), decimals) for s in scores)
    return counts.most_common(1)[0][1] / len(scores)


def pair_accuracy(rows: Sequence[ReadabilityRow], scores: Sequence[float]) -> tuple[float, int]:
    """Accuracy on the pairs whose targets differ by more than their two standard errors
    (a tie counts half), and how many such pairs there are."""
    t = np.array([r.target for r in rows])
    se = np.array([r.standard_error for r in rows])
    s = np.asarray(scores, dtype=float)
    i, j = np.triu_indices(len(rows), k=1)
    keep = np.abs(t[i] - t[j]) > se[i] + se[j]
    i, j = i[keep], j[keep]
    if not len(i):
        return float("nan"), 0
    agree = np.sign(t[i] - t[j]) * np.sign(s[i] - s[j])
    return float(np.mean(np.where(agree == 0, 0.5, agree > 0))), int(len(i))


def binary_figures(labels: Sequence[bool], flagged: Sequence[bool]) -> dict[str, float]:
    """Precision, recall, F1 and the false-positive rate of a yes/no detector."""
    y = np.asarray(labels, dtype=bool)
    p = np.asarray(flagged, dtype=bool)
    tp, fp = int((y & p).sum()), int((~y & p).sum())
    fn, tn = int((y & ~p).sum()), int((~y & ~p).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "fpr": fp / (fp + tn) if fp + tn else 0.0}
