"""The labelled rules set (tests/data/rule_cases.yaml): its schema, the calls it builds, and
per-rule precision and recall of a scorer on it.

Run as a script to print the table (and the misses) for the current code::

    .venv/bin/python tests/rule_cases.py            # or --misses to list every wrong call

Each case is a whole call (a compliant setup, the labelled agent utterance, optional later turns,
optional call facts); its expected rule ids are every rule the call breaks. A rule reported on a
call that does not expect it is a false alarm; an expected one not reported is a miss.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

DATA = Path(__file__).parent / "data" / "rule_cases.yaml"
Speaker = Literal["agent", "debtor", "third_party"]
TurnSpec = tuple[Speaker, str]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CaseSpec(_Strict):
    say: str = Field(min_length=1)
    expect: list[str]
    setup: str | None = None
    meta: dict[str, Any] | None = None
    then: list[TurnSpec] | None = None


class Group(_Strict):
    group: str
    language: Literal["en", "zh", "zh-TW"]
    setup: str
    meta: dict[str, Any] = Field(default_factory=dict)
    then: list[TurnSpec] = Field(default_factory=list)
    cases: list[CaseSpec | tuple[str, list[str]]] = Field(min_length=1)


class CaseFile(_Strict):
    setups: dict[Literal["en", "zh"], dict[str, list[TurnSpec]]]
    groups: list[Group] = Field(min_length=1)

    @model_validator(mode="after")
    def _setups_exist(self) -> CaseFile:
        for g in self.groups:
            names = self.setups[family(g.language)]
            for c in g.cases:
                name = c.setup if isinstance(c, CaseSpec) and c.setup else g.setup
                if name not in names:
                    raise ValueError(f"group {g.group!r}: unknown setup {name!r} (known: {', '.join(names)})")
        return self


def family(language: str) -> Literal["en", "zh"]:
    return "zh" if language.startswith("zh") else "en"


@dataclass(frozen=True)
class Case:
    id: str
    group: str
    language: str
    turns: tuple[TurnSpec, ...]
    meta: dict[str, Any]
    expect: frozenset[str]
    say: str

    def transcript(self):
        from core.transcript import Transcript

        return Transcript(
            id=self.id, language=self.language, metadata=dict(self.meta),
            turns=[{"speaker": s, "text": t} for s, t in self.turns],
        )


def load_cases(path: Path = DATA) -> list[Case]:
    spec = CaseFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    out: list[Case] = []
    for gi, g in enumerate(spec.groups):
        for ci, raw in enumerate(g.cases):
            c = raw if isinstance(raw, CaseSpec) else CaseSpec(say=raw[0], expect=raw[1])
            setup = spec.setups[family(g.language)][c.setup or g.setup]
            then = c.then if c.then is not None else g.then
            meta = c.meta if c.meta is not None else g.meta
            turns = (*map(tuple, setup), ("agent", c.say), *map(tuple, then))
            out.append(Case(f"g{gi:02d}c{ci:02d}", g.group, g.language, turns, meta, frozenset(c.expect), c.say))
    return out


def default_score_many() -> Callable[[Sequence[Any]], list[Any]]:
    """Scores through the rubric router (language -> rubric, Traditional -> Simplified); code
    from before the router scores each call with its language's shipped rubric."""
    try:
        from rubrics.batch import RubricRouter
    except ImportError:
        from rubrics.scorer import Scorer

        scorers: dict[str, Any] = {}

        def score_many(transcripts):
            out = []
            for t in transcripts:
                lang = family(t.language)
                if lang not in scorers:
                    scorers[lang] = Scorer(f"default-{lang}")
                out.append(scorers[lang].score(t))
            return out

        return score_many
    return RubricRouter().score_many


@dataclass
class Outcome:
    case: Case
    got: frozenset[str]


def run(cases: Sequence[Case], score_many=None) -> list[Outcome]:
    score_many = score_many or default_score_many()
    scores = score_many([c.transcript() for c in cases])
    return [Outcome(c, frozenset(v.rule for v in s.violations)) for c, s in zip(cases, scores, strict=True)]


def rule_stats(outcomes: Sequence[Outcome], rules: set[str] | None = None) -> dict[str, dict[str, float]]:
    """Per rule and overall ("__all__"): tp, fp, fn, precision, recall, cases that expect it."""
    rules = rules if rules is not None else {r for o in outcomes for r in o.case.expect | o.got}
    stats = {r: {"tp": 0, "fp": 0, "fn": 0, "labelled": 0} for r in [*sorted(rules), "__all__"]}
    for o in outcomes:
        for r in rules:
            e, g = r in o.case.expect, r in o.got
            for key in (r, "__all__"):
                s = stats[key]
                s["tp"] += e and g
                s["fp"] += g and not e
                s["fn"] += e and not g
            stats[r]["labelled"] += e
    for s in stats.values():
        s["precision"] = s["tp"] / (s["tp"] + s["fp"]) if s["tp"] + s["fp"] else 1.0
        s["recall"] = s["tp"] / (s["tp"] + s["fn"]) if s["tp"] + s["fn"] else 1.0
    return stats


def misses(outcomes: Sequence[Outcome]) -> list[str]:
    lines = []
    for o in outcomes:
        if o.got != o.case.expect:
            extra, missing = sorted(o.got - o.case.expect), sorted(o.case.expect - o.got)
            lines.append(f"  {o.case.id} [{o.case.language}] {o.case.say!r}: missed {missing} false alarm {extra}")
    return lines


def table(stats: dict[str, dict[str, float]]) -> str:
    rows = [f"  {'rule':34} {'P':>5} {'R':>5} {'tp':>4} {'fp':>4} {'fn':>4} {'cases':>5}"]
    for r, s in stats.items():
        rows.append(f"  {r:34} {s['precision']:5.2f} {s['recall']:5.2f} {s['tp']:4d} {s['fp']:4d} {s['fn']:4d} {s['labelled']:5d}")
    return "\n".join(rows)


def main(argv: list[str]) -> int:
    cases = load_cases()
    zh = sum(c.language.startswith("zh") for c in cases)
    hant = sum(c.language == "zh-TW" for c in cases)
    print(f"{len(cases)} cases: {len(cases) - zh} English, {zh} Chinese ({hant} in Traditional characters)")
    outcomes = run(cases)
    print(table(rule_stats(outcomes)))
    wrong = misses(outcomes)
    print(f"{len(wrong)} calls scored differently from their labels")
    if "--misses" in argv:
        print("\n".join(wrong))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    raise SystemExit(main(sys.argv[1:]))
