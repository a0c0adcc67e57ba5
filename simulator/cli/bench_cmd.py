"""``callcoach bench``: speed benchmarks (the logic lives in ``evals/``)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

bench_app = typer.Typer(help="Benchmarks (figures, not pass/fail).", no_args_is_help=True)


@bench_app.callback()
def _bench() -> None:
    """Benchmarks (figures, not pass/fail)."""  # a callback keeps `reply` a subcommand


@bench_app.command("reply")
def bench_reply(
    backend: str = typer.Option(None, "--backend", help="Backend spec (default: transformers:default)."),
    out: Path = typer.Option(Path("out/bench-reply.json"), "--out", help="Where to write the JSON."),
    repeats: int = typer.Option(3, help="Timed runs per figure (the median is reported)."),
    max_new_tokens: int = typer.Option(64, help="Tokens per timed reply."),
    dtype: str = typer.Option(None, help="transformers backend: float32, bfloat16 or float16."),
    quantize: str = typer.Option(None, help="transformers backend: int8."),
    fresh_process: bool = typer.Option(True, help="Also time a cached start in a new process."),
    no_adapter: bool = typer.Option(False, "--no-adapter", help="The embedded model without its debtor adapter."),
) -> None:
    """Time the debtor's reply: load (cold/cached), time to first token, tokens/s, prefix reuse."""
    from rich.console import Console
    from rich.table import Table

    from evals.bench_reply import run_bench, write_result
    from simulator.backends import BackendError

    kwargs = {k: v for k, v in {"dtype": dtype, "quantize": quantize}.items() if v}
    if no_adapter:
        kwargs["adapter"] = False
    console = Console()
    try:
        result = run_bench(
            backend, repeats=repeats, max_new_tokens=max_new_tokens, fresh_process=fresh_process,
            backend_kwargs=kwargs,
        )
    except BackendError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    write_result(result, out)

    table = Table(title=f"bench reply: {result['backend']}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    targets = result["targets"]
    for key in ("load_cold_s", "load_cached_s", "start_cached_s", "prompt_tokens", "ttft_first_call_s",
                "ttft_s", "decode_tok_s", "followup_ttft_no_reuse_s", "followup_ttft_reuse_s",
                "followup_prefill_tokens_reuse", "peak_rss_mb"):
        if key not in result:
            continue
        target = targets.get(key)
        mark = "" if not target else f"{target['target']} " + ("[green]ok[/green]" if target["met"] else "[red]missed[/red]")
        table.add_row(key, str(result[key]), mark)
    llama = result.get("llama_cpp")
    table.add_row("llama_cpp", json.dumps(llama) if isinstance(llama, dict) else str(llama), "")
    if "llama_cpp_ratio" in result:
        table.add_row("ratio to llama_cpp (ttft, decode)", str(result["llama_cpp_ratio"]), "")
    console.print(table)
    console.print(f"dtype={result.get('dtype')} threads={result.get('threads')} -> {out}")

