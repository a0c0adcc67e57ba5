"""History views: a trainee's past calls and score trend, and the team overview for trainers."""

from __future__ import annotations

import gradio as gr

from callcoach.history import PRACTICE, TEST
from callcoach.ui import views
from callcoach.ui.i18n import Labels, text, words
from callcoach.ui.resources import AppResources
from callcoach.ui.scorecard import call_report_html, scorecard_html, trend_html
from callcoach.users import Viewer, viewer
from core.html import render

# The team filter's two entries that are not a trainee: the values the callbacks (and API
# clients) pass; the dropdown shows them in the page's language.
ALL_TRAINEES = "All trainees"
TEST_CALLS = "Trainers' test calls"


def _team_choices(names: list[str], lang: str) -> list[tuple[str, str]]:
    return [(text("progress.all_trainees", lang), ALL_TRAINEES), *((n, n) for n in names),
            (text("progress.test_calls", lang), TEST_CALLS)]


def summary_html(series: list[dict], who: str | None, lang: str = "en") -> str:
    """Headline numbers above the chart."""
    if not series:
        return ""
    t = words(lang)
    scores = [p["overall"] for p in series]
    passed = sum(1 for p in series if p.get("passed"))
    last = scores[-1]
    tiles = [
        (t("progress.scored_calls"), f"{len(series)}"),
        (t("progress.average"), f"{sum(scores) / len(scores):.1f}"),
        (t("progress.best"), f"{max(scores):.1f}"),
        (t("progress.latest"), f"{last:.1f}"),
        (t("progress.pass_rate"), f"{100 * passed / len(series):.0f}%"),
    ]
    return render("callcoach.ui", "progress_tiles.html.j2", who=who, tiles=tiles)


def history_view(res: AppResources, trainee: str | None, kind: str = PRACTICE,
                 lang: str = "en") -> tuple[str, str, list[list], list[tuple[str, str]]]:
    """(summary, chart, table rows, call choices) for one trainee, or everyone when None.

    Practice calls by default; trainers' test calls (``kind=TEST``) are listed on their own and
    never enter a summary or the chart.
    """
    records = res.history.list_calls(trainee, kind=kind)
    series = res.history.score_series(trainee) if kind == PRACTICE else []
    who = None if trainee is None else text("progress.progress_for", lang, name=trainee)
    chart = trend_html(series, pass_mark=_pass_mark(res), lang=lang)
    names = {pid: p.name for pid, p in res.personas().personas.items()}
    choices = [
        (f"{(r.started_at or '')[:16].replace('T', ' ')} \u00b7 {r.trainee} \u00b7 {names.get(r.persona or '', r.persona)}"
         + (f" \u00b7 {r.overall:.1f}" if r.overall is not None else ""), r.id)
        for r in records
    ]
    return summary_html(series, who, lang), chart, views.history_table_rows(records, names, lang), choices


def _pass_mark(res: AppResources) -> float | None:
    try:
        from rubrics import load_rubric

        return load_rubric(res.rubric).pass_mark
    except Exception:  # the chart is still useful without the line
        return None


def call_detail(res: AppResources, call_id: str | None, who: Viewer, lang: str = "en") -> tuple[str, str | None]:
    """The scorecard (or the saved turns, for an unscored call) and a report file to download.

    Only for someone who may read the call: its trainee, or a trainer.
    """
    t = words(lang)
    if not call_id:
        return "", None
    owner = res.history.owner(call_id)
    if owner is None or not who.may_read(owner):  # the same answer either way: no probing for ids
        return render("callcoach.ui", "message.html.j2", kind="muted", role="status", message=t("progress.not_yours")), None
    transcript = res.history.transcript(call_id)
    score = res.history.score(call_id)
    meta = transcript.metadata
    if score is None:
        why = t("progress.why_failed") if meta.get("outcome") not in (None, "abandoned") else t("progress.why_unfinished")
        return render("callcoach.ui", "unscored_call.html.j2", t=words(lang, html=True), why=why, turns=transcript.turns), None
    path = res.exports_dir / f"{call_id}-report{'' if t.lang == 'en' else '-' + t.lang}.html"
    if not path.exists():
        path.write_text(call_report_html(score, transcript, lang=lang), encoding="utf-8")
    return scorecard_html(score, outcome=meta.get("outcome"), promise=meta.get("promise"), lang=lang), res.offer(path)


