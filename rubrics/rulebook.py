"""Apply a compliance rulebook (data) to an analysed call: violations with turn and quote.

Every rule refers to analysis signals and call state; nothing here re-detects a signal.
Statements of rights and lawful next steps are separate signals in the analysis
(``rights_statement``, ``legal_consequence_statement``), so they never match a threat rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from core.analysis.types import TurnAnalysis
from core.transcript import Transcript
from rubrics.loader import load_rubric
from rubrics.matching import CallView, short
from rubrics.results import Violation
from rubrics.schema import (
    AmountDetect,
    HourDetect,
    MissingDetect,
    Rubric,
    Rule,
    Rulebook,
    TurnDetect,
)

SEVERITY_ORDER = {"blocker": 0, "major": 1, "minor": 2}


def find_violations(
    view: CallView, rulebook: Rulebook, transcript: Transcript, *, call_ended: bool = True
) -> list[Violation]:
    """All violations in the call, in turn order (then by severity).

    ``call_ended=False`` reads the call as still going on: a statement the rules require by
    the end of the call (``missing`` with ``if_no_deadline: whole_call``) and not made yet is
    not a violation yet, since a later turn may still make it.
    """
    found: list[Violation] = []
    for rule in rulebook.rules:
        for pos, quote in _detect(rule, view, transcript, call_ended):
            found.append(
                Violation(
                    rule=rule.id, title=rule.title, citation=rule.citation,
                    severity=rule.severity, turn=view.analyses[pos].index, quote=quote,
                )
            )
    found.sort(key=lambda v: (v.turn, SEVERITY_ORDER[v.severity], v.rule))
    return found


def turn_violations(
    rubric: Rubric | str | Path, analyses: Sequence[TurnAnalysis], transcript: Transcript
) -> list[Violation]:
    """The violations of the call's last agent turn, exactly as the final score will list them.

    For live coaching: ``analyses`` are the call's turns analysed so far (one per turn, ending
    at or after the agent turn just spoken); nothing is analysed again. Only what later turns
    cannot change is reported, so every violation found here is in the final score, at the
    same turn; the few that only the end of the call settles come from
    :func:`call_end_violations`.
    """
    rulebook = _rulebook_of(rubric)
    view = CallView.build(analyses)
    if rulebook is None or not view.agent_positions:
        return []
    last = view.analyses[view.agent_positions[-1]].index
    return [v for v in find_violations(view, rulebook, transcript, call_ended=False) if v.turn == last]


def call_end_violations(
    rubric: Rubric | str | Path, analyses: Sequence[TurnAnalysis], transcript: Transcript
) -> list[Violation]:
    """The violations only the end of the call settles: something required that was never said.

    Together with :func:`turn_violations` of every agent turn, these are the final score's
    violations.
    """
    rulebook = _rulebook_of(rubric)
    if rulebook is None:
        return []
    view = CallView.build(analyses)
    so_far = find_violations(view, rulebook, transcript, call_ended=False)
    return [v for v in find_violations(view, rulebook, transcript) if v not in so_far]


def fill_advice(advice: str, **values) -> str:
    """Advice text with its placeholders ({quote}, {turn}, ...) filled; unknown ones stay as written."""
    return advice.format_map(_KeepMissing(values))


def rule_advice(rule: Rule, violation: Violation) -> str:
    """What the trainee should do instead, for one violation of ``rule``."""
    return fill_advice(rule.advice, turn=violation.turn, quote=violation.quote)


class _KeepMissing(dict):
    def __missing__(self, key):
        return "{" + key + "}"


def _rulebook_of(rubric: Rubric | str | Path) -> Rulebook | None:
    loaded = load_rubric(rubric)
    return loaded._rulebook


def _detect(rule: Rule, view: CallView, transcript: Transcript, call_ended: bool) -> Iterator[tuple[int, str]]:
    d = rule.detect
    if isinstance(d, TurnDetect):
        for pos in view.agent_positions:
            if view.matches(d.match, pos):
                yield pos, view.quote(pos, [*d.match.signals, *d.match.all_signals])
                if d.once:
                    return
    elif isinstance(d, MissingDetect):
        yield from _missing(d, view, call_ended)
    elif isinstance(d, HourDetect):
        yield from _hour(d, view, transcript)
    elif isinstance(d, AmountDetect):
        yield from _amount(d, view, transcript)


def _missing(d: MissingDetect, view: CallView, call_ended: bool) -> Iterator[tuple[int, str]]:
    if not view.agent_positions:
        return
    deadline = None
    if d.before is not None:
        deadline = next((p for p in view.agent_positions if view.matches(d.before, p)), None)
        if deadline is None and (d.if_no_deadline == "skip" or not call_ended):
            return
    elif not call_ended:  # no deadline at all: only the whole call can tell
        return
    window = [p for p in view.agent_positions if deadline is None or p <= deadline]
    if any(not view.features[p].isdisjoint(d.signals) for p in window):
        return
    anchor = deadline if deadline is not None else view.agent_positions[0]
    names = d.before.signals if d.before is not None else []
    yield anchor, view.quote(anchor, names)


def _hour(d: HourDetect, view: CallView, transcript: Transcript) -> Iterator[tuple[int, str]]:
    if not view.agent_positions:
        return
    first = view.agent_positions[0]
    hour = view.analyses[first].context.local_hour
    if hour is None or d.earliest <= hour < d.latest:
        return
    started = transcript.metadata.get("started_at", f"{hour:02d}:00")
    yield first, f"call started at {started} (debtor-local hour {hour})"


_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def _amount(d: AmountDetect, view: CallView, transcript: Transcript) -> Iterator[tuple[int, str]]:
    raw = transcript.metadata.get(d.metadata_key)
    try:
        debt = float(str(raw).replace(",", "").lstrip("$£€¥")) if raw is not None else None
    except ValueError:
        debt = None
    if debt is None or debt <= 0:
        return
    for pos in view.agent_positions:
        a = view.analyses[pos]
        amounts = list(a.amounts) + ([a.offer.amount] if a.offer is not None else [])
        over = [x for x in amounts if x > debt + d.tolerance]
        if over:
            yield pos, _quote_amount(a.text, max(over))


def _quote_amount(text: str, amount: float) -> str:
    """The sentence that states ``amount`` (falls back to the turn)."""
    for sentence in re.split(r"(?<=[.!?。！？])\s*", text):
        for m in _NUMBER.finditer(sentence):
            try:
                if abs(float(m.group(0).replace(",", "")) - amount) < 0.005:
                    return short(sentence)
            except ValueError:
                continue
    return short(text)
