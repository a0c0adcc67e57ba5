"""`python -m evals.bench_scoring` on a few short calls with the real analysis: the figures it
writes, and the counts that do not depend on the machine."""

from __future__ import annotations

import json

from evals import bench_scoring


def test_bench_scoring_writes_the_figures(tmp_path):
    out = tmp_path / "bench.json"
    bench_scoring.main(["--n", "3", "--turns", "10", "--chunk", "2", "--live-turns", "4", "--out", str(out)])
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert figures["transcripts"] == 3 and figures["turns_per_transcript"] == 10
    # the run embeds each distinct sentence exactly once: the bound it is compared with is fair
    assert figures["each_distinct_sentence_embedded_once"] is True
    assert figures["sentences_embedded_by_run"] == figures["sentences_distinct"] > 0
    # distinct texts include the graded readings' own (a canonical form a turn), so they may outnumber
    # the sentences counted in the transcripts
    assert figures["sentences_total"] > 0
    assert figures["live_turn_ms"]["n"] == 4
    live = figures["live_turn_ms"]
    assert 0 <= live["p50"] <= live["p95"] <= live["max"]
    assert figures["score_seconds"] > 0 and figures["transcripts_per_second"] > 0
    assert figures["peak_rss_mb"] > 0


def test_synthetic_calls_are_seeded_and_shaped():
    calls = bench_scoring.make_transcripts(5, 12)
    assert calls == bench_scoring.make_transcripts(5, 12)  # the same calls every run
    assert [c.id for c in calls] == [f"bench-{k:05d}" for k in range(5)]
    for c in calls:
        assert len(c.turns) == 12 and [t.speaker for t in c.turns[:2]] == ["agent", "debtor"]
        assert c.metadata["debt_amount"] > 0
    assert len({c.turns[0].text for c in calls}) > 1  # names and templates vary
