"""The stepped history window: its bounds, where it moves, and what consecutive prompts share."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.history_window import history_window, window_start


def test_step_one_is_the_sliding_window():
    history = list(range(11))
    for n in range(12):
        assert history_window(history[:n], keep=4, step=1) == history[:n][-4:]


def test_keep4_step4_origin1_debtor_prompts():
    # The debtor speaks after the collector's 1st, 2nd, ... line: 1, 3, 5, ... turns so far.
    lengths = [
        len(history_window(list(range(n)), keep=4, step=4, origin=1)) for n in range(1, 16, 2)
    ]
    starts = [window_start(n, keep=4, step=4, origin=1) for n in range(1, 16, 2)]
    assert lengths == [1, 3, 4, 6, 4, 6, 4, 6]
    assert starts == [0, 0, 1, 1, 5, 5, 9, 9]


def test_debtor_first_call_origin0_opens_on_the_debtor():
    # The app: the debtor picks up (turn 0), so the debtor speaks after 2, 4, 6, ... turns.
    ns = range(2, 17, 2)
    starts = [window_start(n, keep=4, step=4, origin=0) for n in ns]
    assert starts == [0, 0, 0, 4, 4, 8, 8, 12]  # even: a debtor turn
    assert [n - s for n, s in zip(ns, starts, strict=True)] == [2, 4, 6, 4, 6, 4, 6, 4]


def test_origin0_starts_on_the_collector():
    starts = [window_start(n, keep=4, step=4, origin=0) for n in range(1, 16, 2)]
    assert starts == [0, 0, 0, 0, 4, 4, 8, 8]  # even: a collector turn when the collector opened
    assert [n - s for n, s in zip(range(1, 16, 2), starts, strict=True)] == [1, 3, 5, 7, 5, 7, 5, 7]


def test_a_short_call_keeps_everything():
    assert window_start(0, 4, 4) == 0
    assert window_start(3, 4, 6, origin=1) == 0
    assert history_window([], 4, 4) == []


def test_bad_arguments():
    for bad in (
        {"keep": 0, "step": 4},
        {"keep": 4, "step": 0},
        {"keep": 4, "step": 4, "origin": -1},
    ):
        with pytest.raises(ValueError):
            window_start(9, **bad)


@given(st.integers(0, 400), st.integers(1, 12), st.integers(1, 12), st.integers(0, 30))
def test_bounds_and_grid(n, keep, step, origin):
    start = window_start(n, keep, step, origin)
    assert 0 <= start <= n
    assert min(keep, n) <= n - start <= keep + step - 1
    assert start == 0 or (start - origin % step) % step == 0
    assert window_start(n + 1, keep, step, origin) >= start  # never moves back


@given(st.integers(0, 400), st.integers(1, 12), st.sampled_from([2, 4, 6, 8]), st.integers(0, 7))
def test_consecutive_debtor_prompts_share_their_window_most_turns(n, keep, step, origin):
    """Every debtor prompt comes 2 turns after the last; the start moves at most once in step/2 prompts."""
    starts = [window_start(n + 2 * k, keep, step, origin) for k in range(step // 2)]
    moves = sum(a != b for a, b in zip(starts, starts[1:], strict=False))
    assert moves <= 1
