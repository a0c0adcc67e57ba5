"""The Trainer tab: persona files with their status, a YAML editor with live validation, a test
call against the draft, saving it as a new persona, and every trainee's history."""

from __future__ import annotations

import re
from pathlib import Path

import gradio as gr

from callcoach.ui import progress, views
from callcoach.ui.resources import AppResources
from callcoach.users import viewer
from core.html import render
from simulator.personas import SHIPPED_DIR, Persona, PersonaError, parse_persona, persona_files

TRAINERS_ONLY = "Only trainers can change personas. Ask your training lead for the trainer role."

PERSONA_HEADERS = ["Persona", "Name", "Temperament", "Difficulty", "Source", "Status"]


def picker_cards(res: AppResources) -> list[dict]:
    return views.persona_cards(list(res.personas().personas.values()))


def _source(res: AppResources, path: Path) -> str:
    p = path.resolve()
    if p.parent == res.custom_personas_dir.resolve():
        return "saved here"
    if p.parent == SHIPPED_DIR:
        return "shipped"
    return "extra folder"


def persona_rows(res: AppResources) -> list[list[str]]:
    """One row per persona file: loaded ones, then broken ones with their first problem."""
    lib = res.personas()
    files = {f.stem: f for f in persona_files(res.persona_dirs())}
    rows = []
    for pid, p in sorted(lib.personas.items()):
        src = _source(res, files[pid]) if pid in files else ""
        rows.append([pid, p.name, p.temperament.value.replace("_", " "), p.difficulty, src, "OK"])
    broken: dict[str, list[str]] = {}
    for line in lib.problems:
        path, _, rest = line.partition(": ")
        broken.setdefault(path, []).append(rest)
    for path, problems in broken.items():
        stem = Path(path).stem
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        rows.append([stem, "", "", "", _source(res, Path(path)), f"Error: {problems[0]}{more}"])
    return rows


def persona_text(res: AppResources, persona_id: str | None) -> str:
    """The YAML of a persona file, to start editing from."""
    for f in persona_files(res.persona_dirs()):
        if f.stem == persona_id:
            return f.read_text(encoding="utf-8")
    return ""


def leftover_names(draft: Persona, template: Persona | None) -> list[str]:
    """Words of the template's name still in a copy that has a new name ("Maria" in Rosa's lines)."""
    if template is None or draft.name == template.name:
        return []
    new_words = set(draft.name.lower().split())
    text = draft.model_dump_json(exclude={"name", "id"})
    return [w for w in template.name.split()
            if w.lower() not in new_words and len(w) > 1 and re.search(rf"\b{re.escape(w)}\b", text)]


def validation_html(text: str, source: str = "draft.yaml", template: Persona | None = None) -> tuple[str, Persona | None]:
    """Check a draft: a green line when it is valid, else one row per problem (field and fix).

    ``template`` is the persona the draft was started from: names of the template left in a copy
    with a new name are pointed out (the debtor would still greet as the template's person).
    """
    if not (text or "").strip():
        return "<div class='cc-muted'>Paste or edit a persona's YAML to check it.</div>", None
    try:
        persona = parse_persona(text, source)
    except PersonaError as exc:
        problems = []
        for line in exc.problems:
            parts = line.split(": ", 2)
            problems.append(tuple(parts) if len(parts) >= 3 else (source, "(top level)", line))
        return render("callcoach.ui", "persona_check.html.j2", problems=problems), None
    left = leftover_names(persona, template)
    html = render(
        "callcoach.ui", "persona_check.html.j2", problems=[], persona=persona,
        leftover=", ".join(f"'{w}'" for w in left), template_name=template.name if left else "",
    )
    return html, persona


class SaveError(ValueError):
    """A draft that cannot be saved; the message says what to fix."""


def save_persona(res: AppResources, text: str) -> tuple[str, Path]:
    """Save a valid draft into the user data dir's personas folder; raises SaveError otherwise."""
    status, persona = validation_html(text)
    if persona is None:
        raise SaveError("Fix the problems listed under the editor before saving.")
    base_ids = {f.stem for d in res.base_persona_dirs for f in persona_files([d])}
    if persona.id in base_ids:
        raise SaveError(f"'{persona.id}' is already a shipped persona: give your persona a new id (e.g. {persona.id}-v2).")
    path = res.custom_personas_dir / f"{persona.id}.yaml"
    existed = path.exists()
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    tmp.replace(path)
    return f"{'Updated' if existed else 'Saved'} {path.name}: it is now on the Practice tab.", path


