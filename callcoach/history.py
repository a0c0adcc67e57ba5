"""Practice-call history in SQLite: every turn is written as it happens, so nothing is lost.

One file, ``history.sqlite3`` in the user data dir (``platformdirs.user_data_dir("callcoach")``,
or ``$CALLCOACH_DATA_DIR``). WAL mode lets the web app's sessions read while one writes; each
operation opens its own short-lived connection, so the store is safe to share across threads.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from core.transcript import Transcript, Turn

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    id TEXT PRIMARY KEY,
    trainee TEXT NOT NULL,
    persona TEXT,
    language TEXT NOT NULL DEFAULT 'en',
    backend TEXT,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    outcome TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    kind TEXT NOT NULL DEFAULT 'practice'
);
CREATE TABLE IF NOT EXISTS turns (
    call_id TEXT NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    speaker TEXT NOT NULL,
    text TEXT NOT NULL,
    saved_at TEXT NOT NULL,
    PRIMARY KEY (call_id, idx)
);
CREATE TABLE IF NOT EXISTS scores (
    call_id TEXT PRIMARY KEY REFERENCES calls(id) ON DELETE CASCADE,
    rubric TEXT,
    overall REAL,
    passed INTEGER,
    score TEXT NOT NULL,
    scored_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS calls_by_trainee ON calls(trainee, started_at);
"""

# What a call is for: a trainee's practice call counts in their progress; a trainer's test call
# against a persona draft is kept (it can be opened) but never counts in anyone's figures.
PRACTICE, TEST = "practice", "test"
ABANDONED = "abandoned"  # the outcome of a call left unfinished when its page or the server went away


class HistoryError(RuntimeError):
    """The history database cannot be used (corrupt, not a database, unwritable)."""

    def __init__(self, message: str, path: Path, *, damaged: bool = False):
        super().__init__(message)
        self.path = path
        self.damaged = damaged  # True: moving the file aside (move_aside) lets a new one start


def move_aside(path: Path) -> Path:
    """Rename a damaged database (and its WAL files) out of the way; returns the new name."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    path.rename(target)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.rename(target.with_name(target.name + suffix))
    return target


def data_dir() -> Path:
    """callcoach's user data folder (``$CALLCOACH_DATA_DIR`` overrides the platform default)."""
    override = os.environ.get("CALLCOACH_DATA_DIR")
    if override:
        return Path(override)
    from platformdirs import user_data_dir

    return Path(user_data_dir("callcoach"))


def _now() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


