"""A real backend that returns queued outputs and records what it was sent (for tests)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from simulator.backends.base import Backend, BackendError, GenerationConfig, Message, cut_at_stops


class ScriptedBackend(Backend):
    """Returns queued replies in order; an item may be an Exception (raised) or a callable.

    With an empty queue it returns ``default`` (``None`` raises BackendError), so a call driven by
    the scripted backend never hangs. ``calls`` records every request (``messages``, ``config``,
    ``deadline_s``), for prompt assertions.
    """

    # It stands in for a model (tests, demos): what it is given to say is the model's line.
    debtor_lines = "model"

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
        self, messages: list[Message], config: GenerationConfig = GenerationConfig(), *, deadline_s: float | None = None
    ) -> Iterator[str]:
        self.calls.append({"messages": messages, "config": config, "deadline_s": deadline_s})
        item = self.queue.pop(0) if self.queue else self.default
        if self.delay_s:
            time.sleep(self.delay_s)
        if item is None:
            raise BackendError("scripted backend has no reply queued")
        if isinstance(item, Exception):
            raise item
        text = item(messages) if callable(item) else item
        yield from cut_at_stops(_words(text), config.stop)  # word by word: streaming consumers are exercised


def _words(text: str) -> Iterator[str]:
    for i, word in enumerate(text.split(" ")):
        yield word if i == 0 else " " + word


class EchoBackend(Backend):
    """Replies with the last user message: makes prompt assembly easy to see."""

    spec = "echo"

    def stream(
        self, messages: list[Message], config: GenerationConfig = GenerationConfig(), *, deadline_s: float | None = None
    ) -> Iterator[str]:
        user = [m["content"] for m in messages if m["role"] == "user"]
        yield from cut_at_stops([user[-1] if user else ""], config.stop)
