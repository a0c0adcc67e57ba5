"""The Evaluator tab: upload transcripts (JSONL, CSV, TXT), batch-score them with a progress
bar, see the results, and download them as CSV, JSON Lines and an HTML report."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import gradio as gr

from callcoach.ui import views
from callcoach.ui.i18n import Labels, text, words
from callcoach.ui.resources import AppResources
from rubrics.results import criterion_names

BASE_HEADER_KEYS = ["evaluator.transcript", "evaluator.overall", "evaluator.result", "evaluator.violations"]
BASE_HEADERS = [text(k) for k in BASE_HEADER_KEYS]


def score_files(res: AppResources, paths: list[str], out_dir: Path, progress=None, lang: str = "en") -> list[dict]:
    """Batch-score uploaded files with ``rubrics.batch`` (one record per transcript, in order).

    Records carry the Score contract, or ``{"id", "error"}`` for a transcript that could not
    be read or scored. Each transcript is scored with the rubric of its language: the app's
    rubric for its own language (its shared analyzer reused, so nothing loads twice), the
    shipped one for the other (Chinese in Simplified or Traditional characters).
    """
    from rubrics import load_rubric
    from rubrics.batch import RubricRouter, score_inputs

    def on_progress(done: int, total: int) -> None:
        if progress is not None:
            progress((done, max(total, 1)), desc=text("evaluator.scored_of", lang, done=done, total=total),
                     unit=text("evaluator.unit", lang))

    by_language = {load_rubric(res.rubric).language: res.rubric}
    result = score_inputs(
        paths, out=out_dir / "scores.jsonl", on_progress=on_progress, by_language=by_language,
        scorer_factory=lambda: RubricRouter(by_language=by_language, scorers={str(res.rubric): res.scorer()}),
    )
    # Uploads live under per-upload temp folders; name files as the evaluator knows them.
    prefixes = sorted({str(Path(p).parent) + "/" for p in paths}, key=len, reverse=True)

    def tidy(value):
        if isinstance(value, str):
            for prefix in prefixes:
                value = value.replace(prefix, "")
        return value

    return [{**r, "id": tidy(r.get("id")), **({"error": tidy(r["error"])} if "error" in r else {})} for r in result.records]


def results_table(results: list[dict], lang: str = "en") -> tuple[list[str], list[list]]:
    t = words(lang)
    crits = criterion_names(results)
    headers = ([t(k) for k in BASE_HEADER_KEYS[:3]] + [t.get(f"criterion.{c}", c.replace("_", " ").capitalize()) for c in crits]
               + [t("evaluator.violations"), t("evaluator.error")])
    rows = []
    for r in results:
        if r.get("error"):
            rows.append([r.get("id"), None, t("evaluator.error"), *([None] * len(crits)), None, r["error"]])
            continue
        rows.append([
            # one decimal, as the verdict reads it: 69.8 against a pass mark of 70 is not "70, Fail"
            r["id"], round(r["overall"], 1), t("evaluator.pass") if r["passed"] else t("evaluator.fail"),
            *[round(r["criteria"][c]["score"], 1) if c in r["criteria"] else None for c in crits],
            len(r.get("violations") or []), "",
        ])
    return headers, rows


def write_outputs(records: list[dict], out_dir: Path, rubric: str = "default-en") -> tuple[Path, Path, Path]:
    """The summary CSV, the JSON Lines (one Score or error a line) and the HTML report."""
    from rubrics import load_rubric
    from rubrics.batch import summary_csv, write_atomic
    from rubrics.report import render_report

    csv_path, jsonl_path, html_path = out_dir / "scores.csv", out_dir / "scores.jsonl", out_dir / "report.html"
    write_atomic(csv_path, summary_csv(records))
    # rewritten: the records' file names were tidied after the batch wrote its checkpoint
    write_atomic(jsonl_path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    write_atomic(html_path, render_report(records, rubric=load_rubric(rubric)))
    return csv_path, jsonl_path, html_path


class UploadClaims:
    """Which browser sessions (or logins) uploaded which file, so a batch scores only their own.

    Gradio accepts any path in its upload cache as a file input, whoever uploaded it. Each upload
    from the page adds its session to the file's owners (the cache is content-addressed, so two
    people uploading the same file share a path, and both may score it); an API client that
    uploads and scores in one call claims a file nobody has claimed yet. Anyone else is refused.
    """

    def __init__(self) -> None:
        self._owners: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def add(self, owner: str, paths: list[str]) -> None:
        """The page uploaded these files for ``owner``."""
        with self._lock:
            for p in paths:
                self._owners.setdefault(str(Path(p).resolve()), set()).add(owner)

    def claim(self, owner: str, paths: list[str]) -> bool:
        """True when every path is ``owner``'s (an unclaimed path becomes theirs)."""
        with self._lock:
            keys = [str(Path(p).resolve()) for p in paths]
            for k in keys:
                self._owners.setdefault(k, {owner})
            return all(owner in self._owners[k] for k in keys)


