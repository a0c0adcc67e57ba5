"""The scorecard, the call report, outcomes and the progress chart in the page's language.

English is ``rubrics.scorecard``'s own rendering, unchanged. Another language renders the same
view through ``callcoach/ui/templates/scorecard.html.j2`` and ``call_report.html.j2``, whose
words come from the strings files: the headings, verdicts, severities, criterion and indicator
names and the "Turn N" badges. What the rubric itself wrote (rule titles, feedback) is in the
rubric's language, the call's. tests/test_i18n.py renders these templates in English and checks
them against ``rubrics.scorecard`` byte for byte, so the two cannot drift apart unseen.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from callcoach.ui.i18n import Words, words
from core.html import embed, render
from rubrics.scorecard import (
    SCORECARD_CSS,
    _band,
    _label,
    _turn_parts,
    radar_svg,
    render_report,
    render_scorecard,
    score_text,
    trend_svg,
)
from rubrics.scorer import NOT_PASSED


def outcome_text(outcome: str | None, promise: dict | None = None, lang: str = "en") -> str:
    """How the call ended, in words, with the promised plan when there is one."""
    t = words(lang)
    if not outcome:
        return t("outcome.none")
    label = t.get(f"outcome.{outcome}", _label(outcome))
    if promise and promise.get("plan"):
        return t("outcome.with_plan", outcome=label, plan=promise["plan"])
    return label


def scorecard_html(score: Any, *, outcome: str | None = None, promise: dict | None = None, lang: str = "en") -> str:
    """The scorecard fragment for the page (``rubrics.scorecard.render_scorecard``'s, worded in ``lang``)."""
    if words(lang).lang == "en":
        return render_scorecard(score, outcome=outcome, promise=promise)
    return worded_scorecard(score, outcome=outcome, promise=promise, lang=lang)


def call_report_html(score: Any, transcript: Any, *, lang: str = "en") -> str:
    """A standalone page: the scorecard, then the numbered transcript (``render_report``'s, in ``lang``)."""
    if words(lang).lang == "en":
        return render_report(score, transcript)
    return worded_report(score, transcript, lang=lang)


def trend_html(series: list[dict], *, pass_mark: float | None = None, lang: str = "en") -> str:
    """The score-over-time chart; with no scored call yet, a line saying so."""
    if not series and words(lang).lang != "en":
        return render("callcoach.ui", "message.html.j2", kind="empty", role="status", message=words(lang)("progress.no_scores"))
    return trend_svg(series, pass_mark=pass_mark)


# --- the worded rendering (any language; English only in the tests) -------------------------------


def _as_dict(score: Any) -> dict:
    return score.model_dump(mode="json") if hasattr(score, "model_dump") else dict(score)


def _criterion(t: Words, name: str) -> str:
    return t.get(f"criterion.{name}", _label(name))


def _indicator(t: Words, name: str) -> str:
    return t.get(f"indicator.{name}", _rule_title(name, t.lang) or _label(name))


def _rule_title(rule_id: str, lang: str) -> str | None:
    """A rule named as evidence ("cn-pipl-unverified"): its title in the rulebook of ``lang``, without
    the English gloss in brackets a Chinese rule title carries."""
    if lang != "zh" or not rule_id.startswith("cn-"):
        return None
    title = _cn_rule_titles().get(rule_id)
    return re.sub(r"\s*\([^()]*[A-Za-z][^()]*\)\s*$", "", title) if title else None


@lru_cache(maxsize=1)
def _cn_rule_titles() -> dict[str, str]:
    from rubrics.loader import load_rulebook

    try:
        return {r.id: r.title for r in load_rulebook("rules-cn").rules}
    except Exception:  # a broken rulebook must not break the scorecard: the id is shown instead
        return {}


def worded_scorecard(score: Any, *, outcome: str | None = None, promise: dict | None = None, lang: str = "en") -> str:
    t = words(lang)
    s = _as_dict(score)
    if s.get("error"):
        return render("callcoach.ui", "scorecard.html.j2", t=words(lang, html=True), error=str(s["error"]))
    overall = float(s.get("overall", 0))
    passed = bool(s.get("passed"))
    crits = s.get("criteria") or {}
    violations = s.get("violations") or []
    feedback = [str(f) for f in s.get("feedback") or []]
    reasons = [f[len(NOT_PASSED):] for f in feedback if f.startswith(NOT_PASSED)]
    criteria = []
    for name, crit in crits.items():
        value = float(crit.get("score", 0))
        evidence = [
            {"effect": e.get("effect"), "turn": e.get("turn"), "quote": str(e.get("quote", "")),
             "indicator": _indicator(t, str(e.get("indicator", "")))}
            for e in (crit.get("evidence") or [])[:4]
        ]
        criteria.append({"label": _criterion(t, name), "score": score_text(value), "color": _band(value),
                         "width": f"{max(0, min(100, value)):.0f}", "evidence": evidence})
    strengths = [
        {"turn": e.get("turn"), "indicator": _indicator(t, str(e.get("indicator", ""))), "criterion": _criterion(t, name),
         "quote": str(e.get("quote", ""))}
        for name, crit in crits.items() for e in (crit.get("evidence") or []) if e.get("effect") == "+"
    ][:5]
    # the radar's axes are named by their keys: the criteria's names in the page's language
    radar = {_criterion(t, k): float(v.get("score", 0)) for k, v in crits.items()}
    return render(
        "callcoach.ui", "scorecard.html.j2", t=words(lang, html=True), error=None, overall=score_text(overall), color=_band(overall),
        passed=passed, blockers=0 if passed else sum(v.get("severity") == "blocker" for v in violations),
        reasons=[r[:1].upper() + r[1:] for r in reasons], outcome=outcome_text(outcome, promise, lang),
        rubric=str(s.get("rubric", "")), radar=embed(radar_svg(radar)) if radar else "", criteria=criteria,
        not_applicable=[_criterion(t, str(c)) for c in s.get("not_applicable") or []],
        violations=[
            {"severity": str(v.get("severity", "")), "title": str(v.get("title", v.get("rule"))),
             "citation": str(v.get("citation", "")), "turn": v.get("turn"), "quote": str(v.get("quote", ""))}
            for v in violations
        ],
        strengths=strengths,
        feedback=[_turn_parts(f) for f in feedback if not f.startswith(NOT_PASSED)],
        not_checked=[
            {"title": str(n.get("title", n.get("rule"))), "needs": ", ".join(str(x) for x in n.get("needs") or [])}
            for n in s.get("not_checked") or []
        ],
    )


def worded_report(score: Any, transcript: Any, *, lang: str = "en") -> str:
    t = words(lang)
    tr = transcript.model_dump(mode="json") if hasattr(transcript, "model_dump") else dict(transcript)
    meta = tr.get("metadata") or {}
    flagged = {v.get("turn") for v in (_as_dict(score).get("violations") or [])}
    turns = [{"speaker": t.get(f"speaker.{turn['speaker']}", turn["speaker"]), "text": turn["text"], "flagged": i in flagged,
              "agent": turn["speaker"] == "agent"} for i, turn in enumerate(tr.get("turns") or [])]
    when = (meta.get("started_at") or "")[:16].replace("T", " ")
    card = worded_scorecard(score, outcome=meta.get("outcome"), promise=meta.get("promise"), lang=lang)
    return render(
        "callcoach.ui", "call_report.html.j2", t=words(lang, html=True), lang=t.lang, title=t("scorecard.report_title", id=tr.get("id", "")),
        subtitle=[str(x) for x in (meta.get("agent_name"), tr.get("persona"), when) if x],
        scorecard_css=SCORECARD_CSS, scorecard=embed(card), turns=turns,
    )


__all__ = ["call_report_html", "outcome_text", "scorecard_html", "trend_html", "worded_report", "worded_scorecard"]
