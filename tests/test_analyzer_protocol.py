"""The TurnAnalyzer protocol: what the scorer, the session and the actor need from an analyzer.

The real Analyzer and a stand-in with only the protocol's members (no sentence splitter, no
initial_context, no warm_up of its own) both work with the scorer.
"""

from __future__ import annotations

import hashlib

import numpy as np

from core.analysis import Analyzer, SentenceEncoder, TurnAnalyzer
from core.analysis.types import CallContext, TurnAnalysis
from core.transcript import Transcript, Turn
from rubrics.scorer import LiveScorer, Scorer


class HashEncoder:
    def encode(self, sentences):
        rows = []
        for s in sentences:
            v = np.random.default_rng(int.from_bytes(hashlib.sha256(s.encode()).digest()[:4], "little")).standard_normal(16)
            rows.append(v / np.linalg.norm(v))
        return np.asarray(rows, dtype=np.float32).reshape(len(rows), 16)


class Silent:
    """Only the protocol's members: every turn analysed as saying nothing."""

    embedder = HashEncoder()

    def analyze_turn(self, text, speaker="agent", index=0, context=None):
        ctx = context or CallContext()
        return TurnAnalysis(index=index, speaker=speaker, text=text, context=ctx, after=ctx)

    def analyze_transcript(self, transcript):
        return [self.analyze_turn(t.text, t.speaker, i) for i, t in enumerate(transcript.turns)]

    def analyze_many(self, transcripts):
        return [self.analyze_transcript(t) for t in transcripts]


def test_the_analyzer_and_a_stand_in_satisfy_the_protocol():
    assert isinstance(Analyzer(embedder=HashEncoder()), TurnAnalyzer)
    assert isinstance(Silent(), TurnAnalyzer) and isinstance(Silent.embedder, SentenceEncoder)
    assert not isinstance(object(), TurnAnalyzer)


def test_the_scorer_needs_only_the_protocol():
    call = Transcript(
        id="c1", language="en", metadata={"started_at": "2024-03-01T22:30:00-05:00"},
        turns=[Turn(speaker="agent", text="Hi. This is Sam from Acme."), Turn(speaker="debtor", text="Okay.")],
    )
    scorer = Scorer("default-en", Silent())
    scorer.warm_up()
    assert scorer.matcher is not None and scorer.matcher.split("Hi Mr. Smith. Bye.") == ["Hi Mr. Smith.", "Bye."]
    [score] = scorer.score_many([call])
    assert score == scorer.score(call) and score.id == "c1"
    live = LiveScorer("default-en", Silent(), metadata=call.metadata)
    report = live.add_turn("Hi, this is Sam.")
    assert report.analysis.context.local_hour == 22  # the call's own start, whatever the analyzer
