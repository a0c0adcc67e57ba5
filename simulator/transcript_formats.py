"""Lenient transcript readers: JSON Lines, JSON, CSV and plain text, with speaker aliases.

Evaluators bring transcripts from many tools, so reading is forgiving about shape (speaker
aliases, ``role``/``content`` keys, a list or a single object) and strict about reporting: a
transcript that cannot be read becomes a :class:`ReadError` naming the file and the line, in
its place in the input order. Readers never raise on bad input.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from simulator.transcript import Transcript

SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".txt")

# Lower-cased, with spaces and hyphens folded to "_" before lookup.
SPEAKER_ALIASES: dict[str, str] = {
    **dict.fromkeys(
        ["agent", "collector", "trainee", "rep", "representative", "caller", "operator",
         "csr", "staff", "assistant_agent", "debt_collector", "催收员", "坐席", "客服", "催收"],
        "agent",
    ),
    **dict.fromkeys(
        ["debtor", "customer", "consumer", "borrower", "client", "user", "callee", "account_holder",
         "cardholder", "债务人", "客户", "借款人", "用户"],
        "debtor",
    ),
    **dict.fromkeys(
        ["third_party", "thirdparty", "other", "relative", "family", "spouse", "roommate",
         "colleague", "第三方", "家属", "亲属"],
        "third_party",
    ),
}

_ID_KEYS = ("id", "call_id", "conversation_id", "transcript_id")
_TURN_LIST_KEYS = ("turns", "messages", "utterances", "dialogue")
_SPEAKER_KEYS = ("speaker", "role", "who", "party", "from")
_TEXT_KEYS = ("text", "content", "utterance", "message", "transcript")
_CSV_TURN_KEYS = ("turn", "turn_index", "index", "seq", "n")


@dataclass(frozen=True)
class ReadError:
    """A transcript (or a whole file) that could not be read: where and why."""

    file: str
    line: int
    message: str
    id: str | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"

    def to_record(self) -> dict[str, Any]:
        """The ``{"id": …, "error": …}`` line that `callcoach score` writes in its place."""
        return {"id": self.id if self.id is not None else f"{self.file}:{self.line}", "error": str(self)}


Item = Transcript | ReadError


def normalize_speaker(value: Any) -> str | None:
    """Map a speaker label (``Collector``, ``customer``, ``客户``…) to the contract's three."""
    if not isinstance(value, str):
        return None
    key = re.sub(r"[\s\-]+", "_", value.strip().lower())
    return SPEAKER_ALIASES.get(key)


def iter_paths(inputs: Iterable[Path | str]) -> Iterator[Path]:
    """Files named directly, then folders walked in sorted order (readable suffixes only)."""
    for raw in inputs:
        p = Path(raw)
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and f.suffix.lower() in SUFFIXES and not f.name.startswith("."):
                    yield f
        else:
            yield p


def iter_transcripts(inputs: Iterable[Path | str]) -> Iterator[Item]:
    """Every transcript (or read error) in files and folders, in input order."""
    for _, _, item in iter_located(inputs):
        yield item


def iter_located(inputs: Iterable[Path | str]) -> Iterator[tuple[str, int, Item]]:
    """Like :func:`iter_transcripts`, with the file and line each item starts at."""
    for path in iter_paths(inputs):
        for line, item in read_path(path):
            yield str(path), line, item


def read_path(path: Path | str) -> Iterator[tuple[int, Item]]:
    """Read one file, choosing the format by suffix (unknown suffixes: sniffed).

    Yields ``(line, item)``: the line where the transcript (or the problem) starts.
    """
    path = Path(path)
    name = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        yield 0, ReadError(name, 0, f"cannot read file: {exc.strerror or exc}")
        return
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        yield line, ReadError(name, line, "not UTF-8 text")
        return
    yield from read_text(text, name, fmt=_format_for(path, text))


def read_text(text: str, name: str = "<input>", fmt: str = "jsonl") -> Iterator[tuple[int, Item]]:
    """Read transcripts from a string in the given format (jsonl, json, csv or txt)."""
    readers = {"jsonl": _read_jsonl, "json": _read_json, "csv": _read_csv, "txt": _read_txt}
    try:
        for out in readers[fmt](text, name):
            yield (out.line, out) if isinstance(out, ReadError) else out
    except Exception as exc:  # a reader bug must still not lose the file: report it in place
        yield 0, ReadError(name, 0, f"unreadable ({type(exc).__name__}: {exc})")


