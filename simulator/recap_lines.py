"""The debtor's correction of a recap that asks for more, or sooner, than they agreed to, or
names another day than theirs (``data/recap_lines.yaml``).

A trainee who reads back the plan wrong ("$100 a month" for the "$75" the debtor said, "the
25th" for the 28th, "the 5th" for "the 15th") hears it corrected, as a person would, and the
promise recorded stays the debtor's; a recap of the same plan, or of one that asks less, is
agreed as recapped.
The director decides when (``Director._consider_offer``: ``detail["correct"]``); this module
only words it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.datafile import MAX_LIST_ITEMS, DataFileError, Line, load_file
from simulator.personas import Persona

PATH = Path(__file__).resolve().parent / "data" / "recap_lines.yaml"
Lines = Annotated[list[Line], Field(min_length=1, max_length=MAX_LIST_ITEMS)]
Kind = Literal["amount", "date"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LanguageLines(_Strict):
    amount: Lines
    date: Lines


class RecapLines(_Strict):
    version: Literal[1]
    languages: dict[str, LanguageLines]


class RecapLinesError(DataFileError):
    pass


@lru_cache(maxsize=1)
def recap_lines() -> RecapLines:
    return load_file(RecapLines, PATH, guide="simulator/recap_lines.py", error=RecapLinesError)


def correction_line(persona: Persona, kind: Kind, fill: Mapping[str, str], heard: str, pick: int = 0,
                    earlier: Iterable[str] = ()) -> str:
    """The debtor's plan said again against what the collector read back (``heard``), in a
    wording not yet said in the call when there is one; ``fill`` holds ``payment`` and ``date``."""
    lines = recap_lines().languages
    table = lines.get(persona.language) or lines["en"]
    options = getattr(table, kind)
    values = {"payment": fill["payment"], "date": fill["date"], "heard": heard}
    said = set(earlier)
    texts = [options[(pick + k) % len(options)].format_map(values) for k in range(len(options))]
    return next((t for t in texts if t not in said), texts[0])
