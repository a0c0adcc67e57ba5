"""The language-model backend protocol shared by every implementation."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import TypedDict


class Message(TypedDict):
    role: str  # "system" | "user" | "assistant"
    content: str


class BackendError(RuntimeError):
    """A backend could not produce text (load failure, HTTP error, timeout)."""


class Backend(ABC):
    """Turns chat messages into text. ``stream`` yields text pieces as they are generated."""

    spec: str = ""
    # Which prompt the actor writes: "full" instructions for any chat model, or "tuned", the
    # compact prompt the bundled debtor adapter was trained on.
    prompt_style: str = "full"
    # The sampling temperature a call session uses with this backend unless told otherwise.
    default_temperature: float = 0.7

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
