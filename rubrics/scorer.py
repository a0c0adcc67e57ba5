"""Score a transcript against a rubric: criterion scores with evidence, violations, feedback.

The scorer aggregates the turn analysis (``core.analysis``); it detects nothing itself.
``score_transcript`` scores one call; ``score_many`` analyses a batch first so each distinct
sentence is embedded once; :class:`LiveScorer` analyses a call turn by turn for live coaching.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from core.analysis.analyzer import SEMANTIC_LANGUAGES, initial_context, split_sentences
from core.analysis.protocol import TurnAnalyzer
from core.analysis.script import language_family
from core.analysis.types import CallContext, TurnAnalysis
from core.transcript import Transcript
from rubrics.indicators import ExemplarMatcher, IndicatorResult, NgramExemplarMatcher, evaluate
from rubrics.loader import DEFAULT_RUBRICS, load_rubric
from rubrics.matching import CallView
from rubrics.results import CriterionScore, Evidence, Score, Violation
from rubrics.rulebook import (
    SEVERITY_ORDER,
    applies_to,
    checks_not_made,
    fill_advice,
    find_violations,
    turn_violations,
)
from rubrics.schema import CallCondition, Criterion, PassRequirement, Rubric

FEEDBACK_INDICATORS = 3  # the weakest indicators that get a suggestion
FEEDBACK_VIOLATIONS = 3  # distinct rules broken that get a suggestion
# A requirement to pass the call did not meet opens the feedback with this (the scorecard shows
# it next to the verdict): the Score contract keeps its fields, and a reader of the JSON sees why.
NOT_PASSED = "Not passed: "

__all__ = [
    "Score", "CriterionScore", "Evidence", "Violation", "Scorer", "LiveScorer", "TurnReport",
    "score_transcript", "score_many", "score_analyses", "unmet_requirements", "NOT_PASSED",
]


class Scorer:
    """A rubric bound to an analyzer (and its embedder): scores calls, one or many.

    Build it once and reuse it; the analyzer and the rubric's exemplar embeddings are loaded
    once. ``analyzer`` defaults to the analysis package's default for the rubric's language.
    """

    def __init__(self, rubric: Rubric | str | Path, analyzer: TurnAnalyzer | None = None):
        self.rubric = load_rubric(rubric)
        self.analyzer: TurnAnalyzer = analyzer if analyzer is not None else _default_analyzer(self.rubric.language)
        self._matcher: ExemplarMatcher | NgramExemplarMatcher | None = None
        self._uses_exemplars = any(
            getattr(ind, "exemplars", None) for c in self.rubric.criteria for ind in c.indicators
        )

    @property
    def matcher(self) -> ExemplarMatcher | NgramExemplarMatcher | None:
        if self._matcher is None and self.rubric.language not in SEMANTIC_LANGUAGES:
            # the embedder reads English only: a Chinese rubric's exemplars are matched by
            # character n-gram similarity instead (core/analysis/ngram.py)
            from core.analysis.ngram import DATA, default_similarity

            if self.rubric.language not in DATA:
                return None
            split = partial(split_sentences, language=self.rubric.language)
            self._matcher = NgramExemplarMatcher(default_similarity(self.rubric.language), split)
        if self._matcher is None:
            embedder = self.analyzer.embedder
            if embedder is None:  # an analyzer without embeddings: exemplar indicators not judged
                return None
            # split as the analysis splits this language, so its embedded sentences are reused
            self._matcher = ExemplarMatcher(embedder, partial(split_sentences, language=self.rubric.language))
            self._matcher.prepare(self.rubric)
        return self._matcher

    def score(self, transcript: Transcript) -> Score:
        return self.score_analysed(transcript, self.analyzer.analyze_transcript(transcript))

    def score_many(self, transcripts: Sequence[Transcript]) -> list[Score]:
        """Analyse the batch together (each distinct sentence embedded once), then score."""
        analyses = self.analyzer.analyze_many(list(transcripts))
        if self.matcher is not None and self._uses_exemplars:
            self.matcher.prefetch([t.text for tr in transcripts for t in tr.turns if t.speaker == "agent"])
        return [self.score_analysed(t, a) for t, a in zip(transcripts, analyses, strict=True)]

    def score_analysed(self, transcript: Transcript, analyses: Sequence[TurnAnalysis]) -> Score:
        return score_analyses(transcript, analyses, self.rubric, self.matcher)

    def warm_up(self) -> None:
        """Load models and embed the exemplars now, so the first live turn is fast."""
        self.analyzer.analyze_turn("Hello, how are you today?", speaker="agent", index=0, context=CallContext())
        _ = self.matcher


def score_transcript(
    transcript: Transcript, rubric: Rubric | str | Path | None = None, *, analyzer: TurnAnalyzer | None = None
) -> Score:
    """Score one transcript against a rubric (a loaded Rubric, a shipped id or a path).

    Without a rubric, the shipped default for the transcript's language (``default-en``,
    ``default-zh``) is used.
    """
    if rubric is None:
        rubric = DEFAULT_RUBRICS.get(language_family(transcript.language), "default-en")
    return _scorer_for(rubric, analyzer).score(transcript)


def score_many(
    transcripts: Sequence[Transcript], rubric: Rubric | str | Path = "default-en", *, analyzer: TurnAnalyzer | None = None
) -> list[Score]:
    """Score a batch; the analysis embeds each distinct sentence once for the whole batch."""
    return _scorer_for(rubric, analyzer).score_many(transcripts)


_SCORERS: dict[tuple[int, int], Scorer] = {}


def _scorer_for(rubric: Rubric | str | Path, analyzer: TurnAnalyzer | None) -> Scorer:
    # Reusing a Scorer keeps the exemplar embeddings; keyed by object identity, so a rubric
    # edited and reloaded (a new object) gets a new Scorer.
    loaded = load_rubric(rubric)
    key = (id(loaded), id(analyzer))
    scorer = _SCORERS.get(key)
    if scorer is None or scorer.rubric is not loaded:
        scorer = _SCORERS[key] = Scorer(loaded, analyzer)
    return scorer


def score_analyses(
    transcript: Transcript,
    analyses: Sequence[TurnAnalysis],
    rubric: Rubric,
    matcher: ExemplarMatcher | None = None,
) -> Score:
    """The pure aggregation: analysed turns + rubric (+ exemplar matcher) -> Score."""
    view = CallView.build(analyses, transcript)
    violations = find_violations(view, rubric.rulebook_rules, transcript) if rubric._rulebook else []
    # rules the call's facts could not settle (no start time, no balance, ...): said, not passed over
    not_checked = checks_not_made(rubric.rulebook_rules, transcript, analyses) if rubric._rulebook else []
    criteria: dict[str, CriterionScore] = {}
    not_applicable: list[str] = []
    weak: list[tuple[float, IndicatorResult, Criterion]] = []
    no_credit = frozenset(rubric.no_credit_with)
    rulebook_applies = bool(rubric._rulebook) and applies_to(rubric.rulebook_rules, view.call_features)
    graded: list[tuple[Criterion, list[IndicatorResult]]] = []
    for crit in rubric.criteria:
        results = [evaluate(ind, view, matcher, rubric.language, no_credit) for ind in crit.indicators]
        if view.agent_positions and not _applies(crit, results, rulebook_applies, len(view.agent_positions)):
            not_applicable.append(crit.id)
        else:
            graded.append((crit, results))
    total_weight = sum(c.weight for c, _ in graded) or 1.0
    overall = 0.0
    for crit, results in graded:
        score, evidence = _criterion_score(crit, results, violations, bool(view.agent_positions))
        criteria[crit.id] = CriterionScore(score=round(score, 1), evidence=evidence)
        overall += crit.weight * score
        applicable = sum(ind.weight for ind, r in zip(crit.indicators, results, strict=True) if r.value is not None)
        for ind, r in zip(crit.indicators, results, strict=True):
            if r.value is not None and r.value < 1 and r.weak_turn is not None:
                loss = (crit.weight / total_weight) * (ind.weight / applicable) * (1 - r.value)
                weak.append((loss, r, crit))
    # The verdict is judged on the overall as shown (one decimal): 69.96 shows as 70.0 and passes.
    overall = round(overall / total_weight, 1)
    blocked = any(v.severity == "blocker" for v in violations)
    unmet = unmet_requirements(rubric, view) if view.agent_positions else []
    passed = bool(view.agent_positions) and not blocked and not unmet and overall >= rubric.pass_mark
    feedback = [NOT_PASSED + g.reason for g in unmet]
    feedback += _feedback(rubric, violations, weak, bool(view.agent_positions))
    return Score(
        id=transcript.id,
        rubric=rubric.id,
        overall=overall,
        passed=passed,
        criteria=criteria,
        violations=violations,
        feedback=feedback,
        not_checked=not_checked,
        not_applicable=not_applicable,
    )


def _applies(crit: Criterion, results: list[IndicatorResult], rulebook_applies: bool, agent_turns: int) -> bool:
    """Whether the conversation gives the criterion anything to grade. Not applicable: fewer
    agent turns than it needs (call flow in a single reply), or every indicator not applicable
    and, for a compliance criterion, a rulebook that does not govern this conversation (a
    help-line call is not a collection call). Such a criterion is left out of the overall
    instead of scoring 0 (nothing done) or 100 (nothing done wrong)."""
    if agent_turns < crit.min_agent_turns:
        return False
    if any(r.value is not None for r in results):
        return True
    return crit.from_rulebook is not None and rulebook_applies


def unmet_requirements(rubric: Rubric, view: CallView) -> list[PassRequirement]:
    """The rubric's ``required_to_pass`` the call did not meet (each fails the call)."""
    unmet = []
    for g in rubric.required_to_pass:
        if g.only_if_call_has and view.call_features.isdisjoint(g.only_if_call_has):
            continue
        if any(_holds(c, view) for c in g.waived_by) or any(_holds(c, view) for c in g.any_of):
            continue
        unmet.append(g)
    return unmet


