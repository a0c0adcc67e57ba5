"""The persona-fidelity baseline counts what it claims to count (scripted backend, fast)."""

from __future__ import annotations

import json

from evals.persona_fidelity import run


def test_fidelity_counts_role_confusion_and_fallbacks(tmp_path):
    replies = tmp_path / "replies.json"
    # every model line speaks as an assistant: each reply is retried, then falls back
    replies.write_text(json.dumps(["As an AI language model, I can help you with your account."] * 200))
    out = run(f"scripted:{replies}", ["cooperative-maria"], transcripts_out=tmp_path / "calls.jsonl")
    overall = out["overall"]
    assert overall["replies"] > 0
    assert overall["role_confusion_rate"] == 1.0
    assert overall["fallback_rate"] == 1.0
    assert overall["leaks_shipped"] == 0
    assert {r["script"] for r in out["calls"]} == {"kind", "abusive", "breaks_character"}
    assert len((tmp_path / "calls.jsonl").read_text().splitlines()) == 3


def test_fidelity_clean_lines_are_accepted(tmp_path):
    replies = tmp_path / "replies.json"
    import random

    rng = random.Random(0)
    vocab = (
        "apple river candle garden pocket window marble ladder copper meadow velvet harbor "
        "tiger pencil rocket violin basket island lemon mirror saddle tunnel walnut zipper"
    ).split()
    lines = [" ".join(rng.sample(vocab, 6)).capitalize() + "." for _ in range(200)]
    replies.write_text(json.dumps(lines))
    out = run(f"scripted:{replies}", ["hostile-mark"])
    assert out["overall"]["role_confusion_rate"] == 0.0
    assert out["overall"]["fallback_rate"] < 0.5
    assert out["overall"]["words_per_model_line"] > 3
