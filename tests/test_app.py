"""The web app without a server: build_app() and its callbacks, driven directly."""

from __future__ import annotations

import json

import gradio as gr
import pytest
from app_support import OPENING_LINES, make_app

import callcoach.serve as app_module
from callcoach.ui import evaluator, progress, trainer
from callcoach.ui.practice import SetupError, start_call, stream_turn
from callcoach.ui.views import persona_cards
from callcoach.users import LOCAL, Users, UsersError
from core.transcript import read_jsonl


@pytest.fixture
def demo(tmp_path):
    return make_app(tmp_path / "data")


def run_turn(call, text):
    """Drive one turn; returns every chat state the page would have shown."""
    return [messages for messages, _ in stream_turn(call, text)]


def test_build_app_returns_blocks_without_launching(demo):
    assert isinstance(demo, gr.Blocks)
    assert demo.is_running is False and demo.local_url is None  # built, not launched
    api = {d.api_name for d in demo.fns.values() if d.api_name}
    assert {"start_call", "say", "undo", "hint", "end_call", "save_persona", "score_batch", "my_history"} <= api
    # the queue has limits: several trainees at once, but a bounded backlog
    assert demo._queue.default_concurrency_limit == app_module.CONCURRENCY
    assert demo._queue.max_size == app_module.QUEUE_MAX_SIZE


def test_a_whole_call_through_the_callbacks(demo):
    res = demo.callcoach
    call = start_call(res, "Sam", "cooperative-maria")
    assert call.messages()[0]["role"] == "assistant"  # the debtor picks up
    saved = res.history.transcript(call.session.call_id)
    assert len(saved.turns) == 1

    shown = run_turn(call, OPENING_LINES[0])
    assert len(shown) >= 3  # placeholder, streamed words, final
    assert shown[-1][-2] == {"role": "user", "content": OPENING_LINES[0]}
    assert shown[-1][-1]["content"] == "Okay, go on."
    # coaching for the first line appears with the turn, and the turn is already saved
    turn_index, flags = call.flags[-1]
    assert turn_index == 1 and any(f.level == "good" for f in flags)
    assert len(res.history.transcript(call.session.call_id).turns) == 3

    for line in OPENING_LINES[1:]:
        if call.session.ended:
            break
        run_turn(call, line)
    assert "Trust" in call.panel_html() and "Facts learned" in call.panel_html()
    assert call.suggest().text

    score = call.finish()
    assert "error" not in score, score
    assert set(score["criteria"]) >= {"empathy", "clarity", "compliance"}
    html = call.scorecard_html()
    assert "<svg" in html and "Outcome" in html and ("Passed" in html or "Not passed" in html)
    # downloads: a contract-conformant JSONL transcript and a standalone HTML report
    [t] = read_jsonl(call.transcript_path)
    assert t.id == call.session.call_id and t.turns[1].text == OPENING_LINES[0]
    assert call.report_path.read_text().startswith("<!doctype html>")
    # and the history has the finished, scored call
    [rec] = res.history.list_calls("sam")
    assert rec.ended_at and rec.overall == score["overall"] and rec.n_turns == len(t.turns)


# Scripted calls: (persona, the debtor's replies, the trainee's lines, rules the scorecard must list).
SCRIPTED_CALLS = [
    # the debtor never confirms who she is, so the mini-Miranda at turn 3 tells a possible third party
    ("cooperative-maria", [], OPENING_LINES, {"fdcpa-1692c-b-unverified"}),
    ("cooperative-maria", ["Yes, this is Maria.", "Okay.", "I lost my job, things are tight.", "Maybe."],
     ["Hi, this is Sam from Acme Recovery. Am I speaking with Maria Lopez?", *OPENING_LINES[1:]], set()),
    # a threat of arrest, or an insult, ends the call there: each is its own call
    ("hostile-mark", ["Who is this?", "What? No.", "Whatever."],
     ["Hello, you owe $500 on your Acme card.", "Pay today or you'll be arrested.", "Are you still there?"],
     {"fdcpa-1692c-b-unverified", "fdcpa-1692d-6", "fdcpa-1692e-4"}),
    ("hostile-mark", ["Who is this?", "What? No.", "Whatever."],
     ["Hello, you owe $500 on your Acme card.", "Listen, you deadbeat, pay up.", "Are you still there?"],
     {"fdcpa-1692c-b-unverified", "fdcpa-1692d-6", "fdcpa-1692d-2"}),
    ("wrong-party-linda", ["I'm not Ryan, I'm his mom. Can I take a message?", "I'll tell him."],
     ["Hi, is Ryan Brennan there?", "Tell him he owes money on his credit card and he has to pay."],
     # rulebook 2.0: 1692d(6) is not applied to a location call to a third party (1692b(1))
     {"fdcpa-1692c-b-third-party"}),
    # never says who is calling, never mentions the debt: only the end of the call settles it
    ("cooperative-maria", ["Yes, this is Maria.", "Fine, thanks."], ["Hi, is this Maria Lopez?", "How are you today?"],
     {"fdcpa-1692d-6"}),
]


