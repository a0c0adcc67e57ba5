"""The Trainer tab: persona files with their status, a YAML editor with live validation, a test
call against the draft, saving it as a new persona, and every trainee's history."""

from __future__ import annotations

import re
from pathlib import Path

import gradio as gr
from markupsafe import Markup

from callcoach.ui import progress, views
from callcoach.ui.i18n import Labels, text, words
from callcoach.ui.resources import AppResources
from callcoach.users import viewer
from core.html import render
from simulator.personas import SHIPPED_DIR, Persona, PersonaError, parse_persona, persona_files

TRAINERS_ONLY = text("trainer.trainers_only")

PERSONA_HEADER_KEYS = ["trainer.col_persona", "trainer.col_name", "trainer.col_temperament", "trainer.col_difficulty",
                       "trainer.col_source", "trainer.col_status"]
PERSONA_HEADERS = [text(k) for k in PERSONA_HEADER_KEYS]


def picker_cards(res: AppResources, lang: str | None = None) -> list[dict]:
    """The Practice tab's cards: the personas who speak the page's language (all, without ``lang``)."""
    personas = list(res.personas().personas.values()) if lang is None else res.personas_for(lang)
    return views.persona_cards(personas, lang or "en")


def _source(res: AppResources, path: Path, lang: str = "en") -> str:
    p = path.resolve()
    if p.parent == res.custom_personas_dir.resolve():
        return text("trainer.source_saved", lang)
    if p.parent == SHIPPED_DIR:
        return text("trainer.source_shipped", lang)
    return text("trainer.source_extra", lang)


def persona_rows(res: AppResources, lang: str = "en") -> list[list[str]]:
    """One row per persona file: loaded ones, then broken ones with their first problem."""
    t = words(lang)
    lib = res.personas()
    files = {f.stem: f for f in persona_files(res.persona_dirs())}
    rows = []
    for pid, p in sorted(lib.personas.items()):
        src = _source(res, files[pid], lang) if pid in files else ""
        rows.append([pid, p.name, views.temperament_label(p.temperament.value, t).lower(),
                     views.difficulty_label(p.difficulty, t), src, t("trainer.ok")])
    broken: dict[str, list[str]] = {}
    for line in lib.problems:
        path, _, rest = line.partition(": ")
        broken.setdefault(path, []).append(rest)
    for path, problems in broken.items():
        stem = Path(path).stem
        more = t("trainer.more", n=len(problems) - 1) if len(problems) > 1 else ""
        rows.append([stem, "", "", "", _source(res, Path(path), lang), t("trainer.error", problem=f"{problems[0]}{more}")])
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


def validation_html(yaml_text: str, source: str = "draft.yaml", template: Persona | None = None,
                    lang: str = "en") -> tuple[str, Persona | None]:
    """Check a draft: a green line when it is valid, else one row per problem (field and fix).

    ``template`` is the persona the draft was started from: names of the template left in a copy
    with a new name are pointed out (the debtor would still greet as the template's person).
    The problems themselves are worded by the persona schema (in English, as the CLI says them).
    """
    t = words(lang)
    if not (yaml_text or "").strip():
        return render("callcoach.ui", "message.html.j2", kind="muted", role="status", message=t("trainer.paste")), None
    try:
        persona = parse_persona(yaml_text, source)
    except PersonaError as exc:
        problems = []
        for line in exc.problems:
            parts = line.split(": ", 2)
            problems.append(tuple(parts) if len(parts) >= 3 else (source, "(top level)", line))
        return render("callcoach.ui", "persona_check.html.j2", t=words(lang, html=True), problems=problems), None
    left = leftover_names(persona, template)
    html = render(
        "callcoach.ui", "persona_check.html.j2", t=words(lang, html=True), problems=[], persona=persona,
        temperament=views.temperament_label(persona.temperament.value, t).lower() if t.lang != "en" else persona.temperament.value,
        difficulty=views.difficulty_label(persona.difficulty, t),
        save_writes=Markup(t("trainer.save_writes")).format(file=f"{persona.id}.yaml"),
        leftover=", ".join(f"'{w}'" for w in left), template_name=template.name if left else "",
    )
    return html, persona


class SaveError(ValueError):
    """A draft that cannot be saved; the message says what to fix."""


def save_persona(res: AppResources, yaml_text: str, lang: str = "en") -> tuple[str, Path]:
    """Save a valid draft into the user data dir's personas folder; raises SaveError otherwise."""
    status, persona = validation_html(yaml_text)
    if persona is None:
        raise SaveError(text("trainer.fix_first", lang))
    base_ids = {f.stem for d in res.base_persona_dirs for f in persona_files([d])}
    if persona.id in base_ids:
        raise SaveError(text("trainer.shipped_id", lang, id=persona.id))
    path = res.custom_personas_dir / f"{persona.id}.yaml"
    existed = path.exists()
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(yaml_text if yaml_text.endswith("\n") else yaml_text + "\n", encoding="utf-8")
    tmp.replace(path)
    return text("trainer.updated" if existed else "trainer.saved", lang, file=path.name), path