def _history_block(res: AppResources, ui: Labels, lang: gr.State, *, team: bool):
    """The shared layout: summary, chart, table and a call picker with its scorecard."""
    pre = "cc-team-" if team else "cc-"
    summary = gr.HTML("", elem_id=f"{pre}history-summary")
    chart = gr.HTML(trend_html([], lang=ui.default))
    table = ui(gr.Dataframe, {"label": "progress.all_calls" if team else "progress.your_calls",
                              "headers": views.HISTORY_HEADER_KEYS},
               value=[], interactive=False, wrap=True, max_height=360, elem_id=f"{pre}history-table")
    with gr.Row():
        pick = ui(gr.Dropdown, {"label": "progress.open_call"}, choices=[], value=None, scale=4, elem_id=f"{pre}open-call")
        report = ui(gr.File, {"label": "progress.report_file"}, interactive=False, scale=2, visible=False, height=90,
                    elem_id=f"{pre}call-report")
    detail = gr.HTML("", elem_id=f"{pre}call-detail")
    ui.on_language([chart], lambda lg: {chart: trend_html([], lang=lg)})

    def on_pick(cid, lg, request: gr.Request):
        html, path = call_detail(res, cid, viewer(res.users, request), lg)
        return html, gr.File(value=path, visible=path is not None)

    pick.change(on_pick, [pick, lang], [detail, report], api_visibility="private")
    return summary, chart, table, pick, detail, report


def _table(rows: list[list], lang: str) -> dict:
    return gr.update(value={"data": rows, "headers": views.history_headers(lang)})


def build_progress_tab(res: AppResources, trainee_box: gr.Textbox, ui: Labels, lang: gr.State) -> dict:
    """The trainee's own history; returns the refresh wiring for the tab's select event."""
    ui(gr.Markdown, {"value": "progress.intro"})
    with gr.Row(equal_height=True):
        who = ui(gr.Textbox, {"label": "progress.trainee", "placeholder": "progress.trainee_hint"}, max_lines=1, scale=4,
                 elem_id="cc-progress-name")
        refresh = ui(gr.Button, {"value": "progress.show"}, scale=1, min_width=140)
    summary, chart, table, pick, detail, report = _history_block(res, ui, lang, team=False)

    def on_refresh(name: str, practice_name: str, lg: str = "en", request: gr.Request = None):
        # Behind a login the history is always the user's own, whatever name is typed.
        person = viewer(res.users, request)
        name = person.username or (name or "").strip() or (practice_name or "").strip()
        if not name:
            muted = render("callcoach.ui", "message.html.j2", kind="muted", role="status", message=text("progress.enter_name", lg))
            return {who: "", summary: muted, chart: trend_html([], lang=lg), table: _table([], lg),
                    pick: gr.Dropdown(choices=[], value=None)}
        s, c, rows, choices = history_view(res, name, lang=lg)
        return {who: name, summary: s, chart: c, table: _table(rows, lg), pick: gr.Dropdown(choices=choices, value=None)}

    outputs = [who, summary, chart, table, pick]
    refresh.click(on_refresh, [who, trainee_box, lang], outputs, api_name="my_history")
    who.submit(on_refresh, [who, trainee_box, lang], outputs, api_visibility="private")
    return {"refresh": on_refresh, "inputs": [who, trainee_box, lang], "outputs": outputs}


def build_team_section(res: AppResources, ui: Labels, lang: gr.State) -> dict:
    """All trainees' calls, with a filter (Trainer tab; trainers only, checked on the server)."""
    with gr.Row(equal_height=True):
        who = ui(gr.Dropdown, {"label": "progress.trainee"}, choices=_team_choices([], ui.default)[:1], value=ALL_TRAINEES,
                 scale=4)
        refresh = ui(gr.Button, {"value": "progress.refresh"}, scale=1, min_width=120)
    summary, chart, table, pick, detail, report = _history_block(res, ui, lang, team=True)
    ui.on_language([who], lambda lg: {who: gr.update(choices=_team_choices([], lg)[:1], value=ALL_TRAINEES)})

    def on_refresh(name: str | None, lg: str = "en", request: gr.Request = None):
        if not viewer(res.users, request).is_trainer:
            return {who: gr.Dropdown(choices=[], value=None), summary: views.error_html(text("progress.trainers_only", lg)),
                    chart: trend_html([], lang=lg), table: _table([], lg), pick: gr.Dropdown(choices=[], value=None)}
        kind = TEST if name == TEST_CALLS else PRACTICE
        trainee = None if not name or name in (ALL_TRAINEES, TEST_CALLS) else name
        s, c, rows, choices = history_view(res, trainee, kind, lg)
        names = _team_choices(res.history.trainees(), lg)
        values = [v for _, v in names]
        return {who: gr.Dropdown(choices=names, value=name if name in values else ALL_TRAINEES),
                summary: s, chart: c, table: _table(rows, lg), pick: gr.Dropdown(choices=choices, value=None)}

    outputs = [who, summary, chart, table, pick]
    refresh.click(on_refresh, [who, lang], outputs, api_name="team_history")
    who.input(on_refresh, [who, lang], outputs, api_visibility="private")
    return {"refresh": on_refresh, "inputs": [who, lang], "outputs": outputs}