@pytest.mark.parametrize("persona, replies, lines, expected", SCRIPTED_CALLS)
def test_what_is_coached_live_is_what_the_scorecard_finds(tmp_path, persona, replies, lines, expected):
    """A trainee is never told one thing live and scored another way: every rule broken is
    flagged on its turn (or when the call ends), worded by the rule, and nothing else is."""
    demo = make_app(tmp_path / "data", replies=replies)
    res = demo.callcoach
    rules = {r.id: r for r in res.scorer().rubric.rulebook_rules.rules}
    call = start_call(res, "Sam", persona)
    for line in lines:
        if call.session.ended:
            break
        run_turn(call, line)
    assert call.call_end == []  # nothing is known only at the end before the call ends
    score = call.finish()
    assert "error" not in score, score
    live = [(turn, f) for turn, flags in call.flags for f in flags if f.code in rules] + call.call_end
    # coaching numbers the trainee's own lines; the score contract keeps transcript indexes
    final = [(call.line_number(v["turn"]), v["rule"], v["quote"]) for v in score["violations"]]
    assert sorted((turn, f.code, f.quote) for turn, f in live) == sorted(final)
    assert expected <= {rule for _, rule, _ in final}, final
    for _, f in live:
        rule = rules[f.code]
        assert f.level == ("warn" if rule.severity == "minor" else "stop")
        assert f.message.startswith(f"{rule.title} ({rule.citation}).")
    # no coaching note of its own says anything about compliance
    assert all(f.code in rules for _, flags in call.flags for f in flags if f.level == "stop")
    # what only the end settled has its own section, shown exactly when there is some
    assert ("When the call ended" in call.coaching_html()) == bool(call.call_end)


def test_undo_rewinds_the_call_and_the_saved_turns(demo):
    res = demo.callcoach
    call = start_call(res, "Sam", "cooperative-maria")
    run_turn(call, OPENING_LINES[0])
    run_turn(call, "How are you doing today?")
    assert len(call.flags) == 2
    assert call.undo()
    assert len(call.session.turns) == 3 and len(call.flags) == 1
    assert len(res.history.transcript(call.session.call_id).turns) == 3
    run_turn(call, "What has been going on with you lately?")
    assert call.session.turns[3].text == "What has been going on with you lately?"


def test_a_line_redone_after_a_guard_replaces_the_partial_text(tmp_path):
    too_long = " ".join(["blah"] * 60)  # fails the length guard once fully streamed
    demo = make_app(tmp_path / "data", replies=[too_long, "Fine. Who is this?"])
    call = start_call(demo.callcoach, "Sam", "cooperative-maria")
    shown = run_turn(call, OPENING_LINES[0])
    assert any("blah" in m[-1]["content"] for m in shown)
    assert shown[-1][-1]["content"] == "Fine. Who is this?"
    assert call.session.turns[-1].text == "Fine. Who is this?"


def test_start_call_needs_a_name_and_a_persona(demo):
    with pytest.raises(SetupError, match="name"):
        start_call(demo.callcoach, "  ", "cooperative-maria")
    with pytest.raises(SetupError, match="Pick a debtor"):
        start_call(demo.callcoach, "Sam", "")
    with pytest.raises(SetupError, match="no longer available"):
        start_call(demo.callcoach, "Sam", "nobody")


def test_empty_line_and_ended_call_are_refused(demo):
    call = start_call(demo.callcoach, "Sam", "cooperative-maria")
    with pytest.raises(SetupError):
        run_turn(call, "   ")
    call.finish()
    with pytest.raises(SetupError, match="ended"):
        run_turn(call, "Hello?")


def test_persona_cards_escape_file_content(demo):
    lib = demo.callcoach.personas()
    cards = persona_cards(list(lib.personas.values()))
    assert {"name", "situation", "temperament_label", "difficulty"} <= set(cards[0])
    assert [c["difficulty"] for c in cards] == sorted((c["difficulty"] for c in cards), key=["easy", "medium", "hard"].index)


# --- trainer ------------------------------------------------------------------------------


