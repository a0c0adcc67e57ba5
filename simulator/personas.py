"""Persona files: the pydantic schema, the loader and readable validation errors.

A persona is data (``personas/*.yaml``); trainers copy an example and edit it. Every error a
loader reports is one line naming the file, the field and what was expected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, time
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.analysis.types import Topic
from core.datafile import (
    MAX_LIST_ITEMS,
    DataFileError,
    Line,
    LongText,
    Name,
    ShortText,
    load_model,
    read_text,
)
from simulator.director_data import DirectorTunables, with_defaults
from simulator.intents import AgentSignal, Intent, Meter, Temperament

SCHEMA_VERSION = 1
SHIPPED_DIR = Path(__file__).resolve().parent.parent / "personas"

Score = Annotated[float, Field(ge=0, le=100)]

# Names the actor fills in authored lines (simulator.actor.placeholders); anything else in
# braces is a typo that would reach a trainee.
PLACEHOLDERS = frozenset(
    {"amount", "payment", "date", "creditor", "agent_name", "account_holder", "attorney_name", "attorney_phone", "name"}
)
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class _Strict(BaseModel):
    # allow_inf_nan=False: `.inf` and `.nan` are YAML numbers, but never a debt or a meter.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _items(**kw):
    """A list field within the data-file limit (core/datafile.py)."""
    return Field(max_length=MAX_LIST_ITEMS, **kw)


class Profile(_Strict):
    age: int = Field(ge=18, le=110)
    occupation: ShortText
    household: ShortText
    background: LongText = Field(min_length=10, description="Life situation in a few sentences")


class Debt(_Strict):
    creditor: ShortText
    product: ShortText = Field(description="e.g. credit card, personal loan, medical bill")
    amount: float = Field(gt=0)
    currency: ShortText = "USD"
    days_past_due: int = Field(ge=0)
    account_last4: str = Field(pattern=r"^\d{4}$")
    fees_included: float = Field(default=0, ge=0, description="Part of amount that is fees")


class HiddenFact(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_]+$", max_length=60)
    fact: Line = Field(min_length=5, description="What the debtor knows; revealed only when asked")
    revealed_by: list[Topic] = _items(min_length=1)
    min_trust: Score = 0
    # words that would give the fact away if the debtor said them before it is revealed
    leak_terms: list[ShortText] = _items(default_factory=list)


class PaymentCapacity(_Strict):
    lump_sum_max: float = Field(ge=0, description="Most they could pay at once, now")
    monthly_max: float = Field(ge=0, description="Most they could pay per month")
    first_payment_within_days: int = Field(ge=0, le=90)
    preferred_plan: ShortText = Field(description="The plan they would suggest themselves")

    def fits(self, amount: float, *, monthly: bool) -> bool:
        limit = self.monthly_max if monthly else max(self.lump_sum_max, self.monthly_max)
        return 0 < amount <= limit + 1e-6


class Sensitivity(_Strict):
    trust: float = Field(default=0, ge=-50, le=50)
    anger: float = Field(default=0, ge=-50, le=50)
    distress: float = Field(default=0, ge=-50, le=50)


class Thresholds(_Strict):
    agree_trust: Score = Field(description="Trust needed before they promise to pay")
    hang_up_anger: Score = Field(description="Anger at which they hang up")
    complaint_anger: Score = Field(description="Anger at which a threat turns into a complaint")
    min_turns_before_agreement: int = Field(default=2, ge=0, le=30)
    patience_turns: int = Field(default=24, ge=4, le=100, description="They end the call after this many agent turns")


class Voice(_Strict):
    style_notes: list[Line] = _items(min_length=1)
    example_lines: list[Line] = _items(min_length=2)


class ThirdParty(_Strict):
    relation: ShortText = Field(description="Who answered, e.g. 'mother of the account holder'")
    account_holder: Name


class Attorney(_Strict):
    name: Name
    firm: ShortText
    phone: ShortText


class Identity(_Strict):
    """What a right-party check asks the debtor for. The debtor says these as they are (an authored
    line), never what the model would make up: asked for a date of birth, a small model invents one."""

    date_of_birth: date = Field(description="YYYY-MM-DD; keep it in line with profile.age")
    street: ShortText = Field(description="House number and street, e.g. '2214 Fredericksburg Road'")
    city: ShortText
    state: ShortText = Field(description="State or province, as the debtor would say it")
    zip: str = Field(pattern=r"^(?:\d{5}(?:-\d{4})?|\d{6})$", description="Zip code (5 digits) or Chinese postcode (6)")
    id_last4: str = Field(
        pattern=r"^\d{3}[\dXx]$",
        description="Last four of the Social Security number (US) or of the ID card number (China)",
    )


class Persona(_Strict):
    version: Literal[1] = Field(description="Schema version; currently 1")
    id: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=60)
    name: Name
    language: str = Field(default="en", pattern=r"^[a-z]{2}$")
    temperament: Temperament
    difficulty: Literal["easy", "medium", "hard"]
    situation: str = Field(min_length=10, max_length=160, description="One line for the persona card")
    profile: Profile
    debt: Debt
    hidden_facts: list[HiddenFact] = _items(default_factory=list)
    payment_capacity: PaymentCapacity
    meters: dict[Meter, Score]
    sensitivities: dict[AgentSignal, Sensitivity]
    thresholds: Thresholds
    voice: Voice
    fallback_lines: dict[Intent, Annotated[list[Line], _items()]]
    third_party: ThirdParty | None = None
    attorney: Attorney | None = None
    identity: Identity | None = Field(
        default=None,
        description="Date of birth, address, zip and ID last four, for identity checks; without it the "
        "debtor politely declines to give a detail over the phone",
    )
    call_time: time = Field(
        default=time(10, 30),
        description="The debtor's local time when a practice call starts (HH:MM; default 10:30). The "
        "trainee's own clock never counts: set it outside 08:00-21:00 to practise the calling-hours rule.",
    )
    # The file's optional `director:` section, merged onto simulator/data/director.yaml's tunables:
    # always the full set the director uses for this persona.
    director: DirectorTunables = Field(
        description="Overrides of the director's tunables (simulator/data/director.yaml) for this persona"
    )

    @model_validator(mode="before")
    @classmethod
    def _director_defaults(cls, data: object) -> object:
        if isinstance(data, dict):
            return {**data, "director": with_defaults(data.get("director"))}
        return data

    @field_validator("meters")
    @classmethod
    def _all_meters(cls, v: dict[Meter, float]) -> dict[Meter, float]:
        missing = [m.value for m in Meter if m not in v]
        if missing:
            raise ValueError(f"missing meters: {', '.join(missing)}")
        return v

    @property
    def account_holder(self) -> str:
        """Whose account the call is about: the debtor, or (a wrong party) the person asked for."""
        return self.third_party.account_holder if self.third_party else self.name

    @field_validator("fallback_lines")
    @classmethod
    def _every_intent(cls, v: dict[Intent, list[str]]) -> dict[Intent, list[str]]:
        missing = [i.value for i in Intent if not v.get(i)]
        if missing:
            raise ValueError(f"needs at least one line for every intent; missing: {', '.join(missing)}")
        for intent, lines in v.items():
            for line in lines:
                unknown = [n for n in _PLACEHOLDER.findall(line) if n not in PLACEHOLDERS]
                if unknown:
                    raise ValueError(
                        f"{intent.value}: unknown placeholder {{{unknown[0]}}} "
                        f"(allowed: {', '.join(sorted(PLACEHOLDERS))})"
                    )
        return v

    @model_validator(mode="after")
    def _role_fields(self) -> Persona:
        if self.temperament is Temperament.wrong_party and self.third_party is None:
            raise ValueError("temperament wrong_party needs a third_party section")
        if self.temperament is Temperament.represented and self.attorney is None:
            raise ValueError("temperament represented needs an attorney section")
        if self.temperament is Temperament.hostile and self.thresholds.min_turns_before_agreement < 3:
            raise ValueError("a hostile debtor must not agree in the first two turns: set thresholds.min_turns_before_agreement to 3 or more")
        ids = [f.id for f in self.hidden_facts]
        if len(ids) != len(set(ids)):
            raise ValueError("hidden_facts ids must be unique")
        return self

    def sensitivity(self, signal: AgentSignal) -> Sensitivity:
        return self.sensitivities.get(signal, Sensitivity())

    def fallback(self, intent: Intent, index: int = 0) -> str:
        lines = self.fallback_lines[intent]
        return lines[index % len(lines)]


class PersonaError(DataFileError):
    """A persona file that cannot be used; ``str()`` is one readable line per problem."""


def parse_persona(text: str, source: str = "<string>") -> Persona:
    """Parse YAML text into a Persona, raising PersonaError with readable lines."""
    return load_model(Persona, text, source, guide="personas/README.md", error=PersonaError)


def load_persona_file(path: Path | str) -> Persona:
    path = Path(path)
    persona = parse_persona(read_text(path, PersonaError), str(path))
    if persona.id != path.stem:
        raise PersonaError([f"{path}: id: '{persona.id}' must match the file name '{path.stem}'"])
    return persona


@dataclass
class PersonaLibrary:
    """Personas loaded from one or more folders; broken files are kept as problems, not raised."""

    personas: dict[str, Persona]
    problems: list[str]  # at most a screenful per file; ``problem_count`` counts them all
    problem_count: int = 0

    def __post_init__(self) -> None:
        self.problem_count = max(self.problem_count, len(self.problems))

    def get(self, persona_id: str) -> Persona:
        if persona_id not in self.personas:
            known = ", ".join(sorted(self.personas)) or "none"
            raise KeyError(f"unknown persona '{persona_id}' (known: {known})")
        return self.personas[persona_id]


def persona_files(paths: list[Path | str] | None = None) -> list[Path]:
    """Expand files and folders into a sorted list of YAML files."""
    files: list[Path] = []
    for p in [Path(x) for x in (paths or [SHIPPED_DIR])]:
        if p.is_dir():
            files.extend(sorted(list(p.glob("*.yaml")) + list(p.glob("*.yml"))))
        else:
            files.append(p)
    return files


def load_personas(paths: list[Path | str] | None = None) -> PersonaLibrary:
    """Load every persona file; one broken file never stops the others from loading."""
    personas: dict[str, Persona] = {}
    problems: list[str] = []
    count = 0
    for f in persona_files(paths):
        if not f.exists():
            problems.append(f"{f}: (file): no such file or folder")
            count += 1
            continue
        try:
            p = load_persona_file(f)
        except PersonaError as exc:
            problems.extend(exc.problems)
            count += exc.count
            continue
        except (ValueError, TypeError, RecursionError, OverflowError) as exc:
            # a case the loader did not foresee still costs this file only, not the folder
            problems.append(f"{f}: (file): cannot be loaded: {type(exc).__name__}: {str(exc)[:200]}")
            count += 1
            continue
        if p.id in personas:
            problems.append(f"{f}: id: duplicate persona id '{p.id}'")
            count += 1
            continue
        personas[p.id] = p
    return PersonaLibrary(personas, problems, count)
