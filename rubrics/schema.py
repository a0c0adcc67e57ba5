"""The rubric and rulebook file schemas (pydantic, ``extra="forbid"``).

Rubrics and rulebooks are data that trainers edit; nothing here detects anything. Indicators
and rules *refer* to what the turn analysis found (``core/analysis``) through
:class:`Match`, whose ``signals`` name analysis signals or a few structural features:

* a signal name from ``core/analysis/signals.yaml`` (``empathy``, ``threat_arrest`` …)
* ``question:open`` / ``question:closed`` — the turn asks that kind of question
* ``topic:<topic>`` — the turn asks about a topic (``topic:situation``, ``topic:payment_ability``)
* ``offer`` / ``offer:monthly`` / ``offer:dated`` — the turn proposes a payment (instalment /
  with a date)
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from core.datafile import Line, LongText, ShortText
from core.transcript import CallFacts

SCHEMA_VERSION = 1

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_\-]*$", max_length=60)]
Severity = Literal["blocker", "major", "minor"]
ContextFlag = Literal[
    "self_identified", "identity_asked", "identity_verified", "third_party", "debt_disclosed",
    "mini_miranda_given", "stop_requested", "attorney_mentioned", "distress_disclosed",
    "hardship_disclosed", "dispute_raised", "first_contact",
]


class _Strict(BaseModel):
    # allow_inf_nan=False: `.inf` and `.nan` are YAML numbers, but never a weight or a mark.
    # Text fields keep the data-file limits (core/datafile.py, listed in rubrics/README.md).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Match(_Strict):
    """Which agent turns something applies to. Every field given must hold (AND)."""

    signals: list[str] = Field(default_factory=list, description="The turn has ANY of these")
    all_signals: list[str] = Field(default_factory=list, description="The turn has ALL of these")
    absent: list[str] = Field(default_factory=list, description="The turn has NONE of these")
    context: dict[ContextFlag, bool] = Field(
        default_factory=dict, description="Call state before the turn: every flag has this value"
    )
    context_any: dict[ContextFlag, bool] = Field(
        default_factory=dict, description="Call state before the turn: at least one flag has this value"
    )
    responds_to: list[str] = Field(
        default_factory=list, description="The latest non-agent turn before this one has ANY of these signals"
    )
    preceded_by: list[str] = Field(
        default_factory=list, description="An earlier agent turn had ANY of these"
    )
    max_agent_turn: int | None = Field(
        default=None, ge=0, description="Only the first N+1 agent turns (0 = the first agent turn)"
    )

    def referenced(self) -> list[str]:
        return [*self.signals, *self.all_signals, *self.absent, *self.responds_to, *self.preceded_by]


# --- rubric ----------------------------------------------------------------------------------


class _IndicatorBase(_Strict):
    id: Slug
    description: LongText = Field(min_length=3)
    weight: float = Field(gt=0, le=100)
    scope: Literal["turn", "call"] = Field(
        description="turn: share of eligible agent turns; call: once in the call is enough"
    )
    effect: Literal["+", "-"] = Field(
        default="+", description="+: doing it is good; -: doing it is bad (a penalty)"
    )
    when: Match | None = Field(default=None, description="Which agent turns are eligible")
    first_only: bool = Field(default=False, description="Judge only the first eligible turn")
    only_if_call_has: list[str] = Field(
        default_factory=list, description="Not applicable unless some turn in the call has one of these"
    )
    skip_if_call_has: list[str] = Field(
        default_factory=list, description="Not applicable if some turn in the call has one of these"
    )
    target_hits: int = Field(default=1, ge=1, description="call scope, +: hits needed for full marks")
    penalty_per_hit: float = Field(default=0.5, gt=0, le=1, description="call scope, -: lost per hit")
    anchor: Literal["first", "last", "reply"] = Field(
        default="first",
        description="Where a missing behaviour is reported: the first/last eligible turn, or (reply) "
        "the agent's reply to the debtor's most telling turn",
    )
    advice: LongText = Field(
        min_length=5,
        description="Feedback when this indicator is weak; may use {turn} {quote} {trigger}",
    )

    def referenced(self) -> list[str]:
        refs = [*self.only_if_call_has, *self.skip_if_call_has]
        if self.when:
            refs += self.when.referenced()
        return refs


class SemanticIndicator(_IndicatorBase):
    """Said with this meaning: an analysis signal, or the rubric's own exemplar phrases."""

    kind: Literal["semantic"]
    signal: str | None = None
    signals: list[str] = Field(default_factory=list, description="Any of these analysis signals")
    exemplars: list[Line] = Field(default_factory=list, description="Phrases matched with the embedder")
    threshold: float = Field(default=0.6, gt=0, lt=1, description="Cosine similarity for exemplars")

    @model_validator(mode="after")
    def _one_source(self) -> SemanticIndicator:
        has_signal = bool(self.signal or self.signals)
        if has_signal == bool(self.exemplars):
            raise ValueError("give either signal(s) or exemplars, not both and not neither")
        return self

    def referenced(self) -> list[str]:
        return [*super().referenced(), *([self.signal] if self.signal else []), *self.signals]


