"""The transcript contract (see docs/DESIGN.md) and JSON Lines round-trip.

Multi-format readers (CSV, plain text, speaker aliases) live in ``core.readers``.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.files import atomic_write_text

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")

Speaker = Literal["agent", "debtor", "third_party"]


class Turn(BaseModel):
    model_config = ConfigDict(extra="allow")

    speaker: Speaker
    text: str


Channel = Literal["call", "voicemail", "sms"]
CollectorType = Literal["third_party", "first_party"]
_MONEY = re.compile(r"^\s*[$£€¥￥]?\s*(\d[\d,]*(?:\.\d+)?)\s*(?:元|块|usd|rmb|cny)?\s*$", re.IGNORECASE)


class CallFacts(BaseModel):
    """What is known about the call beyond its words (``Transcript.metadata``), all optional.

    Other metadata keys (outcome, backend, seed ...) are kept as they are. A value given with the
    wrong type is an error that names the field and the fix.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    started_at: datetime | None = Field(
        default=None, description="When the call started, ISO 8601 with its UTC offset: 2026-11-28T18:30:00-05:00"
    )
    debtor_timezone: str | None = Field(
        default=None, description="The debtor's IANA time zone (America/New_York, Asia/Shanghai): local time is "
        "started_at converted to it; without it, started_at's own wall clock is taken as the debtor's"
    )
    calls_last_7_days: int | None = Field(
        default=None, ge=0, description="Calls placed to the debtor about this debt in the 7 days before this one"
    )
    last_conversation_days_ago: int | None = Field(
        default=None, ge=0, description="Days since the last telephone conversation with the debtor (0 = today)"
    )
    time_barred: bool | None = Field(default=None, description="The statute of limitations on the debt has run")
    channel: Channel | None = Field(default=None, description="call, voicemail (a message left) or sms")
    collector_type: CollectorType | None = Field(
        default=None, description="third_party (an agency or debt buyer) or first_party (the creditor itself)"
    )
    law_firm: bool | None = Field(
        default=None, description="The collecting agency is a law firm (its lawyers may say so)"
    )
    debt_amount: float | None = Field(default=None, gt=0, description="The balance owed, in the account's currency")
    bankruptcy: bool | None = Field(default=None, description="The debtor is in bankruptcy (the automatic stay applies)")
    represented_by_attorney: bool | None = Field(default=None, description="An attorney represents the debtor on this debt")
    disputed: bool | None = Field(default=None, description="A written dispute is pending verification")
    first_contact: bool | None = Field(default=None, description="This is the first contact with the debtor")

    @field_validator("started_at", mode="before")
    @classmethod
    def _has_time(cls, v: Any) -> Any:
        if isinstance(v, str) and re.fullmatch(r"\s*\d{4}-\d{2}-\d{2}\s*", v):
            raise ValueError(f"{v!r} has no time of day; give e.g. '{v.strip()}T18:30:00-05:00'")
        return v

    @field_validator("debtor_timezone")
    @classmethod
    def _known_zone(cls, v: str | None) -> str | None:
        if v is None:
            return None
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {v!r}; give one like 'America/New_York' or 'Asia/Shanghai'") from None
        return v

    @field_validator("debt_amount", mode="before")
    @classmethod
    def _money(cls, v: Any) -> Any:
        if isinstance(v, str):  # "$1,200.50", "5000元"
            m = _MONEY.match(v)
            if not m:
                raise ValueError(f"expected an amount such as 1200.50, got {v!r}")
            return float(m.group(1).replace(",", ""))
        return v

    @classmethod
    def known_facts(cls) -> tuple[str, ...]:
        return tuple(cls.model_fields)

    def local_start(self) -> datetime | None:
        """When the call started on the debtor's clock (None when started_at is not given).

        With ``debtor_timezone``, an offset-aware start is converted to that zone and a naive one
        is read as that zone's wall clock; without it, the start's own wall clock is the debtor's.
        """
        if self.started_at is None:
            return None
        if self.debtor_timezone is None:
            return self.started_at
        zone = ZoneInfo(self.debtor_timezone)
        if self.started_at.tzinfo is None:
            return self.started_at.replace(tzinfo=zone)
        return self.started_at.astimezone(zone)

    def given(self) -> frozenset[str]:
        """The facts this call states (a fact given as null is not given)."""
        return frozenset(k for k in self.model_fields_set if getattr(self, k) is not None)

    @property
    def about_a_debt(self) -> bool:
        """The metadata say this call is about a debt (a balance, a dispute, a bankruptcy, an
        attorney, a time-barred debt): a collection call whatever its words."""
        return bool(self.given() & {"debt_amount", "disputed", "bankruptcy", "represented_by_attorney", "time_barred"})


def _facts_problem(exc: ValidationError) -> str:
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or "metadata"
    msg = str(err["msg"]).removeprefix("Value error, ")
    shown = repr(err.get("input"))
    return f"{field}: {msg}" if shown in msg or "input" not in err else f"{field}: {msg} (got {shown})"


class Transcript(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    language: str = "en"
    persona: str | None = None
    turns: list[Turn] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("metadata")
    @classmethod
    def _call_facts(cls, v: dict[str, Any]) -> dict[str, Any]:
        # Validated for the error it gives; the metadata itself is kept as written.
        try:
            CallFacts.model_validate(v)
        except ValidationError as exc:
            raise ValueError(_facts_problem(exc)) from None
        return v

    @property
    def facts(self) -> CallFacts:
        """The call's validated context facts (every one optional)."""
        return CallFacts.model_validate(self.metadata or {})

    def agent_turns(self) -> list[tuple[int, Turn]]:
        return [(i, t) for i, t in enumerate(self.turns) if t.speaker == "agent"]

    def to_json_line(self) -> str:
        line = json.dumps(self.model_dump(mode="json", exclude_none=True), ensure_ascii=False)
        # A lone surrogate (from a bad "\\ud800" escape) cannot be written as UTF-8: U+FFFD.
        return _LONE_SURROGATE.sub("\ufffd", line)

    def content_hash(self) -> str:
        """sha256 of everything the call holds (id, turns, language, persona, metadata, extra
        fields): an edited transcript gets a new hash, a re-read one the same."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()


def append_jsonl(path: Path | str, transcript: Transcript) -> None:
    """Append one call to a JSONL file (creating folders as needed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(transcript.to_json_line() + "\n")


def write_jsonl_atomic(path: Path | str, transcripts: list[Transcript]) -> None:
    """Write all calls to ``path`` atomically: readers never see a half-written file."""
    atomic_write_text(path, "".join(t.to_json_line() + "\n" for t in transcripts))


def read_jsonl(path: Path | str) -> list[Transcript]:
    """Read a contract-conformant JSONL file (strict; use transcript_formats for lenient reading)."""
    out = []
    with Path(path).open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                out.append(Transcript.model_validate_json(line))
    return out
