"""Train the readability part of the clarity reading (``core/analysis/models/clarity.json``).

    python -m training.train_clarity --commonlit ../shared/data/dev-labels/commonlit_readability.csv

Data: CommonLit Readability Prize excerpts whose own licence allows shipping a model trained on
them: public domain (blank licence) and CC BY (3.0, 4.0); share-alike, non-commercial, no-
derivatives and GFDL rows are left out, and so are the rows ``training/heldout.py`` keeps for the
validity report. Target: the teachers' ease of reading (``target``, higher is easier).

Model: a ridge regression over the clarity reading's own lexical measures (standardised, each
weight kept to the sign that makes plainer text score higher) and the sentence embedding of the
excerpt's canonical form (``ClarityReader.canonical``), fitted with bounded least squares
(scipy); the ridge strength is picked by 5-fold cross-validation on the training rows.
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import typer

from core.analysis.clarity import EASIER, FEATURES, MODEL_FILE, ClarityReader, lexical, split
from training.heldout import held_out

ROOT = Path(__file__).resolve().parent.parent
COMMONLIT = ROOT.parent / "shared" / "data" / "dev-labels" / "commonlit_readability.csv"
SHIPPABLE = frozenset({"", "CC BY 4.0", "CC BY 3.0"})
ALPHAS = (1.0, 3.0, 10.0, 30.0, 100.0)


def rows_for_training(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [r for r in rows if (r.get("license") or "").strip() in SHIPPABLE and not held_out(r["id"])]


def design(rows: list[dict], reader: ClarityReader, encode) -> tuple[np.ndarray, np.ndarray]:
    lex = np.array([[lexical(split(reader.without_jargon(r["excerpt"])))[f] for f in FEATURES] for r in rows])
    emb = np.asarray(encode([reader.canonical(r["excerpt"]) for r in rows]), dtype=np.float64)
    return lex, emb


def fit(lex: np.ndarray, emb: np.ndarray, y: np.ndarray, alpha: float) -> dict:
    """Bounded ridge: lexical weights keep the signs of ``EASIER``; embedding weights are free."""
    from scipy.optimize import lsq_linear

    mean, scale = lex.mean(0), lex.std(0) + 1e-9
    X = np.hstack([(lex - mean) / scale, emb - emb.mean(0)])
    k = X.shape[1]
    A = np.vstack([X, np.sqrt(alpha) * np.eye(k)])
    b = np.concatenate([y - y.mean(), np.zeros(k)])
    lo = np.full(k, -np.inf)
    hi = np.full(k, np.inf)
    for j, f in enumerate(FEATURES):
        (lo if EASIER[f] > 0 else hi)[j] = 0.0
    w = lsq_linear(A, b, bounds=(lo, hi), method="bvls" if k < 50 else "trf", lsmr_tol="auto").x
    wl, we = w[: len(FEATURES)], w[len(FEATURES):]
    bias = float(y.mean() - emb.mean(0) @ we)
    return {"mean": mean, "scale": scale, "lexical_weights": wl, "embedding_weights": we, "bias": bias}


def predict(m: dict, lex: np.ndarray, emb: np.ndarray) -> np.ndarray:
    return m["bias"] + ((lex - m["mean"]) / m["scale"]) @ m["lexical_weights"] + emb @ m["embedding_weights"]


def cross_validate(lex, emb, y, alpha: float, folds: int = 5) -> float:
    from scipy.stats import spearmanr
    from sklearn.model_selection import KFold

    p = np.zeros(len(y))
    for train, test in KFold(folds, shuffle=True, random_state=0).split(lex):
        p[test] = predict(fit(lex[train], emb[train], y[train], alpha), lex[test], emb[test])
    return float(spearmanr(p, y).statistic)


def main(
    commonlit: Path = typer.Option(COMMONLIT, help="commonlit_readability.csv (each row's licence in 'license')."),
    out: Path = typer.Option(MODEL_FILE, help="Where to write the model."),
) -> None:
    """Train the clarity reading's readability part and write it with its card."""
    from core.analysis.embedder import default_embedder

    if not commonlit.is_file():
        raise SystemExit(f"{commonlit}: no such file (the dev-labels folder is ../shared/data/dev-labels)")
    rows = rows_for_training(commonlit)
    reader = ClarityReader(encode=None)
    lex, emb = design(rows, reader, default_embedder().encode)
    y = np.array([float(r["target"]) for r in rows])
    scores = {a: cross_validate(lex, emb, y, a) for a in ALPHAS}
    alpha = max(scores, key=scores.get)
    m = fit(lex, emb, y, alpha)
    card = {
        "data": f"CommonLit Readability Prize excerpts, {len(rows)} rows: licence public domain or CC BY "
                f"({', '.join(sorted(x or 'public domain' for x in SHIPPABLE))}); held-out rows excluded",
        "row_ids_sha256": hashlib.sha256("\n".join(r["id"] for r in rows).encode()).hexdigest(),
        "model": f"bounded ridge (alpha={alpha}) over {len(FEATURES)} lexical measures and the 384-d canonical embedding",
        "cross_validated_spearman": {str(a): round(s, 4) for a, s in scores.items()},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "features": list(FEATURES), "mean": m["mean"].round(6).tolist(), "scale": m["scale"].round(6).tolist(),
        "lexical_weights": m["lexical_weights"].round(6).tolist(), "bias": round(m["bias"], 6),
        "centre": round(float(y.mean()), 4), "spread": round(float(y.std() / 1.5), 4), "card": card,
        "embedding_weights": m["embedding_weights"].round(6).tolist(),
    }), encoding="utf-8")
    print(json.dumps(card, indent=2))
    print(f"written {out} ({out.stat().st_size / 1024:.0f} KB)")


if __name__ == "__main__":
    typer.run(main)
