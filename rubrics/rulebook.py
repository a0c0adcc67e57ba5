"""Apply a compliance rulebook (data) to an analysed call: violations with turn and quote.

Every rule refers to analysis signals and call state; nothing here re-detects a signal.
Statements of rights and lawful next steps are separate signals in the analysis
(``rights_statement``, ``legal_consequence_statement``), so they never match a threat rule.

Rules may also depend on facts about the call (``Transcript.facts``: when it started, how often
the debtor was called, the channel, a bankruptcy ...). A rule whose facts are not given is not
checked, and :func:`checks_not_made` says which and why; for a first-party creditor, rules
written for third-party collectors are skipped or marked as agency policy.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from core.analysis.types import TurnAnalysis
from core.transcript import CallFacts, Transcript
from rubrics.loader import load_rubric
from rubrics.matching import CallView, short
from rubrics.results import NotChecked, Violation
from rubrics.schema import (
    AmountDetect,
    FrequencyDetect,
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
    if not applies_to(rulebook, view.call_features):
        return []
    facts = _facts(transcript)
    first_party = facts.collector_type == "first_party"
    heard = _heard_before(view)
    found: list[Violation] = []
    for rule in _applicable(rulebook, facts):
        policy = first_party and rule.first_party == "policy"
        citation = rulebook.policy_citation.replace("{citation}", rule.citation) if policy else rule.citation
        for pos, quote in _detect(rule, view, transcript, facts, heard, call_ended):
            found.append(
                Violation(
                    rule=rule.id, title=rule.title, citation=citation, severity=rule.severity,
                    turn=view.analyses[pos].index, quote=quote, basis="policy" if policy else "law",
                )
            )
    found.sort(key=lambda v: (v.turn, SEVERITY_ORDER[v.severity], v.rule))
    return found


def checks_not_made(
    rulebook: Rulebook | Rubric | str | Path, transcript: Transcript, analyses: Sequence[TurnAnalysis] = ()
) -> list[NotChecked]:
    """The rules this call could not be checked against, with the facts each one needs.

    A rule that depends on call facts (``facts:``, the start time, the balance, the call
    history) the metadata does not give is neither passed nor failed: it is listed here so a
    reviewer knows the score did not look. ``analyses`` lets the analysis' own call-start hour
    count when the metadata has none (a live call).
    """
    if not isinstance(rulebook, Rulebook):
        loaded = _rulebook_of(rulebook)
        if loaded is None:
            return []
        rulebook = loaded
    if analyses and not applies_to(rulebook, CallView.build(analyses, transcript).call_features):
        return []  # not a collection call: nothing was left unchecked, nothing applied
    facts = _facts(transcript)
    given = facts.given()
    out: list[NotChecked] = []
    for rule in rulebook.rules:
        if rule.first_party == "skip" and facts.collector_type == "first_party":
            continue
        if any(_holds(facts, k, v) for k, v in rule.skip_facts.items()):
            continue
        missing = [k for k in rule.facts if k not in given]
        if any(k in given and not _holds(facts, k, v) for k, v in rule.facts.items()):
            continue  # the facts say the rule does not apply: that is a check made
        missing += _detect_needs(rule, given, analyses)
        if missing:
            out.append(NotChecked(rule=rule.id, title=rule.title, needs=list(dict.fromkeys(missing))))
    return out


def applies_to(rulebook: Rulebook, call_features: frozenset[str]) -> bool:
    """Whether the rulebook governs this conversation at all: a collection rulebook says which
    signals make a call a collection call (``applies_if_call_has``); a help-line conversation
    has none of them, so no collection rule applies to it."""
    return not rulebook.applies_if_call_has or not call_features.isdisjoint(rulebook.applies_if_call_has)


def _detect_needs(rule: Rule, given: frozenset[str], analyses: Sequence[TurnAnalysis]) -> list[str]:
    d = rule.detect
    if isinstance(d, HourDetect):
        live_hour = any(a.context.local_hour is not None for a in analyses[:1])
        return [] if "started_at" in given or live_hour else ["started_at"]
    if isinstance(d, AmountDetect):
        return [] if d.metadata_key in given else [d.metadata_key]
    if isinstance(d, FrequencyDetect):
        return [k for k in ("calls_last_7_days", "last_conversation_days_ago") if k not in given]
    return []


def _facts(transcript: Transcript) -> CallFacts:
    try:
        return transcript.facts
    except ValueError:  # a transcript built without validation (model_construct): no facts
        return CallFacts()


def _holds(facts: CallFacts, key: str, want: bool | str) -> bool:
    have = getattr(facts, key, None)
    return have is not None and (have == want or str(have) == str(want))


def _applicable(rulebook: Rulebook, facts: CallFacts) -> Iterator[Rule]:
    """The rules that apply to this call given its facts (a rule whose facts are missing does not)."""
    for rule in rulebook.rules:
        if rule.first_party == "skip" and facts.collector_type == "first_party":
            continue
        if any(_holds(facts, k, v) for k, v in rule.skip_facts.items()):
            continue
        if all(_holds(facts, k, v) for k, v in rule.facts.items()):
            yield rule


def _heard_before(view: CallView) -> list[frozenset[str]]:
    """For each analysed turn, everything the debtor (or whoever answered) said before it."""
    out: list[frozenset[str]] = []
    heard: frozenset[str] = frozenset()
    for i, a in enumerate(view.analyses):
        out.append(heard)
        if a.speaker != "agent":
            heard = heard | view.features[i]
    return out


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
    view = CallView.build(analyses, transcript)
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
    view = CallView.build(analyses, transcript)
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


def _detect(
    rule: Rule, view: CallView, transcript: Transcript, facts: CallFacts, heard: list[frozenset[str]], call_ended: bool
) -> Iterator[tuple[int, str]]:
    d = rule.detect
    if isinstance(d, TurnDetect):
        for pos in view.agent_positions:
            if d.after and heard[pos].isdisjoint(d.after):
                continue
            if d.not_after and not heard[pos].isdisjoint(d.not_after):
                continue
            if view.matches(d.match, pos):
                yield pos, view.quote(pos, [*d.match.signals, *d.match.all_signals])
                if d.once:
                    return
    elif isinstance(d, MissingDetect):
        yield from _missing(d, view, call_ended)
    elif isinstance(d, HourDetect):
        yield from _hour(d, view, transcript, facts)
    elif isinstance(d, AmountDetect):
        yield from _amount(d, view, transcript)
    elif isinstance(d, FrequencyDetect):
        yield from _frequency(d, view, facts)


def _missing(d: MissingDetect, view: CallView, call_ended: bool) -> Iterator[tuple[int, str]]:
    if not view.agent_positions:
        return
    if d.skip_if_ever and any(
        getattr(a.after, k) == v for a in view.analyses for k, v in d.skip_if_ever.items()
    ):
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


def _hour(d: HourDetect, view: CallView, transcript: Transcript, facts: CallFacts) -> Iterator[tuple[int, str]]:
    """Outside [earliest, latest) on the debtor's clock: the metadata's start (converted to
    ``debtor_timezone`` when given), else the hour the analysis was told (a live call)."""
    if not view.agent_positions:
        return
    first = view.agent_positions[0]
    local = facts.local_start()
    hour = local.hour if local is not None else view.analyses[first].context.local_hour
    if hour is None or d.earliest <= hour < d.latest:
        return
    if local is None:
        yield first, f"call started at {hour:02d}:00 debtor-local time"
        return
    started = transcript.metadata.get("started_at")
    zone = f" {facts.debtor_timezone}" if facts.debtor_timezone else ""
    yield first, f"call started at {started} ({local:%H:%M}{zone} debtor-local time)"


def _frequency(d: FrequencyDetect, view: CallView, facts: CallFacts) -> Iterator[tuple[int, str]]:
    """Regulation F's call-frequency presumption, from the call history in the metadata."""
    if not view.agent_positions or facts.channel == "sms":
        return
    reasons = []
    if facts.calls_last_7_days is not None and facts.calls_last_7_days >= d.max_calls_7_days:
        reasons.append(f"call {facts.calls_last_7_days + 1} in 7 days (at most {d.max_calls_7_days})")
    gap = facts.last_conversation_days_ago
    if gap is not None and gap < d.conversation_gap_days:
        reasons.append(f"{gap} day{'s' if gap != 1 else ''} after a conversation (wait {d.conversation_gap_days})")
    if reasons:
        yield view.agent_positions[0], "; ".join(reasons)


_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def _amount(d: AmountDetect, view: CallView, transcript: Transcript) -> Iterator[tuple[int, str]]:
    raw = transcript.metadata.get(d.metadata_key)
    try:
        debt = float(str(raw).replace(",", "").lstrip("$£€¥￥").removesuffix("元")) if raw is not None else None
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
