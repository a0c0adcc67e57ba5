"""LM backends chosen by a spec string; heavy imports happen only when a backend is made.

Specs:
  ``llamacpp:<default or path.gguf>`` in-process llama.cpp (xllamacpp); ``default`` is the bundled
  SmolLM2 GGUF with the debtor adapter merged in. The default backend: against
  ``transformers:default`` on the same call (``callcoach bench reply``) it completes a 20-token
  line in half the time, decodes 4x faster, starts in an eighth of the time with 60% of the
  memory; its first token comes later (the prompt is fed in 64-token blocks), see docs/DEBTOR.md.
  ``transformers:<HF id or local path>[#gguf_file]`` in-process (``default``: the same bundled
  GGUF and adapter in torch; HF models and training)
  ``openai:<base_url>#<model>`` any OpenAI-compatible server (vLLM, Ollama, llama.cpp, TGI);
  each reply within ``reply_deadline_s`` (default 30 s) and ``max_reply_chars`` (default 2,000)
  ``scripted`` / ``echo`` for tests
"""

from __future__ import annotations

from collections.abc import Callable

from simulator.backends.base import (
    GREEDY,
    MAX_REPLY_CHARS,
    REPLY_DEADLINE_S,
    Backend,
    BackendError,
    GenerationConfig,
    Message,
    ReplyLimitError,
    cut_at_stop,
)

DEFAULT_SPEC = "llamacpp:default"


def _transformers(rest: str, **kw) -> Backend:
    from simulator.backends.transformers_backend import TransformersBackend

    return TransformersBackend.from_spec(rest, **kw)


def _llamacpp(rest: str, **kw) -> Backend:
    from simulator.backends.llamacpp_backend import LlamaCppBackend

    return LlamaCppBackend.from_spec(rest, **kw)


# Backends that take the ``adapter`` option (a LoRA merged into local weights).
_TAKES_ADAPTER = {"transformers", "llamacpp"}


def _openai(rest: str, **kw) -> Backend:
    from simulator.backends.openai_backend import OpenAIBackend

    return OpenAIBackend.from_spec(rest, **kw)


def _scripted(rest: str, **kw) -> Backend:
    """``scripted`` answers with fallbacks only; ``scripted:<file>`` replays a JSON list of lines."""
    from simulator.backends.scripted import ScriptedBackend

    if rest:
        import json
        from pathlib import Path

        try:
            replies = json.loads(Path(rest).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BackendError(f"scripted backend: cannot read replies from {rest}: {exc}") from None
        kw.setdefault("replies", [str(r) for r in replies])
    return ScriptedBackend(**kw)


def _echo(rest: str, **kw) -> Backend:
    from simulator.backends.scripted import EchoBackend

    return EchoBackend()


BACKENDS: dict[str, Callable[..., Backend]] = {
    "transformers": _transformers,
    "llamacpp": _llamacpp,
    "openai": _openai,
    "scripted": _scripted,
    "echo": _echo,
}


def make_backend(spec: str | None = None, *, adapter: bool | str = True, **kwargs) -> Backend:
    """Create a backend from a spec string such as ``llamacpp:default`` (the default).

    ``adapter``: True merges the bundled debtor adapter into the bundled default model, False
    loads the plain model (``--no-adapter``), a folder path merges that adapter.
    """
    spec = spec or DEFAULT_SPEC
    kind, _, rest = spec.partition(":")
    if kind not in BACKENDS:
        raise BackendError(f"unknown backend '{kind}' in '{spec}' (choose from: {', '.join(BACKENDS)})")
    if kind in _TAKES_ADAPTER:
        kwargs["adapter"] = "default" if adapter is True else (adapter or None)
    backend = BACKENDS[kind](rest, **kwargs)
    backend.spec = spec + ("+adapter" if getattr(backend, "adapter", None) is not None else "")
    return backend


__all__ = [
    "Backend", "BackendError", "ReplyLimitError", "Message", "GenerationConfig", "GREEDY", "make_backend", "cut_at_stop",
    "DEFAULT_SPEC", "BACKENDS", "REPLY_DEADLINE_S", "MAX_REPLY_CHARS",
]
