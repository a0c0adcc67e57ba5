"""Train the readability part of the clarity reading (``core/analysis/models/clarity.json``).

    python -m training.train_clarity --commonlit ../shared/data/dev-labels/commonlit_readability.csv

Data: CommonLit Readability Prize excerpts whose own licence allows shipping a model trained on
them: public domain (blank licence) and CC BY (3.0, 4.0); share-alike, non-commercial, no-
derivatives and GFDL rows are left out, and so are the rows ``training/heldout.py`` keeps for the
validity report. Target: the teachers' ease of reading (``target``, higher is easier).

Model: a ridge regression over the clarity reading's own lexical measures (standardised, each
weight kept to the sign that makes plainer text score higher) and the MiniLM token states of the
excerpt's canonical form (``ClarityReader.canonical``) averaged per hidden layer (layers
:data:`LAYERS`, ``Embedder.encode_layers``), fitted with bounded least squares (scipy); the ridge
strength is picked by 5-fold cross-validation on the training rows.
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
ALPHAS = (0.3, 1.0, 3.0, 10.0, 30.0)
LAYERS = (1, 2, 3, 4, 5)  # of all-MiniLM-L6-v2's 6 (0: the token embeddings, 6: the last)


def rows_for_training(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [r for r in rows if (r.get("license") or "").strip() in SHIPPABLE and not held_out(r["id"])]


def design(rows: list[dict], reader: ClarityReader, embed) -> tuple[np.ndarray, np.ndarray]:
    """(lexical measures, embedding of the canonical form) of each row; ``embed``: texts -> rows."""
    lex = np.array([[lexical(split(reader.without_jargon(r["excerpt"])))[f] for f in FEATURES] for r in rows])
    emb = np.asarray(embed([reader.canonical(r["excerpt"]) for r in rows]), dtype=np.float64)
    return lex, emb


def fit(lex: np.ndarray, emb: np.ndarray, y: np.ndarray, alpha: float) -> dict:
    """Bounded ridge: lexical weights keep the signs of ``EASIER``; embedding weights are free.

    The free embedding weights are solved in closed form for any lexical weights, which leaves a
    bounded least-squares problem in the few lexical weights (scipy ``lsq_linear``, ``bvls``): the
    same minimum as bounding the whole system, in a second instead of minutes.
    """
    from scipy.linalg import cho_solve, solve_triangular
    from scipy.optimize import lsq_linear

    mean, scale = lex.mean(0), lex.std(0) + 1e-9
    L = (lex - mean) / scale
    E = emb - emb.mean(0)
    t = y - y.mean()
    # min |t - L wl - E we|^2 + alpha (|wl|^2 + |we|^2). For fixed wl, we = E'K^-1 r with
    # K = EE' + alpha I and r = t - L wl, and the rest is alpha r'K^-1 r + alpha |wl|^2.
    K = E @ E.T + alpha * np.eye(len(t))
    C = np.linalg.cholesky(K)
    G = np.sqrt(alpha) * solve_triangular(C, np.eye(len(t)), lower=True)  # G'G = alpha K^-1
    k = L.shape[1]
    A = np.vstack([G @ L, np.sqrt(alpha) * np.eye(k)])
    b = np.concatenate([G @ t, np.zeros(k)])
    lo, hi = np.full(k, -np.inf), np.full(k, np.inf)
    for j, f in enumerate(FEATURES):
        (lo if EASIER[f] > 0 else hi)[j] = 0.0
    wl = lsq_linear(A, b, bounds=(lo, hi), method="bvls").x
    we = E.T @ cho_solve((C, True), t - L @ wl)
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
    embedder = default_embedder()
    lex, emb = design(rows, reader, lambda texts: embedder.encode_layers(texts, LAYERS))
    y = np.array([float(r["target"]) for r in rows])
    scores = {a: cross_validate(lex, emb, y, a) for a in ALPHAS}
    alpha = max(scores, key=scores.get)
    m = fit(lex, emb, y, alpha)
    card = {
        "data": f"CommonLit Readability Prize excerpts, {len(rows)} rows: licence public domain or CC BY "
                f"({', '.join(sorted(x or 'public domain' for x in SHIPPABLE))}); held-out rows excluded",
        "row_ids_sha256": hashlib.sha256("\n".join(r["id"] for r in rows).encode()).hexdigest(),
        "model": f"bounded ridge (alpha={alpha}) over {len(FEATURES)} lexical measures and the all-MiniLM-L6-v2 "
                 f"token states of the canonical form averaged per layer (layers {list(LAYERS)}, "
                 f"{emb.shape[1]} values)",
        "cross_validated_spearman": {str(a): round(s, 4) for a, s in scores.items()},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "features": list(FEATURES), "mean": m["mean"].round(6).tolist(), "scale": m["scale"].round(6).tolist(),
        "lexical_weights": m["lexical_weights"].round(6).tolist(), "bias": round(m["bias"], 6),
        "centre": round(float(y.mean()), 4), "spread": round(float(y.std() / 1.5), 4), "card": card,
        "embedding_layers": list(LAYERS), "embedding_weights": m["embedding_weights"].round(6).tolist(),
    }), encoding="utf-8")
    print(json.dumps(card, indent=2))
    print(f"written {out} ({out.stat().st_size / 1024:.0f} KB)")


if __name__ == "__main__":
    typer.run(main)
