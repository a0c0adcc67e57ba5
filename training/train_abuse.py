"""Train the abuse model shipped as ``core/analysis/models/abuse.json`` (and its card).

    python -m training.train_abuse --davidson ../shared/data/dev-labels/davidson_offensive.csv

Data: the Davidson et al. (ICWSM 2017) tweets, MIT licence, offensive-or-hate against neither,
less the rows ``training/heldout.py`` keeps for the validity report; the project's own
collector lines (``training/data/collector_lines.yaml``: the abuse move against every other
move, held-out lines excluded); and the lines of ``training/data/abuse_lines.yaml`` (short,
misspelled insults and their near misses), weighted up. Text goes through the detector's own
normaliser (spelling, insults taken back masked), so training and use see the same features.

Model: L1-regularised logistic regression over the detector's word, word-pair and character
n-gram features (liblinear, deterministic). The hit threshold is the one with the best F1 whose
false-positive rate on inoffensive text is at most 4%, from 5-fold out-of-fold probabilities.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from pathlib import Path

import numpy as np
import typer
import yaml

from core.analysis.abuse import MODEL_FILE, Normaliser, default_cues
from training.heldout import clean_tweet, held_out

ROOT = Path(__file__).resolve().parent.parent
DAVIDSON = ROOT.parent / "shared" / "data" / "dev-labels" / "davidson_offensive.csv"
OWN_LINES = Path(__file__).resolve().parent / "data" / "abuse_lines.yaml"
COLLECTOR_LINES = Path(__file__).resolve().parent / "data" / "collector_lines.yaml"
OWN_WEIGHT = 8.0  # each written line counts as this many tweets
MAX_FPR = 0.02
FILL = {"full": "Maria Lopez", "debtor": "Maria", "creditor": "Acme Bank", "agent": "Sam", "company": "Acme Recovery",
        "balance": "$1,250", "plan": "$50 a month", "big": "$1,250", "date": "Friday"}


def own_lines(path: Path = OWN_LINES, part: str = "train") -> list[tuple[str, int]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    block = data[part]
    return [(t, 1) for t in block["abusive"]] + [(t, 0) for t in block["clean"]]


def collector_lines(path: Path = COLLECTOR_LINES) -> list[tuple[str, int]]:
    moves = yaml.safe_load(path.read_text(encoding="utf-8"))["moves"]
    out = []
    for name, move in moves.items():
        for line in move.get("lines", []):
            text = re.sub(r"\{(\w+)\}", lambda m: FILL.get(m.group(1), m.group(1)), line)
            out.append((text, int(name == "abuse")))
    return out


def davidson(path: Path) -> list[tuple[str, int]]:
    with path.open(encoding="utf-8", newline="") as fh:
        rows = [(clean_tweet(d["text"]), int(d["label"] != "neither")) for d in csv.DictReader(fh)]
    return [(t, y) for t, y in rows if t and not held_out(t)]


def featurise(texts: list[str]):
    from sklearn.feature_extraction import DictVectorizer

    norm = Normaliser(default_cues())
    vec = DictVectorizer(dtype=np.float32)
    X = vec.fit_transform([dict.fromkeys(norm.features(t), 1.0) for t in texts]).tocsr()
    X.indices, X.indptr = X.indices.astype(np.int32), X.indptr.astype(np.int32)  # liblinear needs 32-bit
    return X, vec


def fit(X, y, w, C: float):
    import sklearn
    from sklearn.linear_model import LogisticRegression

    # scikit-learn 1.8 names the L1 penalty l1_ratio=1 (``penalty`` is deprecated there)
    l1 = {"l1_ratio": 1.0} if tuple(int(x) for x in sklearn.__version__.split(".")[:2]) >= (1, 8) else {"penalty": "l1"}
    model = LogisticRegression(C=C, solver="liblinear", max_iter=2000, random_state=0, **l1)
    return model.fit(X, y, sample_weight=w)


def choose_threshold(p: np.ndarray, y: np.ndarray, max_fpr: float = MAX_FPR) -> tuple[float, dict]:
    """The threshold with the best F1 among those with a false-positive rate <= ``max_fpr``."""
    best = (0.5, {"f1": -1.0})
    for t in np.unique(np.round(p, 3)):
        flagged = p >= t
        tp, fp = int((flagged & (y == 1)).sum()), int((flagged & (y == 0)).sum())
        fn, tn = int((~flagged & (y == 1)).sum()), int((~flagged & (y == 0)).sum())
        fpr = fp / max(1, fp + tn)
        if fpr > max_fpr or tp == 0:
            continue
        prec, rec = tp / (tp + fp), tp / (tp + fn)
        f1 = 2 * prec * rec / (prec + rec)
        if f1 > best[1]["f1"]:
            best = (float(t), {"f1": round(f1, 4), "precision": round(prec, 4), "recall": round(rec, 4),
                               "fpr": round(fpr, 4)})
    return best


def out_of_fold(X, y, w, C: float, folds: int = 5) -> np.ndarray:
    from sklearn.model_selection import StratifiedKFold

    p = np.zeros(len(y))
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=0).split(X, y):
        p[test] = fit(X[train], y[train], w[train], C).predict_proba(X[test])[:, 1]
    return p


def sha256_of(*paths: Path) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.read_bytes())
    return h.hexdigest()


def main(
    davidson_csv: Path = typer.Option(DAVIDSON, "--davidson", help="davidson_offensive.csv (MIT)."),
    out: Path = typer.Option(MODEL_FILE, help="Where to write the model."),
    c: float = typer.Option(2.0, "--c", help="Inverse L1 strength (fewer features when smaller)."),
) -> None:
    """Train the abuse model and write it with its card."""
    if not davidson_csv.is_file():
        raise SystemExit(f"{davidson_csv}: no such file (the dev-labels folder is ../shared/data/dev-labels)")
    tweets, own, project = davidson(davidson_csv), own_lines(), collector_lines()
    rows = tweets + own + project
    texts = [t for t, _ in rows]
    y = np.array([label for _, label in rows])
    w = np.array([1.0] * len(tweets) + [OWN_WEIGHT] * (len(own) + len(project)))
    X, vec = featurise(texts)
    p = out_of_fold(X, y, w, c)
    threshold, oof = choose_threshold(p, y)
    model = fit(X, y, w, c)
    names = vec.get_feature_names_out()
    coef = model.coef_[0]
    keep = np.flatnonzero(np.abs(coef) >= 1e-4)
    weights = {str(names[i]): round(float(coef[i]), 4) for i in keep}
    card = {
        "data": {"davidson_tweets": len(tweets), "own_lines": len(own), "collector_lines": len(project),
                 "davidson_licence": "MIT", "held_out": "training/heldout.py (rows scored by evals/validity.py)"},
        "inputs_sha256": sha256_of(davidson_csv, OWN_LINES, COLLECTOR_LINES),
        "model": f"L1 logistic regression (liblinear, C={c}), {len(weights)} features",
        "threshold_rule": f"best out-of-fold F1 with a false-positive rate <= {MAX_FPR:.0%}",
        "out_of_fold": oof,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"bias": round(float(model.intercept_[0]), 6), "threshold": threshold, "card": card,
                               "weights": weights}, sort_keys=False), encoding="utf-8")
    print(json.dumps(card, indent=2))
    print(f"written {out} ({out.stat().st_size / 1024:.0f} KB), threshold {threshold}")


if __name__ == "__main__":
    typer.run(main)
