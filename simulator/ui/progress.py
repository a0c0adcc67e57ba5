"""History views: a trainee's past calls and score trend, and the team overview for trainers."""

from __future__ import annotations

from html import escape

import gradio as gr

from rubrics.scorecard import render_report, render_scorecard, trend_svg
from simulator.ui import views
from simulator.ui.resources import AppResources


def summary_html(series: list[dict], who: str | None) -> str:
    """Headline numbers above the chart."""
    if not series:
        return ""
    scores = [p["overall"] for p in series]
    passed = sum(1 for p in series if p.get("passed"))
    last = scores[-1]
    tiles = [
        ("Scored calls", f"{len(series)}"),
        ("Average", f"{sum(scores) / len(scores):.0f}"),
        ("Best", f"{max(scores):.0f}"),
        ("Latest", f"{last:.0f}"),
        ("Pass rate", f"{100 * passed / len(series):.0f}%"),
    ]
    title = f"<div class='cc-sec'>{escape(who)}</div>" if who else ""
    return title + "<div class='cc-tiles'>" + "".join(
        f"<div class='cc-tile'><div class='cc-tile-v'>{v}</div><div class='cc-tile-k'>{k}</div></div>" for k, v in tiles
    ) + "</div>"


def history_view(res: AppResources, trainee: str | None) -> tuple[str, str, list[list], list[tuple[str, str]]]:
    """(summary, chart, table rows, call choices) for one trainee, or everyone when None."""
    records = res.history.list_calls(trainee)
    series = res.history.score_series(trainee)
    who = None if trainee is None else f"Progress for {trainee}"
    chart = trend_svg(series, pass_mark=_pass_mark(res))
    choices = [
        (f"{(r.started_at or '')[:16].replace('T', ' ')} \u00b7 {r.trainee} \u00b7 {r.persona}"
         + (f" \u00b7 {r.overall:.0f}" if r.overall is not None else ""), r.id)
        for r in records
    ]
    names = {pid: p.name for pid, p in res.personas().personas.items()}
    return summary_html(series, who), chart, views.history_table_rows(records, names), choices


def _pass_mark(res: AppResources) -> float | None:
    try:
        from rubrics import load_rubric

        return load_rubric(res.rubric).pass_mark
    except Exception:  # the chart is still useful without the line
        return None


def call_detail(res: AppResources, call_id: str | None) -> tuple[str, str | None]:
    """The scorecard (or the saved turns, for an unscored call) and a report file to download."""
    if not call_id:
        return "", None
    try:
        transcript = res.history.transcript(call_id)
    except KeyError:
        return "<div class='cc-muted'>That call is no longer in the history.</div>", None
    score = res.history.score(call_id)
    meta = transcript.metadata
    if score is None:
        turns = "".join(f"<li><b>{escape(t.speaker)}</b>: {escape(t.text)}</li>" for t in transcript.turns)
        return f"<div class='cc-muted'>This call was not scored (it was interrupted).</div><ol start='0'>{turns}</ol>", None
    path = res.exports_dir / f"{call_id}-report.html"
    if not path.exists():
        path.write_text(render_report(score, transcript), encoding="utf-8")
    return render_scorecard(score, outcome=meta.get("outcome"), promise=meta.get("promise")), str(path)


def _history_block(res: AppResources, *, team: bool):
    """The shared layout: summary, chart, table and a call picker with its scorecard."""
    summary = gr.HTML("")
    chart = gr.HTML(trend_svg([]))
    table = gr.Dataframe(headers=views.HISTORY_HEADERS, value=[], interactive=False, wrap=True,
                         label="All calls" if team else "Your calls", max_height=360)
    with gr.Row():
        pick = gr.Dropdown(label="Open a call", choices=[], value=None, scale=4)
        report = gr.File(label="Report (HTML)", interactive=False, scale=2, visible=False, height=90)
    detail = gr.HTML("")

    def on_pick(cid):
        html, path = call_detail(res, cid)
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

    def on_refresh(name: str, practice_name: str):
        name = (name or "").strip() or (practice_name or "").strip()
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
    """All trainees' calls, with a filter (Trainer tab)."""
    with gr.Row(equal_height=True):
        who = gr.Dropdown(label="Trainee", choices=["All trainees"], value="All trainees", scale=4)
        refresh = gr.Button("Refresh", scale=1, min_width=120)
    summary, chart, table, pick, detail, report = _history_block(res, team=True)

    def on_refresh(name: str | None):
        trainee = None if not name or name == "All trainees" else name
        s, c, rows, choices = history_view(res, trainee)
        names = ["All trainees", *res.history.trainees()]
        return {who: gr.Dropdown(choices=names, value=name if name in names else "All trainees"),
                summary: s, chart: c, table: rows, pick: gr.Dropdown(choices=choices, value=None)}

    outputs = [who, summary, chart, table, pick]
    refresh.click(on_refresh, who, outputs, api_name="team_history")
    who.input(on_refresh, who, outputs, api_visibility="private")
    return {"refresh": on_refresh, "inputs": [who], "outputs": outputs}
