"""History views: a trainee's past calls and score trend, and the team overview for trainers."""

from __future__ import annotations

import gradio as gr

from callcoach.history import PRACTICE, TEST
from callcoach.ui import views
from callcoach.ui.resources import AppResources
from callcoach.users import Viewer, viewer
from core.html import render
from rubrics.scorecard import render_report, render_scorecard, trend_svg

ALL_TRAINEES = "All trainees"
TEST_CALLS = "Trainers' test calls"


def summary_html(series: list[dict], who: str | None) -> str:
    """Headline numbers above the chart."""
    if not series:
        return ""
    scores = [p["overall"] for p in series]
    passed = sum(1 for p in series if p.get("passed"))
    last = scores[-1]
    tiles = [
        ("Scored calls", f"{len(series)}"),
        ("Average", f"{sum(scores) / len(scores):.1f}"),
        ("Best", f"{max(scores):.1f}"),
        ("Latest", f"{last:.1f}"),
        ("Pass rate", f"{100 * passed / len(series):.0f}%"),
    ]
    return render("callcoach.ui", "progress_tiles.html.j2", who=who, tiles=tiles)


def history_view(res: AppResources, trainee: str | None, kind: str = PRACTICE) -> tuple[str, str, list[list], list[tuple[str, str]]]:
    """(summary, chart, table rows, call choices) for one trainee, or everyone when None.

    Practice calls by default; trainers' test calls (``kind=TEST``) are listed on their own and
    never enter a summary or the chart.
    """
    records = res.history.list_calls(trainee, kind=kind)
    series = res.history.score_series(trainee) if kind == PRACTICE else []
    who = None if trainee is None else f"Progress for {trainee}"
    chart = trend_svg(series, pass_mark=_pass_mark(res))
    names = {pid: p.name for pid, p in res.personas().personas.items()}
    choices = [
        (f"{(r.started_at or '')[:16].replace('T', ' ')} \u00b7 {r.trainee} \u00b7 {names.get(r.persona or '', r.persona)}"
         + (f" \u00b7 {r.overall:.1f}" if r.overall is not None else ""), r.id)
        for r in records
    ]
    return summary_html(series, who), chart, views.history_table_rows(records, names), choices


def _pass_mark(res: AppResources) -> float | None:
    try:
        from rubrics import load_rubric

        return load_rubric(res.rubric).pass_mark
    except Exception:  # the chart is still useful without the line
        return None


def call_detail(res: AppResources, call_id: str | None, who: Viewer) -> tuple[str, str | None]:
    """The scorecard (or the saved turns, for an unscored call) and a report file to download.

    Only for someone who may read the call: its trainee, or a trainer.
    """
    if not call_id:
        return "", None
    owner = res.history.owner(call_id)
    if owner is None or not who.may_read(owner):  # the same answer either way: no probing for ids
        return "<div class='cc-muted'>That call is not in your history.</div>", None
    transcript = res.history.transcript(call_id)
    score = res.history.score(call_id)
    meta = transcript.metadata
    if score is None:
        why = "it could not be scored" if meta.get("outcome") not in (None, "abandoned") else "it was not finished"
        return render("callcoach.ui", "unscored_call.html.j2", why=why, turns=transcript.turns), None
    path = res.exports_dir / f"{call_id}-report.html"
    if not path.exists():
        path.write_text(render_report(score, transcript), encoding="utf-8")
    return render_scorecard(score, outcome=meta.get("outcome"), promise=meta.get("promise")), res.offer(path)