def _holds(c: CallCondition, view: CallView) -> bool:
    if c.call_has and view.call_features.isdisjoint(c.call_has):
        return False
    return c.agent_turn is None or any(view.matches(c.agent_turn, p) for p in view.agent_positions)


def _criterion_score(
    crit: Criterion, results: list[IndicatorResult], violations: list[Violation], has_agent: bool
) -> tuple[float, list[Evidence]]:
    if not has_agent:
        return 0.0, []
    evidence = [e for r in results for e in r.evidence]
    weights = [(ind.weight, r.value) for ind, r in zip(crit.indicators, results, strict=True) if r.value is not None]
    base = 100.0 * sum(w * v for w, v in weights) / sum(w for w, _ in weights) if weights else 100.0
    if crit.from_rulebook is None:
        return base, sorted(evidence, key=lambda e: e.turn)
    penalties = {"blocker": 100.0, "major": crit.from_rulebook.major, "minor": crit.from_rulebook.minor}
    score = base - sum(penalties[v.severity] for v in violations)
    evidence += [Evidence(turn=v.turn, quote=v.quote, indicator=v.rule, effect="-") for v in violations]
    return max(0.0, min(100.0, score)), sorted(evidence, key=lambda e: e.turn)


def _feedback(rubric: Rubric, violations: list[Violation], weak, has_agent: bool) -> list[str]:
    if not has_agent:
        return ["No agent turns to score: check the speaker labels of this transcript."]
    out: list[str] = []
    rules = {r.id: r for r in rubric.rulebook_rules.rules} if rubric._rulebook else {}
    seen: set[str] = set()
    for v in sorted(violations, key=lambda v: (SEVERITY_ORDER[v.severity], v.turn)):
        if v.rule in seen or v.rule not in rules:
            continue
        seen.add(v.rule)
        out.append(_render(rules[v.rule].advice, v.turn, v.quote, ""))
        if len(seen) >= FEEDBACK_VIOLATIONS:
            break
    indicators = {ind.id: ind for c in rubric.criteria for ind in c.indicators}
    # A debtor in crisis comes first: what the call owed them is said before anything else.
    weak.sort(key=lambda x: (not _in_crisis(indicators[x[1].indicator]), -x[0]))
    advised: set[tuple] = set()
    for _, r, _crit in weak:
        if len(advised) >= FEEDBACK_INDICATORS:
            break
        # two indicators missing the same thing at the same moment (a reply to the same line) are
        # one lesson: say it once
        key = (r.weak_turn, r.trigger or r.indicator)
        if key in advised:
            continue
        advised.add(key)
        out.append(_render(indicators[r.indicator].advice, r.weak_turn, r.weak_quote, r.trigger, _missing(indicators[r.indicator], r)))
    return out


