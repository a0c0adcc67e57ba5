"""A real backend that returns queued outputs and records what it was sent (for tests)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from simulator.backends.base import Backend, BackendError, Message, cut_at_stop


class ScriptedBackend(Backend):
    """Returns queued replies in order; an item may be an Exception (raised) or a callable.

    With an empty queue it returns ``default`` (``None`` raises BackendError), so a call driven by
    the scripted backend never hangs. ``calls`` records every request, for prompt assertions.
    """

    def __init__(
        self,
        replies: list[str | Exception | Callable[[list[Message]], str]] | None = None,
        *,
        default: str | None = "",
        delay_s: float = 0.0,
    ):
        self.queue = list(replies or [])
        self.default = default
        self.delay_s = delay_s
        self.calls: list[dict] = []
        self.spec = "scripted"

    def enqueue(self, *replies: str | Exception) -> ScriptedBackend:
        self.queue.extend(replies)
        return self

    def stream(
        self,
        messages: list[Message],
        *,
        max_new_tokens: int = 60,
        temperature: float = 0.7,
        stop: list[str] | None = None,
        seed: int | None = None,
    ) -> Iterator[str]:
        self.calls.append(
            {"messages": messages, "max_new_tokens": max_new_tokens, "temperature": temperature, "stop": stop, "seed": seed}
        )
        item = self.queue.pop(0) if self.queue else self.default
        if self.delay_s:
            time.sleep(self.delay_s)
        if item is None:
            raise BackendError("scripted backend has no reply queued")
        if isinstance(item, Exception):
            raise item
        text = item(messages) if callable(item) else item
        text, _ = cut_at_stop(text, stop)
        # yield word by word so streaming consumers are exercised
        words = text.split(" ")
        for i, w in enumerate(words):
            yield w if i == 0 else " " + w


class EchoBackend(Backend):
    """Replies with the last user message: makes prompt assembly easy to see."""

    spec = "echo"

    def stream(self, messages, *, max_new_tokens=60, temperature=0.7, stop=None, seed=None):
        user = [m["content"] for m in messages if m["role"] == "user"]
        yield user[-1] if user else ""
