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

import codecs
import csv
import io
import json
import re
import reprlib
import sys
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

_MB = 1024 * 1024


@dataclass(frozen=True)
class TranscriptLimits:
    """What one input file or transcript may hold (``callcoach score --max-…``; the web app).

    A transcript over a limit becomes one :class:`ReadError` that names the limit; nothing is
    truncated. A file over ``max_file_mb`` is not read at all: one error for the whole file.
    """

    max_file_mb: float = 50
    max_turns: int = 400  # turns in one call
    max_turn_chars: int = 4_000  # characters in one turn's text
    max_depth: int = 64  # nesting of JSON objects and lists in one transcript

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * _MB)


DEFAULT_LIMITS = TranscriptLimits()


@dataclass(frozen=True)
class ReadError:
    """A transcript (or a whole file) that could not be read: where and why."""

    file: str
    line: int
    message: str
    id: str | None = None

    def __str__(self) -> str:
        return one_line(f"{self.file}:{self.line}: {self.message}")

    def to_record(self) -> dict[str, Any]:
        """The ``{"id": …, "error": …}`` line that `callcoach score` writes in its place."""
        tid = self.id if self.id is not None else f"{self.file}:{self.line}"
        return {"id": writable(tid), "error": str(self)}


Item = Transcript | ReadError