def _owner(request) -> str:
    return getattr(request, "username", None) or getattr(request, "session_hash", None) or ""


def _paths(files) -> list[str]:
    return [p if isinstance(p, str) else getattr(p, "name", str(p)) for p in (files or [])]


def build_evaluator_tab(res: AppResources, ui: Labels, lang: gr.State) -> None:
    """Lay out the Evaluator tab; ``ui`` words its components, ``lang`` is the page's language.
    (The batch's HTML report is ``rubrics.report``'s, in English.)"""
    ui(gr.Markdown, {"value": "evaluator.intro"})
    with gr.Row(equal_height=False):
        files = ui(gr.File, {"label": "evaluator.files"}, file_count="multiple", file_types=[".jsonl", ".json", ".csv", ".txt"],
                   elem_id="cc-eval-files", scale=3)
        with gr.Column(scale=1, min_width=220):
            run = ui(gr.Button, {"value": "evaluator.run"}, variant="primary", elem_id="cc-eval-run")
            summary = gr.HTML("", elem_id="cc-eval-summary")
    table = ui(gr.Dataframe, {"label": "evaluator.results", "headers": BASE_HEADER_KEYS}, value=[], interactive=False,
               wrap=True, elem_id="cc-eval-table", max_height=420)
    with gr.Row():
        csv_file = ui(gr.File, {"label": "evaluator.results_csv"}, interactive=False, elem_id="cc-eval-csv")
        jsonl_file = ui(gr.File, {"label": "evaluator.scores_jsonl"}, interactive=False, elem_id="cc-eval-jsonl")
        html_file = ui(gr.File, {"label": "evaluator.report_html"}, interactive=False, elem_id="cc-eval-html")

    claims = UploadClaims()
    nothing = (gr.skip(),) * 4

    def on_upload(files, request: gr.Request):
        claims.add(_owner(request), _paths(files))

    def on_run(paths, lg, request: gr.Request, progress=gr.Progress()):
        t = words(lg)
        if not paths:
            return (views.error_html(t("evaluator.need_files")), *nothing)
        paths = _paths(paths)
        if not claims.claim(_owner(request), paths):
            return (views.error_html(t("evaluator.not_uploaded")), *nothing)
        progress(0, desc=t("evaluator.reading"))
        out = res.exports_dir / f"batch-{time.strftime('%Y%m%d-%H%M%S')}-{time.time_ns() % 10_000:04d}"
        out.mkdir(parents=True, exist_ok=True)
        results = score_files(res, paths, out, progress, lang=lg)
        if not results:
            return (views.error_html(t("evaluator.no_transcripts")), *nothing)
        csv_path, jsonl_path, html_path = write_outputs(results, out, res.rubric)
        headers, rows = results_table(results, lg)
        scored = [r for r in results if not r.get("error")]
        errors = len(results) - len(scored)
        passed = sum(1 for r in scored if r.get("passed"))
        # our own words, with the numbers in bold (the strings files hold no markup here)
        summary_text = t("evaluator.summary", scored=f"<b>{len(scored)}</b>", passed=f"<b>{passed}</b>")
        summary_text += t("evaluator.unreadable", n=f"<b>{errors}</b>") if errors else ""
        widths = ["170px"] + ["120px"] * (len(headers) - 2) + ["320px"]
        table_update = gr.Dataframe(value=rows, headers=headers, column_widths=widths)
        return summary_text, table_update, res.offer(csv_path), res.offer(jsonl_path), res.offer(html_path)

    files.upload(on_upload, files, None, api_visibility="private", show_progress="hidden")
    run.click(on_run, [files, lang], [summary, table, csv_file, jsonl_file, html_file], api_name="score_batch",
              concurrency_id="scoring", concurrency_limit=1)
