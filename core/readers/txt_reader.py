"""Plain-text transcripts: ``Speaker: text`` lines, calls separated by a rule."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.readers.common import (
    Item,
    ReadError,
    TranscriptLimits,
    normalize_speaker,
    physical_lines,
    too_long,
    too_many_turns,
    validate_record,
)

_TXT_TURN = re.compile(
    r"^\s*(?:\[[^\]]{0,20}\]\s*)?(?:\d{1,2}:\d{2}(?::\d{2})?\s+)?"
    r"([A-Za-z][A-Za-z _\-]{0,24}|[\u4e00-\u9fff]{1,4})\s*[:：]\s?(.*)$"
)
_TXT_HEADER = re.compile(r"^\s*#\s*([A-Za-z_]+)\s*:(.*)$")  # value stripped after: no backtracking
_TXT_SEPARATOR = re.compile(r"^\s*(?:={3,}|-{3,})\s*$")


def read_txt(text: str, name: str, limits: TranscriptLimits) -> Iterator[Item]:
    """``Agent: …`` / ``Debtor: …`` lines; ``# id: …`` headers; ``---`` separates calls.

    The id defaults to the file's stem (with ``-2``, ``-3``… for later calls in the file).
    Lines without a speaker continue the previous turn.
    """
    stem = Path(name).stem
    calls: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = 1
    for lineno, line in enumerate(physical_lines(text), start=1):
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
        item = _txt_call(lines, first_line, name, default_id, limits)
        # a problem is located where it is, as in the other formats; a call where it starts
        yield (item.line if isinstance(item, ReadError) else first_line), item


def _txt_call(lines: list[str], first_line: int, name: str, default_id: str, limits: TranscriptLimits) -> Item:
    header: dict[str, str] = {}
    turns: list[tuple[str, list[str]]] = []  # speaker, the turn's stripped lines
    for offset, line in enumerate(lines):
        lineno = first_line + offset
        if not line.strip():
            continue
        if not turns and (m := _TXT_HEADER.match(line)):
            header[m.group(1).lower()] = m.group(2).strip()
            continue
        m = _TXT_TURN.match(line)
        speaker = normalize_speaker(m.group(1)) if m else None
        if speaker:
            turns.append((speaker, [m.group(2).strip()]))
        elif turns:
            turns[-1][1].append(line.strip())
        else:
            tid = header.get("id", default_id)
            return ReadError(name, lineno, "expected 'Speaker: text' (e.g. 'Agent: Hello')", tid)
    tid = header.pop("id", default_id)
    if not turns:
        return ReadError(name, first_line, "no turns found", tid)
    if len(turns) > limits.max_turns:
        return ReadError(name, first_line, too_many_turns(len(turns), limits), tid)
    joined = [{"speaker": speaker, "text": " ".join(p for p in parts if p)} for speaker, parts in turns]
    for i, t in enumerate(joined):
        if len(t["text"]) > limits.max_turn_chars:
            return ReadError(name, first_line, too_long(f"turns[{i}].text", len(t["text"]), limits), tid)
    data: dict[str, Any] = {"id": tid, "turns": joined}
    for key in ("language", "persona"):
        if key in header:
            data[key] = header.pop(key)
    if header:
        data["metadata"] = dict(header)
    return validate_record(data, name, first_line, tid, limits)
