"""Chinese turn analysis against the labelled collector lines: precision and recall per signal.

    python -m evals.zh_analysis                 # the table (make zh-analysis)
    python -m evals.zh_analysis --misses        # ... and every line read wrongly
    python -m evals.zh_analysis --json out/zh-analysis.json

The set (tests/data/labelled_signals_zh.yaml) holds, per catalogue signal, lines that must fire it
and near misses that must not, in Simplified and Traditional characters; and, per default-zh
indicator graded by its own exemplar phrases, lines that should earn it credit and lines that
should not. Signals are read as the scorer reads them (the zh analyzer, one line a call);
indicators as the rubric grades them (rubrics.indicators.evaluate, with the Scorer's matcher and
the rubric's no_credit_with). tests/test_analysis_zh.py holds each row to a floor.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

LABELLED = Path(__file__).resolve().parents[1] / "tests" / "data" / "labelled_signals_zh.yaml"
OPEN_QUESTION = "question:open"  # the turn's question type, labelled like a signal
RUBRIC = "default-zh"


@dataclass
class Row:
    """One signal's (or indicator's) counts on the labelled lines."""

    name: str
    kind: str  # "signal" or "indicator"
    tp: int = 0
    fn: int = 0
    fp: int = 0
    tn: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    def add(self, expected: bool, got: bool, text: str) -> None:
        if expected:
            self.tp += got
            self.fn += not got
        else:
            self.fp += got
            self.tn += not got
        if got != expected:
            self.misses.append(f"{'missed' if expected else 'false hit'}: {self.name}: {text}")


def load_labelled(path: Path | str = LABELLED) -> dict:
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def _items(block: dict) -> list[tuple[str, str, bool, str]]:
    return [
        (name, spec["speaker"], label == "positive", text)
        for name, spec in block.items()
        for label in ("positive", "negative")
        for text in spec[label]
    ]


def measure_signals(analyzer, block: dict) -> dict[str, Row]:
    """Each labelled line analysed alone (one turn, one call) with ``analyzer``."""
    from core.transcript import Transcript

    items = _items(block)
    calls = [Transcript(id=f"zh-{i}", language="zh", turns=[{"speaker": spk, "text": text}])
             for i, (_, spk, _, text) in enumerate(items)]
    results = analyzer.analyze_many(calls)
    rows: dict[str, Row] = {}
    for (name, _, expected, text), (a,) in zip(items, results, strict=True):
        got = a.question == "open" if name == OPEN_QUESTION else a.has(name)
        rows.setdefault(name, Row(name, "signal")).add(expected, got, text)
    return rows


def measure_indicators(scorer, block: dict) -> dict[str, Row]:
    """Each labelled line as a one-turn call, graded by the rubric's indicator (None: not graded)."""
    from core.transcript import Transcript
    from rubrics.indicators import evaluate
    from rubrics.matching import CallView

    indicators = {ind.id: ind for c in scorer.rubric.criteria for ind in c.indicators}
    no_credit = frozenset(scorer.rubric.no_credit_with)
    rows: dict[str, Row] = {}
    for name, speaker, expected, text in _items(block):
        row = rows.setdefault(name, Row(name, "indicator"))
        ind = indicators.get(name)
        got = False
        if ind is not None:
            # a line of a collection call (its balance in the metadata): what only a collection
            # call is graded on (an understanding check) applies to it
            call = Transcript(id="zh", language="zh", turns=[{"speaker": speaker, "text": text}], metadata={"debt_amount": 5000})
            view = CallView.build(scorer.analyzer.analyze_transcript(call), call)
            value = evaluate(ind, view, scorer.matcher, scorer.rubric.language, no_credit).value
            got = bool(value)
        row.add(expected, got, text)
    return rows


def measure(path: Path | str = LABELLED, analyzer=None, scorer=None) -> dict[str, Row]:
    """Every row of the labelled set: the signals, then the rubric's exemplar indicators."""
    from core.analysis import default_analyzer
    from rubrics.scorer import Scorer

    data = load_labelled(path)
    analyzer = analyzer if analyzer is not None else default_analyzer("zh")
    scorer = scorer if scorer is not None else Scorer(RUBRIC, analyzer)
    rows = measure_signals(analyzer, data["signals"])
    rows.update(measure_indicators(scorer, data.get("indicators", {})))
    return rows


def table(rows: dict[str, Row], misses: bool = False) -> str:
    lines = [f"{'signal / indicator':30s} {'kind':9s} {'pos':>4s} {'neg':>4s} {'precision':>9s} {'recall':>6s}"]
    for r in sorted(rows.values(), key=lambda r: (r.kind != "signal", r.name)):
        lines.append(f"{r.name:30s} {r.kind:9s} {r.tp + r.fn:4d} {r.fp + r.tn:4d} {r.precision:9.2f} {r.recall:6.2f}")
    if misses:
        lines += ["", *(m for r in rows.values() for m in r.misses)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--labelled", default=str(LABELLED))
    p.add_argument("--misses", action="store_true", help="list every line read wrongly")
    p.add_argument("--json", help="write the rows as JSON here")
    args = p.parse_args(argv)
    rows = measure(args.labelled)
    print(table(rows, args.misses))
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        payload = [{**asdict(r), "precision": r.precision, "recall": r.recall} for r in rows.values()]
        out.write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