def _start_if_draft(practice: dict):
    """The Practice tab's start, run only when a test call's draft was set (else nothing changes)."""
    start = practice["start"]["fn"]

    def run(trainee, persona_id, exam_mode, draft, request: gr.Request):
        if draft is None:
            return {practice["draft"]: None}  # (an empty dict would read as one missing value)
        return start(trainee, persona_id, exam_mode, draft, request)

    return run


def build_trainer_tab(res: AppResources, practice: dict, tabs: gr.Tabs) -> None:
    with gr.Tabs():
        with gr.Tab("Personas", id="personas"):
            gr.Markdown("Personas are YAML files. Edit one below, check it live, try a test call, then save it as a new persona.")
            table = gr.Dataframe(headers=PERSONA_HEADERS, value=persona_rows(res), interactive=False, wrap=True,
                                 label="Persona files", elem_id="cc-persona-table", max_height=320)
            with gr.Row(equal_height=True):
                start_from = gr.Dropdown(label="Start from", choices=sorted(res.personas().personas), value=None, scale=3,
                                         elem_id="cc-start-from")
                reload_btn = gr.Button("Reload files", scale=1, min_width=120)
            with gr.Row(equal_height=False):
                with gr.Column(scale=3):
                    code = gr.Code(label="Persona YAML", language="yaml", lines=22, max_lines=30, interactive=True,
                                   wrap_lines=True, elem_id="cc-yaml")
                with gr.Column(scale=2):
                    checks = gr.HTML(validation_html("")[0], elem_id="cc-validation")
                    test_btn = gr.Button("Test call with this draft", variant="secondary", elem_id="cc-test-call")
                    save_btn = gr.Button("Save as new persona", variant="primary", elem_id="cc-save-persona")
                    saved = gr.HTML("", elem_id="cc-saved")
            template = gr.State(None)  # the persona the draft was started from
        with gr.Tab("Trainees", id="trainees") as trainees_tab:
            gr.Markdown("Every trainee's calls and scores. Open a call to see its scorecard.")
            team = progress.build_team_section(res)

    def on_reload():
        return persona_rows(res), gr.Dropdown(choices=sorted(res.personas().personas)), gr.HTML(cards=picker_cards(res))

    def on_save(text, request: gr.Request):
        if not viewer(res.users, request).is_trainer:
            return views.error_html(TRAINERS_ONLY), gr.skip(), gr.skip(), gr.skip()
        try:
            msg, _ = save_persona(res, text)
        except SaveError as exc:
            return views.error_html(str(exc)), gr.skip(), gr.skip(), gr.skip()
        rows, dropdown, cards = on_reload()
        return views.notice_html(msg), rows, dropdown, cards

    def on_test(text, name, tpl, request: gr.Request):
        who = viewer(res.users, request)
        _, persona = validation_html(text, template=tpl)
        if not who.is_trainer:
            return None, gr.skip(), gr.skip(), views.error_html(TRAINERS_ONLY)
        if persona is None:
            return None, gr.skip(), gr.skip(), views.error_html("Fix the problems listed under the editor before a test call.")
        return persona, (name or "").strip() or "Trainer (test call)", gr.Tabs(selected="practice"), ""

    def on_start_from(pid):
        try:
            tpl = res.personas().get(pid) if pid else None
        except KeyError:
            tpl = None
        return persona_text(res, pid), tpl, ""

    start_from.change(on_start_from, start_from, [code, template, saved], api_visibility="private")
    code.change(lambda t, tpl: validation_html(t, template=tpl)[0], [code, template], checks, api_visibility="private",
                show_progress="hidden", trigger_mode="always_last")
    reload_btn.click(on_reload, None, [table, start_from, practice["picker"]], api_visibility="private")
    save_btn.click(on_save, code, [saved, table, start_from, practice["picker"]], api_name="save_persona")
    # The test call starts only when a draft was handed over (a trainer's, and valid).
    test_btn.click(on_test, [code, practice["name"], template], [practice["draft"], practice["name"], tabs, saved],
                   api_visibility="private").then(
        _start_if_draft(practice), practice["start"]["inputs"], practice["start"]["outputs"], api_visibility="private",
    ).then(**practice["remember"])
    trainees_tab.select(team["refresh"], team["inputs"], team["outputs"], api_visibility="private")
