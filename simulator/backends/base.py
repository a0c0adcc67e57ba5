"""The language-model backend protocol shared by every implementation, and what they share.

A reply is asked for with the chat messages and a :class:`GenerationConfig` (how many tokens,
temperature, stop strings, seed): ``backend.stream(messages, GenerationConfig(...))``.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
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

DEFAULT_TEMPERATURE = 0.7
# The bundled debtor adapter's temperature. Measured on held-out personas and collector lines
# (evals/results): at 0.5 the tuned model carries the asked intent far more often than at 0.7
# (79% vs 71%) and answers the collector's line more closely, with no more repeats or fallbacks.
TUNED_TEMPERATURE = 0.5


@dataclasses.dataclass(frozen=True)
class GenerationConfig:
    """How one reply is generated; every backend takes the same settings.

    ``stop``: the reply ends before the first of these strings (which is not part of it); a
    list or a single string is taken too.
    ``seed``: the same seed, prompt and settings give the same reply on a local backend;
    ``None`` draws a fresh one.
    """

    max_new_tokens: int = 60
    temperature: float = DEFAULT_TEMPERATURE
    stop: tuple[str, ...] = ()
    seed: int | None = None

    def __post_init__(self) -> None:
        stop = (self.stop,) if isinstance(self.stop, str) else self.stop
        object.__setattr__(self, "stop", tuple(s for s in stop if s))
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be 0 (greedy) or more, got {self.temperature}")

    def replace(self, **changes) -> GenerationConfig:
        return dataclasses.replace(self, **changes)

    def sampling_seed(self) -> int:
        """``seed``, or a fresh random one (32 bits) when it is None."""
        return self.seed if self.seed is not None else int.from_bytes(os.urandom(4), "little")


GREEDY = GenerationConfig(temperature=0.0, seed=0)


class BackendError(RuntimeError):
    """A backend could not produce text (load failure, HTTP error, timeout)."""


class ReplyLimitError(BackendError):
    """A reply ran past its deadline or its size cap; asking again would most likely do the same.

    ``guard`` names the limit for the actor's failure list: ``reply_deadline`` or ``reply_too_long``.
    """

    def __init__(self, message: str, guard: str):
        super().__init__(message)
        self.guard = guard


# SmolLM2-135M, the embedded default model, was trained on English text only.
EMBEDDED_MODEL_LANGUAGES = frozenset({"en"})


class Backend(ABC):
    """Turns chat messages into text. ``stream`` yields text pieces as they are generated."""

    spec: str = ""
    # Which prompt the actor writes: "full" instructions for any chat model, or "tuned", the
    # compact prompt the bundled debtor adapter was trained on.
    prompt_style: str = "full"
    # The sampling temperature a call session uses with this backend unless told otherwise.
    default_temperature: float = DEFAULT_TEMPERATURE
    # True when the backend ends a reply at ``deadline_s`` (seconds left for this reply): the
    # actor then gives its retry only the time its first try left, so a whole reply keeps one
    # deadline. Other backends take the argument and ignore it.
    takes_deadline: bool = False
    # Which lines the debtor says with this backend (simulator/actor.py, LineSource): "bank", the
    # persona's hand-written line that best fits the moment first (the bundled 135M model's own
    # lines were judged fine half as often as authored ones), or "model", the model's line first.
    # $CALLCOACH_DEBTOR_LINES overrides it for every backend.
    debtor_lines: str = "bank"
    # The languages the model can speak a debtor's line in (None: any, as far as we know). A
    # persona in another language says only its authored lines with this backend (its bank,
    # then its fallback lines): the embedded SmolLM2-135M cannot write Chinese.
    languages: frozenset[str] | None = None

    @abstractmethod
    def stream(
        self, messages: list[Message], config: GenerationConfig = GenerationConfig(), *, deadline_s: float | None = None
    ) -> Iterator[str]:
        """Yield pieces of the reply; stop strings are not included in the output."""

    def generate(
        self, messages: list[Message], config: GenerationConfig = GenerationConfig(), *, deadline_s: float | None = None
    ) -> str:
        return "".join(self.stream(messages, config, deadline_s=deadline_s))

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (HTTP clients, models)."""


class LocalBackend(Backend):
    """A model run in this process: one reply at a time, from the chat-templated prompt's ids.

    Subclasses give ``prompt_ids`` and ``_generate`` (the reply's text, as it is decoded, from
    the prompt ids; it may run past a stop string). What they share lives here: the lock, the
    stop strings, the adapter's prompt style and temperature, and which prompt blocks to reuse.
    """

    stop_on_eos = True  # benchmarks turn it off to time a fixed number of tokens

    def __init__(self, *, prefix_reuse: bool, reuse_block: int, top_p: float):
        self.prefix_reuse = prefix_reuse
        self.reuse_block = max(0, int(reuse_block))
        self.top_p = top_p
        self.last_prefill_tokens = 0  # how many prompt tokens the last call had to feed
        self.last_generated_tokens = 0
        self._lock = threading.Lock()

    @abstractmethod
    def prompt_ids(self, messages: list[Message]) -> list[int]:
        """The chat-templated prompt as token ids, ending with the assistant turn's opening."""

    @abstractmethod
    def _generate(self, ids: list[int], config: GenerationConfig) -> Iterator[str]:
        """The reply's text pieces, called with the lock held."""

    @abstractmethod
    def _forget(self) -> None:
        """Drop the reused keys/values, called with the lock held."""

    def stream(
        self, messages: list[Message], config: GenerationConfig = GenerationConfig(), *, deadline_s: float | None = None
    ) -> Iterator[str]:
        ids = self.prompt_ids(messages)
        if not ids:
            raise BackendError("empty prompt")
        # One generation at a time: the model and the reused keys/values are shared state.
        with self._lock:
            yield from cut_at_stops(self._generate(ids, config), config.stop)

    def forget_prefix(self) -> None:
        """Drop the reused keys/values (the next call feeds its whole prompt)."""
        with self._lock:
            self._forget()

    def use_adapter(self) -> None:
        """An adapter was merged in: the compact prompt it was trained on, and its temperature."""
        self.prompt_style = "tuned"
        self.default_temperature = TUNED_TEMPERATURE
        self.spec += "+adapter"

    @property
    def sampling_top_p(self) -> float:
        """The nucleus cut-off in effect (1.0: none)."""
        return self.top_p if 0 < self.top_p < 1 else 1.0

    def reusable(self, held: list[int] | None, ids: list[int]) -> int:
        """How many leading tokens of ``ids`` may be reused from ``held`` (the last prompt fed).

        At least one token is always fed, for the next token's logits; with ``reuse_block`` only
        whole blocks are reused, so every block is computed the same whether or not it was reused.
        """
        if not self.prefix_reuse or not held:
            return 0
        keep = min(common_prefix(held, ids), len(ids) - 1)
        return keep // self.reuse_block * self.reuse_block if self.reuse_block else keep


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def cut_at_stop(text: str, stop: Sequence[str] | None) -> tuple[str, bool]:
    """Cut ``text`` at the first stop string; returns (text, stopped)."""
    if not stop:
        return text, False
    cut = min((i for s in stop if s and (i := text.find(s)) >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


def stop_prefix_len(text: str, stop: Sequence[str]) -> int:
    """How many trailing characters could be the start of a stop string (not yet safe to show)."""
    longest = 0
    for s in stop:
        for k in range(min(len(s) - 1, len(text)), longest, -1):
            if text.endswith(s[:k]):
                longest = k
                break
    return longest


def cut_at_stops(pieces: Iterable[str], stop: Sequence[str]) -> Iterator[str]:
    """Pass ``pieces`` on until the first stop string, which ends the reply and is not passed on.

    Text that could be the start of a stop string is held back until the next piece says
    whether it is one. ``pieces`` is closed when this ends (a stop found, or the caller stopped),
    so a backend's generation stops there too.
    """
    held = ""  # text received, not yet passed on: at most a stop string's start
    try:
        for piece in pieces:
            held, stopped = cut_at_stop(held + piece, stop)
            if stopped:
                if held:
                    yield held
                return
            safe = len(held) - stop_prefix_len(held, stop)
            if safe > 0:
                yield held[:safe]
                held = held[safe:]
        if held:
            yield held
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()
