"""Evaluate one rubric indicator over an analysed call: a value in [0, 1] with evidence.

Semantics (also in rubrics/README.md):

* eligible turns: agent turns that match ``when`` (all agent turns without it); ``first_only``
  keeps the first; ``only_if_call_has`` / ``skip_if_call_has`` make the indicator not applicable
  (``None``) for calls where it makes no sense.
* scope ``call``, effect ``+``: hits / target_hits, capped at 1 — once in the call is enough.
* scope ``call``, effect ``-``: 1 - hits × penalty_per_hit, floored at 0.
* scope ``turn``: the share of eligible turns that hit (``+``) or do not hit (``-``).
* metrics: each eligible turn scaled linearly between ``good`` and ``bad`` and averaged
  (scope ``turn``), or measured on all the agent said (scope ``call``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from rubrics import metrics
from rubrics.matching import CallView, short
from rubrics.results import Evidence
from rubrics.schema import MetricIndicator, PatternIndicator, SemanticIndicator

MAX_EVIDENCE_PER_INDICATOR = 6
GRADED = frozenset({"empathy", "acknowledgement", "reflection", "exploration", "clarity"})
MECHANISMS = frozenset({"acknowledgement", "reflection", "exploration"})
OPPORTUNITY_AT = 0.3  # the other's turn calls for empathy from this opportunity on
ROUTINE_WEIGHT = 0.1  # how much an agent turn that answers no opportunity counts in the call's empathy
CLEAR_ENOUGH = 0.7  # a turn this clear (scaled) gets no clarity advice, live or after the call


class ExemplarMatcher:
    """Matches agent sentences against a rubric's own exemplar phrases with the analysis embedder.

    Uses the same :class:`~core.analysis.Embedder` instance (and so its cache of distinct
    sentences) as the analyzer, and the analyzer's sentence splitter, so a sentence the
    analysis already embedded is never embedded again.
    """

    def __init__(self, embedder, split: Callable[[str], list[str]] | None = None):
        self.embedder = embedder
        self.split = split or metrics.sentences
        self._exemplars: dict[tuple[str, ...], np.ndarray] = {}
        self._best: dict[tuple[str, tuple[str, ...]], tuple[float, str]] = {}

    def prefetch(self, texts: Sequence[str]) -> None:
        """Embed the sentences of many turns in one batch (cache hits cost nothing)."""
        sentences = list(dict.fromkeys(s for t in texts for s in self.split(t)))
        if sentences:
            self.embedder.encode(sentences)

    def _exemplar_matrix(self, exemplars: Sequence[str]) -> np.ndarray:
        key = tuple(exemplars)
        mat = self._exemplars.get(key)
        if mat is None:
            mat = self._exemplars[key] = np.asarray(self.embedder.encode(list(exemplars)))
        return mat

    def best(self, text: str, exemplars: Sequence[str]) -> tuple[float, str]:
        """Highest cosine similarity of any sentence in ``text`` to any exemplar, and that sentence."""
        key = (text, tuple(exemplars))
        found = self._best.get(key)
        if found is not None:
            return found
        parts = self.split(text) or ([text] if text.strip() else [])
        if not parts:
            return 0.0, ""
        sims = np.asarray(self.embedder.encode(parts)) @ self._exemplar_matrix(exemplars).T
        per_sentence = sims.max(axis=1)
        i = int(per_sentence.argmax())
        found = (float(per_sentence[i]), parts[i])
        if len(self._best) > 100_000:
            self._best.clear()
        self._best[key] = found
        return found

    def prepare(self, rubric) -> None:
        """Embed every exemplar of a rubric up front (keeps the first scored call fast)."""
        for c in rubric.criteria:
            for ind in c.indicators:
                if isinstance(ind, SemanticIndicator) and ind.exemplars:
                    self._exemplar_matrix(ind.exemplars)


class NgramExemplarMatcher:
    """:class:`ExemplarMatcher`'s reading for a language the embedder does not read (Chinese):
    each sentence's character n-gram TF-IDF similarity to the exemplars
    (:mod:`core.analysis.ngram`), split as the analysis splits; nothing to embed or prefetch."""

    def __init__(self, similarity, split: Callable[[str], list[str]]):
        self.similarity = similarity
        self.split = split

    def prefetch(self, texts: Sequence[str]) -> None:
        """Nothing to embed (the similarity caches each sentence's weighting as it meets it)."""

    def prepare(self, rubric) -> None:
        """Nothing to embed up front."""

    def best(self, text: str, exemplars: Sequence[str]) -> tuple[float, str]:
        """Highest similarity of any sentence in ``text`` to any exemplar, and that sentence."""
        parts = self.split(text) or ([text] if text.strip() else [])
        return self.similarity.best(parts, exemplars)


@dataclass
class IndicatorResult:
    indicator: str
    value: float | None  # None: not applicable to this call
    evidence: list[Evidence] = field(default_factory=list)
    weak_turn: int | None = None  # where to point feedback
    weak_quote: str = ""
    trigger: str = ""
    missing: list[str] = field(default_factory=list)  # the empathy mechanisms the weak reply lacked


def evaluate(
    ind, view: CallView, matcher: ExemplarMatcher | None, language: str, no_credit: frozenset[str] = frozenset()
) -> IndicatorResult:
    """``no_credit``: signals that keep a turn from earning a ``+`` indicator (the rubric's
    ``no_credit_with``: a demand with pressure is no clear offer, a threat no strength)."""
    res = IndicatorResult(ind.id, None)
    if isinstance(ind, SemanticIndicator) and ind.exemplars and matcher is None:
        return res  # pure aggregation without an embedder: exemplar indicators are not judged
    if ind.only_if_call_has and view.call_features.isdisjoint(ind.only_if_call_has):
        return res
    if ind.skip_if_call_has and not view.call_features.isdisjoint(ind.skip_if_call_has):
        return res
    eligible = [p for p in view.agent_positions if ind.when is None or view.matches(ind.when, p)]
    if ind.first_only:
        eligible = eligible[:1]
    if not eligible:
        return res
    if isinstance(ind, MetricIndicator):
        if ind.metric in GRADED:
            return _graded(ind, view, eligible, res)
        return _metric(ind, view, eligible, language, res)
    hits: list[tuple[int, str]] = []
    misses: list[int] = []
    for pos in eligible:
        tainted = ind.effect == "+" and not view.features[pos].isdisjoint(no_credit)
        quote = None if tainted else _hit(ind, view, pos, matcher)
        if quote is not None:
            hits.append((pos, quote))
        else:
            misses.append(pos)
    n = len(eligible)
    positive = ind.effect == "+"
    if ind.scope == "call":
        res.value = (
            min(1.0, len(hits) / ind.target_hits) if positive
            else max(0.0, 1.0 - len(hits) * ind.penalty_per_hit)
        )
    else:
        res.value = len(hits) / n if positive else 1.0 - len(hits) / n
    index = lambda p: view.analyses[p].index  # noqa: E731 - local shorthand
    res.evidence = [Evidence(turn=index(p), quote=q, indicator=ind.id, effect=ind.effect) for p, q in hits]
    trigger_names = ind.when.responds_to if ind.when else []
    if positive and res.value < 1:
        if ind.scope == "call":
            anchor = (
                eligible[-1] if ind.anchor == "last"
                else _reply_anchor(view, eligible, ind.only_if_call_has) if ind.anchor == "reply"
                else eligible[0]
            )
            missed = [anchor] if not hits else []
        else:
            missed = misses
        res.evidence += [
            Evidence(turn=index(p), quote=short(view.analyses[p].text), indicator=ind.id, effect="-")
            for p in missed
        ]
        weak = missed[0] if missed else eligible[0]
        res.weak_turn, res.weak_quote = index(weak), short(view.analyses[weak].text, 80)
        res.trigger = view.trigger_quote(
            weak, trigger_names or [*ind.only_if_call_has, *_signals_of(view, view.last_other[weak])]
        )
    elif not positive and hits:
        res.weak_turn, res.weak_quote = index(hits[0][0]), hits[0][1]
        res.trigger = view.trigger_quote(hits[0][0], trigger_names)
    res.evidence = res.evidence[:MAX_EVIDENCE_PER_INDICATOR]
    return res


def _signals_of(view: CallView, pos: int | None) -> list[str]:
    return [h.signal for h in view.analyses[pos].hits] if pos is not None else []


# Debtor signals that carry the story of the call: what the agent most needs to respond to.
TELLING = frozenset({"debtor_hardship", "debtor_distress_severe", "debtor_dispute", "debtor_complaint",
                     "debtor_refusal", "debtor_stop_request", "debtor_attorney"})


def _reply_anchor(view: CallView, eligible: list[int], prefer: Sequence[str] = ()) -> int:
    """The agent turn that answers the debtor's most telling turn: first one that says what the
    indicator is about (``prefer``, its ``only_if_call_has``), then story signals, then length."""

    def weight(p: int) -> tuple[int, int, int]:
        other = view.last_other[p]
        if other is None:
            return (-1, -1, 0)
        f = view.features[other]
        return (len(f.intersection(prefer)), len(TELLING & f), len(view.analyses[other].text))

    return max(eligible, key=weight)


def _hit(ind, view: CallView, pos: int, matcher: ExemplarMatcher | None) -> str | None:
    """The quote that makes turn ``pos`` a hit for ``ind``, or None."""
    if isinstance(ind, PatternIndicator):
        if view.matches(ind.match, pos):
            return view.quote(pos, [*ind.match.signals, *ind.match.all_signals])
        return None
    assert isinstance(ind, SemanticIndicator)
    if ind.exemplars:
        sim, sentence = matcher.best(view.analyses[pos].text, ind.exemplars)
        return short(sentence) if sim >= ind.threshold else None
    names = [ind.signal] if ind.signal else ind.signals
    if view.features[pos].isdisjoint(names):
        return None
    return view.quote(pos, names)


def _measure(ind: MetricIndicator, text: str, language: str) -> tuple[float | None, str]:
    """(raw measurement, the span to quote) for one piece of agent speech."""
    if ind.metric == "readability":
        if language != "en":  # Flesch reading ease is defined for English only
            return None, ""
        return metrics.readability(text), text
    if ind.metric == "sentence_length":
        value = metrics.sentence_length(text, language)
        parts = metrics.sentences(text)
        return value, max(parts, key=len) if parts else text
    found = metrics.jargon_found(text, tuple(ind.jargon))
    return float(len(found)), ", ".join(dict.fromkeys(found)) if found else text


def _metric(ind: MetricIndicator, view: CallView, eligible: list[int], language: str, res: IndicatorResult):
    if ind.scope == "call":
        joined = " ".join(view.analyses[p].text for p in eligible)
        raw, quote = _measure(ind, joined, language)
        if raw is None:
            return res
        res.value = metrics.scale(raw, ind.good, ind.bad)
        worst = eligible[0]
        scored = [(res.value, worst, quote)]
    else:
        scored = []
        for pos in eligible:
            raw, quote = _measure(ind, view.analyses[pos].text, language)
            if raw is not None:
                scored.append((metrics.scale(raw, ind.good, ind.bad), pos, quote))
        if not scored:
            return res
        res.value = sum(v for v, _, _ in scored) / len(scored)
    for value, pos, quote in sorted(scored, key=lambda x: x[0])[:MAX_EVIDENCE_PER_INDICATOR]:
        if value < 0.5:
            res.evidence.append(Evidence(turn=view.analyses[pos].index, quote=short(quote), indicator=ind.id, effect="-"))
    worst_value, worst_pos, worst_quote = min(scored, key=lambda x: x[0])
    if worst_value < 1:
        res.weak_turn, res.weak_quote = view.analyses[worst_pos].index, short(worst_quote, 80)
    return res


# --- graded readings (core/analysis/readings.py) ----------------------------------------------


def _reading(view: CallView, pos: int, metric: str) -> float | None:
    """The turn's graded value for ``metric`` (None when the analysis has no reading)."""
    a = view.analyses[pos]
    if metric == "clarity":
        return a.clarity.score if a.clarity is not None else None
    if a.empathy is None:
        return None
    return a.empathy.score if metric == "empathy" else a.empathy.mechanisms()[metric].strength


def _opportunity(view: CallView, pos: int) -> float:
    """How much the other party's turn before agent turn ``pos`` called for empathy."""
    other = view.last_other[pos]
    reading = view.analyses[other].empathy if other is not None else None
    return reading.opportunity if reading is not None else 0.0


def _graded(ind: MetricIndicator, view: CallView, eligible: list[int], res: IndicatorResult) -> IndicatorResult:
    """A graded reading, scaled between ``good`` and ``bad``, per eligible turn; over the call:

    * clarity, and any metric with scope ``turn``: the mean over the turns;
    * empathy: weighted by what each turn answered (a hardship, a feeling, a complaint weighs up to
      ten times a routine turn);
    * a mechanism (acknowledgement, reflection, exploration): over the turns that answered an
      opportunity, weighted by it; not applicable in a call that gave none.
    """
    scored = []
    for pos in eligible:
        raw = _reading(view, pos, ind.metric)
        if raw is not None:
            scored.append((metrics.scale(raw, ind.good, ind.bad), pos, _opportunity(view, pos)))
    if ind.metric in MECHANISMS:
        scored = [s for s in scored if s[2] >= OPPORTUNITY_AT]
    if ind.metric != "clarity":
        # A reply said in two turns ("I'm so sorry." then "Are you safe right now?") answers the
        # other party once: the group counts as one turn, with its strongest reading, so adding
        # a kind line before a reply can never lower the score.
        best: dict[object, tuple[float, int, float]] = {}
        for item in scored:
            key = view.last_other[item[1]]
            key = ("turn", item[1]) if key is None else key
            if key not in best or item[0] > best[key][0]:
                best[key] = item
        scored = sorted(best.values(), key=lambda x: x[1])
    if not scored:
        return res
    if ind.scope == "call" and ind.metric != "clarity":
        weights = [o if ind.metric in MECHANISMS else ROUTINE_WEIGHT + o for _, _, o in scored]
    else:
        weights = [1.0] * len(scored)
    res.value = sum(w * v for w, (v, _, _) in zip(weights, scored, strict=True)) / sum(weights)
    index = lambda p: view.analyses[p].index  # noqa: E731 - local shorthand
    ranked = sorted(zip(weights, scored, strict=True), key=lambda x: -x[0] * (1 - x[1][0]))
    for _w, (value, pos, opportunity) in ranked[:MAX_EVIDENCE_PER_INDICATOR]:
        # a routine turn (a verification, a goodbye) is no missed chance for empathy
        if value < 0.5 and (ind.metric == "clarity" or opportunity >= OPPORTUNITY_AT):
            res.evidence.append(Evidence(turn=index(pos), quote=short(view.analyses[pos].text), indicator=ind.id, effect="-"))
    for value, pos, _ in sorted(scored, key=lambda x: -x[0])[:2]:
        if value >= 0.75 and ind.metric != "clarity":
            res.evidence.append(Evidence(turn=index(pos), quote=_carrier(view, pos, ind.metric), indicator=ind.id,
                                         effect="+"))
    res.evidence = sorted(res.evidence, key=lambda e: e.turn)[:MAX_EVIDENCE_PER_INDICATOR]
    _w, (value, pos, _) = ranked[0]
    if value < (CLEAR_ENOUGH if ind.metric == "clarity" else 1):
        res.weak_turn, res.weak_quote = index(pos), short(view.analyses[pos].text, 80)
        res.trigger = view.trigger_quote(pos, list(TELLING))
        reading = view.analyses[pos].empathy
        if ind.metric == "empathy" and reading is not None:
            res.missing = [m for m, mech in reading.mechanisms().items() if mech.strength < WEAK_MECHANISM]
    return res


WEAK_MECHANISM = 0.5  # a mechanism read weaker than this was not really there ("I understand" alone)


def _carrier(view: CallView, pos: int, metric: str) -> str:
    """The sentence that carries a mechanism (the turn for the overall readings)."""
    reading = view.analyses[pos].empathy
    if reading is not None and metric in MECHANISMS and reading.mechanisms()[metric].quote:
        return short(reading.mechanisms()[metric].quote)
    return short(view.analyses[pos].text)
