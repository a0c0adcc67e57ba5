"""CSV transcripts: one turn a row, grouped by call id."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from core.readers.common import (
    CSV_TURN_KEYS,
    ID_KEYS,
    SPEAKER_KEYS,
    TEXT_KEYS,
    Item,
    ReadError,
    TranscriptLimits,
    normalize_speaker,
    show,
    too_long,
    too_many_turns,
    validate_record,
)


def read_csv(text: str, name: str, limits: TranscriptLimits) -> Iterator[Item]:
    """One turn a row: ``id,turn,speaker,text`` (column aliases accepted), grouped by id.

    A row that cannot be parsed (a quote that is never closed) is an error for its call, and
    reading goes on at the next line.
    """
    _allow_csv_fields(len(text))
    rows = _csv_rows(io.StringIO(text, newline="").readlines())
    first = next(rows, None)
    if first is None:
        yield ReadError(name, 1, "empty file")
        return
    _, header, problem = first
    if problem:
        yield ReadError(name, 1, problem)
        return
    cols = [h.strip().lower() for h in header]

    def col(keys: tuple[str, ...]) -> int | None:
        return next((cols.index(k) for k in keys if k in cols), None)

    i_id, i_speaker, i_text = col(ID_KEYS), col(SPEAKER_KEYS), col(TEXT_KEYS)
    i_turn, i_lang = col(CSV_TURN_KEYS), col(("language", "lang"))
    if i_id is None or i_speaker is None or i_text is None:
        yield ReadError(name, 1, "header must name id, speaker and text columns (e.g. id,turn,speaker,text)")
        return
    order: list[str] = []
    calls: dict[str, dict[str, Any]] = {}
    for lineno, row, problem in rows:
        if problem is None and not any(cell.strip() for cell in row):
            continue
        tid = row[i_id].strip() if i_id < len(row) else ""
        if not tid:
            order.append(f"\0{lineno}")
            calls[f"\0{lineno}"] = {"error": ReadError(name, lineno, problem or "missing id")}
            continue
        call = calls.get(tid)
        if call is None:
            order.append(tid)
            call = calls[tid] = {"line": lineno, "turns": [], "language": None, "error": None}
        if call["error"]:
            continue
        if problem:
            call["error"] = ReadError(name, lineno, problem, tid)
            continue
        if len(row) <= max(i_speaker, i_text):
            call["error"] = ReadError(name, lineno, f"expected {len(cols)} columns, got {len(row)}", tid)
            continue
        speaker = normalize_speaker(row[i_speaker])
        if speaker is None:
            call["error"] = ReadError(name, lineno, f"speaker: unknown speaker {show.repr(row[i_speaker])}", tid)
            continue
        if len(row[i_text]) > limits.max_turn_chars:
            call["error"] = ReadError(name, lineno, too_long(cols[i_text], len(row[i_text]), limits), tid)
            continue
        if len(call["turns"]) >= limits.max_turns:
            call["error"] = ReadError(name, lineno, too_many_turns(None, limits), tid)
            continue
        key: float = len(call["turns"])
        if i_turn is not None and i_turn < len(row) and row[i_turn].strip():
            try:
                key = float(row[i_turn])
            except ValueError:
                call["error"] = ReadError(name, lineno, f"turn: not a number {show.repr(row[i_turn])}", tid)
                continue
        if i_lang is not None and i_lang < len(row) and row[i_lang].strip():
            call["language"] = row[i_lang].strip()
        call["turns"].append((key, len(call["turns"]), {"speaker": speaker, "text": row[i_text]}))
    for tid in order:
        call = calls[tid]
        if call["error"]:
            yield call["error"]
            continue
        turns = [t for _, _, t in sorted(call["turns"], key=lambda x: (x[0], x[1]))]
        data: dict[str, Any] = {"id": tid, "turns": turns}
        if call["language"]:
            data["language"] = call["language"]
        yield call["line"], validate_record(data, name, call["line"], tid, limits)


def _allow_csv_fields(chars: int) -> None:
    """Let ``csv`` read a field as long as the whole text: its default limit (128 KiB) raises
    mid-file and would cost every later row. Turn length is checked against the limits instead.
    The setting is process-wide, so it is only ever raised."""
    wanted = min(chars + 1, 2**31 - 1)
    if csv.field_size_limit() < wanted:
        csv.field_size_limit(wanted)


class _LineFeed:
    """Physical lines for ``csv.reader``, one at a time, so reading can restart at any line."""

    def __init__(self, lines: list[str]):
        self.lines, self.next = lines, 0

    def __iter__(self) -> _LineFeed:
        return self

    def __next__(self) -> str:
        if self.next >= len(self.lines):
            raise StopIteration
        self.next += 1
        return self.lines[self.next - 1]


def _csv_rows(lines: list[str]) -> Iterator[tuple[int, list[str], str | None]]:
    """``(line, row, problem)`` for each CSV record, in order; ``problem`` is None when it parsed.

    Parsing is strict about quotes: a quote that is never closed, or one "closed" by a later
    row's quote (``"yes`` after the closing quote), would otherwise take the rows after it into
    one field. Such a record is reported at its first line, with the cells that line holds,
    and reading restarts at the next line. Inside the bad span every quote was part of a
    ``""`` pair, so no span is read more than twice.
    """
    feed = _LineFeed(lines)
    reader = csv.reader(feed, strict=True)
    while feed.next < len(lines):
        first = feed.next
        try:
            yield first + 1, next(reader), None
            continue
        except StopIteration:
            return
        except csv.Error as exc:
            if "unexpected end of data" in str(exc):
                problem = "invalid CSV: a quote opened on this line is never closed"
            elif feed.next - first > 1:
                problem = f"invalid CSV: a quote opened on this line is closed on line {feed.next} ({exc})"
            else:
                problem = f"invalid CSV: {exc}"
        yield first + 1, _lenient_row(lines[first]), problem
        feed.next = first + 1
        reader = csv.reader(feed, strict=True)


def _lenient_row(line: str) -> list[str]:
    try:
        return next(csv.reader([line]), [])
    except csv.Error:
        return []