class PatternIndicator(_IndicatorBase):
    """A structural pattern over analysed turns (signals, questions, offers, call state)."""

    kind: Literal["pattern"]
    match: Match

    def referenced(self) -> list[str]:
        return [*super().referenced(), *self.match.referenced()]


class MetricIndicator(_IndicatorBase):
    """A measurable property of what the agent said, scaled linearly between good and bad."""

    kind: Literal["metric"]
    # readability, sentence_length, jargon: measured on the words; empathy (0-100), acknowledgement,
    # reflection, exploration (0-1) and clarity (0-100): the turn analysis's graded readings
    metric: Literal["readability", "sentence_length", "jargon", "empathy", "acknowledgement", "reflection",
                    "exploration", "clarity"]
    good: float = Field(description="At or better than this: full marks")
    bad: float = Field(description="At or worse than this: no marks")
    jargon: list[ShortText] = Field(default_factory=list, description="metric jargon: the terms to avoid")
    mechanism_advice: dict[Literal["acknowledgement", "reflection", "exploration"], ShortText] = Field(
        default_factory=dict,
        description="metric empathy: what to do for each mechanism the weakest reply lacked; the advice's "
        "{missing} says those of the reply (the first one when it had each at least weakly)",
    )

    @model_validator(mode="after")
    def _sane(self) -> MetricIndicator:
        if self.good == self.bad:
            raise ValueError("good and bad must differ")
        if self.metric == "jargon" and not self.jargon:
            raise ValueError("metric 'jargon' needs a jargon list")
        return self


Indicator = Annotated[
    SemanticIndicator | PatternIndicator | MetricIndicator, Field(discriminator="kind")
]


class RulebookPenalties(_Strict):
    """Points a compliance criterion loses per violation, by severity (a blocker zeroes it)."""

    major: float = Field(default=35, ge=0, le=100)
    minor: float = Field(default=10, ge=0, le=100)


class Criterion(_Strict):
    id: Slug
    title: ShortText
    description: LongText = ""
    weight: float = Field(gt=0, le=100)
    indicators: list[Indicator] = Field(default_factory=list)
    from_rulebook: RulebookPenalties | None = Field(
        default=None, description="Score from the rulebook's violations (compliance)"
    )
    min_agent_turns: int = Field(
        default=1, ge=1, le=20,
        description="Not applicable to a transcript with fewer agent turns (call flow needs a call, not one reply)",
    )

    @model_validator(mode="after")
    def _has_source(self) -> Criterion:
        if not self.indicators and self.from_rulebook is None:
            raise ValueError("a criterion needs indicators or from_rulebook")
        ids = [i.id for i in self.indicators]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate indicator ids: {', '.join(dupes)}")
        return self


