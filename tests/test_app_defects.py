"""One test per defect a newcomer met in the app (issue 10) and per storage gap (issue 16), at the
level where each lives: the history store, the views, the callbacks."""

from __future__ import annotations

import os
import sqlite3
from html import unescape

import pytest
from app_support import OPENING_LINES, make_app

from callcoach.history import ABANDONED, TEST, HistoryError, HistoryStore, move_aside
from callcoach.ui import evaluator, progress, trainer, views
from callcoach.ui.practice import SetupError, start_call, stream_turn
from callcoach.users import TRAINEE, Viewer


@pytest.fixture
def demo(tmp_path):
    return make_app(tmp_path / "data")


def play(call, lines):
    for line in lines:
        if call.session.ended:
            break
        list(stream_turn(call, line))


# --- 5. trainer test calls are kept apart ------------------------------------------------------


def test_a_trainers_test_call_is_marked_and_never_counts_in_progress(demo):
    res = demo.callcoach
    practice = start_call(res, "Sam", "cooperative-maria")
    play(practice, OPENING_LINES[:2])
    practice.finish()
    draft = res.personas().get("hostile-mark")
    test = start_call(res, "Sam", "", draft=draft)
    play(test, OPENING_LINES[:2])
    test.finish()
    assert test.kind == TEST and "Test call" in views.on_line_html(draft, test=True)
    summary, _, rows, choices = progress.history_view(res, "Sam")
    assert len(rows) == 1 and ">1</div><div class='cc-tile-k'>Scored calls" in summary
    assert [c[1] for c in choices] == [practice.session.call_id]
    assert [p["call_id"] for p in res.history.score_series("Sam")] == [practice.session.call_id]
    # trainers still find their test calls, listed on their own
    _, _, test_rows, test_choices = progress.history_view(res, None, TEST)
    assert [c[1] for c in test_choices] == [test.session.call_id] and len(test_rows) == 1


def test_a_trainee_cannot_start_a_test_call(demo):
    res = demo.callcoach
    with pytest.raises(SetupError, match="Only trainers"):
        start_call(res, "Ben", "", draft=res.personas().get("hostile-mark"), who=Viewer("ben", TRAINEE))


# --- 6. a persona copied from a template ---------------------------------------------------------


def test_a_copy_that_still_uses_the_templates_name_is_pointed_out(demo):
    res = demo.callcoach
    template = res.personas().get("cooperative-maria")
    text = trainer.persona_text(res, "cooperative-maria")
    copy = text.replace("id: cooperative-maria", "id: rosa-martinez").replace(f"name: {template.name}", "name: Rosa Martinez")
    html, persona = trainer.validation_html(copy, template=template)
    assert persona is not None and persona.name == "Rosa Martinez"
    assert "Maria" in persona.model_dump_json(exclude={"name", "id"})  # the template's name is left in its lines
    assert "Still says" in html and "'Maria'" in unescape(html)
    # before anything is saved, the page says what saving will do, not that it was done
    assert "saved as" not in html and "writes <code>rosa-martinez.yaml</code>" in html
    fixed = copy.replace("Maria", "Rosa").replace("Delgado", "Martinez")
    html, _ = trainer.validation_html(fixed, template=template)
    assert "Still says" not in html


# --- 7. scores read the same as their verdict ---------------------------------------------------


def test_evaluator_table_shows_one_decimal_so_it_agrees_with_the_verdict():
    rec = {"id": "x", "overall": 69.84, "passed": False, "criteria": {"empathy": {"score": 69.96}}, "violations": []}
    _, [row] = evaluator.results_table([rec])
    assert row[1] == 69.8 and row[2] == "Fail" and row[3] == 70.0


def test_history_rows_show_one_decimal(demo):
    res = demo.callcoach
    call = start_call(res, "Ana", "cooperative-maria")
    play(call, OPENING_LINES[:1])
    call.finish()
    [row] = views.history_table_rows(res.history.list_calls("Ana"))
    assert row[5] == f"{call.score['overall']:.1f}"