def test_trainer_validates_live_and_saves_a_new_persona(demo):
    res = demo.callcoach
    rows = trainer.persona_rows(res)
    assert all(r[-1] == "OK" for r in rows) and {r[0] for r in rows} >= {"hostile-mark", "cooperative-maria"}

    text = trainer.persona_text(res, "cooperative-maria")
    html, persona = trainer.validation_html(text)
    assert persona is not None and "Valid" in html

    broken = text.replace("difficulty: easy", "difficulty: trivial")
    html, persona = trainer.validation_html(broken)
    assert persona is None and "difficulty" in html and "draft.yaml" in html

    with pytest.raises(trainer.SaveError, match="shipped persona"):
        trainer.save_persona(res, text)
    new = text.replace("id: cooperative-maria", "id: maria-night-shift").replace("name: Maria", "name: Marisol")
    msg, path = trainer.save_persona(res, new)
    assert path == res.custom_personas_dir / "maria-night-shift.yaml" and "Saved" in msg
    # it appears without a restart: in the library, the table and the practice cards
    assert "maria-night-shift" in res.personas().personas
    assert any(r[0] == "maria-night-shift" and r[4] == "saved here" for r in trainer.persona_rows(res))
    assert any(c["id"] == "maria-night-shift" for c in trainer.picker_cards(res))
    call = start_call(res, "Sam", "maria-night-shift")
    assert call.persona.id == "maria-night-shift"


def test_trainer_lists_a_broken_file_with_its_problem(demo):
    res = demo.callcoach
    (res.custom_personas_dir / "broken-bob.yaml").write_text("version: 1\nid: broken-bob\n", encoding="utf-8")
    rows = {r[0]: r for r in trainer.persona_rows(res)}
    assert rows["broken-bob"][-1].startswith("Error:")


# --- history views ----------------------------------------------------------------------------


def test_progress_views_show_a_trainees_calls(demo):
    res = demo.callcoach
    call = start_call(res, "Ana", "cooperative-maria")
    run_turn(call, OPENING_LINES[0])
    call.finish()
    start_call(res, "Ben", "hostile-mark")  # unfinished: listed, not charted
    summary, chart, rows, choices = progress.history_view(res, "ana")
    assert "Scored calls" in summary and "<svg" in chart and len(rows) == 1 and rows[0][1] == "Ana"
    _, _, all_rows, _ = progress.history_view(res, None)
    assert {r[1] for r in all_rows} == {"Ana", "Ben"}
    detail, report = progress.call_detail(res, call.session.call_id, LOCAL)
    assert "Outcome" in detail and report.endswith(".html")


# --- evaluator --------------------------------------------------------------------------------


def test_evaluator_scores_jsonl_csv_and_txt(demo, tmp_path):
    res = demo.callcoach
    jl = tmp_path / "calls.jsonl"
    jl.write_text(
        json.dumps({"id": "a1", "turns": [{"speaker": "agent", "text": OPENING_LINES[0]}, {"speaker": "debtor", "text": "Yes."}]}) + "\n"
        + "{not json\n",
        encoding="utf-8",
    )
    cs = tmp_path / "calls.csv"
    cs.write_text("id,turn,speaker,text\nb1,0,agent,Hello this is Sam from Acme Recovery.\nb1,1,debtor,Who?\n", encoding="utf-8")
    tx = tmp_path / "call.txt"
    tx.write_text("Agent: You'll go to jail if you don't pay.\nDebtor: What?\n", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    records = evaluator.score_files(res, [str(jl), str(cs), str(tx)], out)
    assert len(records) == 4
    assert [bool(r.get("error")) for r in records] == [False, True, False, False]
    headers, rows = evaluator.results_table(records)
    assert headers[:3] == ["Transcript", "Overall", "Result"] and len(rows) == 4
    csv_path, jsonl_path, html_path = evaluator.write_outputs(records, out)
    assert csv_path.read_text().startswith("id,")
    assert len(jsonl_path.read_text().splitlines()) == 4
    assert "<html" in html_path.read_text().lower()


# --- command line -------------------------------------------------------------------------------


def test_command_line_options(monkeypatch):
    args = app_module.parse_args([])
    assert (args.host, args.port, args.share) == ("127.0.0.1", 7860, False)
    args = app_module.parse_args(["--host", "0.0.0.0", "--port", "9000", "--backend", "openai:http://x/v1#m", "--auth", "a:b"])
    assert (args.host, args.port, args.backend) == ("0.0.0.0", 9000, "openai:http://x/v1#m")
    users = app_module.load_users(args)
    assert users.check("a", "b") and not users.check("a", "x") and users.role("a") == "trainee"
    users = Users.from_auth("a:b, c:d:e, lead:pw:trainer")
    assert users.check("c", "d:e") and users.role("lead") == "trainer" and users.trainers() == ["lead"]
    assert app_module.load_users(app_module.parse_args([])) is None
    with pytest.raises(UsersError):
        Users.from_auth("nopassword")
    monkeypatch.setenv("CALLCOACH_AUTH", "coach:secret")
    assert app_module.parse_args([]).auth == "coach:secret"


def test_default_backend_is_lazy(tmp_path):
    demo = app_module.build_app(data_dir=tmp_path / "d", analyzer=object())
    backend = demo.callcoach.backend
    assert backend.spec == "llamacpp:default" and not backend.ready
    assert "on the first call" in backend.status()
