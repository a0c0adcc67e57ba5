"""A Score rendered as HTML for the practice page: totals, a radar chart, violations, feedback.

Inline SVG and inline styles only (no scripts, no network), so the same fragment works in the
Gradio page, in a downloaded report and in an e-mail. ``render_report`` wraps the scorecard and
the transcript into one standalone HTML page.
"""

from __future__ import annotations

import math
import re
from html import escape
from typing import Any

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

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="Scores by criterion">']
    for ring in (0.25, 0.5, 0.75, 1.0):
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in (point(i, ring) for i in range(n)))
        parts.append(f'<polygon points="{pts}" fill="none" stroke="#d6dde6" stroke-width="1"/>')
    for i, name in enumerate(names):
        x, y = point(i, 1.0)
        parts.append(f'<line x1="{cx}" y1="{cy}" x2="{x:.1f}" y2="{y:.1f}" stroke="#d6dde6"/>')
        lx, ly = point(i, 1.13)
        anchor = "middle" if abs(lx - cx) < 8 else ("start" if lx > cx else "end")
        dy = -4 if ly < cy - 8 else (12 if ly > cy + 8 else 4)
        parts.append(
            f'<text x="{lx:.1f}" y="{ly + dy:.1f}" text-anchor="{anchor}" font-size="12" fill="#334155">'
            f'{escape(_label(name))} <tspan font-weight="700" fill="{_band(values[name])}">{score_text(values[name])}</tspan></text>'
        )
    pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in (point(i, clamp(values[k])) for i, k in enumerate(names)))
    parts.append(f'<polygon points="{pts}" fill="rgba(15,118,110,0.22)" stroke="#0f766e" stroke-width="2"/>')
    for i, k in enumerate(names):
        x, y = point(i, clamp(values[k]))
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="#0f766e"/>')
    parts.append("</svg>")
    return "".join(parts)


