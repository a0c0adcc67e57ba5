"""Lenient transcript readers: JSON Lines, JSON, CSV and plain text, with speaker aliases.

Evaluators bring transcripts from many tools, so reading is forgiving about shape (speaker
aliases, ``role``/``content`` keys, a list or a single object) and strict about reporting: a
transcript that cannot be read becomes a :class:`ReadError` naming the file and the line, in
its place in the input order. Readers never raise on bad input, and one bad transcript never
costs another its place: a broken JSON Lines line, JSON list element or CSV row is reported and
reading goes on after it.

Text encodings: a byte-order mark says UTF-8, UTF-16 or UTF-32; without one, UTF-16 is
recognised by its zero bytes, then UTF-8 is tried; a file that is mostly UTF-8 keeps that and a
transcript holding an undecodable byte becomes an error; otherwise GB18030 if the file reads as
Chinese, else Windows-1252 (Latin-1's superset). Limits (:class:`TranscriptLimits`) bound what one
file or transcript may hold; a transcript over a limit is an error, never truncated.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from core.readers.common import (
    DEFAULT_LIMITS,
    MB,
    SPEAKER_ALIASES,
    SUFFIXES,
    Item,
    ReadError,
    TranscriptLimits,
    normalize_speaker,
    one_line,
    writable,
)
from core.readers.csv_reader import read_csv
from core.readers.decoding import decode_bytes
from core.readers.json_reader import read_json, read_jsonl
from core.readers.txt_reader import read_txt

__all__ = [
    "DEFAULT_LIMITS", "SPEAKER_ALIASES", "SUFFIXES", "Item", "ReadError", "TranscriptLimits", "decode_bytes",
    "iter_located", "iter_paths", "iter_transcripts", "normalize_speaker", "one_line", "read_path", "read_text", "writable",
]


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


def iter_transcripts(inputs: Iterable[Path | str], limits: TranscriptLimits = DEFAULT_LIMITS) -> Iterator[Item]:
    """Every transcript (or read error) in files and folders, in input order."""
    for _, _, item in iter_located(inputs, limits):
        yield item


def iter_located(
    inputs: Iterable[Path | str], limits: TranscriptLimits = DEFAULT_LIMITS
) -> Iterator[tuple[str, int, Item]]:
    """Like :func:`iter_transcripts`, with the file and line each item starts at."""
    for path in iter_paths(inputs):
        for line, item in read_path(path, limits):
            yield str(path), line, item


def read_path(path: Path | str, limits: TranscriptLimits = DEFAULT_LIMITS) -> Iterator[tuple[int, Item]]:
    """Read one file, choosing the format by suffix (unknown suffixes: sniffed).

    Yields ``(line, item)``: the line where the transcript (or the problem) starts.
    """
    path = Path(path)
    name = str(path)
    try:
        size = path.stat().st_size
        if size > limits.max_file_bytes:
            shown = f"{size / MB:,.1f} MB" if size >= MB // 10 else f"{size:,} bytes"
            msg = f"file is {shown}, over the limit of {limits.max_file_mb:g} MB (--max-file-mb)"
            yield 0, ReadError(name, 0, msg)
            return
        raw = path.read_bytes()
    except OSError as exc:
        yield 0, ReadError(name, 0, f"cannot read file: {exc.strerror or exc}")
        return
    text = decode_bytes(raw)
    yield from read_text(text, name, fmt=_format_for(path, text), limits=limits)


def read_text(
    text: str, name: str = "<input>", fmt: str = "jsonl", limits: TranscriptLimits = DEFAULT_LIMITS
) -> Iterator[tuple[int, Item]]:
    """Read transcripts from a string in the given format (jsonl, json, csv or txt)."""
    readers = {"jsonl": read_jsonl, "json": read_json, "csv": read_csv, "txt": read_txt}
    try:
        for out in readers[fmt](text, name, limits):
            yield (out.line, out) if isinstance(out, ReadError) else out
    except Exception as exc:  # a reader bug must still not lose the file: report it in place
        yield 0, ReadError(name, 0, f"unreadable ({type(exc).__name__}: {exc})"[:300])


def _format_for(path: Path, text: str) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix in (".json", ".csv", ".txt"):
        return suffix[1:]
    head = text.lstrip()[:1]
    return "jsonl" if head == "{" else "json" if head == "[" else "txt"
