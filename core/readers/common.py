"""What every transcript reader shares: limits, read errors, speaker aliases, and turning one
decoded record into a Transcript or a ReadError."""

from __future__ import annotations

import re
import reprlib
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from core.transcript import Transcript

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

ID_KEYS = ("id", "call_id", "conversation_id", "transcript_id")
TURN_LIST_KEYS = ("turns", "messages", "utterances", "dialogue")
SPEAKER_KEYS = ("speaker", "role", "who", "party", "from")
TEXT_KEYS = ("text", "content", "utterance", "message", "transcript")
CSV_TURN_KEYS = ("turn", "turn_index", "index", "seq", "n")

MB = 1024 * 1024


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
        return int(self.max_file_mb * MB)


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


show = reprlib.Repr()
show.maxstring, show.maxother, show.maxlevel = 60, 60, 2


def normalize_speaker(value: Any) -> str | None:
    """Map a speaker label (``Collector``, ``customer``, ``客户``…) to the contract's three."""
    if not isinstance(value, str):
        return None
    key = re.sub(r"[\s\-]+", "_", value.strip().lower())
    return SPEAKER_ALIASES.get(key)


def first_key(obj: dict, keys: tuple[str, ...]) -> Any:
    for k in keys:
        if k in obj:
            return obj[k]
    return None


def too_many_turns(count: int | None, limits: TranscriptLimits) -> str:
    what = f"{count:,} turns" if count is not None else f"more than {limits.max_turns:,} turns"
    return f"{what}, over the limit of {limits.max_turns:,} a call (--max-turns)"


def too_long(field: str, chars: int, limits: TranscriptLimits) -> str:
    return f"{field}: {chars:,} characters, over the limit of {limits.max_turn_chars:,} a turn (--max-turn-chars)"


def from_object(obj: Any, name: str, lineno: int, limits: TranscriptLimits) -> Item:
    if not isinstance(obj, dict):
        return ReadError(name, lineno, f"expected a JSON object, got {type(obj).__name__}")
    raw_id = first_key(obj, ID_KEYS)
    tid = str(raw_id) if isinstance(raw_id, (str, int)) and not isinstance(raw_id, bool) else None
    if tid is None or not tid.strip():
        return ReadError(name, lineno, "missing 'id'", None)
    turns_raw = first_key(obj, TURN_LIST_KEYS)
    if not isinstance(turns_raw, list):
        return ReadError(name, lineno, "missing 'turns' (a list of {speaker, text})", tid)
    if len(turns_raw) > limits.max_turns:
        return ReadError(name, lineno, too_many_turns(len(turns_raw), limits), tid)
    turns = []
    for i, t in enumerate(turns_raw):
        if not isinstance(t, dict):
            return ReadError(name, lineno, f"turns[{i}]: expected an object", tid)
        speaker_raw = first_key(t, SPEAKER_KEYS)
        speaker = normalize_speaker(speaker_raw)
        if speaker is None:
            return ReadError(name, lineno, f"turns[{i}].speaker: unknown speaker {show.repr(speaker_raw)}", tid)
        text = first_key(t, TEXT_KEYS)
        if not isinstance(text, str):
            return ReadError(name, lineno, f"turns[{i}].text: expected a string", tid)
        if len(text) > limits.max_turn_chars:
            return ReadError(name, lineno, too_long(f"turns[{i}].text", len(text), limits), tid)
        turns.append({"speaker": speaker, "text": text})
    data = {k: v for k, v in obj.items() if k not in ID_KEYS and k not in TURN_LIST_KEYS}
    data.update(id=tid, turns=turns)
    return validate_record(data, name, lineno, tid, limits)


def validate_record(data: dict, name: str, lineno: int, tid: str | None, limits: TranscriptLimits) -> Item:
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


_NEWLINE = re.compile(r"\r\n|\r|\n")


def physical_lines(text: str) -> list[str]:
    """Physical lines, split at CR, LF and CRLF only: ``str.splitlines`` also splits at U+2028,
    U+2029, U+0085 and other characters that JSON strings and plain text may hold."""
    lines = _NEWLINE.split(text)
    if lines[-1] == "":
        lines.pop()
    return lines