@dataclass(frozen=True)
class CallRecord:
    """One row of the history list."""

    id: str
    trainee: str
    persona: str | None
    started_at: str
    ended_at: str | None
    outcome: str | None
    n_turns: int
    overall: float | None
    passed: bool | None
    kind: str = PRACTICE

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class HistoryStore:
    """Calls, their turns (saved one by one) and their scores."""

    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path else data_dir() / "history.sqlite3"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._init_lock = threading.Lock()
        self.read_only = False
        try:
            with self._init_lock, self._connect() as db:
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(_SCHEMA)
                cols = {r["name"] for r in db.execute("PRAGMA table_info(calls)")}
                if "kind" not in cols:  # a history written by an older callcoach
                    db.execute("ALTER TABLE calls ADD COLUMN kind TEXT NOT NULL DEFAULT 'practice'")
                db.execute("PRAGMA quick_check").fetchone()
        except sqlite3.OperationalError as exc:
            if "readonly" not in str(exc) and "read-only" not in str(exc):
                raise HistoryError(f"{self.path}: cannot open the history database ({exc})", self.path) from None
            self.read_only = True  # readable, but nothing new can be saved: the app warns
        except sqlite3.DatabaseError as exc:
            raise HistoryError(
                f"{self.path}: the history database is damaged ({exc}). Move it aside "
                f"(mv '{self.path}' '{self.path}.corrupt') and start again, or use another --data-dir.",
                self.path, damaged=True,
            ) from None
        if not self.read_only and not os.access(self.path, os.W_OK):
            self.read_only = True

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # A connection per operation: sqlite3 connections must not cross threads, and opening
        # one is far cheaper than anything the web app does around it.
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA busy_timeout=30000")
            db.row_factory = sqlite3.Row
            yield db
        finally:
            db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    # --- writing --------------------------------------------------------------------------
    def start_call(
        self,
        call_id: str,
        trainee: str,
        persona: str | None,
        *,
        language: str = "en",
        backend: str | None = None,
        started_at: str | None = None,
        metadata: dict | None = None,
        kind: str = PRACTICE,
    ) -> None:
        """Record a new call (before any turn is spoken). ``kind`` is PRACTICE or TEST."""
        with self._write() as db:
            db.execute(
                "INSERT INTO calls (id, trainee, persona, language, backend, started_at, metadata, kind)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (call_id, trainee, persona, language, backend, started_at or _now(), json.dumps(metadata or {}), kind),
            )

    def add_turn(self, call_id: str, index: int, speaker: str, text: str) -> None:
        """Save one turn (replacing a turn at the same index, e.g. after an undo)."""
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO turns (call_id, idx, speaker, text, saved_at) VALUES (?,?,?,?,?)",
                (call_id, index, speaker, text, _now()),
            )

    def sync_turns(self, call_id: str, turns: list[Turn]) -> None:
        """Make the saved turns equal ``turns``: saves new ones, drops any past the end (undo)."""
        with self._write() as db:
            saved = {r["idx"]: (r["speaker"], r["text"]) for r in db.execute("SELECT idx, speaker, text FROM turns WHERE call_id=?", (call_id,))}
            db.execute("DELETE FROM turns WHERE call_id=? AND idx>=?", (call_id, len(turns)))
            for i, t in enumerate(turns):
                if saved.get(i) != (t.speaker, t.text):
                    db.execute(
                        "INSERT OR REPLACE INTO turns (call_id, idx, speaker, text, saved_at) VALUES (?,?,?,?,?)",
                        (call_id, i, t.speaker, t.text, _now()),
                    )

    def finish_call(self, call_id: str, outcome: str | None, metadata: dict | None = None) -> None:
        """Mark the call ended, with its outcome and final metadata."""
        with self._write() as db:
            if metadata is not None:
                db.execute("UPDATE calls SET metadata=? WHERE id=?", (json.dumps(metadata, default=str), call_id))
            db.execute("UPDATE calls SET ended_at=?, outcome=? WHERE id=?", (_now(), outcome, call_id))

    def abandon_unfinished(self, *, call_id: str | None = None) -> int:
        """Close calls left unfinished (a page closed mid-call, a server restart) as abandoned.

        With ``call_id``, only that call. Returns how many calls were closed.
        """
        sql = "UPDATE calls SET ended_at=?, outcome=? WHERE ended_at IS NULL"
        args: tuple = (_now(), ABANDONED)
        if call_id is not None:
            sql += " AND id=?"
            args += (call_id,)
        with self._write() as db:
            return db.execute(sql, args).rowcount

    def save_score(self, call_id: str, score: dict) -> None:
        """Store the scorer's result (a Score as a dict) for the call."""
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO scores (call_id, rubric, overall, passed, score, scored_at) VALUES (?,?,?,?,?,?)",
                (
                    call_id,
                    score.get("rubric"),
                    score.get("overall"),
                    None if score.get("passed") is None else int(bool(score["passed"])),
                    json.dumps(score, default=str),
                    _now(),
                ),
            )

    # --- reading --------------------------------------------------------------------------
    def list_calls(self, trainee: str | None = None, limit: int = 500, *, kind: str | None = PRACTICE) -> list[CallRecord]:
        """Calls, newest first; one trainee's when ``trainee`` is given (case-insensitive).

        ``kind`` keeps one kind of call (practice calls by default; None for every kind).
        """
        sql = (
            "SELECT c.id, c.trainee, c.persona, c.started_at, c.ended_at, c.outcome, c.kind, s.overall, s.passed,"
            " (SELECT COUNT(*) FROM turns t WHERE t.call_id=c.id) AS n_turns"
            " FROM calls c LEFT JOIN scores s ON s.call_id=c.id"
        )
        where, args = [], []
        if trainee is not None:
            where.append("lower(c.trainee)=lower(?)")
            args.append(trainee.strip())
        if kind is not None:
            where.append("c.kind=?")
            args.append(kind)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY c.started_at DESC, c.rowid DESC LIMIT ?"
        with self._connect() as db:
            rows = db.execute(sql, (*args, limit)).fetchall()
        return [
            CallRecord(
                r["id"], r["trainee"], r["persona"], r["started_at"], r["ended_at"], r["outcome"], r["n_turns"],
                r["overall"], None if r["passed"] is None else bool(r["passed"]), r["kind"],
            )
            for r in rows
        ]

    def trainees(self) -> list[str]:
        with self._connect() as db:
            return [r[0] for r in db.execute(
                "SELECT DISTINCT trainee FROM calls WHERE kind=? ORDER BY lower(trainee)", (PRACTICE,))]

    def owner(self, call_id: str) -> str | None:
        """The trainee a call belongs to (None when there is no such call)."""
        with self._connect() as db:
            row = db.execute("SELECT trainee FROM calls WHERE id=?", (call_id,)).fetchone()
        return row["trainee"] if row else None

    def is_finished(self, call_id: str) -> bool:
        with self._connect() as db:
            row = db.execute("SELECT ended_at FROM calls WHERE id=?", (call_id,)).fetchone()
        return bool(row and row["ended_at"])

    def transcript(self, call_id: str) -> Transcript:
        """The call as saved so far, in the transcript contract (works for unfinished calls)."""
        with self._connect() as db:
            call = db.execute("SELECT * FROM calls WHERE id=?", (call_id,)).fetchone()
            if call is None:
                raise KeyError(f"no saved call '{call_id}'")
            turns = db.execute("SELECT speaker, text FROM turns WHERE call_id=? ORDER BY idx", (call_id,)).fetchall()
        meta = json.loads(call["metadata"] or "{}")
        meta.setdefault("started_at", call["started_at"])
        meta.setdefault("agent_name", call["trainee"])
        if call["outcome"]:
            meta["outcome"] = call["outcome"]
        return Transcript(
            id=call["id"], language=call["language"], persona=call["persona"],
            turns=[Turn(speaker=t["speaker"], text=t["text"]) for t in turns], metadata=meta,
        )

    def score(self, call_id: str) -> dict | None:
        with self._connect() as db:
            row = db.execute("SELECT score FROM scores WHERE call_id=?", (call_id,)).fetchone()
        return json.loads(row["score"]) if row else None

    def score_series(self, trainee: str | None = None) -> list[dict]:
        """Scored practice calls oldest first, for the progress chart (test calls never count)."""
        rows = [c for c in self.list_calls(trainee) if c.overall is not None]
        return [
            {"call_id": c.id, "trainee": c.trainee, "started_at": c.started_at, "persona": c.persona, "overall": c.overall, "passed": c.passed}
            for c in reversed(rows)
        ]


__all__ = ["move_aside", "ABANDONED", "PRACTICE", "TEST", "CallRecord", "HistoryError", "HistoryStore", "data_dir"]
