"""Backend for any OpenAI-compatible chat server (vLLM, Ollama, llama.cpp server, TGI).

Spec: ``openai:<base_url>#<model>``, e.g. ``openai:http://localhost:11434/v1#llama3.1``.
The API key, if the server wants one, comes from ``CALLCOACH_API_KEY`` or ``OPENAI_API_KEY``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

from simulator.backends.base import Backend, BackendError, Message, cut_at_stop
from simulator.backends.transformers_backend import stop_prefix_len

API_KEY_ENVS = ("CALLCOACH_API_KEY", "OPENAI_API_KEY")
RETRY_STATUS = {429, 500, 502, 503, 504}


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
    """

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
    ):
        try:
            import httpx
        except ImportError:
            raise BackendError("the openai backend needs httpx: pip install httpx") from None
        if not base_url.startswith(("http://", "https://")):
            raise BackendError(f"base URL must start with http:// or https://, got '{base_url}'")
        if not model:
            raise BackendError("no model named: use openai:<base_url>#<model>")
        self._httpx = httpx
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.read_timeout_s = read_timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
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

    def _open(self, body: dict[str, Any]) -> Any:
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
            time.sleep(self.backoff_s * 2**attempt)
        raise AssertionError("unreachable")

    def stream(
        self,
        messages: list[Message],
        *,
        max_new_tokens: int = 60,
        temperature: float = 0.7,
        stop: list[str] | None = None,
        seed: int | None = None,
    ) -> Iterator[str]:
        stop = stop or []
        response = self._open(self._body(messages, max_new_tokens, temperature, stop, seed, True))
        text, emitted = "", 0
        try:
            for piece in self._sse_pieces(response):
                # Servers honour `stop` unevenly: cut here too, holding back a possible stop start.
                text, stopped = cut_at_stop(text + piece, stop)
                if stopped:
                    break
                safe = len(text) - stop_prefix_len(text, stop)
                if safe > emitted:
                    yield text[emitted:safe]
                    emitted = safe
        finally:
            response.close()
        if len(text) > emitted:
            yield text[emitted:]

    def _sse_pieces(self, response: Any) -> Iterator[str]:
        httpx = self._httpx
        try:
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue  # blank separators, ": keep-alive" comments, event names
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                chunk = _parse_json(data, self.base_url)
                if chunk.get("error"):
                    raise BackendError(f"{self.base_url}: {_error_message(chunk)}")
                for choice in chunk.get("choices") or []:
                    content = (choice.get("delta") or {}).get("content")
                    if content:
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
    ) -> str:
        """One non-streaming request."""
        response = self._open(self._body(messages, max_new_tokens, temperature, stop, seed, False))
        try:
            response.read()
        except self._httpx.TimeoutException:
            raise BackendError(f"{self.base_url} did not answer within {self.read_timeout_s:g} s") from None
        except self._httpx.HTTPError as exc:
            raise BackendError(f"reply from {self.base_url} broke: {_one_line(exc)}") from None
        finally:
            response.close()
        payload = _parse_json(response.text, self.base_url)
        try:
            content = payload["choices"][0]["message"].get("content") or ""
        except (KeyError, IndexError, TypeError, AttributeError):
            raise BackendError(f"{self.base_url}: unexpected reply: {response.text[:200]!r}") from None
        return cut_at_stop(content, stop)[0]

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
