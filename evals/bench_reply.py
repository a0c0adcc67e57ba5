"""Benchmark: how fast the debtor's reply comes back, for one backend (and llama.cpp if installed).

    callcoach bench reply [--backend SPEC] [--out out/bench-reply.json]

Measures, on a fixed persona prompt (``evals/data/bench_reply_conversation.json``: a ~460-token
persona card + stage direction and a 4-turn call so far):

- ``load_cold_s``: the first load in this process, with an empty model cache (a temp dir), so a
  GGUF is converted; includes importing torch/transformers.
- ``load_cached_s``: a second load in the same process, from the cache it just wrote.
- ``start_cached_s``: a fresh Python process importing callcoach and loading from that cache:
  what a user waits for at start-up (target <= 10 s).
- ``ttft_s``: time to the first streamed piece with nothing to reuse (target <= 0.3 s).
- ``decode_tok_s``: tokens per second after the first (target >= 40 on 2 cores).
- ``followup_ttft_reuse_s`` / ``followup_ttft_no_reuse_s``: the next turn, with the previous
  prompt's keys/values reused or not.
- ``peak_rss_mb``: this process's peak resident memory.

A benchmark, not a pass/fail test: the numbers depend on the machine and on what else runs.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from simulator.backends import DEFAULT_SPEC, make_backend

CONVERSATION = Path(__file__).parent / "data" / "bench_reply_conversation.json"
TARGETS = {"start_cached_s": 10.0, "ttft_s": 0.3, "decode_tok_s": 40.0}


def load_conversation(path: Path = CONVERSATION) -> dict[str, Any]:
    """The fixed benchmark prompt: ``context`` (system + 4 turns + next line) and ``follow_up``."""
    data = json.loads(path.read_text(encoding="utf-8"))
    context = [{"role": "system", "content": data["system"]}, *data["turns"], data["next"]]
    return {"context": context, "follow_up": data["follow_up"]}


@contextmanager
def _cache_dir(path: str):
    old = os.environ.get("CALLCOACH_CACHE_DIR")
    os.environ["CALLCOACH_CACHE_DIR"] = path
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("CALLCOACH_CACHE_DIR", None)
        else:
            os.environ["CALLCOACH_CACHE_DIR"] = old


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def time_reply(backend, messages, *, max_new_tokens: int) -> dict[str, float]:
    """Stream one greedy reply: time to first piece, total time, tokens and decode rate."""
    started = time.perf_counter()
    first = None
    pieces = []
    for piece in backend.stream(messages, max_new_tokens=max_new_tokens, temperature=0):
        if first is None:
            first = time.perf_counter() - started
        pieces.append(piece)
    total = time.perf_counter() - started
    tokens = getattr(backend, "last_generated_tokens", None) or len(pieces)
    first = total if first is None else first
    rate = (tokens - 1) / (total - first) if tokens > 1 and total > first else 0.0
    return {"ttft_s": first, "total_s": total, "tokens": tokens, "decode_tok_s": rate, "text": "".join(pieces)}


def _forget(backend) -> None:
    if hasattr(backend, "forget_prefix"):
        backend.forget_prefix()


def _start_in_fresh_process(spec: str, cache: str, backend_kwargs: dict[str, Any]) -> float | None:
    code = (
        "import json, sys, time\n"
        "t = time.perf_counter()\n"
        "from simulator.backends import make_backend\n"
        "make_backend(sys.argv[1], **json.loads(sys.argv[2]))\n"
        "print(time.perf_counter() - t)\n"
    )
    env = {**os.environ, "CALLCOACH_CACHE_DIR": cache}
    try:
        done = subprocess.run(
            [sys.executable, "-c", code, spec, json.dumps(backend_kwargs)],
            capture_output=True, text=True, env=env, timeout=300, check=True,
        )
        return float(done.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError):
        return None


def bench_llama_cpp(gguf: Path, messages, *, max_new_tokens: int, repeats: int) -> dict[str, Any] | str:
    """The same prompt through llama-cpp-python on the same GGUF, if it is installed."""
    try:
        from llama_cpp import Llama
    except ImportError:
        return "not installed"
    from simulator.backends.transformers_backend import default_threads

    load_s, llm = _timed(lambda: Llama(model_path=str(gguf), n_ctx=2048, n_threads=default_threads(), verbose=False))
    runs = []
    for _ in range(repeats + 1):
        llm.reset()  # no prompt reuse: a like-for-like first-turn TTFT
        started = time.perf_counter()
        first, tokens = None, 0
        for chunk in llm.create_chat_completion(messages, max_tokens=max_new_tokens, temperature=0, stream=True):
            if chunk["choices"][0]["delta"].get("content"):
                tokens += 1
                first = first if first is not None else time.perf_counter() - started
        total = time.perf_counter() - started
        first = total if first is None else first
        runs.append({"ttft_s": first, "decode_tok_s": (tokens - 1) / (total - first) if tokens > 1 else 0.0})
    runs = runs[1:]  # the first run warms up
    return {
        "load_s": round(load_s, 3),
        "ttft_s": round(statistics.median(r["ttft_s"] for r in runs), 4),
        "decode_tok_s": round(statistics.median(r["decode_tok_s"] for r in runs), 2),
    }


def run_bench(
    spec: str | None = None,
    *,
    repeats: int = 3,
    max_new_tokens: int = 64,
    fresh_process: bool = True,
    backend_kwargs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run every measurement and return the figures (see the module docstring)."""
    spec = spec or DEFAULT_SPEC
    kwargs = dict(backend_kwargs or {})
    conversation = load_conversation()
    context, follow_up_line = conversation["context"], conversation["follow_up"]
    result: dict[str, Any] = {"backend": spec, "python": platform.python_version(), "cpus": os.cpu_count()}

    with tempfile.TemporaryDirectory(prefix="callcoach-bench-") as cache, _cache_dir(cache):
        load_cold_s, backend = _timed(lambda: make_backend(spec, **kwargs))
        load_cached_s, backend = _timed(lambda: make_backend(spec, **kwargs))
        result["start_cached_s"] = _start_in_fresh_process(spec, cache, kwargs) if fresh_process else None
    result.update(load_cold_s=round(load_cold_s, 3), load_cached_s=round(load_cached_s, 3))
    for attr in ("dtype_name", "threads", "quantize", "reuse_block", "loaded_from"):
        if hasattr(backend, attr):
            result[attr.removesuffix("_name")] = getattr(backend, attr)
    if hasattr(backend, "prompt_ids"):
        result["prompt_tokens"] = len(backend.prompt_ids(context))
    if hasattr(backend, "stop_on_eos"):
        backend.stop_on_eos = False  # time a fixed number of tokens

    # First turn, nothing reusable: the first call also pays one-time kernel set-up.
    _forget(backend)
    result["ttft_first_call_s"] = round(time_reply(backend, context, max_new_tokens=4)["ttft_s"], 4)
    runs = []
    for _ in range(repeats):
        _forget(backend)
        runs.append(time_reply(backend, context, max_new_tokens=max_new_tokens))
    result["ttft_s"] = round(statistics.median(r["ttft_s"] for r in runs), 4)
    result["decode_tok_s"] = round(statistics.median(r["decode_tok_s"] for r in runs), 2)
    result["decode_tokens"] = runs[0]["tokens"]
    if hasattr(backend, "stop_on_eos"):
        backend.stop_on_eos = True
    reply = backend.generate(context, max_new_tokens=40, temperature=0).strip() or "Who is this?"
    follow_up = [*context, {"role": "assistant", "content": reply}, follow_up_line]

    reuse, no_reuse = [], []
    for _ in range(repeats):
        _forget(backend)
        backend.generate(context, max_new_tokens=1, temperature=0)  # leaves the context's cache
        reuse.append(time_reply(backend, follow_up, max_new_tokens=4)["ttft_s"])
        result["followup_prefill_tokens_reuse"] = getattr(backend, "last_prefill_tokens", None)
        _forget(backend)
        no_reuse.append(time_reply(backend, follow_up, max_new_tokens=4)["ttft_s"])
        result["followup_prefill_tokens_no_reuse"] = getattr(backend, "last_prefill_tokens", None)
    result["followup_ttft_reuse_s"] = round(statistics.median(reuse), 4)
    result["followup_ttft_no_reuse_s"] = round(statistics.median(no_reuse), 4)
    result["sample_reply"] = runs[0]["text"][:200]
    result["peak_rss_mb"] = round(_peak_rss_mb(), 1)

    gguf = _gguf_of(spec)
    if gguf is None:
        result["llama_cpp"] = "not applicable (not a GGUF backend)"
    else:
        result["llama_cpp"] = bench_llama_cpp(gguf, context, max_new_tokens=max_new_tokens, repeats=repeats)
        if isinstance(result["llama_cpp"], dict):
            lc = result["llama_cpp"]
            result["llama_cpp_ratio"] = {
                "ttft": round(result["ttft_s"] / lc["ttft_s"], 2) if lc["ttft_s"] else None,
                "decode": round(result["decode_tok_s"] / lc["decode_tok_s"], 2) if lc["decode_tok_s"] else None,
            }
    result["targets"] = {
        key: {"target": target, "got": result.get(key),
              "met": None if result.get(key) is None else
              (result[key] >= target if key == "decode_tok_s" else result[key] <= target)}
        for key, target in TARGETS.items()
    }
    backend.close()
    return result


def _gguf_of(spec: str) -> Path | None:
    kind, _, rest = spec.partition(":")
    if kind != "transformers":
        return None
    if rest in ("", "default"):
        from simulator.backends.model_files import bundled_gguf

        return bundled_gguf()
    model, _, gguf_file = rest.partition("#")
    if gguf_file:
        return Path(model) / gguf_file if Path(model).is_dir() else Path(gguf_file)
    return Path(model) if model.endswith(".gguf") else None


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB elsewhere


def write_result(result: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
