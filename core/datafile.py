"""YAML data files checked by pydantic: every problem is one line, ``file: field: message``.

Personas, rubrics and rulebooks are all written by trainers, not programmers, so a bad file
gets a message naming the file, the field (list items named by their ``id`` where they have
one) and what was expected - never a traceback.

The limits every data file must keep live here, in one place (personas/README.md and
rubrics/README.md list them for trainers). A file that breaks one gets one line naming the
file, the field and the fix, raised as the loader's own error type, so one bad file never
stops the rest of its folder from loading.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import BaseModel, Field, ValidationError

M = TypeVar("M", bound=BaseModel)

# --- limits ------------------------------------------------------------------------------------
MAX_FILE_BYTES = 1_000_000  # a whole YAML file; the largest shipped one is about 120 kB
MAX_DEPTH = 20  # sections and lists inside each other; the shipped files need 7
MAX_NODES = 20_000  # values (fields, list items) in one file; the largest shipped one has about 2,000
MAX_NUMBER_CHARS = 30  # digits (and signs, underscores) in one YAML integer
MAX_NAME_CHARS = 80  # a person's name (the debtor, the account holder, the attorney)
MAX_SHORT_CHARS = 200  # a short field: occupation, creditor, a leak term, a title
MAX_LINE_CHARS = 300  # one spoken line or note: fallback lines, example lines, style notes, facts
MAX_TEXT_CHARS = 2_000  # a paragraph: background, descriptions, advice
MAX_LIST_ITEMS = 50  # items in one list (hidden facts, lines per intent, style notes ...)
MAX_PROBLEMS_PER_FILE = 10  # problem lines worded per file; the rest are counted
MAX_PROBLEMS_SHOWN = 30  # problem lines a command prints (a screenful); the rest are counted

# Field types that carry the limits; the schemas (simulator/personas.py, rubrics/schema.py) use them.
Name = Annotated[str, Field(max_length=MAX_NAME_CHARS)]
ShortText = Annotated[str, Field(max_length=MAX_SHORT_CHARS)]
Line = Annotated[str, Field(max_length=MAX_LINE_CHARS)]
LongText = Annotated[str, Field(max_length=MAX_TEXT_CHARS)]

# Tags pydantic inserts into the location of a discriminated-union error; the kind is already
# visible in the file, so naming it again only confuses.
_UNION_TAGS = frozenset({"semantic", "pattern", "metric", "turn", "missing", "hour", "amount"})


class DataFileError(ValueError):
    """One or more problems in data files; ``problems`` holds one readable line each.

    At most :data:`MAX_PROBLEMS_PER_FILE` lines are kept; a last line counts the rest, and
    ``count`` is the full number of problems.
    """

    def __init__(self, problems: list[str], *, count: int | None = None, source: str | None = None):
        self.count = max(count if count is not None else len(problems), len(problems))
        prefix = f"{source}: (more): " if source else ""
        self.problems = capped(problems, self.count, limit=MAX_PROBLEMS_PER_FILE, prefix=prefix)
        super().__init__("\n".join(self.problems))


def capped(
    lines: list[str], count: int | None = None, *, limit: int = MAX_PROBLEMS_SHOWN, prefix: str = "", noun: str = "problem"
) -> list[str]:
    """The first ``limit`` lines and, if there were more, one line saying how many more.

    ``count`` is how many problems ``lines`` stand for (more than the lines when the rest were
    never worded).
    """
    shown = list(lines[:limit])
    more = max(len(lines), count or 0) - len(shown)
    if more <= 0:
        return shown
    return [*shown, f"{prefix}... and {more:,} more {noun}{'' if more == 1 else 's'}"]


def read_text(path: Path | str, error: type[DataFileError] = DataFileError) -> str:
    """A data file's text, refusing one over :data:`MAX_FILE_BYTES` before reading it."""
    path = Path(path)
    if path.exists() and not path.is_file():  # a folder or a pipe named *.yaml
        raise error([f"{path}: (file): not a regular file; give a YAML file"])
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise error([f"{path}: (file): cannot read: {exc.strerror or exc}"]) from None
    if len(raw) > MAX_FILE_BYTES:
        raise error([_too_big(str(path), path.stat().st_size)])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise error([f"{path}: (file): not UTF-8 text; save it as UTF-8"]) from None


