"""The soak runs end to end on the scripted backend: every call whole and unmixed, reply times measured."""

from __future__ import annotations

import pytest

pytest.importorskip("gradio_client")


def test_scripted_soak_keeps_every_call_whole():
    from evals.soak import soak

    result = soak(sessions=3, n_lines=2, backend="scripted", deadline_s=120, think_s=0.2)
    assert result["ok"], result
    assert result["calls_finished"] == 3 and result["replies"] == 6
    assert (
        result["think_s"] == 0.2
        and 0 < result["reply_s"]["p50"] <= result["reply_s"]["p95"] <= result["reply_s"]["max"]
    )
    assert (
        not result["calls_mixed"] and not result["calls_with_lost_turns"] and not result["errors"]
    )


def test_percentile_is_nearest_rank():
    from evals.soak import percentile

    values = [float(v) for v in range(1, 21)]
    assert (
        percentile(values, 0.5) in (10.0, 11.0)
        and percentile(values, 0.95) == 19.0
        and percentile(values, 1.0) == 20.0
    )
    assert percentile([], 0.95) != percentile([], 0.95)  # nan
