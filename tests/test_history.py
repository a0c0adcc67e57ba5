"""The SQLite history store: turns saved one by one, undo, scores, many threads at once."""

from __future__ import annotations

import sqlite3
import threading

from callcoach.history import HistoryStore, data_dir
from core.transcript import Turn


def test_data_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("CALLCOACH_DATA_DIR", str(tmp_path / "here"))
    assert data_dir() == tmp_path / "here"
    store = HistoryStore()
    assert store.path == tmp_path / "here" / "history.sqlite3"


def test_wal_mode(tmp_path):
    store = HistoryStore(tmp_path / "h.sqlite3")
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_turns_are_saved_as_they_come_and_survive_a_restart(tmp_path):
    path = tmp_path / "h.sqlite3"
    store = HistoryStore(path)
    store.start_call("c1", "Sam", "hostile-mark", metadata={"seed": 3})
    store.add_turn("c1", 0, "debtor", "Yeah?")
    store.add_turn("c1", 1, "agent", "Hi, this is Sam.")
    # a new store on the same file (the app restarted mid-call) sees both turns
    again = HistoryStore(path)
    t = again.transcript("c1")
    assert [(x.speaker, x.text) for x in t.turns] == [("debtor", "Yeah?"), ("agent", "Hi, this is Sam.")]
    assert t.persona == "hostile-mark" and t.metadata["seed"] == 3 and t.metadata["agent_name"] == "Sam"
    rec = again.list_calls("sam")[0]
    assert rec.n_turns == 2 and rec.ended_at is None and rec.overall is None


def test_sync_turns_drops_undone_turns(tmp_path):
    store = HistoryStore(tmp_path / "h.sqlite3")
    store.start_call("c1", "Sam", "p")
    turns = [Turn(speaker="debtor", text="Hello?"), Turn(speaker="agent", text="Hi"), Turn(speaker="debtor", text="Who?")]
    store.sync_turns("c1", turns)
    store.sync_turns("c1", turns[:1])
    assert len(store.transcript("c1").turns) == 1
    store.sync_turns("c1", [turns[0], Turn(speaker="agent", text="Hello, this is Sam")])
    assert store.transcript("c1").turns[1].text == "Hello, this is Sam"


def test_scores_and_series(tmp_path):
    store = HistoryStore(tmp_path / "h.sqlite3")
    for i, (who, overall, passed) in enumerate([("Sam", 50.0, False), ("Ana", 90.0, True), ("Sam", 80.0, True)]):
        cid = f"c{i}"
        store.start_call(cid, who, "p", started_at=f"2026-11-0{i + 1}T10:00:00+00:00")
        store.finish_call(cid, "promise_to_pay", {"outcome": "promise_to_pay"})
        store.save_score(cid, {"id": cid, "rubric": "default-en", "overall": overall, "passed": passed, "criteria": {}})
    assert [p["overall"] for p in store.score_series("Sam")] == [50.0, 80.0]  # oldest first
    assert len(store.score_series()) == 3
    assert store.trainees() == ["Ana", "Sam"]
    assert store.score("c1")["passed"] is True
    assert store.transcript("c0").metadata["outcome"] == "promise_to_pay"


def test_many_threads_write_at_once(tmp_path):
    store = HistoryStore(tmp_path / "h.sqlite3")
    errors = []

    def worker(n: int) -> None:
        try:
            cid = f"call-{n}"
            store.start_call(cid, f"trainee-{n}", "p")
            for i in range(20):
                store.add_turn(cid, i, "agent" if i % 2 else "debtor", f"{n}:{i}")
            store.finish_call(cid, "ended_by_agent")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for n in range(8):
        turns = store.transcript(f"call-{n}").turns
        assert [t.text for t in turns] == [f"{n}:{i}" for i in range(20)]
