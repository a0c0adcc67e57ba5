"""Load rubric and rulebook files, turning every problem into one readable line.

A problem reads ``file: field: message`` — the file, the dotted path to the field (list items
named by their ``id`` where they have one) and what was expected — so a trainer can fix a
rubric without reading a traceback.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from rubrics.schema import Match, Rubric, Rulebook
from simulator.datafile import DataFileError, load_model

SHIPPED_DIR = Path(__file__).resolve().parent
_STRUCTURAL = re.compile(r"^(question:(open|closed)|topic:[a-z_]+|offer|offer:(monthly|dated))$")
DEFAULT_RUBRICS = {"en": "default-en", "zh": "default-zh"}


class RubricError(DataFileError):
    """One or more problems in rubric or rulebook files, each ``file: field: message``."""


def shipped_rubrics() -> list[Path]:
    """Rubric files shipped in ``rubrics/`` (files whose name does not start with ``rules-``)."""
    return sorted(p for p in SHIPPED_DIR.glob("*.yaml") if not p.name.startswith("rules-"))


def resolve(ref: str | Path, *, kind: str = "rubric") -> Path:
    """A shipped id (``default-en``, ``rules-us``) or a path to a YAML file."""
    p = Path(ref)
    if p.suffix.lower() in (".yaml", ".yml") or p.exists():
        return p
    candidate = SHIPPED_DIR / f"{ref}.yaml"
    if candidate.exists():
        return candidate
    known = ", ".join(x.stem for x in sorted(SHIPPED_DIR.glob("*.yaml")))
    raise RubricError([f"{ref}: not a file and not a shipped {kind} (known: {known})"])


def load_rubric(ref: str | Path | Rubric) -> Rubric:
    """Load and validate a rubric and the rulebook it names (cached per path and mtime)."""
    if isinstance(ref, Rubric):
        return ref
    path = resolve(ref)
    return _load_rubric_cached(str(path.resolve()), _mtime(path))


def load_rulebook(ref: str | Path, *, relative_to: Path | None = None) -> Rulebook:
    """Load and validate a rulebook by id or path."""
    p = Path(ref)
    if relative_to is not None and not p.is_absolute() and (relative_to / p).exists():
        p = relative_to / p
    path = resolve(p if p.exists() else ref, kind="rulebook")
    return _load_rulebook_cached(str(path.resolve()), _mtime(path))


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


@lru_cache(maxsize=32)
def _load_rubric_cached(path: str, _mtime: float) -> Rubric:
    rubric = _validate(Rubric, path)
    problems = _unknown_signals(path, rubric)
    try:
        rulebook = load_rulebook(rubric.rulebook, relative_to=Path(path).parent)
    except RubricError as exc:
        problems += [f"{path}: rulebook: {p}" for p in exc.problems]
        rulebook = None
    if problems:
        raise RubricError(problems)
    rubric._rulebook = rulebook
    rubric._source = path
    return rubric


@lru_cache(maxsize=32)
def _load_rulebook_cached(path: str, _mtime: float) -> Rulebook:
    rulebook = _validate(Rulebook, path)
    problems = _unknown_signals(path, rulebook)
    if problems:
        raise RubricError(problems)
    return rulebook


def validate_file(path: str | Path) -> list[str]:
    """All problems in one rubric or rulebook file (empty when valid)."""
    path = Path(path)
    try:
        if path.name.startswith("rules-"):
            load_rulebook(path)
        else:
            load_rubric(path)
    except RubricError as exc:
        return exc.problems
    return []


def _validate(model: type[Rubric] | type[Rulebook], path: str):
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise RubricError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    except UnicodeDecodeError:
        raise RubricError([f"{path}: not UTF-8 text"]) from None
    return load_model(model, text, path, guide="rubrics/README.md", error=RubricError)


@lru_cache(maxsize=1)
def known_signals() -> frozenset[str] | None:
    """Signal names from the analysis catalogue, or None when it cannot be loaded."""
    try:
        from simulator.analysis.catalogue import load_catalogue

        return frozenset(load_catalogue().signals)
    except Exception:  # no catalogue yet, or a broken one: its own validator reports that
        return None


def _unknown_signals(path: str, model: Rubric | Rulebook) -> list[str]:
    """References to signals the analysis does not produce (a typo would silently never match)."""
    known = known_signals()
    problems = []
    for where, names in _references(model):
        for name in names:
            if _STRUCTURAL.match(name):
                continue
            if known is not None and name not in known:
                problems.append(f"{path}: {where}: unknown signal {name!r}")
    return problems


def _references(model: Rubric | Rulebook) -> list[tuple[str, list[str]]]:
    out = []
    if isinstance(model, Rubric):
        for c in model.criteria:
            for ind in c.indicators:
                out.append((f"criteria[{c.id}].indicators[{ind.id}]", ind.referenced()))
    else:
        for r in model.rules:
            out.append((f"rules[{r.id}].detect", r.referenced()))
    return out


__all__ = ["Match", "RubricError", "load_rubric", "load_rulebook", "validate_file", "shipped_rubrics"]
