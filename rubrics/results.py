"""The Score contract (docs/DESIGN.md): one JSON object per scored transcript."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rubrics.schema import Severity


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Evidence(_Out):
    """Why a criterion scored as it did: one turn, what was said, which indicator, + or -."""

    turn: int = Field(ge=0, description="0-based index into the transcript's turns")
    quote: str
    indicator: str
    effect: Literal["+", "-"]


class CriterionScore(_Out):
    score: float = Field(ge=0, le=100)
    evidence: list[Evidence] = Field(default_factory=list)


class Violation(_Out):
    rule: str
    title: str
    citation: str
    severity: Severity
    turn: int = Field(ge=0)
    quote: str
    basis: Literal["law", "policy"] = Field(
        default="law",
        description="law: the cited provision binds this caller; policy: the call is held to it as agency "
        "policy (a first-party creditor under a rule written for third-party collectors)",
    )


class NotChecked(_Out):
    """A rule the call could not be checked against: facts it needs are not in the metadata."""

    rule: str
    title: str
    needs: list[str] = Field(description="The metadata facts that would let the rule be checked")


class Score(_Out):
    id: str
    rubric: str
    overall: float = Field(ge=0, le=100)
    passed: bool
    criteria: dict[str, CriterionScore]
    violations: list[Violation] = Field(default_factory=list)
    feedback: list[str] = Field(default_factory=list)
    not_checked: list[NotChecked] = Field(
        default_factory=list, description="Rules that could not be checked for want of call facts (metadata)"
    )
    not_applicable: list[str] = Field(
        default_factory=list,
        description="Criteria this conversation gives nothing to grade (compliance in a call that is not about "
        "a debt, call flow in a single reply): left out of `criteria` and of the overall, not scored 0 or 100",
    )

    def to_json_line(self) -> str:
        """One JSON line. Fields added to the contract later (``not_checked``, a violation's
        ``basis``) appear only when they say something, so a line reads as it always did."""
        exclude: dict = {}
        if not self.not_checked:
            exclude["not_checked"] = True
        if not self.not_applicable:
            exclude["not_applicable"] = True
        law = [i for i, v in enumerate(self.violations) if v.basis == "law"]
        if law:
            exclude["violations"] = {i: {"basis"} for i in law}
        return self.model_dump_json(exclude=exclude or None)

    @property
    def blockers(self) -> list[Violation]:
        return [v for v in self.violations if v.severity == "blocker"]


def criterion_names(records: Iterable[Mapping[str, Any]]) -> list[str]:
    """The criteria that score records (Score dicts; error records have none) name, each once, in
    the order first met: one rubric's own order, then any other rubric's new criteria after it.
    The order of every table, chart and CSV column that shows criteria side by side."""
    names: dict[str, None] = {}
    for r in records:
        names.update(dict.fromkeys(r.get("criteria") or {}))
    return list(names)
