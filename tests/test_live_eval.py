"""The live-call eval: its calls file, a scripted slice end to end, the proxies and the blind audit."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from evals.live_audit import AuditError, audit, load_key, load_labels, packet_items, write_packet
from evals.live_eval import CallsError, load_calls, play_call, select, write_results
from evals.live_proxies import (
    copies_training_line,
    identity_answer,
    name_slips,
    people,
    repeats,
    says_goodbye,
    unknown_names,
)
from evals.live_report import promise_matches, summarize
from simulator.personas import load_personas

LIB = load_personas()
P = LIB.personas


# --- the calls file --------------------------------------------------------------------------------
def test_calls_file_validates_and_covers_every_persona_three_times():
    calls = load_calls().calls
    assert len(calls) >= 30
    per_persona = Counter(c.persona for c in calls)
    english = {pid for pid, p in P.items() if p.language == "en"}  # Chinese calls: live_calls_zh.yaml
    assert set(per_persona) == english, english - set(per_persona)
    assert min(per_persona.values()) >= 3, per_persona
    assert {c.collector for c in calls} == {"good", "clumsy", "hostile"}
    assert all(8 <= len(c.lines) <= 14 for c in calls)
    expects = Counter(e for c in calls for line in c.lines for e in line.expects)
    for kind in ("name", "dob", "address", "zip", "ssn4"):
        assert expects[f"identity_answer:{kind}"] >= 3, kind
    for e in ("goodbye", "acknowledge", "recap"):
        assert expects[e] >= 10, e
    assert sum(v for k, v in expects.items() if k.startswith("answer_fact:")) >= 50
    recaps = [line for c in calls for line in c.lines if "recap" in line.expects]
    assert sum(line.plan is not None for line in recaps) >= 15


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda d: d["calls"][0].update(persona="nobody"), "calls[0].persona: unknown persona 'nobody'"),
        (lambda d: d["calls"][0]["lines"][0].update(expects="identity_answer:shoe_size"), "unknown expectation 'identity_answer:shoe_size'"),
        (lambda d: d["calls"][0].update(colector="good"), "colector"),
        (lambda d: d["calls"][1].update(id=d["calls"][0]["id"]), "is used twice"),
        (lambda d: d["calls"][0].update(lines=d["calls"][0]["lines"][:3]), "calls"),
    ],
)
def test_a_broken_calls_file_names_file_and_field(tmp_path, edit, needle):
    import yaml

    from evals.live_eval import CALLS_FILE

    data = yaml.safe_load(CALLS_FILE.read_text(encoding="utf-8"))
    data["calls"] = data["calls"][:2]
    data["calls"] = [{**c, "lines": [x if isinstance(x, dict) else {"text": x} for x in c["lines"]]} for c in data["calls"]]
    edit(data)
    bad = tmp_path / "calls.yaml"
    bad.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(CallsError) as err:
        load_calls(bad, P)
    text = "\n".join(err.value.problems)
    assert str(bad) in text and needle in text


def test_select_takes_calls_in_turn_from_each_persona():
    calls = load_calls().calls
    picked = select(calls, n_calls=9)
    assert len({c.persona for c in picked}) == 9
    mixed = select(calls, ids=["maria-good-1", "maria-good-2", "mark-good-1"], n_calls=3)
    assert [c.id for c in mixed] == ["maria-good-1", "mark-good-1", "maria-good-2"]  # in turn, however many
    assert {c.persona for c in select(calls, persona_ids=["hostile-mark"])} == {"hostile-mark"}
    assert [c.id for c in select(calls, ids=["mark-good-1"])] == ["mark-good-1"]


# --- a slice with the scripted backend ------------------------------------------------------------
@pytest.fixture(scope="module")
def analyzer():
    from core.analysis import default_analyzer

    return default_analyzer()


def test_a_scripted_slice_plays_and_writes_the_report(tmp_path, analyzer):
    from simulator.backends import make_backend

    calls = select(load_calls().calls, n_calls=3)
    # a model that says one line whatever it is asked: the actor's repeat guard lets it through once a call
    backend = make_backend("scripted")
    backend.default = "Well, I don't really know about that."
    rows = []
    for c in calls:
        call_rows, summary = play_call(c, P[c.persona], backend, analyzer, seed=0)
        assert summary["replies"] == len(call_rows) and summary["replies"] + summary["lines_unplayed"] == len(c.lines)
        rows += [{**r, "backend": backend.spec, "seed": 0} for r in call_rows]
    first = rows[0]
    for field in ("call", "persona", "turn", "so_far", "collector", "reply", "intent", "source", "failures", "ms_first", "ms_total", "authored"):
        assert field in first, field
    assert first["so_far"][-1] == {"speaker": "agent", "text": calls[0].lines[0].text}
    assert all(r["ms_first"] <= r["ms_total"] for r in rows)
    assert all(r["authored"] for r in rows)
    report = write_results(tmp_path, rows, {"backend": "scripted", "calls": []})
    o = report["overall"]
    assert o["replies"] == len(rows) and set(report["by_persona"]) == {c.persona for c in calls}
    model_rows = [r for r in rows if r["source"] == "model"]
    assert model_rows and all(r["reply"] == backend.default for r in model_rows)
    assert o["sources"]["model"] == len(model_rows) and o["generated"] == len(model_rows)
    assert o["fallback_rate"] == round(sum(r["source"] == "fallback" for r in rows) / len(rows), 3)
    for key in ("fallback_rate", "copy_rate", "identity", "names", "expectations", "latency_ms"):
        assert key in o
    assert o["identity"]["questions"] >= 3
    assert (tmp_path / "summary.md").read_text(encoding="utf-8").startswith("# Live-call eval")
    assert len((tmp_path / "replies.jsonl").read_text(encoding="utf-8").splitlines()) == len(rows)


def test_a_call_past_the_deadline_says_no_more_lines(analyzer):
    import time

    from simulator.backends import make_backend

    call = load_calls().calls[0]
    rows, summary = play_call(call, P[call.persona], make_backend("scripted"), analyzer, deadline=time.perf_counter() - 1)
    assert rows == [] and summary["stopped_for_time"] and summary["lines_unplayed"] == len(call.lines)


# --- proxies on labelled cases -------------------------------------------------------------------------
def test_the_collectors_name_as_the_debtors_own_is_caught():
    walter = P["vulnerable-walter"]
    assert name_slips("Yes, this is Keisha. What can I do for you?", walter, "Keisha") == ["takes_collector_name: Keisha"]
    assert name_slips("Yes, this is Walter. Keisha, was it?", walter, "Keisha") == []
    assert name_slips("Walter here.", walter, "Keisha") == []


def test_relationship_slips_and_renamed_people_are_caught():
    walter, maria = P["vulnerable-walter"], P["cooperative-maria"]
    assert people(walter).roles["June"] == {"spouse"} and people(walter).roles["Karen"] == {"daughter"}
    assert name_slips("My wife Karen did all the bills.", walter, "Tess") == ["relationship_slip: my wife Karen (Karen is daughter)"]
    assert name_slips("My late wife June did all the bills. Karen, my daughter, calls Sundays.", walter, "Tess") == []
    assert name_slips("My husband Bob is retired.", maria, "Tess") == ["renames: my husband Bob"]
    assert name_slips("My husband Ray is retired.", maria, "Tess") == []
    assert unknown_names("I asked Bob about it.", maria, "Tess", ["Hi Maria"]) == ["Bob"]
    assert unknown_names("I asked Ray about the Harbor Point card.", maria, "Tess", ["Hi Maria"]) == []
    assert unknown_names("That's right... I'm Maria Delgado.", maria, "Tess", []) == []
    assert name_slips("Oh, my friend, is this another one of those calls?", maria, "Tess") == []


def test_a_date_of_birth_answered_is_counted_and_checked_against_the_persona():
    maria = P["cooperative-maria"]  # born April 9th, 1974 in her authored lines
    assert identity_answer("Yes. April 9th, 1974.", "dob", maria).status == "answered"
    assert identity_answer("Yes. April 9th, 1974.", "dob", maria).consistent is True
    assert identity_answer("It's 4/9/1974, honey.", "dob", maria).consistent is True
    wrong = identity_answer("Sure, it's June 2nd, 1980.", "dob", maria)
    assert wrong.status == "answered" and wrong.consistent is False
    assert identity_answer("Why do you need that? What's this about?", "dob", maria).status == "refused"
    assert identity_answer("It's okay, honey. I'm okay.", "dob", maria).status == "missed"
    # asking who is calling is wary before the collector says who they are, a dodge after
    assert identity_answer("Who is this?", "name", maria, collector_named=False).status == "refused"
    assert identity_answer("Who is this?", "dob", maria, collector_named=True).status == "missed"
    kevin = P["represented-kevin"]
    assert identity_answer("Call Sandra Whitlock, my attorney.", "dob", kevin, collector_named=True).status == "refused"


def test_other_identity_details_and_a_wrong_party():
    greg, linda = P["busy-greg"], P["wrong-party-linda"]
    assert identity_answer("Yeah, Fargo, same place as always.", "address", greg).consistent is True
    assert identity_answer("It's 58102.", "zip", greg).status == "answered"
    assert identity_answer("Last four's 4417.", "ssn4", greg).status == "answered"
    assert identity_answer("I'm at work, pal.", "zip", greg).status == "missed"
    assert identity_answer("Yes?", "name", linda).status == "missed"  # never "yes" to her son's name
    assert identity_answer("No, dear, this is his mother.", "name", linda).status == "answered"


def test_loops_goodbyes_and_copies():
    earlier = ["Hello? This is Maria.", "I'm back at work at the school now, full time."]
    assert repeats("I'm back at work at the school now, full time!", earlier)
    assert repeats("Im back at work at the school now full time honey.", earlier)
    assert not repeats("Ray's retired, so it's mostly my check now.", earlier)
    assert says_goodbye("Okay, thank you. Bye-bye.") and says_goodbye("Alright boss, take it easy.")
    assert not says_goodbye("I'll see you next week.")
    assert copies_training_line("Delgado house, good evening.")  # personas/lines/cooperative-maria.yaml
    assert not copies_training_line("The house is still in the kitchen.")


def test_report_counts_a_recap_recorded_as_another_plan():
    row = {
        "call": "c", "persona": "cooperative-maria", "collector_style": "good", "agent_name": "Tess", "line": 8, "turn": 17,
        "so_far": [{"speaker": "agent", "text": "So that's $150 a month starting the 15th, right?"}],
        "collector": "So that's $150 a month starting the 15th, right?", "expects": ["recap"], "plan": {"amount": 150, "monthly": True, "day": 15},
        "reply": "Okay. $150 a month on Monday, December 14.", "intent": "promise_to_pay", "source": "model", "failures": [],
        "ms_first": 200.0, "ms_total": 900.0, "authored": "x", "promise": {"amount": 150, "monthly": True, "due": "2025-12-14"},
    }
    recap = summarize([row], P)["overall"]["expectations"]["recap"]
    assert recap["promise_recorded"] == 1 and recap["promise_matches_recap"] == 0.0 and recap["agrees_in_words"] == 1.0
    assert promise_matches({"amount": 150, "monthly": True, "due": "2025-12-15"}, row["plan"])
    assert promise_matches({"amount": 150, "monthly": True, "due": "2025-12-12"}, {"amount": 150, "monthly": True, "day": "friday"})
    assert not promise_matches({"amount": 150, "monthly": False, "due": "2025-12-15"}, row["plan"])
    assert not promise_matches({"amount": 175, "monthly": True, "due": "2025-12-15"}, row["plan"])


# --- the blind audit ----------------------------------------------------------------------------------
def _row(call: str, line: int, source: str, reply: str, authored: str) -> dict:
    return {
        "call": call, "persona": "hostile-mark", "line": line, "turn": 2 * line + 2, "intent": "vent", "source": source,
        "so_far": [{"speaker": "debtor", "text": "Yeah?"}, {"speaker": "agent", "text": f"line {line}"}],
        "reply": reply, "authored": authored, "backend": "scripted",
    }


def test_the_packet_pairs_each_generated_line_with_the_authored_one_blind(tmp_path):
    rows = [
        _row("a", 0, "model", "Generated one.", "Authored one."),
        _row("a", 1, "retry", "Same words.", "Same words."),
        _row("a", 2, "fallback", "Fallback line.", "Fallback line."),
    ]
    items, key = packet_items(rows, P, seed=3)
    assert sorted(i["line"] for i in items) == ["Authored one.", "Fallback line.", "Generated one.", "Same words."]
    by_text = {i["line"]: k["sources"] for i, k in zip(items, key, strict=True)}
    assert by_text == {"Generated one.": ["model"], "Authored one.": ["authored"], "Same words.": ["model", "authored"], "Fallback line.": ["fallback"]}
    for it in items:  # what the annotator sees: no source, intent or persona internals
        assert set(it) == {"item", "debtor", "call_so_far", "line"} and it["debtor"] == "Mark Kowalski"
        assert it["call_so_far"][-1] == {"speaker": "Collector", "text": it["call_so_far"][-1]["text"]}
    sample, sample_key = packet_items(rows, P, seed=3, positions=1)
    assert len({(k["call"], k["line"]) for k in sample_key}) == 1 and len(sample) in (1, 2)
    counts = write_packet(rows, tmp_path, seed=3)
    assert counts == {"model": 2, "authored": 2, "fallback": 1}
    cards = json.loads((tmp_path / "cards.json").read_text(encoding="utf-8"))
    assert list(cards) == ["Mark Kowalski"] and cards["Mark Kowalski"]["situation"] == P["hostile-mark"].situation
    shown = (tmp_path / "items.jsonl").read_text(encoding="utf-8") + json.dumps(cards)
    for secret in ("model", "fallback", "authored", "vent", "hidden", "payment_capacity", "scripted"):
        assert secret not in shown, secret
    assert len(load_key(tmp_path / "key.jsonl")) == 4
    with pytest.raises(AuditError, match="labels-template.jsonl:1: labels"):
        load_labels(tmp_path / "labels-template.jsonl")  # not filled in yet


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_audit_shares_per_source_on_a_hand_made_label_file(tmp_path):
    key = [
        {"item": f"i{k}", "sources": [src], "call": "c", "persona": "hostile-mark", "line": k, "turn": k, "intent": "vent"}
        for k, src in enumerate(["model", "model", "model", "model", "authored", "authored", "fallback"])
    ]
    key.append({"item": "i7", "sources": ["model", "authored"], "call": "c", "persona": "hostile-mark", "line": 7, "turn": 7, "intent": "vent"})
    labels = [
        {"item": "i0", "labels": ["ok"]},
        {"item": "i1", "labels": ["garbled"]},
        {"item": "i2", "labels": ["ignores_question", "contradicts_persona"]},
        {"item": "i3", "labels": ["breaks_logic"]},
        {"item": "i4", "labels": ["ok"]},
        {"item": "i5", "labels": ["off_point"], "note": "answers the wrong thing"},
        {"item": "i7", "labels": ["ok"]},
    ]  # i6 (the fallback) left unlabelled
    fig = audit(load_labels(_write(tmp_path / "labels.jsonl", labels)), load_key(_write(tmp_path / "key.jsonl", key)))
    m, a, f = fig["model"], fig["authored"], fig["fallback"]
    assert (m["items"], m["labelled"]) == (5, 5)
    assert m["ok"] == 0.4 and m["garbled"] == 0.2 and m["contradicts_persona"] == 0.2 and m["breaks_logic"] == 0.2
    assert m["garbled_off_point_or_contradicts"] == 0.4 and m["ignores_question"] == 0.2
    assert (a["items"], a["labelled"], a["ok"], a["off_point"]) == (3, 3, 0.667, 0.333)
    assert (f["items"], f["labelled"], f["ok"]) == (1, 0, None)


@pytest.mark.parametrize(
    ("labels", "needle"),
    [
        ([{"item": "i0", "labels": ["ok", "garbled"]}], "'ok' cannot be combined"),
        ([{"item": "i0", "labels": ["rude"]}], "labels.0"),
        ([{"item": "i0", "labels": ["ok"]}, {"item": "i0", "labels": ["ok"]}], "labelled twice"),
        ([{"item": "i0", "labels": ["ok"], "score": 3}], "score"),
    ],
)
def test_bad_label_files_get_one_clear_line(tmp_path, labels, needle):
    with pytest.raises(AuditError, match=needle):
        load_labels(_write(tmp_path / "labels.jsonl", labels))


def test_labels_for_another_packet_are_refused(tmp_path):
    key = [{"item": "i0", "sources": ["model"], "call": "c", "persona": "hostile-mark", "line": 0, "turn": 0, "intent": "vent"}]
    with pytest.raises(AuditError, match="not in the key"):
        audit(load_labels(_write(tmp_path / "l.jsonl", [{"item": "i9", "labels": ["ok"]}])), load_key(_write(tmp_path / "k.jsonl", key)))


def test_a_before_after_packet_counts_each_version_over_whole_calls(tmp_path):
    from evals.live_audit import before_after_rows, versions

    after = [_row("a", 0, "bank", "Same line.", ""), _row("a", 1, "bank", "New line.", ""), _row("a", 2, "bank", "Kept.", "")]
    before = [_row("a", 0, "bank", "Same line.", ""), _row("a", 1, "bank", "Old line.", ""), _row("a", 2, "bank", "Kept.", "")]
    rows = before_after_rows(after, before)
    assert [(r["line"], r["source"]) for r in rows] == [(0, "bank"), (1, "bank"), (2, "bank"), (1, "before")]
    write_packet(rows, tmp_path, seed=1)
    key = load_key(tmp_path / "key.jsonl")
    item = {(k.line, k.sources[0]): k.item for k in key}
    labels = [{"item": item[(0, "bank")], "labels": ["ok"]}, {"item": item[(1, "bank")], "labels": ["ok"]},
              {"item": item[(2, "bank")], "labels": ["off_point"]}, {"item": item[(1, "before")], "labels": ["garbled"]}]
    fig = versions(load_labels(_write(tmp_path / "labels.jsonl", labels)), key)
    assert fig["after"]["items"] == fig["before"]["items"] == 3
    assert fig["after"]["garbled_off_point_or_contradicts"] == 0.333 and fig["before"]["garbled_off_point_or_contradicts"] == 0.667
    assert fig["after"]["ok"] == 0.667 and fig["before"]["ok"] == 0.333