def _too_big(source: str, size: int) -> str:
    return (
        f"{source}: (file): {size:,} bytes is over the {MAX_FILE_BYTES:,}-byte limit for a data file; "
        "shorten it (or split it into several files)"
    )


class _LimitError(yaml.MarkedYAMLError):
    """A limit broken while reading the YAML (nesting, size, number length)."""


_INT_TAG = "tag:yaml.org,2002:int"
_RESOLVER = yaml.resolver.Resolver()
_NODE_EVENTS = (yaml.ScalarEvent, yaml.AliasEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent)
_END_EVENTS = (yaml.SequenceEndEvent, yaml.MappingEndEvent)
# libyaml's parser is ten times faster; Python's words syntax errors as the docs show them.
_FAST_LOADER = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader


class _Frame:
    """An open mapping or list while walking the YAML events; knows which field is being read."""

    __slots__ = ("mapping", "key", "index", "want_key")

    def __init__(self, mapping: bool):
        self.mapping, self.key, self.index, self.want_key = mapping, "?", -1, True

    def place(self) -> str | int:
        return self.key if self.mapping else self.index


def _check_limits(text: str, loader: type) -> None:
    """Walk the YAML's parse events (no data built yet) and refuse the first limit broken.

    Building the data from a file nested thousands of levels deep raises RecursionError and a
    5,000-digit number raises ValueError, neither a YAMLError; hundreds of thousands of nodes
    take tens of seconds. Checking the event stream first costs little and stops early.
    """
    frames: list[_Frame] = []
    nodes = 0

    def refuse(problem: str, mark: Any) -> None:
        path = [f.place() for f in frames]
        field = _field(path[:4]) + ("..." if len(path) > 4 else "")
        raise _LimitError(problem=problem, problem_mark=mark, context=field)

    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, _END_EVENTS):
            frames.pop()
            continue
        if not isinstance(event, _NODE_EVENTS):
            continue
        is_key = False
        if frames:
            frame = frames[-1]
            if frame.mapping:
                is_key, frame.want_key = frame.want_key, not frame.want_key
            else:
                frame.index += 1
        nodes += 1
        if nodes > MAX_NODES:
            refuse(f"more than {MAX_NODES:,} values in one file (the limit); shorten it", event.start_mark)
        if isinstance(event, yaml.ScalarEvent):
            if is_key:
                frames[-1].key = event.value[:MAX_NAME_CHARS]
            if len(event.value) > MAX_NUMBER_CHARS and _is_int(event):
                refuse(
                    f"a number of {len(event.value):,} characters is over the limit of {MAX_NUMBER_CHARS}; "
                    "shorten it, or put text in quotes",
                    event.start_mark,
                )
        elif isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            if is_key:
                frames[-1].key = "(key)"
            frames.append(_Frame(isinstance(event, yaml.MappingStartEvent)))
            if len(frames) > MAX_DEPTH:
                refuse(f"nested more than {MAX_DEPTH} levels deep (the limit); flatten it", event.start_mark)


def _is_int(event: yaml.ScalarEvent) -> bool:
    if event.tag not in (None, "!"):
        return event.tag == _INT_TAG
    return bool(event.implicit[0]) and _RESOLVER.resolve(yaml.ScalarNode, event.value, (True, False)) == _INT_TAG


def _load_yaml(text: str) -> Any:
    """The YAML's data, once the limits hold (any YAMLError is worded by Python's parser)."""
    try:
        _check_limits(text, _FAST_LOADER)
        return yaml.load(text, Loader=_FAST_LOADER)  # noqa: S506 - a SafeLoader
    except _LimitError:
        raise
    except yaml.YAMLError:
        if _FAST_LOADER is yaml.SafeLoader:
            raise
    _check_limits(text, yaml.SafeLoader)  # raises the same problem in the documented words
    return yaml.safe_load(text)


