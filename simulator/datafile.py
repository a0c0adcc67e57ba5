"""YAML data files checked by pydantic: every problem is one line, ``file: field: message``.

Personas, rubrics and rulebooks are all written by trainers, not programmers, so a bad file
gets a message naming the file, the field (list items named by their ``id`` where they have
one) and what was expected - never a traceback.
"""

from __future__ import annotations

from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

# Tags pydantic inserts into the location of a discriminated-union error; the kind is already
# visible in the file, so naming it again only confuses.
_UNION_TAGS = frozenset({"semantic", "pattern", "metric", "turn", "missing", "hour", "amount"})


class DataFileError(ValueError):
    """One or more problems in data files; ``problems`` holds one readable line each."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def parse_yaml_mapping(text: str, source: str, error: type[DataFileError] = DataFileError) -> dict:
    """Parse YAML text that must be a mapping of fields."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(yaml)"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise error([f"{source}: {where}: invalid YAML: {problem}"]) from None
    if not isinstance(data, dict):
        got = "an empty file" if data is None else type(data).__name__
        raise error([f"{source}: (top level): expected a mapping of fields, got {got}"])
    return data


def problem_lines(source: str, data: Any, err: ValidationError, guide: str) -> list[str]:
    """One ``file: field: message`` line per pydantic error; ``guide`` names the docs to check."""
    return [_line(source, data, e, guide) for e in err.errors()]


def _line(source: str, data: Any, err: dict, guide: str) -> str:
    parts: list[str] = []
    node = data
    for loc in err["loc"]:
        if isinstance(loc, int) and isinstance(node, list) and 0 <= loc < len(node):
            node = node[loc]
            label = node.get("id") if isinstance(node, dict) else None
            parts.append(f"[{label}]" if isinstance(label, str) else f"[{loc}]")
            continue
        if isinstance(node, dict) and loc in node:
            node = node[loc]
        elif loc in _UNION_TAGS:
            continue
        else:
            node = None
        parts.append(f".{loc}")
    field = "".join(parts).lstrip(".") or "(top level)"
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = f"unknown field (check the spelling; see {guide})"
    elif err["type"] == "missing":
        msg = "required field is missing"
    elif err["type"] in ("union_tag_invalid", "union_tag_not_found"):
        given = err["input"].get("kind") if isinstance(err.get("input"), dict) else None
        field += ".kind"
        msg = f"unknown kind {given!r}; expected one of {err.get('ctx', {}).get('expected_tags', '')}"
    return f"{source}: {field}: {msg}"


def load_model(
    model: type[M], text: str, source: str, *, guide: str, error: type[DataFileError] = DataFileError
) -> M:
    """Parse and validate one data file's text, raising ``error`` with readable lines."""
    data = parse_yaml_mapping(text, source, error)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise error(problem_lines(source, data, exc, guide)) from None
