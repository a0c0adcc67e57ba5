"""The intent measure: the judge's own lines, the judge, rescoring saved replies, the blind-label audit."""

from __future__ import annotations

import json

import pytest

from evals.fidelity_metrics import JUDGE_DIR, fit_intent_classifier, held_back_lines
from evals.intent_audit import LABELS_FILE, LabelledLine, audit, load_labels
from simulator.intents import Intent
from simulator.personas import load_personas
from training.banks import LINES_DIR, load_banks, norm
from training.build_corpus import CORPUS_FILE, HELDOUT_PERSONAS


@pytest.fixture(scope="module")
def personas():
    return load_personas().personas


def test_judge_lines_validate_cover_every_intent_and_were_never_trained_on(personas):
    judged = load_banks(sorted(JUDGE_DIR.glob("*.yaml")), personas)
    assert judged.problems == []
    english = {pid for pid, p in personas.items() if p.language == "en"}  # the judge reads English (MiniLM)
    assert set(judged.banks) == english, "the judge has lines for every English persona"
    for bank in judged.banks.values():
        assert set(bank.lines) == set(Intent), f"{bank.persona}: every intent"
    targets = {norm(json.loads(x)["target"]) for x in CORPUS_FILE.read_text(encoding="utf-8").splitlines()}
    bank_lines = {norm(x.text) for b in load_banks(sorted(LINES_DIR.glob("*.yaml")), personas).banks.values() for v in b.lines.values() for x in v}
    judge_lines = [norm(x.text) for b in judged.banks.values() for v in b.lines.values() for x in v]
    assert not set(judge_lines) & targets, "a judge line is a training target"
    assert not set(judge_lines) & bank_lines, "a judge line repeats a bank line"


def test_held_back_lines_never_include_a_training_target(personas):
    targets = {norm(json.loads(x)["target"]) for x in CORPUS_FILE.read_text(encoding="utf-8").splitlines()}
    rows = held_back_lines(personas, HELDOUT_PERSONAS)
    assert {r.source for r in rows} == {"fallback", "bank", "judge"}
    assert sum(norm(r.text) in targets for r in rows) == 0


@pytest.fixture(scope="module")
def judge(personas):
    return fit_intent_classifier(personas, HELDOUT_PERSONAS)


def test_judge_labels_unseen_personas_far_above_chance(judge):
    # leave-one-persona-out on authored lines: 22 intents, so chance is under 5%
    assert judge.loo_accuracy >= 0.65
    assert set(judge.loo_by_source) == {"fallback", "bank", "judge"}
    assert judge.lines > 1500
    said = judge.predict(["Bye now, take care.", "I'm not paying a cent of that, forget it.", "Who is this? What company are you with?"])
    assert said == ["goodbye", "refuse", "ask_who_is_calling"]


def test_rescore_replies_without_a_model(tmp_path, judge, monkeypatch):
    from typer.testing import CliRunner

    import evals.fidelity_metrics as fm
    from evals.persona_fidelity import main

    monkeypatch.setattr(fm, "fit_intent_classifier", lambda *a, **k: judge)  # fitted once for the module
    copied = json.loads(CORPUS_FILE.read_text(encoding="utf-8").splitlines()[0])["target"]
    rows = [
        {"persona": "busy-greg", "script": "kind", "collector": "Is this Greg?", "reply": "Yep, that's me. Make it quick.", "intent": "confirm_identity", "source": "model"},
        {"persona": "busy-greg", "script": "kind", "collector": "Thanks for your time, goodbye.", "reply": "Alright, bye now.", "intent": "goodbye", "source": "model"},
        {"persona": "busy-greg", "script": "kind", "collector": "Why haven't you paid?", "reply": copied, "intent": "explain_hardship", "source": "model"},
        {"persona": "busy-greg", "script": "kind", "collector": "Hello?", "reply": "A fallback line.", "intent": "answer", "source": "fallback"},
    ]
    replies = tmp_path / "replies.jsonl"
    replies.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "fidelity.json"
    out.write_text(json.dumps({"backend": "x", "overall": {"replies": 4, "fallback_rate": 0.25}}))
    result = CliRunner().invoke(typer_app(main), ["--rescore", str(replies), "--out", str(out)])
    assert result.exit_code == 0, result.output
    overall = json.loads(out.read_text())["overall"]
    assert overall["fallback_rate"] == 0.25, "figures of the run itself are kept"
    assert overall["copy_rate"] == round(1 / 3, 3), "fallbacks are not scored; one of three lines is a corpus target"
    assert 0 <= overall["intent_accuracy"] <= 1 and overall["intent_classifier_ceiling"] == judge.loo_accuracy

    missing = CliRunner().invoke(typer_app(main), ["--rescore", str(tmp_path / "nope.jsonl"), "--out", str(out)])
    assert missing.exit_code != 0 and "no such file" in str(missing.exception or missing.output)


def typer_app(fn):
    import typer

    app = typer.Typer()
    app.command()(fn)
    return app


def _row(i: int, source: str, asked: str, label: str, alt: str | None = None, unclear: bool = False) -> LabelledLine:
    return LabelledLine(id=i, source=source, persona="busy-greg", collector="c", line=f"line {i}", asked=asked, label=label, alt=alt, unclear=unclear)


def test_audit_compares_blind_labels_with_the_asked_intent_and_the_judge():
    rows = [
        _row(0, "tuned", "goodbye", "goodbye"),
        _row(1, "tuned", "goodbye", "hang_up", alt="goodbye"),
        _row(2, "tuned", "dispute", "deflect", unclear=True),
        _row(3, "tuned", "refuse", "refuse"),
        _row(4, "authored", "vent", "vent"),
    ]
    result = audit(rows, ["goodbye", "goodbye", "dispute", "stall", "vent"], judge_fitted={"line 4"})
    tuned = result["tuned"]
    assert tuned["annotator_agrees_with_asked"] == 0.5
    assert tuned["annotator_agrees_incl_alt"] == 0.75
    assert tuned["unclear"] == 0.25
    assert tuned["misses"] == {"dispute -> deflect": 1}
    assert tuned["judge_agrees_with_asked"] == 0.75
    assert tuned["judge_agrees_with_annotator"] == 0.5  # line 1 counts through its alt; line 2 and 3 miss
    assert result["authored"]["judge_lines"] == 0 and result["authored"]["judge_agrees_with_asked"] is None


def test_committed_labels_load_and_a_bad_row_names_its_line(tmp_path):
    rows = load_labels(LABELS_FILE)
    assert {"authored", "base"} <= {r.source for r in rows}
    assert any(r.source.startswith("tuned") for r in rows)
    bad = tmp_path / "labels.jsonl"
    good = rows[0].model_dump_json()
    bad.write_text(good + "\n" + good.replace(f'"label":"{rows[0].label.value}"', '"label":"shrug"') + "\n")
    with pytest.raises(SystemExit, match=r"labels.jsonl:2: label: Input should be"):
        load_labels(bad)
