"""A LoRA adapter merged into a GGUF file, for the llama.cpp backend; built once and cached.

The transformers backend merges the debtor adapter into dequantized weights at load
(``adapter.merge_adapter``). This module does the same sum on the GGUF itself: each adapted
weight is dequantized to float32, ``(B @ A) * alpha/r`` is added in float32 as peft does, and the
result is written as float16 (default) or Q8_0. Every other tensor (embeddings, norms) and all
metadata (tokenizer, chat template) are copied unchanged. Before rounding, the merged weights are
bit-identical to the transformers backend's float32 merged weights (checked by hand on q, k,
v and down projections, q and k in llama.cpp's row order); tests/test_llamacpp_backend.py checks
that both engines then pick the same next tokens.

Why not the base file's Q4_1: the adapter's update is ~0.5% of a weight's size, below Q4_1's
(or even Q5_1's) rounding step, so requantizing to it erases the adapter. Measured on 12 debtor
prompts, as the share of positions where the next token (teacher-forced on torch's greedy reply)
is the one the torch float32 model with the adapter picks: base 48%, merged Q4_1 51%, Q5_1 56%,
Q8_0 96%, bfloat16 98%, float16 98% -- and torch's own bfloat16 default 96%. Decoding freely
against the shipped torch model (bfloat16) on the 6 prompts of the slow test, float16 keeps the
same first 74 of 92 tokens and Q8_0 only 43 (the plain model: 43), so float16 is the default:
the model the adapter's figures were measured on. Q8_0 (``weights="q8_0"``, 145 MB against
244 MB) is faster on 2 cores: 4th-turn TTFT 0.57 s vs 0.76 s, decode 76 vs 53 tok/s.

The cache key hashes every input: the base file's name, size and mtime (as the transformers
backend's converted-model cache does), the adapter files' contents, the weight type and this
module's format version, so a changed adapter or base file is merged again.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

from core.files import atomic_path
from core.paths import cache_root
from simulator.backends.adapter import ADAPTER_FILES, adapter_digest
from simulator.backends.base import BackendError

MERGE_FORMAT_VERSION = 1  # bump when the merged file's content would change for the same inputs
WEIGHT_TYPES = ("f16", "q8_0", "bf16")
# Architectures whose GGUF conversion permutes the q/k rows for rotary embeddings (llama.cpp's
# convert_hf_to_gguf.py, LlamaModel.permute), so the adapter's B rows must be permuted alike.
_PERMUTED_QK = {"llama"}


def merged_gguf_path(base: Path, adapter: Path, weights: str = "f16", root: Path | None = None) -> Path:
    """Where the merge of ``adapter`` into ``base`` is cached (a hash of every input)."""
    stat = base.stat()
    inputs = f"{MERGE_FORMAT_VERSION}|{base.name}|{stat.st_size}|{stat.st_mtime_ns}|{adapter_digest(adapter)}|{weights}"
    key = hashlib.sha256(inputs.encode()).hexdigest()[:16]
    return (root or cache_root()) / "models" / f"{base.stem}-lora-{key}-{weights}.gguf"


class MergedModel(NamedTuple):
    path: Path
    built_now: bool  # False: found in the cache
    temporary: bool  # the cache could not be written: the caller deletes ``path`` when done


def cached_merge(base: Path, adapter: Path, weights: str = "f16", root: Path | None = None) -> MergedModel:
    """The merged GGUF, built now if it is not in the cache.

    Written to a temp file beside the target and renamed, so a crash never leaves half a file
    and two processes merging at once both end with a whole one. A cache that cannot be written
    gets the file in a fresh temp folder instead (the caller deletes it; the next start merges again).
    """
    target = merged_gguf_path(base, adapter, weights, root)
    if target.is_file():
        return MergedModel(target, False, False)
    try:
        with atomic_path(target, suffix=".partial") as tmp:
            merge_lora_into_gguf(base, adapter, tmp, weights)
    except OSError:
        if target.is_file():  # another process merged it first; theirs is as good
            return MergedModel(target, True, False)
        out = Path(tempfile.mkdtemp(prefix="callcoach-merge-")) / target.name
        merge_lora_into_gguf(base, adapter, out, weights)
        return MergedModel(out, True, True)
    return MergedModel(target, True, False)


def read_adapter(adapter: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The adapter's config and its tensors (numpy), checked for what a merge supports."""
    missing = [f for f in ADAPTER_FILES if not (adapter / f).is_file()]
    if missing:
        raise BackendError(f"adapter folder {adapter} lacks {', '.join(missing)}")
    try:
        config = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
        from safetensors.numpy import load_file

        tensors = load_file(str(adapter / "adapter_model.safetensors"))
    except (OSError, ValueError) as exc:
        raise BackendError(f"cannot read adapter {adapter}: {str(exc).splitlines()[0]}") from None
    unsupported = [
        name for name, bad in (
            ("peft_type other than LORA", config.get("peft_type", "LORA") != "LORA"),
            ("use_dora", config.get("use_dora")),
            ("rank_pattern", config.get("rank_pattern")),
            ("alpha_pattern", config.get("alpha_pattern")),
            ("fan_in_fan_out", config.get("fan_in_fan_out")),
            ("modules_to_save", config.get("modules_to_save")),
            ("bias", config.get("bias", "none") != "none"),
        ) if bad
    ]
    if unsupported:
        raise BackendError(f"adapter {adapter}: cannot merge into a GGUF with {', '.join(unsupported)}")
    return config, tensors


