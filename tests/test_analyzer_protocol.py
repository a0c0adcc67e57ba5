"""The TurnAnalyzer protocol: what the scorer, the session and the actor need from an analyzer.

The real Analyzer and a stand-in with only the protocol's members (tests/batch_support.py: no
sentence splitter, no initial_context, no warm_up of its own) both work with the scorer.
"""

from __future__ import annotations

from batch_support import BlankAnalyzer, HashEncoder

from core.analysis import Analyzer, SentenceEncoder, TurnAnalyzer
from core.transcript import Transcript, Turn
from rubrics.scorer import LiveScorer, Scorer


def test_the_analyzer_and_a_stand_in_satisfy_the_protocol():
    assert isinstance(Analyzer(embedder=HashEncoder()), TurnAnalyzer)
    assert isinstance(BlankAnalyzer(), TurnAnalyzer) and isinstance(BlankAnalyzer.embedder, SentenceEncoder)
    assert not isinstance(object(), TurnAnalyzer)


def test_the_scorer_needs_only_the_protocol():
    call = Transcript(
        id="c1", language="en", metadata={"started_at": "2024-03-01T22:30:00-05:00"},
        turns=[Turn(speaker="agent", text="Hi. This is Sam from Acme."), Turn(speaker="debtor", text="Okay.")],
    )
    scorer = Scorer("default-en", BlankAnalyzer())
    scorer.warm_up()
    assert scorer.matcher is not None and scorer.matcher.split("Hi Mr. Smith. Bye.") == ["Hi Mr. Smith.", "Bye."]
    [score] = scorer.score_many([call])
    assert score == scorer.score(call) and score.id == "c1"
    live = LiveScorer("default-en", BlankAnalyzer(), metadata=call.metadata)
    report = live.add_turn("Hi, this is Sam.")
    assert report.analysis.context.local_hour == 22  # the call's own start, whatever the analyzer
