"""`callcoach bench reply` runs end to end on a tiny model and writes the expected figures."""

from __future__ import annotations

import json

from test_backends import tiny_model_dir  # noqa: F401 - the session fixture
from typer.testing import CliRunner

from callcoach.cli.bench_cmd import bench_app

EXPECTED = {
    "backend", "load_cold_s", "load_cached_s", "start_cached_s", "prompt_tokens", "ttft_first_call_s",
    "ttft_s", "decode_tok_s", "followup_ttft_reuse_s", "followup_ttft_no_reuse_s",
    "followup_prefill_tokens_reuse", "followup_prefill_tokens_no_reuse", "peak_rss_mb", "llama_cpp",
    "targets", "dtype", "threads",
}


def test_bench_reply_writes_the_figures(tiny_model_dir, tmp_path):  # noqa: F811
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(
        bench_app,
        ["reply", "--backend", f"transformers:{tiny_model_dir}", "--out", str(out), "--repeats", "1",
         "--max-new-tokens", "8", "--dtype", "float32", "--no-fresh-process"],
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    assert EXPECTED <= set(figures)
    assert figures["decode_tok_s"] > 0 and figures["ttft_s"] > 0
    assert figures["followup_prefill_tokens_reuse"] < figures["followup_prefill_tokens_no_reuse"]
    assert figures["llama_cpp"] == "not applicable (not a GGUF backend)"


def test_call_prompts_use_the_actors_stepped_window():
    """The bench call's prompts are the actor's: its history window moves in steps, so the 4th
    prompt begins with the whole 3rd but its stage direction; the sliding window the adapter
    was trained on (``window=(4, 1, 0)``) does not."""
    from simulator.bench import call_prompts

    stepped = call_prompts("tuned")
    sliding = call_prompts("tuned", (4, 1, 0))
    assert len(sliding) == len(stepped) == 4
    assert stepped[:3] == sliding[:3]  # the window first moves after the 3rd line
    assert stepped[3][: len(stepped[2]) - 1] == stepped[2][:-1]
    assert sliding[3][: len(sliding[2]) - 1] != sliding[2][:-1]
    assert len(stepped[3]) == len(sliding[3]) + 2  # 6 turns of history against 4