def lora_scale(config: dict[str, Any]) -> float:
    rank, alpha = float(config["r"]), float(config["lora_alpha"])
    return alpha / rank**0.5 if config.get("use_rslora") else alpha / rank


def permute_rows(w: Any, n_head: int) -> Any:
    """llama.cpp's q/k row order for rotary embeddings (convert_hf_to_gguf.py, LlamaModel.permute)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def adapter_deltas(
    config: dict[str, Any], tensors: dict[str, Any], arch: str, n_blocks: int, n_head: int, n_head_kv: int
) -> dict[str, tuple[Any, Any]]:
    """GGUF tensor name -> (A, B) in float32, B's rows in the GGUF's order."""
    import gguf
    import numpy as np

    arch_ids = {name: key for key, name in gguf.MODEL_ARCH_NAMES.items()}
    if arch not in arch_ids:
        raise BackendError(f"cannot merge an adapter into a GGUF of architecture '{arch}'")
    names = gguf.get_tensor_name_map(arch_ids[arch], n_blocks)
    out: dict[str, tuple[Any, Any]] = {}
    for key, a in tensors.items():
        if ".lora_A." not in key:
            continue
        b = tensors.get(key.replace(".lora_A.", ".lora_B."))
        module = key.split(".lora_A.")[0].removeprefix("base_model.model.")
        name = names.get_name(module + ".weight", try_suffixes=(".weight",))
        if b is None or name is None:
            raise BackendError(f"adapter tensor {key}: no matching lora_B or GGUF weight")
        a32, b32 = a.astype(np.float32), b.astype(np.float32)
        if arch in _PERMUTED_QK and module.endswith("q_proj"):
            b32 = permute_rows(b32, n_head)
        elif arch in _PERMUTED_QK and module.endswith("k_proj"):
            b32 = permute_rows(b32, n_head_kv)
        out[name] = (a32, b32)
    if not out:
        raise BackendError("the adapter has no LoRA weights")
    return out


def merge_lora_into_gguf(base: Path, adapter: Path, out: Path, weights: str = "f16") -> None:
    """Write ``out``: ``base`` with ``adapter`` merged into its weights (see the module docstring)."""
    import gguf
    import numpy as np

    if weights not in WEIGHT_TYPES:
        raise BackendError(f"unknown merged weight type '{weights}' (choose from: {', '.join(WEIGHT_TYPES)})")
    config, tensors = read_adapter(adapter)
    try:
        reader = gguf.GGUFReader(str(base))
    except (OSError, ValueError) as exc:
        raise BackendError(f"cannot read GGUF {base}: {str(exc).splitlines()[0]}") from None

    def field(key: str) -> Any:
        if key not in reader.fields:
            raise BackendError(f"GGUF {base} lacks {key}")
        return reader.fields[key].contents()

    arch = str(field(gguf.Keys.General.ARCHITECTURE))
    deltas = adapter_deltas(
        config, tensors, arch, int(field(f"{arch}.block_count")),
        int(field(f"{arch}.attention.head_count")), int(field(f"{arch}.attention.head_count_kv")),
    )
    scale = np.float32(lora_scale(config))
    qtype = {"f16": gguf.GGMLQuantizationType.F16, "bf16": gguf.GGMLQuantizationType.BF16,
             "q8_0": gguf.GGMLQuantizationType.Q8_0}[weights]
    file_type = {"f16": gguf.LlamaFileType.MOSTLY_F16, "bf16": gguf.LlamaFileType.MOSTLY_BF16,
                 "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}[weights]

    writer = gguf.GGUFWriter(str(out), arch)
    for key, f in reader.fields.items():
        if key.startswith("GGUF.") or key == gguf.Keys.General.ARCHITECTURE:
            continue  # the writer adds these
        if key == gguf.Keys.General.FILE_TYPE:
            writer.add_file_type(int(file_type))
            continue
        if key == gguf.Keys.General.ALIGNMENT:
            writer.data_alignment = int(f.contents())
        vtype = f.types[0]
        sub_type = f.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(key, f.contents(), vtype, sub_type=sub_type)
    writer.add_string("callcoach.merged_adapter", adapter_digest(adapter))

    found = set()
    for t in reader.tensors:
        if t.name not in deltas:
            writer.add_tensor(t.name, t.data, raw_shape=t.data.shape, raw_dtype=t.tensor_type)
            continue
        a, b = deltas[t.name]
        dense = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32, copy=False)
        dense = dense.reshape(b.shape[0], a.shape[1])
        merged = dense + (b @ a) * scale  # peft's order: (B @ A) * scaling, in float32
        found.add(t.name)
        if weights == "f16":
            writer.add_tensor(t.name, merged.astype(np.float16))
        else:
            packed = gguf.quants.quantize(merged, qtype)
            writer.add_tensor(t.name, packed, raw_shape=packed.shape, raw_dtype=qtype)
    missing = sorted(set(deltas) - found)
    if missing:
        raise BackendError(f"the adapter targets weights the GGUF lacks: {', '.join(missing[:3])}")
    try:
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
    finally:
        writer.close()
