"""A self-contained HTML report for a batch of scores: inline CSS and inline SVG, no CDN.

Summary table and pass rate; score distributions as SVG histograms; the most frequent
violations with examples; a drill-down per call with its evidence, violations and feedback.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from core.html import render
from rubrics.results import criterion_names

BINS = 10


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    count: int


def histogram(values: Sequence[float], *, width: int = 320, height: int = 120, bins: int = BINS) -> dict[str, Any]:
    """Bars for a 0-100 histogram, already laid out in SVG coordinates."""
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, max(0, int(v // (100 / bins))))] += 1
    top = max(counts) or 1
    plot_h = height - 18
    head = 12  # room for the count above the tallest bar
    bw = width / bins
    bars = []
    for i, c in enumerate(counts):
        h = (plot_h - head) * c / top
        lo = int(i * 100 / bins)
        bars.append(Bar(i * bw + 1, plot_h - h, bw - 2, h, f"{lo}-{lo + 100 // bins}", c))
    return {"width": width, "height": height, "bars": bars, "axis_y": plot_h + 13}


def render_report(records: Iterable[dict[str, Any]], *, rubric=None, title: str = "callcoach score report") -> str:
    """The report as one HTML string (records are Score dicts or ``{"id", "error"}`` dicts)."""
    records = list(records)
    scored = [r for r in records if "error" not in r]
    errors = [r for r in records if "error" in r]
    criteria = criterion_names(scored)
    titles = {c.id: c.title for c in rubric.criteria} if rubric is not None else {}
    overall = [r["overall"] for r in scored]
    charts = [{"title": "Overall", "hist": histogram(overall)}]
    means = {}
    for c in criteria:
        vals = [r["criteria"][c]["score"] for r in scored if c in r["criteria"]]
        means[c] = statistics.fmean(vals) if vals else None
        charts.append({"title": titles.get(c, c), "hist": histogram(vals)})

    rule_counts: Counter[str] = Counter()
    examples: dict[str, list[dict[str, Any]]] = {}
    meta: dict[str, dict[str, Any]] = {}
    for r in scored:
        for v in r.get("violations", []):
            rule_counts[v["rule"]] += 1
            meta.setdefault(v["rule"], v)
            ex = examples.setdefault(v["rule"], [])
            if len(ex) < 3:
                ex.append({"id": r["id"], "turn": v["turn"], "quote": v["quote"]})
    top_rules = rule_counts.most_common(10)
    most = max((n for _, n in top_rules), default=1)
    violations = [
        {"rule": rule, "count": n, "title": meta[rule]["title"], "citation": meta[rule]["citation"],
         "severity": meta[rule]["severity"], "examples": examples[rule], "bar": 200 * n / most}
        for rule, n in top_rules
    ]
    passed = sum(bool(r["passed"]) for r in scored)
    summary = {
        "transcripts": len(records),
        "scored": len(scored),
        "errors": len(errors),
        "passed": passed,
        "pass_rate": (100 * passed / len(scored)) if scored else None,
        "mean_overall": statistics.fmean(overall) if overall else None,
        "median_overall": statistics.median(overall) if overall else None,
        "with_blocker": sum(any(v["severity"] == "blocker" for v in r.get("violations", [])) for r in scored),
    }
    return render(
        "rubrics", "report.html.j2",
        title=title,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        rubric=rubric,
        summary=summary,
        criteria=criteria,
        titles=titles,
        means=means,
        charts=charts,
        violations=violations,
        calls=scored,
        errors=errors,
    )
