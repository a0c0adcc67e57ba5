"""The tuning corpus, its line banks and the training script (issue: a debtor model that stays in character)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace

import pytest

from simulator.actor import check_line, persona_card
from simulator.director import initial_state
from simulator.intents import Intent
from simulator.personas import load_personas
from training.banks import (
    COLLECTOR_FILE,
    LINES_DIR,
    BankError,
    is_held_back,
    load_bank,
    load_banks,
    load_collector_bank,
    norm,
)
from training.build_corpus import CORPUS_FILE, EVAL_FILE, HELDOUT_PERSONAS, MAX_REUSE, build


@pytest.fixture(scope="module")
def personas():
    return load_personas().personas


@pytest.fixture(scope="module")
def corpus():
    return [json.loads(line) for line in CORPUS_FILE.read_text(encoding="utf-8").splitlines()]


def test_every_line_bank_validates(personas):
    banks = load_banks(personas=personas)
    assert banks.problems == []
    assert set(banks.banks) == set(personas), "every shipped persona has a line bank"
    load_collector_bank()


def test_bank_validator_names_file_field_and_fix(tmp_path, personas):
    bad = tmp_path / "cooperative-maria.yaml"
    bad.write_text(
        "version: 1\npersona: cooperative-maria\nlines:\n"
        "  promise_to_pay: ['Fine, {payment} a month.', 'Okay, {payment} on {date}.', 'Sure, {payment} by {date}, thanks.']\n"
        "  answer_question: [{text: 'My payday is soon.', topic: employment}, {text: 'Nope.', tpoic: health}]\n"
    )
    with pytest.raises(BankError) as err:
        load_bank(bad, personas)
    text = "\n".join(err.value.problems)
    assert f"{bad}: lines.answer_question[1].tpoic: unknown field" in text
    bad.write_text(bad.read_text().replace("tpoic", "topic"))
    with pytest.raises(BankError) as err:
        load_bank(bad, personas)
    text = "\n".join(err.value.problems)
    assert "lines.promise_to_pay[0]: a promise must say {payment} and {date}" in text
    assert "lines.promise_to_pay[0]: {payment} already says 'a month'" in text
    assert "lines.answer_question[0]: mentions hidden fact 'payday'" in text and "reveals: payday" in text
    assert ": needs at least 3 lines" in text and "more problems" in text  # missing intents, counted past a screenful


def test_corpus_is_large_varied_and_covers_every_persona_and_intent(corpus):
    assert len(corpus) >= 3000
    targets = Counter(r["target"] for r in corpus)
    assert max(targets.values()) <= MAX_REUSE + 3, "a target line is reused more than a few times"
    assert len(targets) >= 1000
    # acknowledge is newer than the corpus the shipped adapter was trained on (a corpus rebuilt
    # without retraining would misdescribe the adapter); with the embedded model the debtor says
    # it from the persona's bank (simulator/actor.py), and the next `make corpus train` covers it.
    assert {r["meta"]["intent"] for r in corpus} >= {i.value for i in Intent} - {"answer", "acknowledge"}
    held = [json.loads(line) for line in EVAL_FILE.read_text(encoding="utf-8").splitlines()]
    english = {pid for pid, p in load_personas().personas.items() if p.language == "en"}
    assert {r["persona"] for r in corpus} | {r["persona"] for r in held} == english  # a Chinese persona speaks its bank


def test_corpus_keeps_heldout_personas_and_collector_lines_out(corpus):
    import re

    assert not {r["persona"] for r in corpus} & set(HELDOUT_PERSONAS)
    said = {m["content"] for r in corpus for m in r["messages"] if m["role"] == "user"}
    templates = [x for m in load_collector_bank().moves.values() for x in m.heldout]
    patterns = [re.compile("^" + re.sub(r"\\\{[a-z]+\\\}", ".+?", re.escape(t)) + "$") for t in templates]
    leaked = [t for t, p in zip(templates, patterns, strict=True) if any(p.match(s) for s in said)]
    assert leaked == []


def test_corpus_targets_are_in_character_and_match_the_personas(corpus, personas):
    held_back = set()
    for bank in load_banks(personas=personas).banks.values():
        for items in bank.lines.values():
            held_back |= {norm(x.text) for k, x in enumerate(items) if is_held_back(k, x) and "{" not in x.text}
    for r in corpus[::7]:
        p = personas[r["persona"]]
        assert r["messages"][0]["content"] == persona_card(p, "tuned"), f"{p.id}: persona changed; rebuild the corpus"
        assert r["messages"][-1]["role"] == "system" and r["messages"][-1]["content"].startswith("Next line:")
        assert "{" not in r["target"]
        assert norm(r["target"]) not in held_back
        revealed = (r["meta"]["reveals"],) if r["meta"]["reveals"] else ()
        assert check_line(r["target"], p, replace(initial_state(p), revealed=revealed), [], final=True) == [], r["target"]


def test_build_corpus_simulates_calls_with_the_director(personas):
    examples, summary = build(seed=3, calls_per_persona=2, personas=["hostile-mark"], progress=False)
    assert summary["examples"] == len(examples) > 4
    bank = load_bank(LINES_DIR / "hostile-mark.yaml", personas)
    for e in examples:
        intent = Intent(e.meta["intent"])
        assert e.messages[-1]["content"].startswith("Next line: ")
        assert e.meta["line"].startswith(intent.value)
        i = int(e.meta["line"].split("[")[1].rstrip("]"))
        assert not is_held_back(i, bank.lines[intent][i])


def test_collector_bank_has_heldout_lines_for_every_move():
    bank = load_collector_bank(COLLECTOR_FILE)
    assert all(m.heldout for m in bank.moves.values())


@pytest.mark.slow
def test_training_script_runs_end_to_end_on_a_tiny_slice(tmp_path):
    from safetensors.torch import load_file

    from simulator.backends.transformers_backend import TransformersBackend
    from training.train_lora import train

    out = tmp_path / "adapter"
    card = train(CORPUS_FILE, out, epochs=1, rank=4, alpha=8, lr=1e-3, batch_size=4, max_examples=8, seed=1, progress=False)
    assert card["steps"] == 2 and card["examples"] == 8
    weights = load_file(str(out / "adapter_model.safetensors"))
    assert weights and all(str(v.dtype) == "torch.float16" for v in weights.values())
    assert json.loads((out / "adapter_config.json").read_text())["base_model_name_or_path"] is None
    tuned = TransformersBackend("default", adapter=out, prefix_reuse=False)
    assert tuned.prompt_style == "tuned" and tuned.spec.endswith("+adapter")


def test_shipped_adapter_files_are_small_and_documented():
    from simulator.backends.adapter import BUNDLED_ADAPTER

    weights = BUNDLED_ADAPTER / "adapter_model.safetensors"
    assert weights.is_file()
    assert weights.stat().st_size < 15 * 2**20
    card = json.loads((BUNDLED_ADAPTER / "training_card.json").read_text())
    assert card["corpus"] == "training/data/corpus.jsonl"
    # the shipped adapter was trained on the shipped corpus: rebuild one, retrain the other
    import hashlib

    assert card["corpus_sha256"] == hashlib.sha256(CORPUS_FILE.read_bytes()).hexdigest(), "corpus changed: retrain the adapter"


@pytest.mark.slow
def test_bundled_adapter_is_merged_at_load_and_changes_the_debtor(tmp_path, monkeypatch):
    from simulator.actor import build_messages
    from simulator.backends import GenerationConfig, make_backend
    from simulator.director import Director

    monkeypatch.setenv("CALLCOACH_CACHE_DIR", str(tmp_path))
    maria = load_personas().get("cooperative-maria")
    decision = Director(maria, seed=0).opening(initial_state(maria))
    from core.transcript import Turn

    history = [Turn(speaker="debtor", text="Hello?"), Turn(speaker="agent", text="Hi, is this Maria Delgado?")]
    tuned = make_backend("transformers:default")
    assert tuned.spec == "transformers:default+adapter" and tuned.prompt_style == "tuned"
    base = make_backend("transformers:default", adapter=False)
    assert base.spec == "transformers:default" and base.prompt_style == "full"
    msgs = build_messages(maria, decision, history, style="tuned")
    a = tuned.generate(msgs, GenerationConfig(max_new_tokens=24, temperature=0, stop=["\n"]))
    b = base.generate(msgs, GenerationConfig(max_new_tokens=24, temperature=0, stop=["\n"]))
    assert a != b
    again = make_backend("transformers:default")  # the merged weights come from the cache now
    assert again.loaded_from == "cache"
    assert again.generate(msgs, GenerationConfig(max_new_tokens=24, temperature=0, stop=["\n"])) == a


def test_adapter_is_only_applied_to_the_model_it_was_trained_for(tmp_path):
    from simulator.backends import BackendError
    from simulator.backends.adapter import BUNDLED_ADAPTER, resolve_adapter

    assert resolve_adapter("default", "default") == BUNDLED_ADAPTER
    assert resolve_adapter("default", "HuggingFaceTB/SmolLM2-360M-Instruct") is None
    assert resolve_adapter(None, "default") is None
    with pytest.raises(BackendError, match="lacks adapter_config.json"):
        resolve_adapter(str(tmp_path), "default")


def test_no_adapter_option_is_harmless_for_other_backends():
    from simulator.backends import make_backend

    for adapter in (True, False):
        backend = make_backend("scripted", adapter=adapter)
        assert backend.prompt_style == "full" and backend.spec == "scripted"


def test_app_and_chat_take_no_adapter():
    from typer.testing import CliRunner

    from callcoach.cli import app as cli_app
    from callcoach.serve import parse_args

    assert parse_args(["--no-adapter"]).no_adapter is True and parse_args([]).no_adapter is False
    result = CliRunner().invoke(cli_app, ["chat", "--help"])
    assert "--no-adapter" in result.output


def test_call_plans_name_only_known_moves(tmp_path):
    from training.banks import PLANS_FILE, load_call_plans

    assert load_call_plans().plans
    bad = tmp_path / "call_plans.yaml"
    bad.write_text(PLANS_FILE.read_text().replace("- offer_help", "- offer_hlep", 1))
    with pytest.raises(BankError, match="moves not in collector_lines.yaml: offer_hlep"):
        load_call_plans(bad)
    bad.write_text(PLANS_FILE.read_text().replace("branch_rate: 0.6", "branch_rate: 6"))
    with pytest.raises(BankError, match="branch_rate"):
        load_call_plans(bad)
