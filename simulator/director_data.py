"""The director's data (``simulator/data/director.yaml``): its schema, loader and checks.

The file holds the signals the director reacts to (shared by every persona) and the numbers
its rules use (``tunables``: mood bands, thresholds, disclosure penalties ...). A persona file's
optional ``director:`` section overrides any tunable for that persona: it is merged onto the
shipped tunables key by key (a list, such as mood bands, is replaced whole) and the result is
validated by the same schema, so a mistake there is one line naming the persona file and field.

Every catalogue signal the director names, in the file or in its rules (:data:`SIG`), is checked
against ``core/analysis/signals.yaml`` once per process, when the first Director is built: a
signal renamed there is one line naming the file, the field and the fix, not a rule that
silently never fires.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.analysis.catalogue import Catalogue, shown_path, signal_problems
from core.datafile import MAX_LIST_ITEMS, DataFileError, ShortText, load_model, read_text
from simulator.intents import ENDING_INTENTS, AgentSignal, Intent

DEFAULT_PATH = Path(__file__).resolve().parent / "data" / "director.yaml"
GUIDE = "personas/README.md"
_THIS_FILE = "simulator/director_data.py"  # where SIG names the signals the rules read
# Agent signals the director works out from the turn itself (the question, the offer, the
# context), so director.yaml maps no catalogue signal to them.
DERIVED = frozenset({AgentSignal.open_question, AgentSignal.clear_offer, AgentSignal.debt_disclosure})

Meter = Annotated[float, Field(ge=0, le=100)]  # a meter value (trust, anger, distress)
Step = Annotated[float, Field(ge=0, le=100)]  # how far a meter moves, or a margin below a threshold
Change = Annotated[float, Field(ge=-100, le=100)]  # a signed meter change
SignalName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=80)]
Signals = Annotated[list[SignalName], Field(min_length=1, max_length=MAX_LIST_ITEMS)]


class _Reads(NamedTuple):
    """Catalogue signals the director's rules (simulator/director.py) read by name, as ``SIG.close``.

    Checked against core/analysis/signals.yaml with the data file's signals (:func:`director_signals`).
    """

    close: str = "close"
    recap: str = "recap"
    break_character: str = "break_character_attempt"
    identifier_request: str = "identifier_request"
    rights_statement: str = "rights_statement"
    mini_miranda: str = "mini_miranda"
    legal_consequence: str = "legal_consequence_statement"
    debt_mention: str = "debt_mention"
    payment_offer: str = "payment_offer"
    support_referral: str = "support_referral"
    safety_check: str = "safety_check"
    abuse: str = "abuse"
    pressure: str = "pressure"


SIG = _Reads()


class DirectorDataError(DataFileError):
    """The director's data cannot be used; one ``file: field: message`` line per problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# --- signals (shared) -----------------------------------------------------------------------


class Offenses(_Strict):
    severe: Signals
    clear: Signals
    mild: Signals

    @property
    def any(self) -> frozenset[str]:
        return frozenset(self.severe) | frozenset(self.clear) | frozenset(self.mild)

    @property
    def at_once(self) -> frozenset[str]:
        """Offenses answered at the first one (severe and clear)."""
        return frozenset(self.severe) | frozenset(self.clear)


class DirectorSignals(_Strict):
    agent_signals: dict[AgentSignal, Signals]
    offenses: Offenses

    @field_validator("agent_signals")
    @classmethod
    def _every_agent_signal(cls, v: dict[AgentSignal, list[str]]) -> dict[AgentSignal, list[str]]:
        derived = sorted(s.value for s in v if s in DERIVED)
        if derived:
            raise ValueError(f"{', '.join(derived)}: worked out by the director from the turn itself; remove it here")
        missing = [s.value for s in AgentSignal if s not in DERIVED and s not in v]
        if missing:
            raise ValueError(f"missing {', '.join(missing)}: a persona's sensitivity to it would never apply; map it to catalogue signals")
        return v


# --- tunables (a persona may override each) ---------------------------------------------------


class MoodBand(_Strict):
    at: Meter
    word: ShortText = Field(min_length=1)


Bands = Annotated[list[MoodBand], Field(max_length=MAX_LIST_ITEMS)]


class Mood(_Strict):
    """Mood words per meter: the first band (highest first) whose ``at`` the meter reaches."""

    anger: Bands
    distress: Bands
    trust: Bands

    @model_validator(mode="after")
    def _bands_descend(self) -> Mood:
        for name in ("anger", "distress", "trust"):
            ats = [b.at for b in getattr(self, name)]
            if any(a <= b for a, b in zip(ats, ats[1:], strict=False)):
                raise ValueError(f"{name}: list the bands from the highest 'at' down, each lower than the one before")
            if name != "distress" and (not ats or ats[-1] != 0):
                raise ValueError(f"{name}: the last band needs 'at: 0', so every value has a word")
        return self

    def describe(self, anger: float, distress: float, trust: float) -> str:
        words = [_band(self.anger, anger), _band(self.distress, distress), _band(self.trust, trust)]
        return ", ".join(w for w in words if w)


