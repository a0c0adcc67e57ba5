"""The Score contract (docs/DESIGN.md): one JSON object per scored transcript."""

from __future__ import annotations

from typing import Literal

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


class Score(_Out):
    id: str
    rubric: str
    overall: float = Field(ge=0, le=100)
    passed: bool
    criteria: dict[str, CriterionScore]
    violations: list[Violation] = Field(default_factory=list)
    feedback: list[str] = Field(default_factory=list)

    def to_json_line(self) -> str:
        return self.model_dump_json()

    @property
    def blockers(self) -> list[Violation]:
        return [v for v in self.violations if v.severity == "blocker"]
