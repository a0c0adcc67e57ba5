"""The language-model backend protocol shared by every implementation."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import TypedDict


class Message(TypedDict):
    role: str  # "system" | "user" | "assistant"
    content: str


# Every reply a remote backend streams is bounded in time and in size, whatever the server does
# (keep-alive comments for ever, one 100 MB chunk): past either limit the request is dropped
# and the actor says its authored fallback line. Both are settings of the backend
# (``OpenAIBackend(reply_deadline_s=..., max_reply_chars=...)``, or ``make_backend(spec, ...)``).
REPLY_DEADLINE_S = 30.0  # seconds from sending the request to the reply's last piece
MAX_REPLY_CHARS = 2_000  # characters of reply text; a debtor's line is a few sentences


class BackendError(RuntimeError):
    """A backend could not produce text (load failure, HTTP error, timeout)."""


class ReplyLimitError(BackendError):
    """A reply ran past its deadline or its size cap; asking again would most likely do the same.

    ``guard`` names the limit for the actor's failure list: ``reply_deadline`` or ``reply_too_long``.
    """

    def __init__(self, message: str, guard: str):
        super().__init__(message)
        self.guard = guard


class Backend(ABC):
    """Turns chat messages into text. ``stream`` yields text pieces as they are generated."""

    spec: str = ""
    # Which prompt the actor writes: "full" instructions for any chat model, or "tuned", the
    # compact prompt the bundled debtor adapter was trained on.
    prompt_style: str = "full"
    # The sampling temperature a call session uses with this backend unless told otherwise.
    default_temperature: float = 0.7
    # True when ``stream`` takes ``deadline_s`` (seconds left for this reply): the actor then
    # gives its retry only the time its first try left, so a whole reply keeps one deadline.
    takes_deadline: bool = False

    @abstractmethod
    def stream(
        self,
        messages: list[Message],
        *,
        max_new_tokens: int = 60,
        temperature: float = 0.7,
        stop: list[str] | None = None,
        seed: int | None = None,
    ) -> Iterator[str]:
        """Yield pieces of the reply; stop sequences are not included in the output."""

    def generate(
        self,
        messages: list[Message],
        *,
        max_new_tokens: int = 60,
        temperature: float = 0.7,
        stop: list[str] | None = None,
        seed: int | None = None,
    ) -> str:
        return "".join(
            self.stream(messages, max_new_tokens=max_new_tokens, temperature=temperature, stop=stop, seed=seed)
        )

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (HTTP clients, models)."""


def cut_at_stop(text: str, stop: list[str] | None) -> tuple[str, bool]:
    """Cut ``text`` at the first stop sequence; returns (text, stopped)."""
    if not stop:
        return text, False
    cut = min((i for s in stop if s and (i := text.find(s)) >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)