def _history_block(res: AppResources, *, team: bool):
    """The shared layout: summary, chart, table and a call picker with its scorecard."""
    pre = "cc-team-" if team else "cc-"
    summary = gr.HTML("", elem_id=f"{pre}history-summary")
    chart = gr.HTML(trend_svg([]))
    table = gr.Dataframe(headers=views.HISTORY_HEADERS, value=[], interactive=False, wrap=True,
                         label="All calls" if team else "Your calls", max_height=360, elem_id=f"{pre}history-table")
    with gr.Row():
        pick = gr.Dropdown(label="Open a call", choices=[], value=None, scale=4, elem_id=f"{pre}open-call")
        report = gr.File(label="Report (HTML)", interactive=False, scale=2, visible=False, height=90,
                         elem_id=f"{pre}call-report")
    detail = gr.HTML("", elem_id=f"{pre}call-detail")

    def on_pick(cid, request: gr.Request):
        html, path = call_detail(res, cid, viewer(res.users, request))
        return html, gr.File(value=path, visible=path is not None)

    pick.change(on_pick, pick, [detail, report], api_visibility="private")
    return summary, chart, table, pick, detail, report


def build_progress_tab(res: AppResources, trainee_box: gr.Textbox) -> dict:
    """The trainee's own history; returns the refresh wiring for the tab's select event."""
    gr.Markdown("Every call you make is saved as you go, even if the page is closed mid-call.")
    with gr.Row(equal_height=True):
        who = gr.Textbox(label="Trainee", placeholder="Your name, as entered on the Practice tab", max_lines=1, scale=4, elem_id="cc-progress-name")
        refresh = gr.Button("Show my calls", scale=1, min_width=140)
    summary, chart, table, pick, detail, report = _history_block(res, team=False)

    def on_refresh(name: str, practice_name: str, request: gr.Request = None):
        # Behind a login the history is always the user's own, whatever name is typed.
        person = viewer(res.users, request)
        name = person.username or (name or "").strip() or (practice_name or "").strip()
        if not name:
            return {who: "", summary: "<div class='cc-muted'>Enter your name to see your calls.</div>",
                    chart: trend_svg([]), table: [], pick: gr.Dropdown(choices=[], value=None)}
        s, c, rows, choices = history_view(res, name)
        return {who: name, summary: s, chart: c, table: rows, pick: gr.Dropdown(choices=choices, value=None)}

    outputs = [who, summary, chart, table, pick]
    refresh.click(on_refresh, [who, trainee_box], outputs, api_name="my_history")
    who.submit(on_refresh, [who, trainee_box], outputs, api_visibility="private")
    return {"refresh": on_refresh, "inputs": [who, trainee_box], "outputs": outputs}


def build_team_section(res: AppResources) -> dict:
    """All trainees' calls, with a filter (Trainer tab; trainers only, checked on the server)."""
    with gr.Row(equal_height=True):
        who = gr.Dropdown(label="Trainee", choices=[ALL_TRAINEES], value=ALL_TRAINEES, scale=4)
        refresh = gr.Button("Refresh", scale=1, min_width=120)
    summary, chart, table, pick, detail, report = _history_block(res, team=True)

    def on_refresh(name: str | None, request: gr.Request = None):
        if not viewer(res.users, request).is_trainer:
            return {who: gr.Dropdown(choices=[], value=None), summary: views.error_html("Only trainers can see the team's calls."),
                    chart: trend_svg([]), table: [], pick: gr.Dropdown(choices=[], value=None)}
        kind = TEST if name == TEST_CALLS else PRACTICE
        trainee = None if not name or name in (ALL_TRAINEES, TEST_CALLS) else name
        s, c, rows, choices = history_view(res, trainee, kind)
        names = [ALL_TRAINEES, *res.history.trainees(), TEST_CALLS]
        return {who: gr.Dropdown(choices=names, value=name if name in names else ALL_TRAINEES),
                summary: s, chart: c, table: rows, pick: gr.Dropdown(choices=choices, value=None)}

    outputs = [who, summary, chart, table, pick]
    refresh.click(on_refresh, who, outputs, api_name="team_history")
    who.input(on_refresh, who, outputs, api_visibility="private")
    return {"refresh": on_refresh, "inputs": [who], "outputs": outputs}