# --- 9. the trainee's own line numbers ------------------------------------------------------------


def test_coaching_numbers_the_trainees_own_lines(demo):
    call = start_call(demo.callcoach, "Sam", "cooperative-maria")
    play(call, OPENING_LINES[:3])
    assert [n for n, _ in call.flags] == [1, 2, 3]
    assert "(line 3)" in call.coaching_html()


# --- 11. mistakes get a message next to the field, and nothing is lost ---------------------------


def test_set_up_mistakes_are_messages_not_exceptions_for_gradio(demo):
    with pytest.raises(SetupError) as err:
        start_call(demo.callcoach, "", "cooperative-maria")
    html = views.error_html(str(err.value))
    assert 'role="alert"' in html and "Enter your name" in html


def test_an_overlong_line_is_refused_with_a_message_and_nothing_is_saved(demo):
    call = start_call(demo.callcoach, "Sam", "cooperative-maria")
    n = len(call.session.turns)
    with pytest.raises(SetupError, match="characters"):
        list(stream_turn(call, "x " * views.MAX_LINE_CHARS))
    assert len(call.session.turns) == n


def test_a_persona_save_mistake_is_an_inline_message(demo):
    with pytest.raises(trainer.SaveError, match="Fix the problems"):
        trainer.save_persona(demo.callcoach, "id: [unclosed")


# --- 12. interrupted calls ---------------------------------------------------------------------------


def test_calls_left_open_by_a_previous_run_are_closed_as_abandoned(tmp_path):
    demo = make_app(tmp_path / "data")
    call = start_call(demo.callcoach, "Ana", "cooperative-maria")
    play(call, OPENING_LINES[:1])
    again = make_app(tmp_path / "data")  # the server restarts
    [rec] = again.callcoach.history.list_calls("Ana")
    assert rec.outcome == ABANDONED and rec.ended_at
    assert views.history_table_rows([rec])[0][4] == "Abandoned (not finished)"
    html, _ = progress.call_detail(again.callcoach, rec.id, Viewer("Ana", TRAINEE))
    assert "not finished" in html and OPENING_LINES[0] in html


# --- 13. names, not ids -------------------------------------------------------------------------------


def test_open_a_call_lists_persona_names(demo):
    res = demo.callcoach
    call = start_call(res, "Ana", "cooperative-maria")
    call.finish()
    _, _, _, [(label, _)] = progress.history_view(res, "Ana")
    assert res.personas().get("cooperative-maria").name in label and "cooperative-maria" not in label


# --- storage (issue 16) -----------------------------------------------------------------------------


def test_a_damaged_database_gives_one_clear_line_and_can_be_moved_aside(tmp_path):
    path = tmp_path / "history.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(HistoryError) as err:
        HistoryStore(path)
    assert err.value.damaged and str(path) in str(err.value) and "\n" not in str(err.value)
    moved = move_aside(path)
    assert moved.exists() and not path.exists()
    HistoryStore(path)  # a fresh history starts


def test_the_app_says_so_when_the_database_is_damaged(tmp_path, capsys):
    import callcoach.serve as app_module

    data = tmp_path / "data"
    data.mkdir()
    (data / "history.sqlite3").write_bytes(b"garbage" * 500)
    with pytest.raises(SystemExit) as exit_:
        app_module.main(["--data-dir", str(data), "--backend", "scripted"])
    assert "history database is damaged" in str(exit_.value.code) and "mv " in str(exit_.value.code)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes read-only files anyway")
def test_a_read_only_database_is_reported(tmp_path):
    path = tmp_path / "history.sqlite3"
    HistoryStore(path)
    path.chmod(0o444)
    assert HistoryStore(path).read_only


