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
    backend: list[str] = typer.Option(
        None, "--backend",
        help="Backend spec; give it twice or more to compare engines (default: compare "
             "transformers:default and llamacpp:default).",
    ),
    out: Path = typer.Option(Path("out/bench-reply.json"), "--out", help="Where to write the JSON."),
    repeats: int = typer.Option(3, help="Timed runs (rounds, when comparing) per figure; the median is reported."),
    max_new_tokens: int = typer.Option(64, help="One backend: tokens per timed reply."),
    dtype: str = typer.Option(None, help="transformers backend: float32, bfloat16 or float16."),
    quantize: str = typer.Option(None, help="transformers backend: int8."),
    threads: int = typer.Option(None, help="Threads for every engine (default: the cores this process may use)."),
    fresh_process: bool = typer.Option(True, help="Also time a cached start in a new process."),
    no_adapter: bool = typer.Option(False, "--no-adapter", help="The embedded model without its debtor adapter."),
    lang: str = typer.Option(
        None, "--lang",
        help="Time whole calls of every persona in this language (zh) on the default backend (or --backend) instead.",
    ),
) -> None:
    """Time the debtor's reply: both engines on the same call, or one backend's load, TTFT, tokens/s."""
    from rich.console import Console

    if lang:
        _bench_language(lang, backend[0] if backend else None, out)
        return

    from simulator.backends import BackendError
    from simulator.bench import ENGINES, compare_engines, run_bench, write_result

    kwargs = {k: v for k, v in {"dtype": dtype, "quantize": quantize, "threads": threads}.items() if v}
    if no_adapter:
        kwargs["adapter"] = False
    specs = list(backend or ENGINES)
    console = Console()
    try:
        if len(specs) == 1:
            result = run_bench(
                specs[0], repeats=repeats, max_new_tokens=max_new_tokens, fresh_process=fresh_process,
                backend_kwargs=kwargs,
            )
        else:
            result = compare_engines(specs, repeats=repeats, fresh_process=fresh_process, backend_kwargs=kwargs)
    except BackendError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    write_result(result, out)
    if len(specs) == 1:
        _print_one(console, result)
    else:
        _print_comparison(console, result)
    console.print(f"-> {out}")


def _bench_language(lang: str, spec: str | None, out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    from simulator.backends import BackendError
    from simulator.bench import write_result
    from simulator.bench_calls import bench_language_calls

    console = Console()
    try:
        result = bench_language_calls(lang, spec)
    except (BackendError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    write_result(result, out)
    table = Table(title=f"bench reply --lang {lang}: {result['backend']}, {result['personas']} personas")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in result.items():
        if key not in ("language", "backend", "personas"):
            table.add_row(key, str(value))
    console.print(table)
    console.print(f"-> {out}")


def _print_one(console, result: dict) -> None:
    from rich.table import Table

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
    console.print(table)
    console.print(f"dtype={result.get('dtype')} threads={result.get('threads')}")


def _print_comparison(console, result: dict) -> None:
    from rich.table import Table

    from simulator.bench import RATIO_FIGURES

    engines = result["engines"]
    specs = list(engines)
    table = Table(title="bench reply: engines on the same call (medians; ratio to the first engine)")
    table.add_column("figure")
    for spec in specs:
        table.add_column(spec, justify="right")
    for spec in specs[1:]:
        table.add_column(f"ratio {spec.partition(':')[0]}", justify="right")
    for key in (*RATIO_FIGURES, "prompt_tokens", "turn4_prefill_tokens"):
        row = [key] + [str(engines[spec].get(key)) for spec in specs]
        row += [str(result["ratios"][f"{spec} / {specs[0]}"].get(key, "")) for spec in specs[1:]]
        table.add_row(*row)
    console.print(table)
    console.print(f"load average at start: {result.get('load_average')}")
