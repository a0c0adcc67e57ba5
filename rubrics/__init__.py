"""Rubrics (YAML), the compliance rulebook and the scorer.

Public API::

    from rubrics import score_transcript, load_rubric, Score
    score = score_transcript(transcript, "default-en")          # or a path, or a loaded Rubric
    scores = score_many(transcripts, "default-en")              # each distinct sentence embedded once
    live = LiveScorer("default-en"); live.add_turn("Hello ...")  # per-turn analysis for live coaching
    turn_violations(rubric, analyses, transcript)  # the last agent turn's violations, as scored
"""

from rubrics.loader import RubricError, load_rubric, load_rulebook
from rubrics.results import CriterionScore, Evidence, Score, Violation
from rubrics.rulebook import call_end_violations, rule_advice, turn_violations
from rubrics.schema import Rubric, Rulebook
from rubrics.scorer import LiveScorer, Scorer, TurnReport, score_many, score_transcript

__all__ = [
    "CriterionScore", "Evidence", "LiveScorer", "Rubric", "RubricError", "Rulebook", "Score",
    "Scorer", "TurnReport", "Violation", "call_end_violations", "load_rubric", "load_rulebook", "rule_advice",
    "score_many", "score_transcript", "turn_violations",
]