def _start_if_draft(practice: dict):
    """The Practice tab's start, run only when a test call's draft was set (else nothing changes)."""
    start = practice["start"]["fn"]

    def run(trainee, persona_id, exam_mode, draft, lang, request: gr.Request):
        if draft is None:
            return {practice["draft"]: None}  # (an empty dict would read as one missing value)
        return start(trainee, persona_id, exam_mode, draft, lang, request)

    return run


def build_trainer_tab(res: AppResources, practice: dict, tabs: gr.Tabs, ui: Labels, lang: gr.State) -> None:
    """Lay out the Trainer tab; ``ui`` words its components, ``lang`` is the page's language."""
    with gr.Tabs():
        with ui(gr.Tab, {"label": "tabs.personas"}, id="personas"):
            ui(gr.Markdown, {"value": "trainer.intro"})
            table = ui(gr.Dataframe, {"label": "trainer.files"}, headers=PERSONA_HEADERS, value=persona_rows(res),
                       interactive=False, wrap=True, elem_id="cc-persona-table", max_height=320)
            with gr.Row(equal_height=True):
                start_from = ui(gr.Dropdown, {"label": "trainer.start_from"}, choices=sorted(res.personas().personas),
                                value=None, scale=3, elem_id="cc-start-from")
                reload_btn = ui(gr.Button, {"value": "trainer.reload"}, scale=1, min_width=120)
            with gr.Row(equal_height=False):
                with gr.Column(scale=3):
                    code = ui(gr.Code, {"label": "trainer.yaml"}, language="yaml", lines=22, max_lines=30, interactive=True,
                              wrap_lines=True, elem_id="cc-yaml")
                with gr.Column(scale=2):
                    checks = gr.HTML(validation_html("", lang=ui.default)[0], elem_id="cc-validation")
                    test_btn = ui(gr.Button, {"value": "trainer.test_call"}, variant="secondary", elem_id="cc-test-call")
                    save_btn = ui(gr.Button, {"value": "trainer.save"}, variant="primary", elem_id="cc-save-persona")
                    saved = gr.HTML("", elem_id="cc-saved")
            template = gr.State(None)  # the persona the draft was started from
        with ui(gr.Tab, {"label": "tabs.trainees"}, id="trainees") as trainees_tab:
            ui(gr.Markdown, {"value": "trainer.trainees_intro"})
            team = progress.build_team_section(res, ui, lang)

    # the persona table's rows and headers, and the empty editor's line, in the page's language
    ui.on_language([table, checks], lambda lg: {
        table: gr.update(value={"data": persona_rows(res, lg), "headers": [text(k, lg) for k in PERSONA_HEADER_KEYS]}),
        checks: validation_html("", lang=lg)[0],
    })

    def on_reload(lg):
        return (persona_rows(res, lg), gr.Dropdown(choices=sorted(res.personas().personas)),
                gr.HTML(cards=picker_cards(res, lg)))

    def on_save(yaml_text, lg, request: gr.Request):
        if not viewer(res.users, request).is_trainer:
            return views.error_html(text("trainer.trainers_only", lg)), gr.skip(), gr.skip(), gr.skip()
        try:
            msg, _ = save_persona(res, yaml_text, lg)
        except SaveError as exc:
            return views.error_html(str(exc)), gr.skip(), gr.skip(), gr.skip()
        rows, dropdown, cards = on_reload(lg)
        return views.notice_html(msg), rows, dropdown, cards

    def on_test(yaml_text, name, tpl, lg, request: gr.Request):
        who = viewer(res.users, request)
        _, persona = validation_html(yaml_text, template=tpl)
        if not who.is_trainer:
            return None, gr.skip(), gr.skip(), views.error_html(text("trainer.trainers_only", lg))
        if persona is None:
            return None, gr.skip(), gr.skip(), views.error_html(text("trainer.fix_before_test", lg))
        return persona, (name or "").strip() or text("practice.test_caller", lg), gr.Tabs(selected="practice"), ""

    def on_start_from(pid):
        try:
            tpl = res.personas().get(pid) if pid else None
        except KeyError:
            tpl = None
        return persona_text(res, pid), tpl, ""

    start_from.change(on_start_from, start_from, [code, template, saved], api_visibility="private")
    code.change(lambda y, tpl, lg: validation_html(y, template=tpl, lang=lg)[0], [code, template, lang], checks,
                api_visibility="private", show_progress="hidden", trigger_mode="always_last")
    reload_btn.click(on_reload, lang, [table, start_from, practice["picker"]], api_visibility="private")
    save_btn.click(on_save, [code, lang], [saved, table, start_from, practice["picker"]], api_name="save_persona")
    # The test call starts only when a draft was handed over (a trainer's, and valid).
    test_btn.click(on_test, [code, practice["name"], template, lang], [practice["draft"], practice["name"], tabs, saved],
                   api_visibility="private").then(
        _start_if_draft(practice), practice["start"]["inputs"], practice["start"]["outputs"], api_visibility="private",
    ).then(**practice["remember"])
    trainees_tab.select(team["refresh"], team["inputs"], team["outputs"], api_visibility="private")
