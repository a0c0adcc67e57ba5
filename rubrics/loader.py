"""Load rubric and rulebook files, turning every problem into one readable line.

A problem reads ``file: field: message`` — the file, the dotted path to the field (list items
named by their ``id`` where they have one) and what was expected — so a trainer can fix a
rubric without reading a traceback.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from core.datafile import DataFileError, load_model, read_text
from rubrics.schema import Match, Rubric, Rulebook

SHIPPED_DIR = Path(__file__).resolve().parent
_ID = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")
_STRUCTURAL = re.compile(r"^(question:(open|closed)|topic:[a-z_]+|offer|offer:(monthly|dated)|call:collection)$")
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


def load_rulebook(ref: str | Path) -> Rulebook:
    """Load and validate a rulebook by shipped id or by a path the caller chose."""
    path = resolve(ref, kind="rulebook")
    return _load_rulebook_cached(str(path.resolve()), _mtime(path))


def rulebook_file(ref: str, rubric_file: Path) -> Path:
    """The rulebook a rubric's ``rulebook:`` field names, found only in the rubrics folders.

    ``rules-us`` is ``rules-us.yaml`` next to the rubric, else in the shipped ``rubrics/``
    folder. A file name (``rules-us.yaml``, or a full path) is accepted only when it is a
    ``rules-*`` file in one of those two folders: a rubric never makes callcoach read another
    file (``/etc/shadow``, or a rubric) and echo its lines back as problems.
    """
    folders = list(dict.fromkeys([rubric_file.resolve().parent, SHIPPED_DIR.resolve()]))
    if _ID.match(ref):
        candidates = [folder / f"{ref}{suffix}" for folder in folders for suffix in (".yaml", ".yml")]
    elif Path(ref).suffix.lower() in (".yaml", ".yml"):
        p = Path(ref)
        candidates = [p] if p.is_absolute() else [folder / p for folder in folders]
    else:
        candidates = []
    for candidate in candidates:
        try:
            real = candidate.resolve()  # a link out of the folder is judged by where it leads
        except (OSError, ValueError):
            continue
        if real.parent in folders and real.name.startswith("rules-") and real.is_file():
            return real
    known = sorted({f.stem for folder in folders for f in folder.glob("rules-*.y*ml") if f.resolve().parent in folders})
    shown = ref if len(ref) <= 60 else ref[:57] + "..."
    raise RubricError([
        f"{rubric_file}: rulebook: {shown!r} is not a rulebook in the rubric's folder or in rubrics/; "
        f"give a rulebook id (known: {', '.join(known) or 'none'}), e.g. 'rulebook: rules-us'"
    ])


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


@lru_cache(maxsize=32)
def _load_rubric_cached(path: str, _mtime: float) -> Rubric:
    rubric = _validate(Rubric, path)
    problems = _unknown_signals(path, rubric)
    rulebook = None
    try:
        rulebook_path = rulebook_file(rubric.rulebook, Path(path))
    except RubricError as exc:
        problems += exc.problems
    else:
        try:
            rulebook = load_rulebook(rulebook_path)
        except RubricError as exc:
            problems += [f"{path}: rulebook: {p}" for p in exc.problems]
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
    text = read_text(path, RubricError)  # within the data-file limits (core/datafile.py)
    return load_model(model, text, path, guide="rubrics/README.md", error=RubricError)


@lru_cache(maxsize=1)
def known_signals() -> frozenset[str] | None:
    """Signal names from the analysis catalogue, or None when it cannot be loaded."""
    try:
        from core.analysis.catalogue import default_catalogue

        return frozenset(default_catalogue().signals)  # parsed once per process, shared with the analysis
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
        for g in model.required_to_pass:
            out.append((f"required_to_pass[{g.id}]", g.referenced()))
        out.append(("no_credit_with", list(model.no_credit_with)))
    else:
        out.append(("applies_if_call_has", list(model.applies_if_call_has)))
        for r in model.rules:
            out.append((f"rules[{r.id}].detect", r.referenced()))
    return out


__all__ = ["Match", "RubricError", "load_rubric", "load_rulebook", "rulebook_file", "validate_file", "shipped_rubrics"]
