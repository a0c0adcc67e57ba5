"""A stand-in turn analysis for the batch and scorer tests, and the `callcoach score` helpers.

``BlankAnalyzer`` has only the TurnAnalyzer protocol's members: no model, every turn analysed as
saying nothing in particular, sentence vectors from a hash. Tests that use it exercise the batch
machinery (reading, ordering, resume, outputs) quickly; tests/test_rules.py runs the real analysis.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from typer.testing import CliRunner, Result

import rubrics.batch as batch
from callcoach.cli import app
from core.analysis.types import CallContext, TurnAnalysis
from rubrics.scorer import Scorer


class HashEncoder:
    """Deterministic unit vectors from a hash: unrelated texts are dissimilar."""

    def encode(self, sentences):
        rows = []
        for s in sentences:
            seed = int.from_bytes(hashlib.sha256(s.encode()).digest()[:4], "little")
            v = np.random.default_rng(seed).standard_normal(32)
            rows.append(v / np.linalg.norm(v))
        return np.asarray(rows, dtype=np.float32).reshape(len(rows), 32)


class BlankAnalyzer:
    """Every turn analysed, no signals; each ``analyze_many`` takes ``delay`` seconds."""

    embedder = HashEncoder()

    def __init__(self, delay: float = 0.0):
        self.delay = delay

    def analyze_turn(self, text, speaker="agent", index=0, context=None):
        ctx = context or CallContext()
        return TurnAnalysis(index=index, speaker=speaker, text=text, context=ctx, after=ctx)

    def analyze_transcript(self, transcript):
        return [self.analyze_turn(t.text, t.speaker, i) for i, t in enumerate(transcript.turns)]

    def analyze_many(self, transcripts):
        time.sleep(self.delay)
        return [self.analyze_transcript(t) for t in transcripts]


def score_with(monkeypatch, make_analyzer: Callable[[], object] = BlankAnalyzer) -> None:
    """Batch scoring (and `callcoach score`) builds its scorer on ``make_analyzer()``."""
    monkeypatch.setattr(batch, "_make_scorer", lambda rubric: Scorer(rubric, make_analyzer()))


def run_score(*args) -> Result:
    """`callcoach score ARGS…` in process."""
    return CliRunner().invoke(app, ["score", *map(str, args)])


def records(path: Path) -> list[dict]:
    """The JSON records of a scores file (split at "\\n" only: a line may hold U+2028)."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line]
