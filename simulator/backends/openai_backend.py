"""Backend for any OpenAI-compatible chat server (vLLM, Ollama, llama.cpp server, TGI).

Spec: ``openai:<base_url>#<model>``, e.g. ``openai:http://localhost:11434/v1#llama3.1``.
The API key, if the server wants one, comes from ``CALLCOACH_API_KEY`` or ``OPENAI_API_KEY``.
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
    Message,
    ReplyLimitError,
    cut_at_stop,
)
from simulator.backends.transformers_backend import stop_prefix_len

API_KEY_ENVS = ("CALLCOACH_API_KEY", "OPENAI_API_KEY")
RETRY_STATUS = {429, 500, 502, 503, 504}
# What a server may send, apart from the reply text's own cap (max_reply_chars): one SSE line,
# and the whole response. A line is one small JSON chunk; 64 KiB is hundreds of times that.
MAX_SSE_LINE_BYTES = 64 * 1024
MAX_STREAM_BYTES = 4 * 1024 * 1024
T = TypeVar("T")


class OpenAIBackend(Backend):
    """Chat completions over HTTP, streamed (SSE) or not.

    Args:
        base_url: the server's API root, e.g. ``http://localhost:8000/v1``.
        model: the model name the server knows.
        api_key: default: ``$CALLCOACH_API_KEY`` or ``$OPENAI_API_KEY`` (none is fine for local servers).
        read_timeout_s: the longest wait for the next piece of the answer.
        connect_timeout_s: the longest wait to connect.
        max_retries: retries (with exponential backoff) on connection errors, 429 and 5xx, only
            before the first token arrives; a reply is never repeated half-way.
        backoff_s: the first retry's wait; it doubles each time.
        reply_deadline_s: the whole reply, retries included, from the request to its last piece.
            A server that sends keep-alive comments, or trickles, cannot hold a call past it.
        max_reply_chars: the most reply text; more (in one huge chunk or many) ends the request.

    A request past ``reply_deadline_s`` or ``max_reply_chars`` raises :class:`ReplyLimitError`;
    the actor then says its authored fallback line. The request runs in a helper thread so the
    deadline holds even while the server is silent or in the middle of a huge chunk.
    """

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
        backoff_s: float = 0.5,
        reply_deadline_s: float = REPLY_DEADLINE_S,
        max_reply_chars: int = MAX_REPLY_CHARS,
    ):
        try:
            import httpx
        except ImportError:
            raise BackendError("the openai backend needs httpx: pip install httpx") from None
        if not base_url.startswith(("http://", "https://")):
            raise BackendError(f"base URL must start with http:// or https://, got '{base_url}'")
        if not model:
            raise BackendError("no model named: use openai:<base_url>#<model>")
        if not reply_deadline_s > 0 or not max_reply_chars > 0:
            raise BackendError("reply_deadline_s and max_reply_chars must be more than 0")
        self._httpx = httpx
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.read_timeout_s = read_timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.reply_deadline_s = reply_deadline_s
        self.max_reply_chars = max_reply_chars
        self.spec = f"openai:{self.base_url}#{model}"
        key = api_key or next((os.environ[e] for e in API_KEY_ENVS if os.environ.get(e)), None)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(read_timeout_s, connect=connect_timeout_s),
        )

    @classmethod
    def from_spec(cls, rest: str, **kwargs) -> OpenAIBackend:
        """Build from the part after ``openai:``: ``<base_url>#<model>``."""
        base_url, _, model = rest.rpartition("#")
        if not base_url:
            raise BackendError(f"expected openai:<base_url>#<model>, got 'openai:{rest}'")
        return cls(base_url, model, **kwargs)

    # ---- requests ------------------------------------------------------------------------

    def _body(self, messages, max_new_tokens, temperature, stop, seed, stream) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
            "max_tokens": max_new_tokens,
            "temperature": temperature,
            "stream": stream,
        }
        if stop:
            body["stop"] = list(stop)[:4]  # the OpenAI API takes at most four
        if seed is not None:
            body["seed"] = seed
        return body

    def _open(self, body: dict[str, Any], cancelled: threading.Event) -> Any:
        """Send the request, retrying connection errors, 429 and 5xx; returns an open response."""
        httpx = self._httpx
        url = f"{self.base_url}/chat/completions"
        for attempt in range(self.max_retries + 1):
            last = attempt == self.max_retries
            try:
                response = self._client.send(self._client.build_request("POST", url, json=body), stream=True)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if last:
                    raise BackendError(f"cannot reach {self.base_url}: {_one_line(exc)}") from None
            except httpx.TimeoutException:
                raise BackendError(
                    f"{self.base_url} did not answer within {self.read_timeout_s:g} s"
                ) from None
            except httpx.HTTPError as exc:
                raise BackendError(f"request to {self.base_url} failed: {_one_line(exc)}") from None
            else:
                if response.status_code < 400:
                    return response
                if response.status_code not in RETRY_STATUS or last:
                    raise BackendError(_http_error(response, url))
                response.close()
            if cancelled.wait(self.backoff_s * 2**attempt):
                raise BackendError("request abandoned")
        raise AssertionError("unreachable")

    def _within_deadline(self, produce: Callable[[threading.Event], Iterator[T]], deadline_s: float | None) -> Iterator[T]:
        """Run ``produce`` in a helper thread and pass on what it yields until the deadline.

        The helper owns the HTTP response; when the caller stops early or the deadline passes it
        is told to stop and closes the response after its current read (``read_timeout_s`` at most).
        """
        seconds = self.reply_deadline_s if deadline_s is None else max(0.0, min(deadline_s, self.reply_deadline_s))
        ends = time.monotonic() + seconds
        items: queue.SimpleQueue = queue.SimpleQueue()
        cancelled = threading.Event()

        def work() -> None:
            try:
                for item in produce(cancelled):
                    if cancelled.is_set() or time.monotonic() > ends:
                        return
                    items.put(("item", item))
                items.put(("done", None))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                items.put(("error", exc))

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
            cancelled.set()

    def _too_long(self) -> ReplyLimitError:
        return ReplyLimitError(
            f"{self.base_url}: reply longer than {self.max_reply_chars:,} characters (the size cap)", "reply_too_long"
        )

    def stream(
        self,
        messages: list[Message],
        *,
        max_new_tokens: int = 60,
        temperature: float = 0.7,
        stop: list[str] | None = None,
        seed: int | None = None,
        deadline_s: float | None = None,
    ) -> Iterator[str]:
        """Yield the reply's pieces; ``deadline_s`` shortens this request's deadline."""
        stop = stop or []
        body = self._body(messages, max_new_tokens, temperature, stop, seed, True)

        def pieces(cancelled: threading.Event) -> Iterator[str]:
            response = self._open(body, cancelled)
            try:
                yield from self._sse_pieces(response, cancelled)
            finally:
                response.close()

        text, emitted = "", 0
        for piece in self._within_deadline(pieces, deadline_s):
            # Servers honour `stop` unevenly: cut here too, holding back a possible stop start.
            text, stopped = cut_at_stop(text + piece, stop)
            if stopped:
                break
            if len(text) > self.max_reply_chars:
                raise self._too_long()
            safe = len(text) - stop_prefix_len(text, stop)
            if safe > emitted:
                yield text[emitted:safe]
                emitted = safe
        if len(text) > emitted:
            yield text[emitted:]

    def _lines(self, response: Any, cancelled: threading.Event) -> Iterator[str]:
        """The response's lines, refusing one longer than the SSE limit before it is all read."""
        buffer = b""
        received = 0
        for chunk in response.iter_bytes():
            if cancelled.is_set():
                return
            received += len(chunk)
            if received > MAX_STREAM_BYTES:
                raise self._too_long()
            buffer += chunk
            *complete, buffer = buffer.split(b"\n")
            for line in complete:
                yield line.rstrip(b"\r").decode("utf-8", "replace")
            if len(buffer) > MAX_SSE_LINE_BYTES:
                raise self._too_long()
        if buffer:
            yield buffer.rstrip(b"\r").decode("utf-8", "replace")

    def _sse_pieces(self, response: Any, cancelled: threading.Event) -> Iterator[str]:
        httpx = self._httpx
        try:
            for line in self._lines(response, cancelled):
                if not line.startswith("data:"):
                    continue  # blank separators, ": keep-alive" comments, event names
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                chunk = _parse_json(data, self.base_url)
                if chunk.get("error"):
                    raise BackendError(f"{self.base_url}: {_error_message(chunk)}")
                for choice in chunk.get("choices") or []:
                    content = (choice.get("delta") or {}).get("content") if isinstance(choice, dict) else None
                    if isinstance(content, str) and content:
                        yield content
        except httpx.TimeoutException:
            raise BackendError(f"{self.base_url} stopped answering for {self.read_timeout_s:g} s") from None
        except httpx.HTTPError as exc:
            raise BackendError(f"stream from {self.base_url} broke: {_one_line(exc)}") from None

    def generate(
        self,
        messages: list[Message],
        *,
        max_new_tokens: int = 60,
        temperature: float = 0.7,
        stop: list[str] | None = None,
        seed: int | None = None,
        deadline_s: float | None = None,
    ) -> str:
        """One non-streaming request, within the same deadline and size cap as ``stream``."""
        body = self._body(messages, max_new_tokens, temperature, stop, seed, False)

        def reply(cancelled: threading.Event) -> Iterator[bytes]:
            response = self._open(body, cancelled)
            data = b""
            try:
                for chunk in response.iter_bytes():
                    if cancelled.is_set():
                        return
                    data += chunk
                    if len(data) > MAX_STREAM_BYTES:
                        raise self._too_long()
            except self._httpx.TimeoutException:
                raise BackendError(f"{self.base_url} did not answer within {self.read_timeout_s:g} s") from None
            except self._httpx.HTTPError as exc:
                raise BackendError(f"reply from {self.base_url} broke: {_one_line(exc)}") from None
            finally:
                response.close()
            yield data

        raw = b"".join(self._within_deadline(reply, deadline_s))
        text = raw.decode("utf-8", "replace")
        payload = _parse_json(text, self.base_url)
        try:
            content = payload["choices"][0]["message"].get("content") or ""
        except (KeyError, IndexError, TypeError, AttributeError):
            raise BackendError(f"{self.base_url}: unexpected reply: {text[:200]!r}") from None
        if not isinstance(content, str):
            raise BackendError(f"{self.base_url}: unexpected reply: {text[:200]!r}")
        content = cut_at_stop(content, stop)[0]
        if len(content) > self.max_reply_chars:
            raise self._too_long()
        return content

    def close(self) -> None:
        self._client.close()


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _parse_json(text: str, where: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        raise BackendError(f"{where}: reply is not JSON: {text[:200]!r}") from None
    if not isinstance(value, dict):
        raise BackendError(f"{where}: unexpected reply: {text[:200]!r}")
    return value


def _error_message(payload: dict[str, Any]) -> str:
    error = payload.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error)


def _http_error(response: Any, url: str) -> str:
    try:
        response.read()
        body = response.json() if response.content else {}
        detail = _error_message(body) if isinstance(body, dict) and body.get("error") else response.text[:200]
    except Exception:  # noqa: BLE001 - any body is fine, the status says enough
        detail = response.text[:200] if response.content else ""
    finally:
        response.close()
    detail = " ".join(str(detail).split())[:200]
    return f"{url}: HTTP {response.status_code}" + (f": {detail}" if detail else "")
