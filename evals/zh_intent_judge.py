"""Intent accuracy of the Chinese debtor, read by a judge fitted on separate lines.

The English judge (evals/fidelity_metrics.py) reads MiniLM sentence embeddings, which do not read
Chinese. This one reads character 1-3-grams (TF-IDF, a logistic regression) and is fitted on the
Chinese personas' own ``fallback_lines`` (written per intent, never in a line bank), then judges
the lines the debtor said in calls (from the banks): the share whose judged intent is the intent
the director asked for. Where annotators labelled the same lines blind (a live-audit packet with
``intent`` in its labels), it also says how often the judge agrees with them, and they with the
director, so the judge's own error is in view.

    python -m evals.zh_intent_judge --replies out/fid-zh-replies.jsonl [--replies MORE.jsonl]
        [--labels PACKET/labels-A.jsonl --key PACKET/key.jsonl --items PACKET/items.jsonl]
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import typer

from core.analysis.script import to_simplified
from simulator.actor import placeholders
from simulator.personas import Persona, load_personas


def training_lines(personas: list[Persona]) -> tuple[list[str], list[str]]:
    """(lines, intents) from the personas' fallback lines, placeholders filled."""
    texts, labels = [], []
    for p in personas:
        fill = placeholders(p, None, "小王")
        for intent, lines in p.fallback_lines.items():
            for line in lines:
                texts.append(to_simplified(line.format_map(fill)))
                labels.append(intent.value)
    return texts, labels


def fit_judge(personas: list[Persona], seed: int = 0):
    """A character n-gram classifier of debtor intents (sklearn; fitted in a second)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    texts, labels = training_lines(personas)
    judge = make_pipeline(
        TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=1),
        LogisticRegression(C=10.0, max_iter=2000, random_state=seed),
    )
    judge.fit(texts, labels)
    return judge


def judge_replies(rows: list[dict], judge) -> dict:
    """Accuracy of the judge's reading against the director's intent, overall and per intent."""
    rows = [r for r in rows if r.get("source") in ("bank", "authored", "model", "retry")]
    if not rows:
        return {"lines": 0}
    said = judge.predict([to_simplified(r["reply"]) for r in rows])
    hits = [p == r["intent"] for p, r in zip(said, rows, strict=True)]
    per: dict[str, list[bool]] = {}
    for r, h in zip(rows, hits, strict=True):
        per.setdefault(r["intent"], []).append(h)
    return {
        "lines": len(rows),
        "intent_accuracy": round(sum(hits) / len(hits), 3),
        "per_intent": {k: f"{sum(v)}/{len(v)}" for k, v in sorted(per.items())},
    }


def agreement_with_annotators(judge, labels: Path, key: Path, items: Path) -> dict:
    """On an audit packet: judge vs annotator, annotator vs director, judge vs director."""
    lab = {(x := json.loads(line))["item"]: x.get("intent") for line in labels.read_text(encoding="utf-8").splitlines() if line.strip()}
    asked = {(x := json.loads(line))["item"]: x["intent"] for line in key.read_text(encoding="utf-8").splitlines() if line.strip()}
    text = {(x := json.loads(line))["item"]: x["line"] for line in items.read_text(encoding="utf-8").splitlines() if line.strip()}
    ids = [i for i in text if lab.get(i)]
    said = dict(zip(ids, judge.predict([to_simplified(text[i]) for i in ids]), strict=True))
    n = len(ids) or 1
    return {
        "items": len(ids),
        "judge_vs_annotator": round(sum(said[i] == lab[i] for i in ids) / n, 3),
        "annotator_vs_director": round(sum(lab[i] == asked[i] for i in ids) / n, 3),
        "judge_vs_director": round(sum(said[i] == asked[i] for i in ids) / n, 3),
    }


def main(
    replies: list[Path] = typer.Option(..., "--replies", help="replies JSONL of a fidelity or live-eval run (Chinese personas)."),
    labels: list[Path] = typer.Option(None, "--labels", help="Annotators' labels of a live-audit packet (with intent)."),
    key: Path = typer.Option(None, "--key", help="The packet's key.jsonl."),
    items: Path = typer.Option(None, "--items", help="The packet's items.jsonl."),
    out: Path = typer.Option(Path("out/zh-intent-judge.json"), "--out"),
) -> None:
    """Fit the judge on the Chinese personas' fallback lines and read the lines said in calls."""
    from rich.console import Console

    personas = [p for p in load_personas().personas.values() if p.language == "zh"]
    if not personas:
        raise SystemExit("no Chinese personas (language: zh) to fit the judge on")
    judge = fit_judge(personas)
    rows = [json.loads(line) for f in replies for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if r.get("persona") in {p.id for p in personas}]
    result = {"fitted_on": Counter(training_lines(personas)[1]).total(), "calls": judge_replies(rows, judge)}
    if labels and key and items:
        result["audit"] = {str(f): agreement_with_annotators(judge, f, key, items) for f in labels}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    Console().print(result)


if __name__ == "__main__":
    typer.run(main)