def bars_svg(values: dict[str, float], width: int = 260) -> str:
    """Horizontal bars for a handful of 0-100 scores (used when a radar needs 3+ axes)."""
    row = 28
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {row * len(values) + 8}" width="{width}" role="img">']
    for i, (name, v) in enumerate(values.items()):
        y = 4 + i * row
        parts.append(f'<text x="0" y="{y + 14}" font-size="12" fill="#334155">{escape(_label(name))}</text>')
        parts.append(f'<rect x="96" y="{y + 3}" width="{width - 136}" height="14" rx="7" fill="#e2e8f0"/>')
        parts.append(f'<rect x="96" y="{y + 3}" width="{(width - 136) * max(0, min(100, v)) / 100:.1f}" height="14" rx="7" fill="{_band(v)}"/>')
        parts.append(f'<text x="{width - 4}" y="{y + 14}" font-size="12" text-anchor="end" fill="#334155">{score_text(v)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def trend_svg(points: list[dict], width: int = 640, height: int = 220, pass_mark: float | None = None) -> str:
    """Overall score over time (oldest first) as an inline SVG line chart.

    ``points`` are dicts with ``overall``, ``passed`` and ``started_at``/``persona`` for labels.
    """
    if not points:
        return '<div class="cc-empty">No scored calls yet. Finish a practice call to see your progress here.</div>'
    left, right, top, bottom = 40, 16, 14, 34
    w, h = width - left - right, height - top - bottom
    n = len(points)

    def xy(i: int, v: float) -> tuple[float, float]:
        x = left + (w * i / (n - 1) if n > 1 else w / 2)
        return x, top + h * (1 - max(0.0, min(100.0, v)) / 100)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" style="max-width:{width}px" role="img" aria-label="Scores over time">']
    for v in (0, 25, 50, 75, 100):
        _, y = xy(0, v)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#e2e8f0"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" fill="#64748b">{v}</text>')
    if pass_mark is not None:
        _, y = xy(0, pass_mark)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#94a3b8" stroke-dasharray="4 4"/>')
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(i, p["overall"]) for i, p in enumerate(points)))
    if n > 1:
        parts.append(f'<polyline points="{line}" fill="none" stroke="#0f766e" stroke-width="2.5"/>')
    for i, p in enumerate(points):
        x, y = xy(i, p["overall"])
        color = _GOOD if p.get("passed") else _BAD
        title = escape(f"{(p.get('started_at') or '')[:16].replace('T', ' ')} {p.get('persona') or ''}: {score_text(p['overall'])}")
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{color}" stroke="white" stroke-width="1.5"><title>{title}</title></circle>')
    step = max(1, n // 10)
    last_day = None
    for i in range(0, n, step):
        x, _ = xy(i, 0)
        day = (points[i].get("started_at") or "")[5:10]
        label = f"#{i + 1}" + (f" \u00b7 {day}" if day and day != last_day else "")
        last_day = day
        parts.append(f'<text x="{x:.1f}" y="{height - 12}" font-size="11" text-anchor="middle" fill="#64748b">{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


_TURN_REF = re.compile(r"\b[Tt]urn (\d+)\b:?\s*")


def _link_turns(text: str) -> str:
    """Escape feedback text and make 'Turn N' references stand out."""
    return _TURN_REF.sub(lambda m: f'<span class="cc-turnref">Turn {m.group(1)}</span> ', escape(text))


def render_scorecard(score: Any, *, outcome: str | None = None, promise: dict | None = None, turns: list | None = None) -> str:
    """The scorecard fragment: pass/fail and overall, radar, criteria, violations, feedback."""
    s = _as_dict(score)
    if s.get("error"):
        return f'<div class="cc-scorecard"><div class="cc-verdict cc-fail">Could not score this call</div><p>{escape(s["error"])}</p></div>'
    overall = float(s.get("overall", 0))
    passed = bool(s.get("passed"))
    criteria = {k: float(v.get("score", 0)) for k, v in (s.get("criteria") or {}).items()}
    violations = s.get("violations") or []
    blockers = [v for v in violations if v.get("severity") == "blocker"]
    verdict = "Passed" if passed else "Not passed"
    feedback = [str(f) for f in s.get("feedback") or []]
    # what the call never reached (the rubric's required_to_pass) is said next to the verdict
    reasons = [f[len(NOT_PASSED):] for f in feedback if f.startswith(NOT_PASSED)]
    feedback = [f for f in feedback if not f.startswith(NOT_PASSED)]
    why = ""
    if not passed and blockers:
        why = f" &middot; {len(blockers)} blocker{'s' if len(blockers) != 1 else ''}"
    html = [
        '<div class="cc-scorecard">',
        '<div class="cc-sc-head">',
        f'<div class="cc-overall" style="border-color:{_band(overall)}"><span class="cc-overall-num" style="color:{_band(overall)}">{score_text(overall)}</span><span class="cc-overall-of">/ 100</span></div>',
        '<div class="cc-sc-summary">',
        f'<div class="cc-verdict {"cc-pass" if passed else "cc-fail"}">{verdict}{why}</div>',
        *(f'<div class="cc-why">{escape(r[:1].upper() + r[1:])}</div>' for r in reasons),
        f'<div class="cc-outcome"><b>Outcome:</b> {escape(outcome_label(outcome, promise))}</div>',
        f'<div class="cc-rubric">Rubric: {escape(str(s.get("rubric", "")))}</div>',
        "</div></div>",
        '<div class="cc-sc-body">',
        f'<div class="cc-radar">{radar_svg(criteria) if criteria else ""}</div>',
        '<div class="cc-criteria">',
    ]
    for name, crit in (s.get("criteria") or {}).items():
        value = float(crit.get("score", 0))
        html.append(
            f'<div class="cc-crit"><div class="cc-crit-head"><span>{escape(_label(name))}</span><b style="color:{_band(value)}">{score_text(value)}</b></div>'
            f'<div class="cc-bar"><div style="width:{max(0, min(100, value)):.0f}%;background:{_band(value)}"></div></div>'
        )
        ev = crit.get("evidence") or []
        if ev:
            html.append('<ul class="cc-evidence">')
            for e in ev[:4]:
                sign = "cc-plus" if e.get("effect") == "+" else "cc-minus"
                html.append(
                    f'<li class="{sign}"><span class="cc-turnref">Turn {e.get("turn")}</span> '
                    f'&ldquo;{escape(str(e.get("quote", "")))}&rdquo; <span class="cc-ind">{escape(_label(str(e.get("indicator", ""))))}</span></li>'
                )
            html.append("</ul>")
        html.append("</div>")
    html.append("</div></div>")
    if violations:
        html.append('<h4 class="cc-h">Violations</h4><ul class="cc-violations">')
        for v in violations:
            html.append(
                f'<li class="cc-sev-{escape(str(v.get("severity", "")))}"><div><b>{escape(str(v.get("title", v.get("rule"))))}</b>'
                f' <span class="cc-sev">{escape(str(v.get("severity", "")))}</span> <span class="cc-cite">{escape(str(v.get("citation", "")))}</span></div>'
                f'<div><span class="cc-turnref">Turn {v.get("turn")}</span> &ldquo;{escape(str(v.get("quote", "")))}&rdquo;</div></li>'
            )
        html.append("</ul>")
    else:
        html.append('<div class="cc-clean">No compliance violations found.</div>')
    strengths = [
        (name, e) for name, crit in (s.get("criteria") or {}).items() for e in (crit.get("evidence") or []) if e.get("effect") == "+"
    ]
    if strengths:
        html.append('<h4 class="cc-h">Strengths</h4><ul class="cc-feedback cc-strengths">')
        for name, e in strengths[:5]:
            html.append(f'<li><span class="cc-turnref">Turn {e.get("turn")}</span> {escape(_label(str(e.get("indicator", ""))))} ({escape(_label(name))}): &ldquo;{escape(str(e.get("quote", "")))}&rdquo;</li>')
        html.append("</ul>")
    if feedback:
        html.append('<h4 class="cc-h">Suggestions</h4><ul class="cc-feedback">')
        html.extend(f"<li>{_link_turns(str(f))}</li>" for f in feedback)
        html.append("</ul>")
    html.append("</div>")
    return "".join(html)


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
    rows = []
    for i, turn in enumerate(t.get("turns") or []):
        cls = "cc-t-agent" if turn["speaker"] == "agent" else "cc-t-other"
        mark = " cc-t-flag" if i in flagged else ""
        rows.append(f'<tr class="{cls}{mark}"><td>{i}</td><td>{escape(turn["speaker"])}</td><td>{escape(turn["text"])}</td></tr>')
    head = title or f"Call report: {t.get('id', '')}"
    sub = " &middot; ".join(
        escape(str(x)) for x in (meta.get("agent_name"), t.get("persona"), (meta.get("started_at") or "")[:16].replace("T", " ")) if x
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>" + escape(head) + "</title><style>"
        "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:920px;margin:24px auto;padding:0 16px;color:#0f172a}"
        "table{border-collapse:collapse;width:100%;font-size:14px}td{padding:6px 8px;border-bottom:1px solid #e2e8f0;vertical-align:top}"
        ".cc-t-agent td:nth-child(2){color:#0f766e;font-weight:600}.cc-t-flag{background:#fef2f2}"
        + SCORECARD_CSS + "</style></head><body>"
        f"<h1 style='font-size:22px'>{escape(head)}</h1><p style='color:#64748b'>{sub}</p>"
        + render_scorecard(score, outcome=meta.get("outcome"), promise=meta.get("promise"))
        + "<h2 style='font-size:18px;margin-top:28px'>Transcript</h2><table>"
        + "".join(rows)
        + "</table></body></html>"
    )


__all__ = ["render_scorecard", "render_report", "radar_svg", "bars_svg", "trend_svg", "outcome_label", "score_text", "SCORECARD_CSS"]