def _format_for(path: Path, text: str) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix in (".json", ".csv", ".txt"):
        return suffix[1:]
    head = text.lstrip()[:1]
    return "jsonl" if head == "{" else "json" if head == "[" else "txt"


# --- JSON and JSON Lines -------------------------------------------------------------------


def _read_jsonl(text: str, name: str) -> Iterator[Item]:
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield ReadError(name, lineno, f"invalid JSON: {exc.msg} (column {exc.colno})")
            continue
        yield lineno, _from_object(obj, name, lineno)


def _read_json(text: str, name: str) -> Iterator[Item]:
    """A single transcript, a list of them, or ``{"transcripts": [...]}``.

    Elements of a list are decoded one by one so a bad element is reported at its own line
    and the others are still read.
    """
    stripped = text.lstrip()
    if not stripped:
        yield ReadError(name, 1, "empty file")
        return
    decoder = json.JSONDecoder()
    start = len(text) - len(stripped)
    if stripped[0] != "[":
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            yield ReadError(name, exc.lineno, f"invalid JSON: {exc.msg} (column {exc.colno})")
            return
        if isinstance(obj, dict) and isinstance(obj.get("transcripts"), list):
            for item in obj["transcripts"]:
                yield 1, _from_object(item, name, 1)
        else:
            yield 1, _from_object(obj, name, 1)
        return
    pos = start + 1
    while True:
        pos = _skip_ws(text, pos)
        if pos >= len(text):
            yield ReadError(name, _line_at(text, pos), "invalid JSON: unterminated list")
            return
        if text[pos] == "]":
            return
        lineno = _line_at(text, pos)
        try:
            obj, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            yield ReadError(name, exc.lineno, f"invalid JSON: {exc.msg} (column {exc.colno})")
            return
        yield lineno, _from_object(obj, name, lineno)
        pos = _skip_ws(text, pos)
        if pos < len(text) and text[pos] == ",":
            pos += 1
        elif pos < len(text) and text[pos] == "]":
            return
        else:
            yield ReadError(name, _line_at(text, pos), "invalid JSON: expected ',' or ']'")
            return


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _line_at(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _first(obj: dict, keys: tuple[str, ...]) -> Any:
    for k in keys:
        if k in obj:
            return obj[k]
    return None


def _from_object(obj: Any, name: str, lineno: int) -> Item:
    if not isinstance(obj, dict):
        return ReadError(name, lineno, f"expected a JSON object, got {type(obj).__name__}")
    raw_id = _first(obj, _ID_KEYS)
    tid = str(raw_id) if isinstance(raw_id, (str, int)) and not isinstance(raw_id, bool) else None
    if tid is None or not tid.strip():
        return ReadError(name, lineno, "missing 'id'", None)
    turns_raw = _first(obj, _TURN_LIST_KEYS)
    if not isinstance(turns_raw, list):
        return ReadError(name, lineno, "missing 'turns' (a list of {speaker, text})", tid)
    turns = []
    for i, t in enumerate(turns_raw):
        if not isinstance(t, dict):
            return ReadError(name, lineno, f"turns[{i}]: expected an object", tid)
        speaker_raw = _first(t, _SPEAKER_KEYS)
        speaker = normalize_speaker(speaker_raw)
        if speaker is None:
            return ReadError(name, lineno, f"turns[{i}].speaker: unknown speaker {speaker_raw!r}", tid)
        text = _first(t, _TEXT_KEYS)
        if not isinstance(text, str):
            return ReadError(name, lineno, f"turns[{i}].text: expected a string", tid)
        turns.append({"speaker": speaker, "text": text})
    data = {k: v for k, v in obj.items() if k not in _ID_KEYS and k not in _TURN_LIST_KEYS}
    data.update(id=tid, turns=turns)
    return _validate(data, name, lineno, tid)


def _validate(data: dict, name: str, lineno: int, tid: str | None) -> Item:
    try:
        return Transcript.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "transcript"
        return ReadError(name, lineno, f"{loc}: {err['msg']}", tid)


# --- CSV -------------------------------------------------------------------------------------


def _read_csv(text: str, name: str) -> Iterator[Item]:
    """One turn a row: ``id,turn,speaker,text`` (column aliases accepted), grouped by id."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        yield ReadError(name, 1, "empty file")
        return
    except csv.Error as exc:
        yield ReadError(name, 1, f"invalid CSV: {exc}")
        return
    cols = [h.strip().lower() for h in header]

    def col(keys: tuple[str, ...]) -> int | None:
        return next((cols.index(k) for k in keys if k in cols), None)

    i_id, i_speaker, i_text = col(_ID_KEYS), col(_SPEAKER_KEYS), col(_TEXT_KEYS)
    i_turn, i_lang = col(_CSV_TURN_KEYS), col(("language", "lang"))
    if i_id is None or i_speaker is None or i_text is None:
        yield ReadError(name, 1, "header must name id, speaker and text columns (e.g. id,turn,speaker,text)")
        return
    order: list[str] = []
    calls: dict[str, dict[str, Any]] = {}
    while True:
        lineno = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            yield ReadError(name, lineno, f"invalid CSV: {exc}")
            return
        if not any(cell.strip() for cell in row):
            continue
        tid = row[i_id].strip() if i_id < len(row) else ""
        if not tid:
            order.append(f"\0{lineno}")
            calls[f"\0{lineno}"] = {"error": ReadError(name, lineno, "missing id")}
            continue
        call = calls.get(tid)
        if call is None:
            order.append(tid)
            call = calls[tid] = {"line": lineno, "turns": [], "language": None, "error": None}
        if call["error"]:
            continue
        if len(row) <= max(i_speaker, i_text):
            call["error"] = ReadError(name, lineno, f"expected {len(cols)} columns, got {len(row)}", tid)
            continue
        speaker = normalize_speaker(row[i_speaker])
        if speaker is None:
            call["error"] = ReadError(name, lineno, f"speaker: unknown speaker {row[i_speaker]!r}", tid)
            continue
        key: float = len(call["turns"])
        if i_turn is not None and i_turn < len(row) and row[i_turn].strip():
            try:
                key = float(row[i_turn])
            except ValueError:
                call["error"] = ReadError(name, lineno, f"turn: not a number {row[i_turn]!r}", tid)
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
        yield call["line"], _validate(data, name, call["line"], tid)


# --- plain text ------------------------------------------------------------------------------

_TXT_TURN = re.compile(
    r"^\s*(?:\[[^\]]{0,20}\]\s*)?(?:\d{1,2}:\d{2}(?::\d{2})?\s+)?"
    r"([A-Za-z][A-Za-z _\-]{0,24}|[\u4e00-\u9fff]{1,4})\s*[:：]\s?(.*)$"
)
_TXT_HEADER = re.compile(r"^\s*#\s*([A-Za-z_]+)\s*:\s*(.*?)\s*$")
_TXT_SEPARATOR = re.compile(r"^\s*(?:={3,}|-{3,})\s*$")


def _read_txt(text: str, name: str) -> Iterator[Item]:
    """``Agent: …`` / ``Debtor: …`` lines; ``# id: …`` headers; ``---`` separates calls.

    The id defaults to the file's stem (with ``-2``, ``-3``… for later calls in the file).
    Lines without a speaker continue the previous turn.
    """
    stem = Path(name).stem
    calls: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = 1
    for lineno, line in enumerate(text.splitlines(), start=1):
        if _TXT_SEPARATOR.match(line):
            if any(x.strip() for x in current):
                calls.append((start, current))
            current, start = [], lineno + 1
            continue
        current.append(line)
    if any(x.strip() for x in current) or not calls:
        calls.append((start, current))
    for n, (first_line, lines) in enumerate(calls, start=1):
        default_id = stem if n == 1 else f"{stem}-{n}"
        yield first_line, _txt_call(lines, first_line, name, default_id)


def _txt_call(lines: list[str], first_line: int, name: str, default_id: str) -> Item:
    header: dict[str, str] = {}
    turns: list[dict[str, str]] = []
    for offset, line in enumerate(lines):
        lineno = first_line + offset
        if not line.strip():
            continue
        if not turns and (m := _TXT_HEADER.match(line)):
            header[m.group(1).lower()] = m.group(2)
            continue
        m = _TXT_TURN.match(line)
        speaker = normalize_speaker(m.group(1)) if m else None
        if speaker:
            turns.append({"speaker": speaker, "text": m.group(2).strip()})
        elif turns:
            turns[-1]["text"] = (turns[-1]["text"] + " " + line.strip()).strip()
        else:
            tid = header.get("id", default_id)
            return ReadError(name, lineno, "expected 'Speaker: text' (e.g. 'Agent: Hello')", tid)
    tid = header.pop("id", default_id)
    if not turns:
        return ReadError(name, first_line, "no turns found", tid)
    data: dict[str, Any] = {"id": tid, "turns": turns}
    for key in ("language", "persona"):
        if key in header:
            data[key] = header.pop(key)
    if header:
        data["metadata"] = dict(header)
    return _validate(data, name, first_line, tid)