class CallCondition(_Strict):
    """Something the call as a whole did; every field given must hold (AND)."""

    call_has: list[str] = Field(
        default_factory=list, description="Some turn in the call (any speaker) has ANY of these"
    )
    agent_turn: Match | None = Field(default=None, description="Some agent turn matches this")

    @model_validator(mode="after")
    def _something(self) -> CallCondition:
        if not self.call_has and self.agent_turn is None:
            raise ValueError("give call_has, agent_turn, or both")
        return self

    def referenced(self) -> list[str]:
        return [*self.call_has, *(self.agent_turn.referenced() if self.agent_turn else [])]


class PassRequirement(_Strict):
    """What a call must reach to pass, whatever its score (a gate next to the pass mark)."""

    id: Slug
    reason: LongText = Field(min_length=5, description="Why the call did not pass, shown on the scorecard")
    any_of: list[CallCondition] = Field(min_length=1, description="Met when one of these holds")
    only_if_call_has: list[str] = Field(
        default_factory=list, description="Applies only to calls where some turn has one of these"
    )
    waived_by: list[CallCondition] = Field(
        default_factory=list,
        description="Proper endings that make the requirement unnecessary (a crisis, a dispute ...)",
    )

    def referenced(self) -> list[str]:
        refs = list(self.only_if_call_has)
        for c in (*self.any_of, *self.waived_by):
            refs += c.referenced()
        return refs