def writable(text: str) -> str:
    """``text`` with lone surrogates (a bad ``\\ud800`` escape, an undecodable file name) spelled
    ``\\ud800``, so it can be written as UTF-8; inside a JSON string that spelling is the same
    escape, so a JSON line passed through here still reads back as it was."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


_LINE_BREAKS = {ord(c): repr(c)[1:-1] for c in "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"}


def one_line(text: str) -> str:
    """``text`` as one writable line: line breaks shown as escapes (``\\n``)."""
    return writable(text).translate(_LINE_BREAKS)


_show = reprlib.Repr()
_show.maxstring, _show.maxother, _show.maxlevel = 60, 60, 2


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
            shown = f"{size / _MB:,.1f} MB" if size >= _MB // 10 else f"{size:,} bytes"
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
    readers = {"jsonl": _read_jsonl, "json": _read_json, "csv": _read_csv, "txt": _read_txt}
    try:
        for out in readers[fmt](text, name, limits):
            yield (out.line, out) if isinstance(out, ReadError) else out
    except Exception as exc:  # a reader bug must still not lose the file: report it in place
        yield 0, ReadError(name, 0, f"unreadable ({type(exc).__name__}: {exc})"[:300])


# --- text encodings --------------------------------------------------------------------------

_BOMS = (  # UTF-32 first: its little-endian mark begins with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"), (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_UNDECODABLE = re.compile("[\udc80-\udcff]")  # bytes kept by the surrogateescape handler
_NON_ASCII = re.compile("[^\x00-\x7f]")


def decode_bytes(raw: bytes) -> str:
    """A file's text (see the module docstring for how the encoding is chosen).

    Bytes the chosen encoding cannot decode are kept as U+DC80..U+DCFF, so the transcript that
    holds them is reported (:func:`_scan`) and the others are still read.
    """
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            return _decode(raw[len(bom):], encoding)
    half = len(raw) // 2
    if half and raw.count(0) * 4 >= half:  # UTF-16 without a mark: every other byte is zero in ASCII text
        even, odd = raw[0::2].count(0), raw[1::2].count(0)
        if odd * 4 >= half and even * 20 <= half:
            return _decode(raw, "utf-16-le")
        if even * 4 >= half and odd * 20 <= half:
            return _decode(raw, "utf-16-be")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    text = raw.decode("utf-8", "surrogateescape")
    bad = len(_UNDECODABLE.findall(text))
    if len(_NON_ASCII.findall(text)) - bad >= bad:  # mostly UTF-8, a few bad bytes
        return text
    if _reads_as_chinese(raw):
        return raw.decode("gb18030")
    return raw.decode("cp1252", "surrogateescape")  # 0x81, 0x8D, 0x8F, 0x90 and 0x9D are undefined


def _decode(raw: bytes, encoding: str) -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError:
        pass
    handler = "surrogateescape" if encoding == "utf-8" else "surrogatepass"
    try:  # a bad byte in UTF-8, a lone surrogate in UTF-16/32 data: kept, then reported
        return raw.decode(encoding, handler)
    except UnicodeDecodeError:
        return raw.decode(encoding, "replace")


def _reads_as_chinese(raw: bytes) -> bool:
    """GB18030 that decodes cleanly and whose non-ASCII text is nearly all GB2312 characters
    (both bytes 0xA1-0xFE); Latin-1 accents, followed by ASCII letters, are not."""
    try:
        text = raw.decode("gb18030")
    except UnicodeDecodeError:
        return False
    chars = _NON_ASCII.findall(text)
    if not chars:
        return False
    counts: dict[str, int] = {}
    for ch in chars:
        counts[ch] = counts.get(ch, 0) + 1
    in_zone = sum(n for ch, n in counts.items() if _gb2312(ch))
    return in_zone >= 0.8 * len(chars)


def _gb2312(ch: str) -> bool:
    b = ch.encode("gb18030")
    return len(b) == 2 and b[0] >= 0xA1 and b[1] >= 0xA1


def _format_for(path: Path, text: str) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix in (".json", ".csv", ".txt"):
        return suffix[1:]
    head = text.lstrip()[:1]
    return "jsonl" if head == "{" else "json" if head == "[" else "txt"


# --- JSON and JSON Lines -------------------------------------------------------------------

_NEWLINE = re.compile(r"\r\n|\r|\n")


def _lines(text: str) -> list[str]:
    """Physical lines, split at CR, LF and CRLF only: ``str.splitlines`` also splits at U+2028,
    U+2029, U+0085 and other characters that JSON strings and plain text may hold."""
    lines = _NEWLINE.split(text)
    if lines[-1] == "":
        lines.pop()
    return lines


def _json_problem(exc: BaseException) -> str:
    """One line saying why ``json`` could not read a value."""
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON: {exc.msg} (column {exc.colno})"
    if isinstance(exc, RecursionError):
        return "invalid JSON: nested too deeply to read"
    if "integer string conversion" in str(exc):
        return f"invalid JSON: a number of more than {sys.get_int_max_str_digits():,} digits"
    return one_line(f"invalid JSON: {exc}")[:300]


def _read_jsonl(text: str, name: str, limits: TranscriptLimits) -> Iterator[Item]:
    for lineno, line in enumerate(_lines(text), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, a 5,000-digit number, deep nesting
            yield ReadError(name, lineno, _json_problem(exc))
            continue
        yield lineno, _from_object(obj, name, lineno, limits)


_WRAPPED_LIST = re.compile(r'\s*\{\s*"transcripts"\s*:\s*\[')


def _read_json(text: str, name: str, limits: TranscriptLimits) -> Iterator[Item]:
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
            yield 1, _from_object(item, name, 1, limits)
    else:
        yield 1, _from_object(obj, name, 1, limits)


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
        yield lineno, _from_object(obj, name, lineno, limits)
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


def _first(obj: dict, keys: tuple[str, ...]) -> Any:
    for k in keys:
        if k in obj:
            return obj[k]
    return None


def _too_many_turns(count: int | None, limits: TranscriptLimits) -> str:
    what = f"{count:,} turns" if count is not None else f"more than {limits.max_turns:,} turns"
    return f"{what}, over the limit of {limits.max_turns:,} a call (--max-turns)"


def _too_long(field: str, chars: int, limits: TranscriptLimits) -> str:
    return f"{field}: {chars:,} characters, over the limit of {limits.max_turn_chars:,} a turn (--max-turn-chars)"


def _from_object(obj: Any, name: str, lineno: int, limits: TranscriptLimits) -> Item:
    if not isinstance(obj, dict):
        return ReadError(name, lineno, f"expected a JSON object, got {type(obj).__name__}")
    raw_id = _first(obj, _ID_KEYS)
    tid = str(raw_id) if isinstance(raw_id, (str, int)) and not isinstance(raw_id, bool) else None
    if tid is None or not tid.strip():
        return ReadError(name, lineno, "missing 'id'", None)
    turns_raw = _first(obj, _TURN_LIST_KEYS)
    if not isinstance(turns_raw, list):
        return ReadError(name, lineno, "missing 'turns' (a list of {speaker, text})", tid)
    if len(turns_raw) > limits.max_turns:
        return ReadError(name, lineno, _too_many_turns(len(turns_raw), limits), tid)
    turns = []
    for i, t in enumerate(turns_raw):
        if not isinstance(t, dict):
            return ReadError(name, lineno, f"turns[{i}]: expected an object", tid)
        speaker_raw = _first(t, _SPEAKER_KEYS)
        speaker = normalize_speaker(speaker_raw)
        if speaker is None:
            return ReadError(name, lineno, f"turns[{i}].speaker: unknown speaker {_show.repr(speaker_raw)}", tid)
        text = _first(t, _TEXT_KEYS)
        if not isinstance(text, str):
            return ReadError(name, lineno, f"turns[{i}].text: expected a string", tid)
        if len(text) > limits.max_turn_chars:
            return ReadError(name, lineno, _too_long(f"turns[{i}].text", len(text), limits), tid)
        turns.append({"speaker": speaker, "text": text})
    data = {k: v for k, v in obj.items() if k not in _ID_KEYS and k not in _TURN_LIST_KEYS}
    data.update(id=tid, turns=turns)
    return _validate(data, name, lineno, tid, limits)


def _validate(data: dict, name: str, lineno: int, tid: str | None, limits: TranscriptLimits) -> Item:
    problem = _scan(data, limits.max_depth)
    if problem:
        return ReadError(name, lineno, problem, tid)
    try:
        return Transcript.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "transcript"
        return ReadError(name, lineno, f"{loc}: {err['msg']}", tid)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _scan(value: Any, max_depth: int) -> str | None:
    """The first problem in a transcript's values that would break writing or scoring it: text
    that is not valid Unicode (a lone surrogate such as ``"\\ud800"``, or a byte the file's
    encoding could not decode), or objects and lists nested more than ``max_depth`` deep."""
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), value)]
    while stack:
        path, v = stack.pop()
        if isinstance(v, str):
            if m := _SURROGATE.search(v):
                return f"{_path(path)}: {_bad_char(m.group())}"
        elif isinstance(v, dict | list):
            if len(path) >= max_depth:
                return f"{_path(path)}: nested more than {max_depth} levels deep"
            pairs = list(v.items()) if isinstance(v, dict) else list(enumerate(v))
            for k, x in reversed(pairs):
                if isinstance(k, str) and (m := _SURROGATE.search(k)):
                    return f"{_path(path)}: a key holds {_bad_char(m.group())}"
                stack.append(((*path, k), x))
    return None


def _path(path: tuple[str | int, ...]) -> str:
    out = ""
    for k in path:
        out += f"[{k}]" if isinstance(k, int) else f".{k}" if out else k
    return out or "transcript"


def _bad_char(ch: str) -> str:
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # kept by surrogateescape when decoding the file
        return f"undecodable byte 0x{code - 0xDC00:02X} (not valid text in the file's encoding)"
    return f"lone surrogate \\u{code:04x} (not valid Unicode text)"


# --- CSV -------------------------------------------------------------------------------------


def _read_csv(text: str, name: str, limits: TranscriptLimits) -> Iterator[Item]:
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

    i_id, i_speaker, i_text = col(_ID_KEYS), col(_SPEAKER_KEYS), col(_TEXT_KEYS)
    i_turn, i_lang = col(_CSV_TURN_KEYS), col(("language", "lang"))
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
            call["error"] = ReadError(name, lineno, f"speaker: unknown speaker {_show.repr(row[i_speaker])}", tid)
            continue
        if len(row[i_text]) > limits.max_turn_chars:
            call["error"] = ReadError(name, lineno, _too_long(cols[i_text], len(row[i_text]), limits), tid)
            continue
        if len(call["turns"]) >= limits.max_turns:
            call["error"] = ReadError(name, lineno, _too_many_turns(None, limits), tid)
            continue
        key: float = len(call["turns"])
        if i_turn is not None and i_turn < len(row) and row[i_turn].strip():
            try:
                key = float(row[i_turn])
            except ValueError:
                call["error"] = ReadError(name, lineno, f"turn: not a number {_show.repr(row[i_turn])}", tid)
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
        yield call["line"], _validate(data, name, call["line"], tid, limits)


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


# --- plain text ------------------------------------------------------------------------------

_TXT_TURN = re.compile(
    r"^\s*(?:\[[^\]]{0,20}\]\s*)?(?:\d{1,2}:\d{2}(?::\d{2})?\s+)?"
    r"([A-Za-z][A-Za-z _\-]{0,24}|[\u4e00-\u9fff]{1,4})\s*[:：]\s?(.*)$"
)
_TXT_HEADER = re.compile(r"^\s*#\s*([A-Za-z_]+)\s*:(.*)$")  # value stripped after: no backtracking
_TXT_SEPARATOR = re.compile(r"^\s*(?:={3,}|-{3,})\s*$")


def _read_txt(text: str, name: str, limits: TranscriptLimits) -> Iterator[Item]:
    """``Agent: …`` / ``Debtor: …`` lines; ``# id: …`` headers; ``---`` separates calls.

    The id defaults to the file's stem (with ``-2``, ``-3``… for later calls in the file).
    Lines without a speaker continue the previous turn.
    """
    stem = Path(name).stem
    calls: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = 1
    for lineno, line in enumerate(_lines(text), start=1):
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
        yield first_line, _txt_call(lines, first_line, name, default_id, limits)


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
        return ReadError(name, first_line, _too_many_turns(len(turns), limits), tid)
    joined = [{"speaker": speaker, "text": " ".join(p for p in parts if p)} for speaker, parts in turns]
    for i, t in enumerate(joined):
        if len(t["text"]) > limits.max_turn_chars:
            return ReadError(name, first_line, _too_long(f"turns[{i}].text", len(t["text"]), limits), tid)
    data: dict[str, Any] = {"id": tid, "turns": joined}
    for key in ("language", "persona"):
        if key in header:
            data[key] = header.pop(key)
    if header:
        data["metadata"] = dict(header)
    return _validate(data, name, first_line, tid, limits)
