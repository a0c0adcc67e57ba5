"""A Score rendered as HTML for the practice page: totals, a radar chart, violations, feedback.

Inline SVG and inline styles only (no scripts, no network), so the same fragment works in the
Gradio page, in a downloaded report and in an e-mail. ``render_report`` wraps the scorecard and
the transcript into one standalone HTML page.
"""

from __future__ import annotations

import math
import re
from typing import Any

from core.html import embed, render
from rubrics.scorer import NOT_PASSED

OUTCOME_LABELS = {
    "promise_to_pay": "Promise to pay",
    "refusal": "Refused to pay",
    "hang_up": "Debtor hung up",
    "dispute": "Debt disputed",
    "complaint": "Complaint threatened",
    "referred_to_attorney": "Referred to attorney",
    "stop_requested": "Asked to stop calling",
    "message_taken": "Message taken (no disclosure)",
    "referred_to_help": "Referred to support",
    "ended_by_agent": "Ended by you",
}

_GOOD, _WARN, _BAD = "#0f766e", "#b45309", "#b91c1c"


def _as_dict(score: Any) -> dict:
    if hasattr(score, "model_dump"):
        return score.model_dump(mode="json")
    return dict(score)


def _band(value: float) -> str:
    return _GOOD if value >= 75 else _WARN if value >= 50 else _BAD


def score_text(value: float) -> str:
    """A score as shown everywhere on the scorecard: one decimal, as the verdict judges it
    (69.8 against a pass mark of 70 reads 69.8, never a rounded-up 70)."""
    return f"{float(value):.1f}"


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def outcome_label(outcome: str | None, promise: dict | None = None) -> str:
    """The call's outcome in words, with the promised plan when there is one."""
    if not outcome:
        return "No outcome"
    text = OUTCOME_LABELS.get(outcome, _label(outcome))
    if promise and promise.get("plan"):
        text += f": {promise['plan']}"
    return text


def radar_svg(values: dict[str, float], width: int = 400, height: int = 290) -> str:
    """A radar (spider) chart of 0-100 scores as inline SVG; fewer than 3 axes draw as bars."""
    names = list(values)
    if len(names) < 3:
        return bars_svg(values)
    cx, cy = width / 2, height / 2
    r = min(width, height) / 2 - 45  # room for the axis labels
    n = len(names)

    def point(i: int, frac: float) -> tuple[float, float]:
        ang = -math.pi / 2 + 2 * math.pi * i / n
        return cx + r * frac * math.cos(ang), cy + r * frac * math.sin(ang)

    def clamp(v: float) -> float:
        return max(0.0, min(100.0, v)) / 100

    axes = []
    for i, name in enumerate(names):
        x, y = point(i, 1.0)
        lx, ly = point(i, 1.13)
        anchor = "middle" if abs(lx - cx) < 8 else ("start" if lx > cx else "end")
        dy = -4 if ly < cy - 8 else (12 if ly > cy + 8 else 4)
        axes.append({"x": x, "y": y, "lx": lx, "ly": ly + dy, "anchor": anchor, "label": _label(name),
                     "score": score_text(values[name]), "color": _band(values[name])})
    dots = [point(i, clamp(values[k])) for i, k in enumerate(names)]
    return render(
        "rubrics", "radar.svg.j2", width=width, height=height, cx=cx, cy=cy, axes=axes, dots=dots,
        rings=[_points(point(i, ring) for i in range(n)) for ring in (0.25, 0.5, 0.75, 1.0)], shape=_points(dots),
    )


def _points(xy) -> str:
    """An SVG ``points`` attribute: numbers only."""
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)


def bars_svg(values: dict[str, float], width: int = 260) -> str:
    """Horizontal bars for a handful of 0-100 scores (used when a radar needs 3+ axes)."""
    row = 28
    track = width - 136
    bars = [
        {"y": 4 + i * row, "label": _label(name), "fill": track * max(0, min(100, v)) / 100, "color": _band(v),
         "score": score_text(v)}
        for i, (name, v) in enumerate(values.items())
    ]
    return render("rubrics", "bars.svg.j2", width=width, height=row * len(values) + 8, track=track, bars=bars)


def trend_svg(points: list[dict], width: int = 640, height: int = 220, pass_mark: float | None = None) -> str:
    """Overall score over time (oldest first) as an inline SVG line chart.

    ``points`` are dicts with ``overall``, ``passed`` and ``started_at``/``persona`` for labels.
    """
    left, right, top, bottom = 40, 16, 14, 34
    w, h = width - left - right, height - top - bottom
    n = len(points)

    def xy(i: int, v: float) -> tuple[float, float]:
        x = left + (w * i / (n - 1) if n > 1 else w / 2)
        return x, top + h * (1 - max(0.0, min(100.0, v)) / 100)

    dots = []
    for i, p in enumerate(points):
        x, y = xy(i, p["overall"])
        when = (p.get("started_at") or "")[:16].replace("T", " ")
        dots.append({"x": x, "y": y, "color": _GOOD if p.get("passed") else _BAD,
                     "title": f"{when} {p.get('persona') or ''}: {score_text(p['overall'])}"})
    ticks, last_day = [], None
    for i in range(0, n, max(1, n // 10)):
        day = (points[i].get("started_at") or "")[5:10]
        ticks.append((xy(i, 0)[0], f"#{i + 1}" + (f" \u00b7 {day}" if day and day != last_day else "")))
        last_day = day
    return render(
        "rubrics", "trend.svg.j2", width=width, height=height, left=left, right=width - right,
        grid=[(v, xy(0, v)[1]) for v in (0, 25, 50, 75, 100)], dots=dots, ticks=ticks,
        pass_y=None if pass_mark is None else xy(0, pass_mark)[1],
        line=_points((d["x"], d["y"]) for d in dots) if n > 1 else "",
    )


_TURN_REF = re.compile(r"\b[Tt]urn (\d+)\b:?\s*")


def _turn_parts(text: str) -> list[tuple[str, str | None]]:
    """Feedback text cut around its 'Turn N' references: (text, None) and ("", N) pieces, so
    the template escapes the text and draws each reference as a badge."""
    parts: list[tuple[str, str | None]] = []
    pos = 0
    for m in _TURN_REF.finditer(text):
        parts += [(text[pos:m.start()], None), ("", m.group(1))]
        pos = m.end()
    return parts + [(text[pos:], None)]


def _criteria_view(s: dict) -> list[dict]:
    """Each criterion as the scorecard shows it: label, score, bar and up to 4 pieces of evidence."""
    rows = []
    for name, crit in (s.get("criteria") or {}).items():
        value = float(crit.get("score", 0))
        evidence = [
            {"effect": e.get("effect"), "turn": e.get("turn"), "quote": str(e.get("quote", "")),
             "indicator": _label(str(e.get("indicator", "")))}
            for e in (crit.get("evidence") or [])[:4]
        ]
        rows.append({"label": _label(name), "score": score_text(value), "color": _band(value),
                     "width": f"{max(0, min(100, value)):.0f}", "evidence": evidence})
    return rows


def _strengths_view(s: dict) -> list[dict]:
    """Up to 5 pieces of positive evidence, across the criteria."""
    return [
        {"turn": e.get("turn"), "indicator": _label(str(e.get("indicator", ""))), "criterion": _label(name),
         "quote": str(e.get("quote", ""))}
        for name, crit in (s.get("criteria") or {}).items() for e in (crit.get("evidence") or []) if e.get("effect") == "+"
    ][:5]


def render_scorecard(score: Any, *, outcome: str | None = None, promise: dict | None = None, turns: list | None = None) -> str:
    """The scorecard fragment: pass/fail and overall, radar, criteria, violations, feedback."""
    s = _as_dict(score)
    if s.get("error"):
        return render("rubrics", "scorecard.html.j2", error=str(s["error"]))
    overall = float(s.get("overall", 0))
    passed = bool(s.get("passed"))
    criteria = {k: float(v.get("score", 0)) for k, v in (s.get("criteria") or {}).items()}
    violations = s.get("violations") or []
    feedback = [str(f) for f in s.get("feedback") or []]
    # what the call never reached (the rubric's required_to_pass) is said next to the verdict
    reasons = [f[len(NOT_PASSED):] for f in feedback if f.startswith(NOT_PASSED)]
    return render(
        "rubrics", "scorecard.html.j2", error=None, overall=score_text(overall), color=_band(overall), passed=passed,
        blockers=0 if passed else sum(v.get("severity") == "blocker" for v in violations),
        reasons=[r[:1].upper() + r[1:] for r in reasons], outcome=outcome_label(outcome, promise),
        rubric=str(s.get("rubric", "")),
        radar=embed(radar_svg(criteria)) if criteria else "",
        criteria=_criteria_view(s),
        not_applicable=[_label(str(c)) for c in s.get("not_applicable") or []],
        violations=[
            {"severity": str(v.get("severity", "")), "title": str(v.get("title", v.get("rule"))),
             "citation": str(v.get("citation", "")), "turn": v.get("turn"), "quote": str(v.get("quote", ""))}
            for v in violations
        ],
        strengths=_strengths_view(s),
        feedback=[_turn_parts(f) for f in feedback if not f.startswith(NOT_PASSED)],
        # rules the call's facts could not settle: said, so a clean list is not read as a pass
        not_checked=[
            {"title": str(n.get("title", n.get("rule"))), "needs": ", ".join(str(x) for x in n.get("needs") or [])}
            for n in s.get("not_checked") or []
        ],
    )


SCORECARD_CSS = """
.cc-scorecard{font-family:inherit;color:#0f172a}
.cc-sc-head{display:flex;gap:18px;align-items:center;margin-bottom:10px}
.cc-overall{width:92px;height:92px;border-radius:50%;border:6px solid;display:flex;flex-direction:column;align-items:center;justify-content:center;flex:none}
.cc-overall-num{font-size:30px;font-weight:700;line-height:1}.cc-overall-of{font-size:12px;color:#64748b}
.cc-verdict{font-size:20px;font-weight:700}.cc-pass{color:#0f766e}.cc-fail{color:#b91c1c}
.cc-why{color:#b91c1c;font-size:14px;margin-top:2px}
.cc-outcome{margin-top:4px}.cc-rubric{font-size:12px;color:#64748b;margin-top:2px}
.cc-sc-body{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}
.cc-radar{flex:none}.cc-criteria{flex:1;min-width:260px}
.cc-crit{margin-bottom:12px}.cc-crit-head{display:flex;justify-content:space-between;font-weight:600}
.cc-bar{height:8px;background:#e2e8f0;border-radius:4px;overflow:hidden;margin:4px 0}.cc-bar div{height:100%}
.cc-evidence{list-style:none;padding:0;margin:4px 0 0;font-size:13px;color:#334155}
.cc-evidence li{margin:2px 0}.cc-plus::before{content:"+ ";color:#0f766e;font-weight:700}.cc-minus::before{content:"\\2212  ";color:#b91c1c;font-weight:700}
.cc-ind{color:#64748b;font-size:12px}
.cc-na{color:#64748b}.cc-na-why{font-size:12px}
.cc-not-checked{font-size:13px;color:#475569}.cc-not-checked code{font-size:12px}
.cc-turnref{display:inline-block;background:#eef2f7;color:#334155;border-radius:4px;padding:0 5px;font-size:12px;font-weight:600}
.cc-h{margin:14px 0 6px;font-size:15px}
.cc-violations{list-style:none;padding:0;margin:0}
.cc-violations li{border-left:4px solid #b45309;background:#fff7ed;padding:6px 10px;margin:6px 0;border-radius:4px}
.cc-violations li.cc-sev-blocker{border-color:#b91c1c;background:#fef2f2}
.cc-sev{font-size:11px;text-transform:uppercase;letter-spacing:.04em;color:#b91c1c}.cc-cite{font-size:12px;color:#64748b}
.cc-clean{color:#0f766e;margin-top:10px;font-weight:600}
.cc-feedback{margin:0;padding-left:18px}.cc-feedback li{margin:3px 0}
"""


def render_report(score: Any, transcript: Any, *, title: str | None = None) -> str:
    """A standalone HTML page: the scorecard followed by the numbered transcript."""
    t = transcript.model_dump(mode="json") if hasattr(transcript, "model_dump") else dict(transcript)
    meta = t.get("metadata") or {}
    flagged = {v.get("turn") for v in (_as_dict(score).get("violations") or [])}
    turns = [{"speaker": turn["speaker"], "text": turn["text"], "flagged": i in flagged} for i, turn in enumerate(t.get("turns") or [])]
    when = (meta.get("started_at") or "")[:16].replace("T", " ")
    card = render_scorecard(score, outcome=meta.get("outcome"), promise=meta.get("promise"))
    return render(
        "rubrics", "call_report.html.j2", title=title or f"Call report: {t.get('id', '')}",
        subtitle=[str(x) for x in (meta.get("agent_name"), t.get("persona"), when) if x],
        scorecard_css=SCORECARD_CSS, scorecard=embed(card), turns=turns,
    )


__all__ = ["render_scorecard", "render_report", "radar_svg", "bars_svg", "trend_svg", "outcome_label", "score_text", "SCORECARD_CSS"]