def _in_crisis(ind) -> bool:
    """An indicator judged only in a call where the debtor spoke of self-harm or not coping."""
    when = ind.when.context.get("distress_disclosed") if ind.when is not None else None
    return when is True or "debtor_distress_severe" in ind.only_if_call_has


def _render(advice: str, turn: int, quote: str, trigger: str, missing: str = "") -> str:
    text = fill_advice(advice, turn=turn, quote=quote, trigger=trigger or "what they said", missing=missing)
    return text if "{turn}" in advice else f"Turn {turn}: {text}"


def _missing(ind, r: IndicatorResult) -> str:
    """What the weakest reply lacked, in the rubric's words (``mechanism_advice``): each mechanism it
    did not have, or the first one when it had each at least weakly."""
    advice = getattr(ind, "mechanism_advice", None) or {}
    said = [advice[m] for m in r.missing if m in advice] or list(advice.values())[:1]
    if any("\u3400" <= c <= "\u9fff" for c in "".join(said)):
        return "，".join(said)
    return ", ".join(said[:-1]) + " and " + said[-1] if len(said) > 1 else "".join(said)


# --- live coaching ---------------------------------------------------------------------------


@dataclass
class TurnReport:
    """What one turn did, for a live coaching panel: analysis, rule breaches, +/- indicators."""

    analysis: TurnAnalysis
    violations: list[Violation] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    tips: list[str] = field(default_factory=list)