def _field(path: list[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out.lstrip(".") or "(top level)"


def parse_yaml_mapping(text: str, source: str, error: type[DataFileError] = DataFileError) -> dict:
    """Parse YAML text that must be a mapping of fields (within the limits above)."""
    size = len(text) if len(text) * 4 <= MAX_FILE_BYTES else len(text.encode("utf-8", "replace"))
    if size > MAX_FILE_BYTES:
        raise error([_too_big(source, size)])
    try:
        data = _load_yaml(text)
    except _LimitError as exc:
        where = f"line {exc.problem_mark.line + 1}"
        field = f"{exc.context} ({where})" if exc.context else where
        raise error([f"{source}: {field}: {exc.problem}"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(yaml)"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise error([f"{source}: {where}: invalid YAML: {problem}"]) from None
    except (ValueError, OverflowError, RecursionError, TypeError) as exc:
        # a value YAML's constructors cannot build (a date such as 2024-02-30, say)
        raise error([f"{source}: (yaml): invalid value: {str(exc).splitlines()[0][:200]}"]) from None
    if not isinstance(data, dict):
        got = "an empty file" if data is None else type(data).__name__
        raise error([f"{source}: (top level): expected a mapping of fields, got {got}"])
    return data


def problem_lines(source: str, data: Any, err: ValidationError, guide: str) -> list[str]:
    """One ``file: field: message`` line per pydantic error; ``guide`` names the docs to check.

    Only the first :data:`MAX_PROBLEMS_PER_FILE` errors are worded; ``err.error_count()`` counts all.
    """
    return [_line(source, data, e, guide) for e in err.errors(include_url=False)[:MAX_PROBLEMS_PER_FILE]]


def _line(source: str, data: Any, err: dict, guide: str) -> str:
    parts: list[str] = []
    node = data
    for loc in err["loc"]:
        if isinstance(loc, int) and isinstance(node, list) and 0 <= loc < len(node):
            node = node[loc]
            label = node.get("id") if isinstance(node, dict) else None
            parts.append(f"[{label[:MAX_NAME_CHARS]}]" if isinstance(label, str) else f"[{loc}]")
            continue
        if isinstance(node, dict) and loc in node:
            node = node[loc]
        elif loc in _UNION_TAGS:
            continue
        else:
            node = None
        parts.append(f".{str(loc)[:MAX_NAME_CHARS]}")
    field = "".join(parts).lstrip(".") or "(top level)"
    msg = err["msg"].removeprefix("Value error, ")
    ctx = err.get("ctx") or {}
    kind = err["type"]
    if kind == "extra_forbidden":
        msg = f"unknown field (check the spelling; see {guide})"
    elif kind == "missing":
        msg = "required field is missing"
    elif kind in ("union_tag_invalid", "union_tag_not_found"):
        given = err["input"].get("kind") if isinstance(err.get("input"), dict) else None
        field += ".kind"
        given = given[:MAX_NAME_CHARS] if isinstance(given, str) else given
        msg = f"unknown kind {given!r}; expected one of {ctx.get('expected_tags', '')}"
    elif kind == "string_too_long":
        got = len(err["input"]) if isinstance(err.get("input"), str) else "too many"
        msg = f"{got:,} characters is over the limit of {ctx.get('max_length'):,}; shorten it (limits: {guide})"
    elif kind == "too_long":
        got = ctx.get("actual_length")
        got = f"{got:,} items" if isinstance(got, int) else "too many items"
        msg = f"{got} is over the limit of {ctx.get('max_length'):,}; remove some (limits: {guide})"
    elif kind == "finite_number":
        msg = "must be an ordinary number, not .inf or .nan"
    return f"{source}: {field}: {msg}"


def load_model(
    model: type[M], text: str, source: str, *, guide: str, error: type[DataFileError] = DataFileError
) -> M:
    """Parse and validate one data file's text, raising ``error`` with readable lines."""
    data = parse_yaml_mapping(text, source, error)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise error(problem_lines(source, data, exc, guide), count=exc.error_count(), source=source) from None
    except (RecursionError, OverflowError) as exc:  # a limit the schema missed: still one line
        raise error([f"{source}: (top level): cannot be checked: {type(exc).__name__}"]) from None


def load_file(model: type[M], path: Path | str, *, guide: str, error: type[DataFileError] = DataFileError) -> M:
    """Read one data file (within the size limits) and validate it: :func:`read_text` then
    :func:`load_model`, the errors naming the file."""
    return load_model(model, read_text(path, error), str(path), guide=guide, error=error)