def test_a_database_failing_mid_call_loses_nothing_of_the_finished_call(demo, monkeypatch):
    res = demo.callcoach
    call = start_call(res, "Ana", "cooperative-maria")
    play(call, OPENING_LINES[:2])

    def broken(*args, **kwargs):
        raise sqlite3.DatabaseError("database disk image is malformed")

    for name in ("sync_turns", "finish_call", "save_score"):
        monkeypatch.setattr(res.history, name, broken)
    play(call, OPENING_LINES[2:3])
    score = call.finish()
    assert "error" not in score
    assert call.history_error and "not being saved" in call.history_error
    saved = call.transcript_path.read_text(encoding="utf-8")
    assert OPENING_LINES[2] in saved  # the whole call is in the transcript file
    assert res.offer(call.transcript_path)


def test_downloads_are_copies_outside_the_data_dir(demo):
    res = demo.callcoach
    call = start_call(res, "Ana", "cooperative-maria")
    call.finish()
    offered = res.offer(call.transcript_path)
    assert not offered.startswith(str(res.data_dir)) and open(offered).read() == call.transcript_path.read_text()


# --- 2. the facts panel shows only what the debtor said ------------------------------------------

EMPATHETIC = [
    "Hi, this is Sam calling about your Quickcash loan. Am I speaking with Dana Whitfield?",
    "Thanks Dana. Can you confirm your date of birth for me?",
    "I'm a debt collector and this is an attempt to collect a debt; any information obtained will be used for that purpose.",
    "That sounds really hard, I'm sorry. How are things going with work at the moment?",
    "I understand. What does money look like for you each week right now?",
    "What other bills are you juggling at the moment?",
]


def test_the_facts_panel_never_shows_a_fact_the_debtor_did_not_say(tmp_path):
    demo = make_app(tmp_path / "data", default="Okay.")  # a debtor who says nothing of substance
    call = start_call(demo.callcoach, "Sam", "distressed-dana")
    play(call, EMPATHETIC)
    panel = call.panel_html()
    for fact in call.persona.hidden_facts:
        assert fact.fact not in panel and "412" not in panel
    assert "to find out" in panel


def test_the_facts_panel_quotes_what_the_debtor_said(tmp_path):
    # which facts were said is CallSession.learned_facts (tests/test_session.py); the panel quotes them
    from simulator.session import LearnedFact

    demo = make_app(tmp_path / "data")
    call = start_call(demo.callcoach, "Sam", "distressed-dana")
    s = call.session
    said = [LearnedFact("unemployment_benefits", "I get $412 a week now.", 3)]
    panel = views.debtor_panel(s.persona, s.state, s.context, learned=said)
    assert "&ldquo;I get $412 a week now.&rdquo;" in panel
    assert "Her unemployment benefits" not in panel  # their words, not the persona file's
    assert f"{len(s.persona.hidden_facts) - 1} more things to find out" in panel


def test_the_same_file_uploaded_by_two_people_can_be_scored_by_both_and_by_nobody_else():
    # Gradio's upload cache is content-addressed: a re-upload (another tab, after a reload) shares a path
    claims = evaluator.UploadClaims()
    claims.add("tab-1", ["/cache/abc/calls.jsonl"])
    claims.add("tab-2", ["/cache/abc/calls.jsonl"])
    assert claims.claim("tab-1", ["/cache/abc/calls.jsonl"]) and claims.claim("tab-2", ["/cache/abc/calls.jsonl"])
    assert not claims.claim("someone-else", ["/cache/abc/calls.jsonl"])
    assert claims.claim("api-client", ["/cache/new/other.jsonl"])  # uploads and scores in one call


def test_asked_for_a_date_of_birth_the_debtor_gives_it_even_when_the_model_dodges(tmp_path):
    # the real model was never told the persona's date of birth and dodged every time: calls
    # could never be verified, and every disclosure after was flagged
    demo = make_app(tmp_path / "data", default="Yes, that's me. I'm not sure what this is about.")
    call = start_call(demo.callcoach, "Sam", "cooperative-maria")
    play(call, ["Hi, this is Sam calling for Northstar. Am I speaking with Maria Delgado?",
                "Thanks. For security, can you confirm your date of birth?"])
    assert "1974" in call.session.turns[-1].text
    assert call.session.context.identity_verified
