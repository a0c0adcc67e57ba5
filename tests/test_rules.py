"""Compliance rules and rubric indicators on labelled utterances, with the real turn analysis.

Precision and recall are measured per rule / indicator on tests/data/labelled_rules.yaml
(our own utterances, near misses included) and held to floors. Monotonicity: adding an
empathic acknowledgement never lowers empathy; adding a threat of arrest always gives a blocker.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core import analysis
from core.readers import iter_transcripts
from core.transcript import Transcript
from rubrics.scorer import Scorer

LABELLED = yaml.safe_load((Path(__file__).parent / "data" / "labelled_rules.yaml").read_text(encoding="utf-8"))
SAMPLES = Path(__file__).parent / "data" / "transcripts"

# Floors: the whole labelled set, and every single rule / indicator.
RULE_FLOOR = {"precision": 0.9, "recall": 0.85}
RULE_EACH_FLOOR = {"precision": 0.75, "recall": 0.5}
INDICATOR_FLOOR = {"precision": 0.85, "recall": 0.8}
INDICATOR_EACH_FLOOR = {"precision": 0.66, "recall": 0.5}


@lru_cache(maxsize=2)
def scorer(language: str = "en") -> Scorer:
    return Scorer(f"default-{language}", analysis.default_analyzer(language))


def _case(cid: str, setup: str, utterance: str, then=(), metadata=None, language="en") -> tuple[Transcript, int]:
    setups = LABELLED["setups"] if language == "en" else LABELLED[f"setups_{language}"]
    turns = [{"speaker": s, "text": t} for s, t in setups[setup]]
    index = len(turns)
    turns.append({"speaker": "agent", "text": utterance})
    turns += [{"speaker": s, "text": t} for s, t in then]
    return Transcript(id=cid, language=language, turns=turns, metadata=metadata or {}), index


def _rule_cases(language: str = "en"):
    """(rule id, expected, transcript, utterance turn) for every labelled rule case."""
    out = []
    section = LABELLED["rules"] if language == "en" else LABELLED[f"rules_{language}"]
    for rid, spec in section.items():
        then = spec.get("then", ())
        meta = {"debt_amount": spec["debt_amount"]} if "debt_amount" in spec else {}
        for expected in (True, False):
            key = "positive" if expected else "negative"
            for n, case in enumerate(spec.get(key, [])):
                setup, text = (case["setup"], case["text"]) if isinstance(case, dict) else (spec["setup"], case)
                t, i = _case(f"{rid}-{key}-{n}", setup, text, then, meta, language)
                out.append((rid, expected, t, i))
            for n, started in enumerate(spec.get(f"{key}_started_at", [])):
                t, i = _case(f"{rid}-{key}-t{n}", spec["setup"], spec["utterance"], then,
                             {"started_at": started}, language)
                out.append((rid, expected, t, i))
    return out


def _indicator_cases():
    out = []
    for iid, spec in LABELLED["indicators"].items():
        for expected in (True, False):
            key = "positive" if expected else "negative"
            for n, text in enumerate(spec.get(key, [])):
                t, i = _case(f"{iid}-{key}-{n}", spec["setup"], text)
                out.append((iid, expected, t, i))
    return out


def _prf(rows: list[tuple[str, bool, bool]]) -> dict[str, dict[str, float]]:
    """Per-name and overall precision/recall from (name, expected, got) rows."""
    stats: dict[str, dict[str, int]] = {}
    for name, expected, got in rows:
        for key in (name, "__all__"):
            s = stats.setdefault(key, {"tp": 0, "fp": 0, "fn": 0})
            s["tp"] += expected and got
            s["fp"] += (not expected) and got
            s["fn"] += expected and not got
    return {
        k: {
            "precision": s["tp"] / (s["tp"] + s["fp"]) if s["tp"] + s["fp"] else 1.0,
            "recall": s["tp"] / (s["tp"] + s["fn"]) if s["tp"] + s["fn"] else 1.0,
        }
        for k, s in stats.items()
    }


def _report(kind: str, prf, rows) -> str:
    misses = [f"  {'missed' if e else 'false alarm'}: {n}: {t}" for n, e, g, t in rows if e != g]
    table = [f"  {k}: P={v['precision']:.2f} R={v['recall']:.2f}" for k, v in sorted(prf.items())]
    return f"{kind}\n" + "\n".join(table + misses)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_rules_precision_and_recall(language):
    cases = _rule_cases(language)
    scores = scorer(language).score_many([t for _, _, t, _ in cases])
    rows = []
    for (rid, expected, t, i), s in zip(cases, scores, strict=True):
        got = any(v.rule == rid for v in s.violations)
        rows.append((rid, expected, got, t.turns[i].text))
    prf = _prf([(n, e, g) for n, e, g, _ in rows])
    msg = _report(f"rules ({language})", prf, rows)
    assert set(LABELLED["rules" if language == "en" else f"rules_{language}"]) <= set(prf), msg
    for name, v in prf.items():
        floor = RULE_FLOOR if name == "__all__" else RULE_EACH_FLOOR
        assert v["precision"] >= floor["precision"] and v["recall"] >= floor["recall"], f"{name}\n{msg}"


def test_indicators_precision_and_recall():
    cases = _indicator_cases()
    sc = scorer()
    effects = {ind.id: ("-" if ind.kind == "metric" else ind.effect) for c in sc.rubric.criteria for ind in c.indicators}
    scores = sc.score_many([t for _, _, t, _ in cases])
    rows = []
    for (iid, expected, t, i), s in zip(cases, scores, strict=True):
        evidence = [e for c in s.criteria.values() for e in c.evidence]
        got = any(e.indicator == iid and e.turn == i and e.effect == effects[iid] for e in evidence)
        rows.append((iid, expected, got, t.turns[i].text))
    prf = _prf([(n, e, g) for n, e, g, _ in rows])
    msg = _report("indicators", prf, rows)
    for name, v in prf.items():
        floor = INDICATOR_FLOOR if name == "__all__" else INDICATOR_EACH_FLOOR
        assert v["precision"] >= floor["precision"] and v["recall"] >= floor["recall"], f"{name}\n{msg}"


def test_every_rule_in_the_rulebook_is_labelled():
    """Every rule has labelled utterances here or labelled whole calls (tests/data/rule_cases.yaml)."""
    import rule_cases

    calls = {r for c in rule_cases.load_cases() for r in c.expect}
    rules = {r.id for r in scorer().rubric.rulebook_rules.rules}
    # mini-Miranda on later contacts shares its detector with first contact (tested there)
    assert rules - set(LABELLED["rules"]) - calls <= {"fdcpa-1692e-11-later"}
    zh = {r.id for r in scorer("zh").rubric.rulebook_rules.rules}
    assert zh - set(LABELLED["rules_zh"]) - calls == set()
    assert set(LABELLED["rules_zh"]) <= zh and set(LABELLED["rules"]) <= rules, "a label names no rule"


def test_sample_transcripts_score_as_expected():
    calls = {t.id: t for t in iter_transcripts([SAMPLES]) if isinstance(t, Transcript)}
    s = {k: v for k, v in zip(calls, scorer().score_many(list(calls.values())), strict=True)}
    assert s["good-001"].passed and not s["good-001"].violations
    assert not s["threat-002"].passed and "fdcpa-1692e-4" in {v.rule for v in s["threat-002"].blockers}
    third = {v.rule for v in s["third-003"].violations}
    assert {"fdcpa-1692c-b-third-party", "fdcpa-1692c-a-1-hours"} <= third
    assert not s["json-004"].blockers  # rights statements and a lawful next step
    assert "fdcpa-1692d-2" in {v.rule for v in s["csv-007"].violations}


def test_live_violations_turn_by_turn_add_up_to_the_score():
    """What live coaching flags turn by turn (plus the call's end) is what the score lists."""
    from rubrics import call_end_violations, turn_violations

    calls = [t for t in iter_transcripts([SAMPLES]) if isinstance(t, Transcript)]
    calls += [_case(cid, setup, text, then)[0] for cid, setup, text, then in _live_cases()]
    checked = 0
    for t in calls:
        sc = scorer(t.language)
        analyses = sc.analyzer.analyze_transcript(t)
        live = [v for k, a in enumerate(analyses) if a.speaker == "agent"
                for v in turn_violations(sc.rubric, analyses[: k + 1], t)]
        live += call_end_violations(sc.rubric, analyses, t)
        final = sc.score_analysed(t, analyses).violations
        key = lambda v: (v.turn, v.rule)  # noqa: E731
        assert sorted(live, key=key) == sorted(final, key=key), t.id
        checked += len(final)
    assert checked >= 10


def _live_cases():
    """A few labelled positives whose rule needs later turns (missing statements) or the setup."""
    out = []
    for rid in ("fdcpa-1692d-6", "fdcpa-1692e-11-first", "fdcpa-1692c-b-unverified"):
        spec = LABELLED["rules"][rid]
        for n, case in enumerate(spec["positive"]):
            setup, text = (case["setup"], case["text"]) if isinstance(case, dict) else (spec["setup"], case)
            out.append((f"live-{rid}-{n}", setup, text, spec.get("then", ())))
    return out


# --- monotonicity -------------------------------------------------------------------------------

EMPATHY = [
    "I'm sorry to hear that, that sounds really hard.",
    "I understand this is a difficult time for you.",
    "That must be very stressful, and I appreciate you telling me.",
]
ARREST = [
    "If you don't pay today, you'll be arrested.",
    "You could go to jail for this.",
    "The police will arrest you if you don't pay.",
]


@lru_cache(maxsize=1)
def _bases() -> list[Transcript]:
    calls = [t for t in iter_transcripts([SAMPLES]) if isinstance(t, Transcript) and t.language == "en"]
    for name in ("verified", "hardship", "hostile", "disclosure"):
        turns = [{"speaker": s, "text": x} for s, x in LABELLED["setups"][name]]
        turns.append({"speaker": "agent", "text": "Can you tell me what's been going on?"})
        calls.append(Transcript(id=f"setup-{name}", turns=turns))
    return calls


def _with_agent_line(t: Transcript, line: str, where: int, append: bool) -> Transcript:
    """Add ``line`` as a new agent turn, or append it to an existing agent turn."""
    turns = [dict(x) for x in t.model_dump()["turns"]]
    agent = [i for i, x in enumerate(turns) if x["speaker"] == "agent"]
    if append and agent:
        i = agent[where % len(agent)]
        turns[i]["text"] = f"{turns[i]['text']} {line}"
    else:
        turns.insert(where % (len(turns) + 1), {"speaker": "agent", "text": line})
    return Transcript.model_validate({**t.model_dump(), "turns": turns})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=st.integers(0, 100), line=st.sampled_from(EMPATHY), where=st.integers(0, 20), append=st.booleans())
# found by a random draw: a kind line before the reply to a disclosure lowered empathy (61.5 -> 59.6)
@example(base=94, line="I'm sorry to hear that, that sounds really hard.", where=4, append=False)
def test_adding_empathy_never_lowers_empathy(base, line, where, append):
    t = _bases()[base % len(_bases())]
    before, after = scorer().score_many([t, _with_agent_line(t, line, where, append)])
    assert after.criteria["empathy"].score >= before.criteria["empathy"].score


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=st.integers(0, 100), line=st.sampled_from(ARREST), where=st.integers(0, 20), append=st.booleans())
def test_adding_an_arrest_threat_always_gives_a_blocker(base, line, where, append):
    t = _bases()[base % len(_bases())]
    s = scorer().score(_with_agent_line(t, line, where, append))
    assert any(v.rule == "fdcpa-1692e-4" and v.severity == "blocker" for v in s.violations)
    assert not s.passed and s.criteria["compliance"].score == 0