def _band(bands: list[MoodBand], value: float) -> str | None:
    return next((b.word for b in bands if value >= b.at), None)


class Identity(_Strict):
    ask_who_below_trust: Meter
    refuse_detail_at_anger: Meter


class Crisis(_Strict):
    at_distress: Meter
    help_relief: Step
    pressure_distress: Step
    overwhelmed_at: Meter
    unheard_at: Meter


class Money(_Strict):
    capacity_question_margin: Step
    counter_offer_margin: Step
    refuse_at_anger: Meter


class Pressure(_Strict):
    warn_margin: Step
    despair_at_distress: Meter
    vent_at_anger: Meter


class Conversation(_Strict):
    open_up_at_distress: Meter
    explain_at_distress: Meter
    hostile_closed_at_anger: Meter
    hostile_vent_at_anger: Meter


class OffenseCounts(_Strict):
    mild_to_leave: int = Field(ge=1, le=20)


class WrongParty(_Strict):
    disclosure_anger: Change
    disclosure_trust: Change


class Represented(_Strict):
    refer_after_turns: int = Field(ge=0, le=100)


class Repetition(_Strict):
    max_repeats: int = Field(ge=1, le=20)
    alternatives: dict[Intent, Annotated[list[Intent], Field(min_length=1, max_length=MAX_LIST_ITEMS)]]

    @field_validator("alternatives")
    @classmethod
    def _no_endings(cls, v: dict[Intent, list[Intent]]) -> dict[Intent, list[Intent]]:
        for intent, alts in v.items():
            ending = [i.value for i in (intent, *alts) if i in ENDING_INTENTS]
            if ending:
                raise ValueError(f"{intent.value}: {ending[0]} ends the call and is never varied; remove it")
        return v


class DirectorTunables(_Strict):
    mood: Mood
    identity: Identity
    crisis: Crisis
    money: Money
    pressure: Pressure
    conversation: Conversation
    offenses: OffenseCounts
    wrong_party: WrongParty
    represented: Represented
    repetition: Repetition


class DirectorData(_Strict):
    version: Literal[1] = Field(description="Schema version; currently 1")
    signals: DirectorSignals
    tunables: DirectorTunables


# --- loading ---------------------------------------------------------------------------------


def load_director_data(path: Path | str = DEFAULT_PATH) -> DirectorData:
    """Parse and validate a director data file, raising DirectorDataError with readable lines."""
    source = shown_path(Path(path))
    return load_model(DirectorData, read_text(path, DirectorDataError), source, guide=GUIDE, error=DirectorDataError)


@lru_cache(maxsize=1)
def director_data() -> DirectorData:
    """The shipped ``simulator/data/director.yaml``, loaded once per process."""
    return load_director_data()


@lru_cache(maxsize=1)
def _default_tunables() -> dict[str, Any]:
    return director_data().tunables.model_dump(mode="json")


def with_defaults(override: Any) -> Any:
    """A persona's ``director:`` section merged onto the shipped tunables (what gets validated).

    Sections merge key by key; any other value (a list of mood bands, a number) replaces the
    shipped one. Anything that is not a section is returned as it is, for the schema to refuse.
    """
    if override is None:
        return _default_tunables()
    if not isinstance(override, dict):
        return override
    return _merge(_default_tunables(), override)


def _merge(base: dict[str, Any], over: dict[Any, Any]) -> dict[Any, Any]:
    out: dict[Any, Any] = dict(base)
    for key, value in over.items():
        old = out.get(key)
        out[key] = _merge(old, value) if isinstance(old, dict) and isinstance(value, dict) else value
    return out


def signal_references(data: DirectorData, source: str | None = None) -> list[tuple[str, str, str]]:
    """``(file, field, signal)`` for every catalogue signal the director's data names."""
    source = source or shown_path(DEFAULT_PATH)
    refs = [
        (source, f"signals.agent_signals.{agent.value}[{i}]", name)
        for agent, names in data.signals.agent_signals.items()
        for i, name in enumerate(names)
    ]
    for kind in ("severe", "clear", "mild"):
        refs += [(source, f"signals.offenses.{kind}[{i}]", n) for i, n in enumerate(getattr(data.signals.offenses, kind))]
    return refs


def check_signals(catalogue: Catalogue | None = None, data: DirectorData | None = None) -> list[str]:
    """Problem lines for signals the director names (its data file and its rules) that the
    catalogue (default: core/analysis/signals.yaml) does not define; empty when all exist."""
    data = data if data is not None else director_data()
    refs = signal_references(data) + [(_THIS_FILE, f"SIG.{k}", v) for k, v in SIG._asdict().items()]
    return signal_problems(refs, catalogue)


@lru_cache(maxsize=1)
def director_signals() -> DirectorSignals:
    """The shipped director signals, checked against the signal catalogue once per process."""
    problems = check_signals()
    if problems:
        raise DirectorDataError(problems)
    return director_data().signals


__all__ = [
    "SIG",
    "DirectorData",
    "DirectorDataError",
    "DirectorSignals",
    "DirectorTunables",
    "Mood",
    "check_signals",
    "director_data",
    "director_signals",
    "load_director_data",
    "signal_references",
    "with_defaults",
]
