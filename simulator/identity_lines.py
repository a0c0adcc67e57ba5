"""The debtor's answer to an identity check, from the persona's facts (``data/identity_lines.yaml``).

Asked for a date of birth, an address, a zip code or the last four of an ID number, the debtor
says the persona's own detail in an authored sentence; the model is never asked to, because a
small model invents a date or dodges (a walk-through on the default model: 0 of 11 dates of birth
given). Which detail was asked comes from ``core.analysis.identifiers`` (the same detector the
live-call eval checks answers with).
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.analysis.identifiers import IdentifierKind
from core.datafile import MAX_LIST_ITEMS, DataFileError, Line, load_file
from simulator.intents import WARM_TEMPERAMENTS
from simulator.personas import Persona

PATH = Path(__file__).resolve().parent / "data" / "identity_lines.yaml"
Lines = Annotated[list[Line], Field(min_length=1, max_length=MAX_LIST_ITEMS)]
# The detector's kinds and the persona fields (and placeholders) that answer them.
_FIELD: dict[str, str] = {"dob": "dob", "address": "address", "zip": "zip", "ssn4": "id_last4", "account4": "account_last4"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ToneLines(_Strict):
    dob: Lines
    address: Lines
    zip: Lines
    id_last4: Lines
    account_last4: Lines


class ToneLabelled(_Strict):
    dob: Line
    address: Line
    zip: Line
    id_last4: Line
    account_last4: Line


class LanguageLines(_Strict):
    confirm_name: Lines
    labelled: ToneLabelled
    tones: dict[Literal["warm", "guarded"], ToneLines]
    not_given: Lines
    refuse: Lines  # to a caller who has not said who they are or why they call
    # to a caller who has (asking "who is this, really?" again would go against the call)
    refuse_known: Lines = Field(default_factory=list)


class IdentityLines(_Strict):
    version: Literal[1]
    languages: dict[str, LanguageLines]


class IdentityLinesError(DataFileError):
    pass


@lru_cache(maxsize=1)
def identity_lines() -> IdentityLines:
    return load_file(IdentityLines, PATH, guide="simulator/identity_lines.py", error=IdentityLinesError)


def say_date(d: date, language: str) -> str:
    """A date of birth as the debtor says it: "April 9th, 1974", "1974年4月9日"."""
    if language == "zh":
        return f"{d.year}年{d.month}月{d.day}日"
    suffix = "th" if 11 <= d.day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(d.day % 10, "th")
    return f"{d.strftime('%B')} {d.day}{suffix}, {d.year}"


def _facts(persona: Persona) -> dict[str, str]:
    ident = persona.identity
    out = {"first": persona.name.split()[0] if persona.language != "zh" else persona.name, "account_last4": persona.debt.account_last4}
    if ident is not None:
        out |= {
            "dob": say_date(ident.date_of_birth, persona.language),
            "street": ident.street,
            "city": ident.city,
            "state": ident.state,
            "zip": ident.zip,
            "id_last4": ident.id_last4,
        }
    return out


def identity_answer(
    persona: Persona, kinds: tuple[IdentifierKind, ...], *, confirm_name: bool, refuse: bool, pick: int = 0, caller_known: bool = False
) -> str:
    """The debtor's line for an identity check asking for ``kinds`` (at most two are answered).

    ``confirm_name`` starts with "Yes, this is Maria." (the name was asked too, or not yet
    confirmed); ``refuse`` is an angry debtor's no; ``pick`` varies the wording (the turn).
    """
    lang = identity_lines().languages.get(persona.language) or identity_lines().languages["en"]
    facts = _facts(persona)

    def choose(lines: list[str]) -> str:
        return lines[pick % len(lines)].format_map(facts)

    if refuse:
        return choose(lang.refuse_known if caller_known and lang.refuse_known else lang.refuse)
    parts = [choose(lang.confirm_name)] if confirm_name else []
    tone = lang.tones["warm" if persona.temperament in WARM_TEMPERAMENTS else "guarded"]
    for n, kind in enumerate(kinds[:2]):
        field = _FIELD[kind]
        if field != "account_last4" and persona.identity is None:
            parts.append(choose(lang.not_given))
            break
        parts.append(getattr(lang.labelled, field).format_map(facts) if n else choose(getattr(tone, field)))
    if not parts:
        return choose(lang.confirm_name)
    return ("" if persona.language == "zh" else " ").join(parts)
