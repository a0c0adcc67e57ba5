"""JSON Lines and JSON transcripts: a broken line or list element is reported and reading goes on."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator

from core.readers.common import (
    Item,
    ReadError,
    TranscriptLimits,
    from_object,
    one_line,
    physical_lines,
)


def _json_problem(exc: BaseException) -> str:
    """One line saying why ``json`` could not read a value."""
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON: {exc.msg} (column {exc.colno})"
    if isinstance(exc, RecursionError):
        return "invalid JSON: nested too deeply to read"
    if "integer string conversion" in str(exc):
        return f"invalid JSON: a number of more than {sys.get_int_max_str_digits():,} digits"
    return one_line(f"invalid JSON: {exc}")[:300]


def read_jsonl(text: str, name: str, limits: TranscriptLimits) -> Iterator[Item]:
    for lineno, line in enumerate(physical_lines(text), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, a 5,000-digit number, deep nesting
            yield ReadError(name, lineno, _json_problem(exc))
            continue
        yield lineno, from_object(obj, name, lineno, limits)


_WRAPPED_LIST = re.compile(r'\s*\{\s*"transcripts"\s*:\s*\[')


def read_json(text: str, name: str, limits: TranscriptLimits) -> Iterator[Item]:
    """A single transcript, a list of them, or ``{"transcripts": [...]}``.

    Elements of a list are decoded one by one so a bad element is reported at its own line
    and the others are still read.
    """
    stripped = text.lstrip()
    if not stripped:
        yield ReadError(name, 1, "empty file")
        return
    if stripped[0] == "[":
        yield from _read_list(text, len(text) - len(stripped), name, limits)
        return
    if m := _WRAPPED_LIST.match(text):
        yield from _read_list(text, m.end() - 1, name, limits)
        return
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError) as exc:
        yield ReadError(name, getattr(exc, "lineno", 1), _json_problem(exc))
        return
    if isinstance(obj, dict) and isinstance(obj.get("transcripts"), list):
        for item in obj["transcripts"]:
            yield 1, from_object(item, name, 1, limits)
    else:
        yield 1, from_object(obj, name, 1, limits)


def _read_list(text: str, start: int, name: str, limits: TranscriptLimits) -> Iterator[Item]:
    """The elements of the JSON list that opens at ``text[start]``: one item each, in order.

    A broken element is reported at the line it starts on and reading goes on where it ends
    (:func:`_element_end`); an element followed by stray text is broken too. A missing or
    doubled comma between elements is forgiven: it costs no transcript.
    """
    decoder = json.JSONDecoder()
    line_at = _LineCounter(text)
    pos, n = start + 1, len(text)
    # json's error counts the lines before it, so after the first broken element each element
    # is cut out by its brackets and decoded on its own: many broken elements read in linear time
    cut_out = False
    while True:
        pos = _skip_ws(text, pos)
        if pos >= n:
            yield ReadError(name, line_at(pos), "invalid JSON: unterminated list")
            return
        if text[pos] == "]":
            return
        if text[pos] in ",}":  # a doubled comma, or a stray brace where an element should start
            pos += 1
            continue
        lineno = line_at(pos)
        try:
            if cut_out:
                end = _element_end(text, pos, siblings=False)
                obj = json.loads(text[pos:end])
            else:
                obj, end = decoder.raw_decode(text, pos)
        except (ValueError, RecursionError):
            cut_out = True
            end = max(_element_end(text, pos), pos + 1)
            yield ReadError(name, lineno, _element_problem(text, pos, end, lineno))
            if end >= n:
                return
            pos = end
            continue
        after = _skip_ws(text, end)
        if after < n and text[after] not in ",]{":  # text after the element before its comma
            line = line_at(after)
            column = after - text.rfind("\n", 0, after)
            yield ReadError(name, lineno, f"invalid JSON: unexpected text after the element (line {line}, column {column})")
            pos = max(_element_end(text, after), after + 1)
            continue
        yield lineno, from_object(obj, name, lineno, limits)
        pos = end


class _LineCounter:
    """Line numbers of (mostly increasing) positions in one text, counted incrementally."""

    def __init__(self, text: str):
        self.text, self.pos, self.line = text, 0, 1

    def __call__(self, pos: int) -> int:
        if pos < self.pos:
            self.pos, self.line = 0, 1
        self.line += self.text.count("\n", self.pos, pos)
        self.pos = pos
        return self.line


def _element_problem(text: str, start: int, end: int, lineno: int) -> str:
    """Why the element ``text[start:end]`` is not JSON, with the line and column of the fault.

    The element is decoded on its own: ``json``'s error for the whole text would count the
    lines before it again for every broken element.
    """
    try:
        json.loads(text[start:end])
    except json.JSONDecodeError as exc:
        column = exc.colno + (start - text.rfind("\n", 0, start) - 1 if exc.lineno == 1 else 0)
        return f"invalid JSON: {exc.msg} (line {lineno + exc.lineno - 1}, column {column})"
    except (ValueError, RecursionError) as exc:
        return _json_problem(exc)
    return "invalid JSON: expected ',' or ']' after this element"


_STRUCTURE = re.compile(r'["{}\[\],\n]')
_STRING_STOP = re.compile(r'["\\\n]')


def _element_end(text: str, start: int, siblings: bool = True) -> int:
    """Where the list element at ``start`` ends, judged by its structure alone.

    Brackets outside strings balance; a string ends at the end of its line (JSON strings hold
    no raw line breaks, so a lost quote does not swallow the file); and with ``siblings``, when
    the element starts a line, a later line with the same indentation that starts with ``{``
    begins the next one (pretty-printed JSON indents what is inside an element further), so a
    lost bracket does not swallow the file either.
    """
    line_start = text.rfind("\n", 0, start) + 1
    indent = text[line_start:start]
    sibling = re.compile("\n" + re.escape(indent) + r"\{") if siblings and not indent.strip() else None
    depth, i, n = 0, start, len(text)
    while (m := _STRUCTURE.search(text, i)) is not None:
        i, c = m.start(), m.group()
        if c == '"':
            i = _string_end(text, i + 1)
            continue
        if c == "\n":
            if sibling is not None and sibling.match(text, i):
                return i + 1 + len(indent)
        elif c in "{[":
            depth += 1
        elif c in "}]":
            if depth == 0:  # the list's own "]" (or a stray closer): the element ends before it
                return i
            depth -= 1
            if depth == 0:
                return i + 1
        elif depth == 0:  # "," between elements
            return i
        i += 1
    return n


def _string_end(text: str, i: int) -> int:
    """Past the JSON string whose body starts at ``i``: after its closing quote, or at the
    line break that cuts it short."""
    while (m := _STRING_STOP.search(text, i)) is not None:
        if m.group() == '"':
            return m.end()
        if m.group() == "\n":
            return m.start()
        i = m.end() + (m.end() < len(text) and text[m.end()] != "\n")  # skip the escaped character
    return len(text)


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos
