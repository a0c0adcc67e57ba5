"""Backend for any OpenAI-compatible chat server (vLLM, Ollama, llama.cpp server, TGI).

Spec: ``openai:<base_url>#<model>``, e.g. ``openai:http://localhost:11434/v1#llama3.1``.
The API key, if the server wants one, comes from ``CALLCOACH_API_KEY`` or ``OPENAI_API_KEY``.

The official ``openai`` client sends the requests, streams the reply (server-sent events), times
out connects and reads and retries connection errors, 408/409/429 and 5xx with exponential
backoff. This module adds what a practice call needs on top, in the HTTP transport under the
client (:class:`_GuardedTransport`) and in a helper thread per reply:

* one deadline for the whole reply, retries included (``reply_deadline_s``): a server that sends
  keep-alive comments for ever, or trickles, cannot hold a call past it;
* a cap on what the server may send: reply characters (``max_reply_chars``), one SSE line
  (``MAX_SSE_LINE_BYTES``: one 100 MB chunk is refused on its first 64 KiB) and the whole
  response (``MAX_STREAM_BYTES``);
* no retry for a server that took the request and then said nothing for ``read_timeout_s``
  (a retry would wait as long again), and none once a reply has started;
* one-line :class:`BackendError` messages.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from simulator.backends.base import (
    MAX_REPLY_CHARS,
    REPLY_DEADLINE_S,
    Backend,
    BackendError,
    GenerationConfig,
    Message,
    ReplyLimitError,
    cut_at_stop,
    cut_at_stops,
)

try:
    import httpx
    import openai
except ImportError:
    raise BackendError("the openai backend needs the openai client: pip install 'openai>=2.31'") from None

API_KEY_ENVS = ("CALLCOACH_API_KEY", "OPENAI_API_KEY")
# What a server may send, apart from the reply text's own cap (max_reply_chars): one SSE line,
# and the whole response. A line is one small JSON chunk; 64 KiB is hundreds of times that.
MAX_SSE_LINE_BYTES = 64 * 1024
MAX_STREAM_BYTES = 4 * 1024 * 1024
T = TypeVar("T")
_requests = threading.local()  # .guard: the _Guard of the reply this thread is fetching


class _Stop(openai.OpenAIError):
    """Ends a request from inside the transport. The client passes an ``OpenAIError`` on as it
    is, without retrying it (openai>=2.31); the backend raises ``error`` in its place."""

    def __init__(self, error: BackendError):
        super().__init__(str(error))
        self.error = error


class _Guard:
    """One reply's limits, as the transport sees them: cancelled (the caller stopped waiting) and sizes."""

    def __init__(self, backend: OpenAIBackend):
        self.backend = backend
        self.cancelled = threading.Event()

    def check(self) -> None:
        if self.cancelled.is_set():
            raise _Stop(BackendError("request abandoned"))

    def too_long(self) -> _Stop:
        return _Stop(self.backend.too_long())


class _GuardedStream(httpx.SyncByteStream):
    """A response body read through the guard: stops when the reply is abandoned or too big."""

    def __init__(self, inner: Any, guard: _Guard, event_stream: bool):
        self._inner, self._guard, self._event_stream = inner, guard, event_stream

    def __iter__(self) -> Iterator[bytes]:
        received = line = 0
        for chunk in self._inner:
            self._guard.check()
            received += len(chunk)
            newline = chunk.rfind(b"\n")
            line = line + len(chunk) if newline < 0 else len(chunk) - newline - 1
            if received > MAX_STREAM_BYTES or (self._event_stream and line > MAX_SSE_LINE_BYTES):
                raise self._guard.too_long()
            yield chunk

    def close(self) -> None:
        self._inner.close()


class _GuardedTransport(httpx.BaseTransport):
    """The HTTP transport under the openai client, applying the current reply's guard."""

    def __init__(self, backend: OpenAIBackend):
        self._inner = httpx.HTTPTransport()
        self._backend = backend

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        guard = getattr(_requests, "guard", None) or _Guard(self._backend)
        guard.check()  # a retry after the caller gave up is not sent
        try:
            response = self._inner.handle_request(request)
        except httpx.ReadTimeout:
            raise _Stop(BackendError(
                f"{self._backend.base_url} did not answer within {self._backend.read_timeout_s:g} s"
            )) from None
        event_stream = response.headers.get("content-type", "").startswith("text/event-stream")
        response.stream = _GuardedStream(response.stream, guard, event_stream)
        return response

    def close(self) -> None:
        self._inner.close()


class OpenAIBackend(Backend):
    """Chat completions over HTTP with the openai client, streamed or not.

    Args:
        base_url: the server's API root, e.g. ``http://localhost:8000/v1``.
        model: the model name the server knows.
        api_key: default: ``$CALLCOACH_API_KEY`` or ``$OPENAI_API_KEY`` (none is fine for local servers).
        read_timeout_s: the longest wait for the next piece of the answer.
        connect_timeout_s: the longest wait to connect.
        max_retries: the client's retries (exponential backoff from 0.5 s, or the server's
            Retry-After) on connection errors, 408, 409, 429 and 5xx, only before a reply has
            started; a reply is never repeated half-way.
        reply_deadline_s: the whole reply, retries included, from the request to its last piece.
        max_reply_chars: the most reply text; more (in one huge chunk or many) ends the request.

    A request past ``reply_deadline_s`` or ``max_reply_chars`` raises :class:`ReplyLimitError`;
    the actor then says its authored fallback line. The request runs in a helper thread so the
    deadline holds even while the server is silent or in the middle of a huge chunk.
    """

    # A served model is usually a large one, chosen to speak: its lines first.
    debtor_lines = "model"


    takes_deadline = True

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        read_timeout_s: float = 30.0,
        connect_timeout_s: float = 5.0,
        max_retries: int = 2,
        reply_deadline_s: float = REPLY_DEADLINE_S,
        max_reply_chars: int = MAX_REPLY_CHARS,
    ):
        if not base_url.startswith(("http://", "https://")):
            raise BackendError(f"base URL must start with http:// or https://, got '{base_url}'")
        if not model:
            raise BackendError("no model named: use openai:<base_url>#<model>")
        if not reply_deadline_s > 0 or not max_reply_chars > 0:
            raise BackendError("reply_deadline_s and max_reply_chars must be more than 0")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.read_timeout_s = read_timeout_s
        self.reply_deadline_s = reply_deadline_s
        self.max_reply_chars = max_reply_chars
        self.spec = f"openai:{self.base_url}#{model}"
        key = api_key or next((os.environ[e] for e in API_KEY_ENVS if os.environ.get(e)), None)
        # No key (a local server): the client wants one, and each request then leaves its header out.
        self._headers: dict[str, Any] = {} if key else {"Authorization": openai.omit}
        try:
            self._client = openai.OpenAI(
                base_url=self.base_url,
                api_key=key or "no-key",
                max_retries=max_retries,
                timeout=httpx.Timeout(read_timeout_s, connect=connect_timeout_s),
                http_client=httpx.Client(transport=_GuardedTransport(self)),
            )
        except (openai.OpenAIError, TypeError, ValueError) as exc:
            raise BackendError(f"openai backend: {_one_line(exc)}") from None
        # The client imports its chat resources on first use (0.2 s here): now, not in a reply's deadline.
        self._completions = self._client.chat.completions

    @classmethod
    def from_spec(cls, rest: str, **kwargs) -> OpenAIBackend:
        """Build from the part after ``openai:``: ``<base_url>#<model>``."""
        base_url, _, model = rest.rpartition("#")
        if not base_url:
            raise BackendError(f"expected openai:<base_url>#<model>, got 'openai:{rest}'")
        return cls(base_url, model, **kwargs)

    # ---- requests ------------------------------------------------------------------------

    def _body(self, messages: list[Message], config: GenerationConfig, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
            "max_tokens": config.max_new_tokens,
            "temperature": config.temperature,
            "stream": stream,
        }
        if config.stop:
            body["stop"] = list(config.stop)[:4]  # the OpenAI API takes at most four
        if config.seed is not None:
            body["seed"] = config.seed
        return body

    def stream(
        self, messages: list[Message], config: GenerationConfig = GenerationConfig(), *, deadline_s: float | None = None
    ) -> Iterator[str]:
        """Yield the reply's pieces; ``deadline_s`` shortens this request's deadline.

        The chunks are read as the JSON the server sent (the client's ``post`` to the chat route,
        as ``chat.completions.create`` does it, untyped): typed chunk objects cost 0.08 ms of CPU
        each to build (pydantic), the JSON as sent 0.007 ms (measured on this project's 2-core
        machine), which kept an endless reply from reaching the size cap within its deadline.
        """
        body = self._body(messages, config, True)

        def pieces() -> Iterator[str]:
            replies = self._send(lambda: self._client.post(
                "/chat/completions", body=body, options={"headers": self._headers},
                cast_to=object, stream=True, stream_cls=openai.Stream[object],
            ))
            try:
                for chunk in replies:
                    choices = chunk.get("choices") if isinstance(chunk, dict) else None
                    for choice in choices if isinstance(choices, list) else []:
                        delta = choice.get("delta") if isinstance(choice, dict) else None
                        content = delta.get("content") if isinstance(delta, dict) else None
                        if isinstance(content, str) and content:
                            yield content
            except Exception as exc:  # noqa: BLE001 - every failure becomes one line
                raise self._error(exc, started=True) from None
            finally:
                replies.close()

        # Servers honour `stop` unevenly: it is cut here too.
        reply = cut_at_stops(self._within_deadline(pieces, deadline_s), config.stop)
        shown = 0
        try:
            for piece in reply:
                shown += len(piece)
                if shown > self.max_reply_chars:
                    raise self.too_long()
                yield piece
        finally:
            reply.close()  # the request stops (see _within_deadline)

    def generate(
        self, messages: list[Message], config: GenerationConfig = GenerationConfig(), *, deadline_s: float | None = None
    ) -> str:
        """One non-streaming request, within the same deadline and size cap as ``stream``."""
        body = self._body(messages, config, False)

        def reply() -> Iterator[str]:
            completion = self._send(lambda: self._completions.create(**body, extra_headers=self._headers))
            try:
                content = completion.choices[0].message.content or ""
            except (AttributeError, IndexError, TypeError):
                raise BackendError(f"{self.base_url}: unexpected reply: {str(completion)[:200]!r}") from None
            if not isinstance(content, str):
                raise BackendError(f"{self.base_url}: unexpected reply: {str(completion)[:200]!r}")
            yield content

        content = cut_at_stop("".join(self._within_deadline(reply, deadline_s)), config.stop)[0]
        if len(content) > self.max_reply_chars:
            raise self.too_long()
        return content

    def _send(self, request: Callable[[], T]) -> T:
        """The client's request, retries included: a stream of chunks, or the whole completion."""
        try:
            return request()
        except Exception as exc:  # noqa: BLE001 - every failure becomes one line
            raise self._error(exc, started=False) from None

    def _within_deadline(self, produce: Callable[[], Iterator[T]], deadline_s: float | None) -> Iterator[T]:
        """Run ``produce`` in a helper thread and pass on what it yields until the deadline.

        The helper's requests carry a guard (see ``_GuardedTransport``): when the caller stops
        early or the deadline passes, the request stops at its next piece of data (within
        ``read_timeout_s``), and a retry still waiting is never sent.
        """
        seconds = self.reply_deadline_s if deadline_s is None else max(0.0, min(deadline_s, self.reply_deadline_s))
        ends = time.monotonic() + seconds
        items: queue.SimpleQueue = queue.SimpleQueue()
        guard = _Guard(self)

        def work() -> None:
            _requests.guard = guard
            try:
                for item in produce():
                    if guard.cancelled.is_set():
                        return
                    items.put(("item", item))
                items.put(("done", None))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                items.put(("error", exc.error if isinstance(exc, _Stop) else exc))

        threading.Thread(target=work, name="callcoach-openai-reply", daemon=True).start()
        try:
            while True:
                left = ends - time.monotonic()
                try:
                    if left <= 0:
                        raise queue.Empty
                    kind, value = items.get(timeout=left)
                except queue.Empty:
                    raise ReplyLimitError(
                        f"{self.base_url}: no complete reply within {seconds:g} s (the reply deadline)",
                        "reply_deadline",
                    ) from None
                if kind == "done":
                    return
                if kind == "error":
                    raise value
                yield value
        finally:
            guard.cancelled.set()

    def too_long(self) -> ReplyLimitError:
        return ReplyLimitError(
            f"{self.base_url}: reply longer than {self.max_reply_chars:,} characters (the size cap)", "reply_too_long"
        )

    def _error(self, exc: Exception, *, started: bool) -> BackendError:
        """The one-line error for what the client (or the guard) raised."""
        if isinstance(exc, _Stop):
            return exc.error
        if isinstance(exc, BackendError):
            return exc
        if isinstance(exc, openai.APIStatusError):
            detail = " ".join(_detail(exc.body, exc.response).split())[:200]
            return BackendError(f"{self.base_url}/chat/completions: HTTP {exc.status_code}" + (f": {detail}" if detail else ""))
        if isinstance(exc, openai.APITimeoutError):
            if started:
                return BackendError(f"{self.base_url} stopped answering for {self.read_timeout_s:g} s")
            return BackendError(f"cannot reach {self.base_url}: timed out")
        if isinstance(exc, openai.APIConnectionError):
            cause = _one_line(exc.__cause__ or exc)
            return BackendError(f"stream from {self.base_url} broke: {cause}" if started else f"cannot reach {self.base_url}: {cause}")
        if isinstance(exc, openai.APIError):  # an error event in the stream
            return BackendError(f"{self.base_url}: {_one_line(exc)}")
        if isinstance(exc, ValueError):  # a chunk that is not JSON
            return BackendError(f"{self.base_url}: reply is not JSON: {_one_line(exc)}")
        return BackendError(f"{self.base_url}: {type(exc).__name__}: {_one_line(exc)}")

    def close(self) -> None:
        self._client.close()


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _detail(body: object, response: Any) -> str:
    """The message of an error reply's body (``{"error": {"message": ...}}`` or alike), else its text."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
        return json.dumps(body)
    if body:
        return str(body)
    try:
        return response.text
    except Exception:  # noqa: BLE001 - a body that cannot be read: the status says enough
        return ""