class Rubric(_Strict):
    schema_version: Literal[1] = SCHEMA_VERSION
    id: Slug
    version: ShortText = Field(description="Bump when weights or exemplars change; scores name it")
    language: str = Field(pattern=r"^[a-z]{2}$")
    title: ShortText
    description: LongText = ""
    rulebook: ShortText = Field(
        description="Rulebook id: a rules-*.yaml file next to the rubric or in rubrics/ (rubrics.loader.rulebook_file)"
    )
    pass_mark: float = Field(default=70, ge=0, le=100)
    required_to_pass: list[PassRequirement] = Field(
        default_factory=list, description="What a call must reach to pass, whatever its score"
    )
    no_credit_with: list[str] = Field(
        default_factory=list,
        description="A turn with any of these signals (pressure, threats) earns no + indicator",
    )
    criteria: list[Criterion] = Field(min_length=1)

    # Set by the loader: the rulebook this rubric names, and the file it came from.
    _rulebook: Rulebook | None = PrivateAttr(default=None)
    _source: str | None = PrivateAttr(default=None)

    @property
    def rulebook_rules(self) -> Rulebook:
        if self._rulebook is None:
            raise RuntimeError(f"rubric {self.id!r} was not loaded with its rulebook; use load_rubric()")
        return self._rulebook

    @property
    def source(self) -> str | None:
        return self._source

    @model_validator(mode="after")
    def _unique(self) -> Rubric:
        ids = [c.id for c in self.criteria]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate criterion ids: {', '.join(dupes)}")
        gates = [g.id for g in self.required_to_pass]
        dupes = sorted({i for i in gates if gates.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate required_to_pass ids: {', '.join(dupes)}")
        return self


# --- rulebook --------------------------------------------------------------------------------


class TurnDetect(_Strict):
    """A violation in each agent turn that matches."""

    kind: Literal["turn"]
    match: Match
    once: bool = Field(default=False, description="Report only the first matching turn")
    after: list[str] = Field(
        default_factory=list,
        description="Only after the debtor (or whoever answered) said ANY of these, earlier in the call",
    )
    not_after: list[str] = Field(
        default_factory=list,
        description="Not after the debtor (or whoever answered) said ANY of these, earlier in the call",
    )

    def referenced(self) -> list[str]:
        return [*self.match.referenced(), *self.after, *self.not_after]


class MissingDetect(_Strict):
    """Something that had to be said by a point in the call and was not."""

    kind: Literal["missing"]
    signals: list[str] = Field(min_length=1, description="Any of these counts as said")
    before: Match | None = Field(
        default=None, description="The deadline: the first agent turn matching this"
    )
    if_no_deadline: Literal["skip", "whole_call"] = Field(
        default="skip", description="When no turn matches 'before': skip, or check the whole call"
    )
    skip_if_ever: dict[ContextFlag, bool] = Field(
        default_factory=dict,
        description="Not checked in a call whose state ever had these values (third_party: true, a location call)",
    )

    def referenced(self) -> list[str]:
        return [*self.signals, *(self.before.referenced() if self.before else [])]


class HourDetect(_Strict):
    """A call started outside permitted hours (needs metadata.started_at with an offset)."""

    kind: Literal["hour"]
    earliest: int = Field(default=8, ge=0, le=23)
    latest: int = Field(default=21, ge=1, le=24, description="Calls must start before this hour")


class AmountDetect(_Strict):
    """An amount said by the agent exceeds the debt in metadata (when present)."""

    kind: Literal["amount"]
    metadata_key: ShortText = "debt_amount"
    tolerance: float = Field(default=1.0, ge=0, description="Rounding allowed, in currency units")


class FrequencyDetect(_Strict):
    """Call frequency from the call's facts: too many calls in 7 days, or a call too soon after a
    telephone conversation (Regulation F's presumption, 12 CFR 1006.14(b)(2))."""

    kind: Literal["frequency"]
    max_calls_7_days: int = Field(
        default=7, ge=1, description="A violation when this call comes after this many calls in the 7 days before it"
    )
    conversation_gap_days: int = Field(
        default=7, ge=1, description="A violation when the last conversation was fewer than this many days ago"
    )


Detect = Annotated[
    TurnDetect | MissingDetect | HourDetect | AmountDetect | FrequencyDetect, Field(discriminator="kind")
]

Fact = Literal[CallFacts.known_facts()]  # type: ignore[valid-type]


def _check_fact_values(values: dict[str, bool | str]) -> dict[str, bool | str]:
    try:
        CallFacts.model_validate(values)
    except ValueError as exc:
        first = exc.errors()[0] if hasattr(exc, "errors") else {"loc": (), "msg": str(exc)}
        raise ValueError(f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    return values


class Rule(_Strict):
    id: Slug
    title: ShortText
    citation: ShortText
    severity: Severity
    detect: Detect
    advice: LongText = Field(min_length=5, description="Feedback for a violation; may use {turn} {quote}")
    facts: dict[Fact, bool | str] = Field(
        default_factory=dict,
        description="Applies only when the call's metadata states these facts (channel: voicemail, "
        "time_barred: true); when one is not given, the rule is listed as not checked",
    )
    skip_facts: dict[Fact, bool | str] = Field(
        default_factory=dict, description="Does not apply when the call's metadata states these facts"
    )
    first_party: Literal["law", "policy", "skip"] = Field(
        default="law",
        description="For a first-party creditor (metadata collector_type: first_party): law (binds it too), "
        "policy (held to it as agency policy, marked so) or skip (does not apply)",
    )

    _facts_ok = field_validator("facts", "skip_facts")(_check_fact_values)

    def referenced(self) -> list[str]:
        """The signals the rule's detection names (none for the hour, amount and frequency checks)."""
        d = self.detect
        if isinstance(d, TurnDetect | MissingDetect):
            return d.referenced()
        return []


class Rulebook(_Strict):
    schema_version: Literal[1] = SCHEMA_VERSION
    id: Slug
    version: ShortText
    jurisdiction: ShortText
    language: str = Field(pattern=r"^[a-z]{2}$")
    policy_citation: ShortText = Field(
        default="Agency policy for a first-party creditor, modelled on {citation}",
        description="How a 'first_party: policy' rule is cited for a first-party creditor; {citation} is the rule's",
    )
    applies_if_call_has: list[str] = Field(
        default_factory=list,
        description="The rules apply only to a call in which some turn has one of these signals "
        "(a collection call); empty: to every call",
    )
    rules: list[Rule] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Rulebook:
        ids = [r.id for r in self.rules]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate rule ids: {', '.join(dupes)}")
        return self
