"""The bundled debtor LoRA adapter: where it lives and how it is merged into a model at load.

Merging (W += B·A·scale) at load leaves an ordinary model behind, so a reply costs exactly what the
base model's does; the transformers backend caches the merged weights beside the converted GGUF.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from simulator.backends.base import BackendError

BUNDLED_ADAPTER = Path(__file__).resolve().parent.parent / "adapters" / "debtor-smollm2"
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")


def resolve_adapter(adapter: str | Path | None, model: str, gguf_file: str | None = None) -> Path | None:
    """The adapter folder to merge, or None.

    ``"default"`` picks the bundled adapter, but only for the bundled default model it was trained
    on; any other model gets none unless a folder is named.
    """
    if adapter is None or adapter is False or adapter == "":
        return None
    if adapter == "default":
        if model != "default" or gguf_file:
            return None
        return BUNDLED_ADAPTER if all((BUNDLED_ADAPTER / f).is_file() for f in ADAPTER_FILES) else None
    path = Path(adapter).expanduser()
    missing = [f for f in ADAPTER_FILES if not (path / f).is_file()]
    if missing:
        raise BackendError(f"adapter folder {path} lacks {', '.join(missing)} (save one with training/train_lora.py)")
    return path


def adapter_digest(path: Path) -> str:
    """A short hash of the adapter's files: a changed adapter gets a fresh merged cache."""
    h = hashlib.sha256()
    for name in ADAPTER_FILES:
        h.update((path / name).read_bytes())
    return h.hexdigest()[:12]


def cast_weights(model: Any, dtype: Any) -> Any:
    """Cast the parameters only. ``model.to(dtype)`` would also cast buffers such as RoPE's
    ``inv_freq``, which a model loaded from disk keeps in float32: its replies would then differ
    from the same weights loaded from the cache."""
    for p in model.parameters():
        p.data = p.data.to(dtype)
    return model


def merge_adapter(model: Any, path: Path, torch: Any) -> Any:
    """Apply a peft LoRA adapter and merge it into the weights (in float32, then back)."""
    try:
        from peft import PeftModel
    except ImportError:
        raise BackendError("the debtor adapter needs peft: pip install peft (or run with --no-adapter)") from None
    dtype = model.dtype
    try:
        tuned = PeftModel.from_pretrained(cast_weights(model, torch.float32), str(path), is_trainable=False)
        merged = tuned.merge_and_unload()
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        raise BackendError(f"could not apply adapter {path}: {str(exc).splitlines()[0]}") from None
    return cast_weights(merged, dtype)