class LiveScorer:
    """Analyse a call as it happens: ``add_turn`` per turn (fast), ``score()`` at the end.

    Per-turn cost after warm-up is one analysis (one embedding call for the new sentences)
    plus rule and indicator checks on that turn.
    """

    def __init__(self, rubric: Rubric | str | Path = "default-en", analyzer: TurnAnalyzer | None = None, *,
                 call_id: str = "live", metadata: dict | None = None):
        self.scorer = Scorer(rubric, analyzer)
        self.transcript = Transcript(id=call_id, language=self.scorer.rubric.language, metadata=metadata or {})
        self.analyses: list[TurnAnalysis] = []
        self.context = CallContext()

    def warm_up(self) -> None:
        self.scorer.warm_up()

    def add_turn(self, text: str, speaker: str = "agent") -> TurnReport:
        """Analyse the next turn in context; report violations and indicators it triggered."""
        from core.transcript import Turn

        index = len(self.analyses)
        if index == 0:
            self.context = initial_context(self.transcript)
        analysis = self.scorer.analyzer.analyze_turn(text, speaker=speaker, index=index, context=self.context)
        self.context = analysis.after
        self.analyses.append(analysis)
        self.transcript.turns.append(Turn(speaker=speaker, text=text))
        report = TurnReport(analysis=analysis)
        if speaker != "agent":
            return report
        rubric = self.scorer.rubric
        view = CallView.build(self.analyses, self.transcript)
        report.violations = turn_violations(rubric, self.analyses, self.transcript)
        rules = {r.id: r for r in rubric.rulebook_rules.rules} if rubric._rulebook else {}
        report.tips = [_render(rules[v.rule].advice, v.turn, v.quote, "") for v in report.violations]
        pos = len(self.analyses) - 1
        for crit in rubric.criteria:
            for ind in crit.indicators:
                if ind.scope != "turn" or (ind.when is not None and not view.matches(ind.when, pos)):
                    continue
                r = evaluate(ind, _single(view, pos), self.scorer.matcher, rubric.language, frozenset(rubric.no_credit_with))
                report.evidence += r.evidence
                if r.value is not None and r.value < 1 and r.weak_turn == index:
                    report.tips.append(_render(ind.advice, index, r.weak_quote, r.trigger, _missing(ind, r)))
        return report

    def score(self) -> Score:
        return self.scorer.score_analysed(self.transcript, self.analyses)


def _single(view: CallView, pos: int) -> CallView:
    """A view of the call in which only turn ``pos`` is the agent's (per-turn indicators)."""
    return CallView(
        analyses=view.analyses, features=view.features, agent_positions=[pos],
        agent_ordinal=view.agent_ordinal, last_other=view.last_other,
        said_before=view.said_before, call_features=view.call_features,
    )


# --- the analysis package, imported lazily (it loads the embedder) ---------------------------


def _default_analyzer(language: str) -> TurnAnalyzer:
    """The analysis package's process-wide analyzer for ``language`` (one shared embedder)."""
    from core import analysis

    return analysis.default_analyzer(language)

