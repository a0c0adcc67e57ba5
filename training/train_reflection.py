"""Train the reflection reading of the empathy reader (``core/analysis/models/reflection.json``).

    python -m training.train_reflection [--esconv ../shared/data/dev-labels/esconv_strategies.jsonl]

``--esconv`` also measures the model on the validity report's ESConv rows (never trained on).

Data: ``training/data/reflection_pairs.yaml``, written for this project by its authors (the other
party's turn and replies to it, in support-line, customer-service and collection-call situations,
each labelled with what the reply does). Positives: ``reflection`` and ``restatement``; every other
label is a negative. No public label set is trained on (ESConv, whose licence is NonCommercial, is
only measured on by ``evals/validity.py``).

Model: the cue logit of the hand-written reading plus a learnt correction, logistic: ``--kind
residual`` (the default) learns only a bias and weights on the sentence's MiniLM embedding, with the
cue logit's weight held at 1; ``--kind full`` learns weights on every one of
:data:`~core.analysis.empathy.REFLECTION_FEATURES` (standardised) and the embedding. A reply's
reading is its best sentence's, so training takes, for a positive reply of several sentences, its
sentence with the highest cue logit, and for a negative reply every sentence. The L2 strength is
picked by cross-validation grouped by the other party's turn (no turn in both folds).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import typer
import yaml

from core.analysis.empathy import (
    REFLECTION_FEATURES,
    REFLECTION_MODEL_FILE,
    EmpathyReader,
    content_stems,
    reflection_features,
)

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "training" / "data" / "reflection_pairs.yaml"
POSITIVE = frozenset({"reflection", "restatement"})
PENALTIES = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)


def read_pairs(path: Path = DATA) -> list[tuple[int, str, str, str]]:
    """(group, other party's turn, reply, label) for each authored reply."""
    items = yaml.safe_load(path.read_text(encoding="utf-8"))["items"]
    return [(g, it["other"], reply, label) for g, it in enumerate(items)
            for label, replies in it["replies"].items() for reply in replies]


def sentence_rows(reader: EmpathyReader, split, other: str, reply: str) -> tuple[np.ndarray, np.ndarray]:
    """Each sentence of ``reply``: (features, embedding), read as the empathy reader reads it."""
    sentences = [s for s in split(reply) if s.strip()] or [reply]
    previous = split(other) if other else []
    vectors = reader.vectors(sentences)
    prev_vectors = reader.vectors(previous) if previous else None
    prev_stems = frozenset(content_stems(" ".join(previous)))
    sims = reader._sims(vectors, prev_vectors)
    feats = []
    for i, s in enumerate(sentences):
        c = reader.cues_of(s)
        row = {k: (float(v[i]) if v is not None else None) for k, v in sims.items()}
        feats.append(reflection_features(c, row, prev_stems, reader._reflection_cues(c, row, prev_stems)))
    return np.array(feats), np.asarray(vectors, dtype=np.float64)


def design(reader: EmpathyReader, split, pairs) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    X, E, y, groups = [], [], [], []
    for group, other, reply, label in pairs:
        f, v = sentence_rows(reader, split, other, reply)
        positive = label in POSITIVE
        keep = [int(np.argmax(f[:, 0]))] if positive else range(len(f))
        for i in keep:
            X.append(f[i])
            E.append(v[i])
            y.append(positive)
            groups.append(group)
    return np.array(X), np.array(E), np.array(y), np.array(groups)


def fit(X: np.ndarray, E: np.ndarray, y: np.ndarray, penalty: float, kind: str = "residual") -> dict:
    """Logistic regression with an L2 ``penalty`` (bias free); ``residual``: the cue logit's weight is 1."""
    from scipy.optimize import minimize

    mean, scale = X.mean(0), X.std(0) + 1e-9
    Xs = (X - mean) / scale
    Z = E if kind == "residual" else np.hstack([Xs, E])
    offset = X[:, 0] if kind == "residual" else np.zeros(len(y))
    t = y.astype(float)

    def loss(w):
        z = offset + w[0] + Z @ w[1:]
        p = 1.0 / (1.0 + np.exp(-z))
        value = np.logaddexp(0, z).sum() - t @ z + penalty * (w[1:] @ w[1:])
        return value, np.concatenate([[np.sum(p - t)], Z.T @ (p - t) + 2 * penalty * w[1:]])

    w = minimize(loss, np.zeros(Z.shape[1] + 1), jac=True, method="L-BFGS-B").x
    k = X.shape[1]
    if kind == "residual":  # the cue logit as it is (weight 1 before standardising), the other features 0
        weights = np.concatenate([[scale[0]], np.zeros(k - 1)])
        return {"mean": mean, "scale": scale, "weights": weights, "embedding_weights": w[1:],
                "bias": float(w[0] + mean[0])}
    return {"mean": mean, "scale": scale, "weights": w[1 : k + 1], "embedding_weights": w[k + 1 :], "bias": float(w[0])}


def predict(m: dict, X: np.ndarray, E: np.ndarray) -> np.ndarray:
    return m["bias"] + ((X - m["mean"]) / m["scale"]) @ m["weights"] + E @ m["embedding_weights"]


def cross_validate(X, E, y, groups, penalty: float, kind: str, folds: int = 5) -> float:
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GroupKFold

    p = np.zeros(len(y))
    for train, test in GroupKFold(folds).split(X, y, groups):
        p[test] = predict(fit(X[train], E[train], y[train], penalty, kind), X[test], E[test])
    return float(roc_auc_score(y, p))


REFLECTIVE = frozenset({"Reflection of feelings", "Restatement or Paraphrasing"})
ESCONV_ROWS = 1200  # the validity report's rows (evals/validity.py): the lowest sha1 of seeker + reply


def measure_esconv(reader: EmpathyReader, split, path: Path, model: dict, limit: int = ESCONV_ROWS) -> dict:
    """AUROC of reflection + restatement vs the other strategies on the validity report's ESConv rows:
    the cue logit, and the trained model (each reply: its best sentence). Measuring only."""
    from sklearn.metrics import roc_auc_score

    from training.heldout import stable_key

    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = sorted(rows, key=lambda d: stable_key(d["seeker"] + "\n" + d["supporter"]))[:limit]
    cue, trained, label = [], [], []
    for r in rows:
        f, v = sentence_rows(reader, split, r["seeker"], r["supporter"])
        cue.append(float(f[:, 0].max()))
        trained.append(float(predict(model, f, v).max()))
        label.append(r["strategy"] in REFLECTIVE)
    return {"rows": len(rows), "cue_logit": round(float(roc_auc_score(label, cue)), 4),
            "trained": round(float(roc_auc_score(label, trained)), 4)}


def main(
    data: Path = typer.Option(DATA, help="The authored reply pairs (YAML)."),
    kind: str = typer.Option("residual", help="residual (the cue logit plus an embedding term) or full."),
    esconv: Path | None = typer.Option(None, help="esconv_strategies.jsonl: measure on it (never trained on)."),
    out: Path | None = typer.Option(REFLECTION_MODEL_FILE, help="Where to write the model."),
) -> None:
    """Train the reflection reading on the authored pairs; report grouped CV (and ESConv)."""
    from sklearn.metrics import roc_auc_score

    from core.analysis.analyzer import split_sentences
    from core.analysis.embedder import default_embedder

    if kind not in ("residual", "full"):
        raise SystemExit("--kind is residual or full")
    pairs = read_pairs(data)
    reader = EmpathyReader(encode=default_embedder().encode, model_id="all-MiniLM-L6-v2", reflection_model=None)
    X, E, y, groups = design(reader, split_sentences, pairs)
    scores = {c: cross_validate(X, E, y, groups, c, kind) for c in PENALTIES}
    penalty = max(scores, key=scores.get)
    m = fit(X, E, y, penalty, kind)
    card = {
        "data": f"training/data/reflection_pairs.yaml: {len(pairs)} replies to {len(set(groups))} turns, written "
                "for this project (the project's own licence); positives reflection and restatement",
        "data_sha256": hashlib.sha256(data.read_bytes()).hexdigest(),
        "model": f"{kind} logistic regression (L2 {penalty}) over the cue logit"
                 + (f", {len(REFLECTION_FEATURES) - 1} more sentence features" if kind == "full" else "")
                 + " and the 384-d all-MiniLM-L6-v2 sentence embedding",
        "cue_logit_auroc_on_authored": round(float(roc_auc_score(y, X[:, 0])), 4),
        "grouped_cross_validated_auroc": {str(c): round(s, 4) for c, s in scores.items()},
    }
    if esconv is not None:
        card["esconv_auroc_measured_only"] = measure_esconv(reader, split_sentences, esconv, m)
    print(json.dumps(card, indent=2))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({
            "features": list(REFLECTION_FEATURES), "mean": m["mean"].round(6).tolist(),
            "scale": m["scale"].round(6).tolist(), "weights": np.round(m["weights"], 6).tolist(),
            "bias": round(m["bias"], 6), "card": card,
            "embedding_weights": np.round(m["embedding_weights"], 6).tolist(),
        }), encoding="utf-8")
        print(f"written {out} ({out.stat().st_size / 1024:.0f} KB)")


if __name__ == "__main__":
    typer.run(main)
