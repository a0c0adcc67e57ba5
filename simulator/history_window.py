"""Which turns of a call go into the debtor's prompt: a history window whose start moves in steps.

A window of the last ``keep`` turns (``history[-keep:]``) starts one exchange later at every
debtor line, so the prompt after the persona card differs every turn and the local engines'
prefix reuse stops at the card. Here the start stays put for ``step`` turns and then jumps by
``step``: the window holds between ``keep`` and ``keep + step - 1`` turns, and while the start
stays put the next prompt begins with the whole previous one up to its stage direction.

A call alternates collector and debtor turns, so the debtor's prompts come every second turn.
The start takes the values ``origin, origin + step, origin + 2*step, ...``; with an even
``step``, ``origin`` fixes which speaker opens the window. For the window to open on a debtor
turn, as the sliding window of an even ``keep`` does (what the tuned adapter saw in training,
with the actor's opening user line before it), ``origin`` is the parity of the call's first
debtor turn: 0 in the app, where the debtor picks up first (``CallSession.open``), 1 when the
collector speaks first (the bench's call, the training corpus's). With ``keep=4, step=4`` the
windows of successive debtor lines then hold 2, 4, 6, 4, 6, ... turns (debtor first) or 1, 3, 4,
6, 4, 6, ... (collector first): at most 2 more than ``keep``, and from the window's first move
every other prompt extends the previous one. A larger ``step``
shares more prompts (``step // 2 - 1`` of every ``step // 2``) and grows the window further
(``keep + step - 2`` turns at most).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def window_start(n_turns: int, keep: int, step: int, origin: int = 0) -> int:
    """The index of the first turn in the window over the first ``n_turns`` turns of a call.

    The window ``history[start:n_turns]`` holds at least ``min(keep, n_turns)`` turns and at
    most ``keep + step - 1``; the start is 0 or ``origin + k * step`` (``origin`` taken modulo
    ``step``) and never moves back as ``n_turns`` grows.
    ``step=1`` is the plain sliding window ``history[-keep:]``.
    """
    if keep < 1 or step < 1 or origin < 0:
        raise ValueError(
            f"keep and step must be >= 1 and origin >= 0 (got keep={keep}, step={step}, origin={origin})"
        )
    if origin >= step:
        origin %= step
    n_turns = max(0, int(n_turns))
    latest = n_turns - keep  # the latest start that still keeps ``keep`` turns
    if latest < origin:
        return 0
    return origin + (latest - origin) // step * step


def history_window(history: Sequence[T], keep: int, step: int, origin: int = 0) -> list[T]:
    """The turns of ``history`` from ``window_start(len(history), keep, step, origin)`` on."""
    return list(history[window_start(len(history), keep, step, origin) :])
