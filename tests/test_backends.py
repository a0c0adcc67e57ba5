"""The transformers backend on a tiny random Llama, and the OpenAI backend on a fake local server."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from simulator.backends import BackendError, GenerationConfig, make_backend

CHAT_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content']"
    " + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
CARD = (
    "You are Mark Hollis, 47, a laid-off warehouse supervisor in Dayton who owes $2,340 to "
    "Northside Credit on a card you stopped paying four months ago. You are wary of collectors, "
    "you speak in short sentences, and you only mention the layoff if the caller asks kindly. "
) * 4


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A 2-layer, 64-wide random Llama with a small byte-level BPE tokenizer and a chat template."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-llama")
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    bpe.train_from_iterator([CARD, "Hello, is this Mark? I am calling about your account."], trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, bos_token="<|endoftext|>", eos_token="<|im_end|>", pad_token="<|endoftext|>"
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(folder)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


@pytest.fixture
def tiny(tiny_model_dir):
    backend = make_backend(f"transformers:{tiny_model_dir}", dtype="float32")
    # A random model says <|im_end|> by chance now and then; the tests want full-length replies.
    backend.stop_on_eos = False
    return backend


def chat(*turns: str) -> list[dict]:
    roles = ["user", "assistant"]
    return [{"role": "system", "content": CARD}] + [
        {"role": roles[i % 2], "content": t} for i, t in enumerate(turns)
    ]


def test_tiny_model_loads_and_generates(tiny):
    text = tiny.generate(chat("Hello, is this Mark?"), GenerationConfig(max_new_tokens=12, temperature=0))
    assert isinstance(text, str) and text
    assert tiny.last_generated_tokens == 12
    assert tiny.spec.startswith("transformers:")


def test_stream_pieces_join_to_the_full_text(tiny):
    messages = chat("Hello, is this Mark?")
    pieces = list(tiny.stream(messages, GenerationConfig(max_new_tokens=16, temperature=0)))
    assert len(pieces) > 1
    assert "".join(pieces) == tiny.generate(messages, GenerationConfig(max_new_tokens=16, temperature=0))


def test_same_seed_same_output(tiny, tiny_model_dir):
    messages = chat("Hello, is this Mark?")
    first = tiny.generate(messages, GenerationConfig(max_new_tokens=16, temperature=1.0, seed=7))
    assert tiny.generate(messages, GenerationConfig(max_new_tokens=16, temperature=1.0, seed=7)) == first
    other = make_backend(f"transformers:{tiny_model_dir}", dtype="float32")
    other.stop_on_eos = False
    assert other.generate(messages, GenerationConfig(max_new_tokens=16, temperature=1.0, seed=7)) == first
    others = {tiny.generate(messages, GenerationConfig(max_new_tokens=16, temperature=1.0, seed=s)) for s in range(1, 5)}
    assert len(others | {first}) > 1


def test_stop_strings_cut_the_reply(tiny):
    messages = chat("Hello, is this Mark?")
    full = tiny.generate(messages, GenerationConfig(max_new_tokens=24, temperature=0))
    stop = full[len(full) // 2 : len(full) // 2 + 3]
    expected = full[: full.find(stop)]
    assert tiny.generate(messages, GenerationConfig(max_new_tokens=24, temperature=0, stop=[stop])) == expected
    assert "".join(tiny.stream(messages, GenerationConfig(max_new_tokens=24, temperature=0, stop=[stop]))) == expected


@pytest.mark.parametrize("reuse_block", [128, 0])
def test_prefix_reuse_gives_the_same_reply(tiny_model_dir, reuse_block):
    spec = f"transformers:{tiny_model_dir}"
    reusing = make_backend(spec, dtype="float32", reuse_block=reuse_block)
    fresh = make_backend(spec, dtype="float32", prefix_reuse=False, reuse_block=reuse_block)
    for b in (reusing, fresh):
        b.stop_on_eos = False
    first = chat("Hello, is this Mark?")
    reply = reusing.generate(first, GenerationConfig(max_new_tokens=10, temperature=0))
    follow_up = chat("Hello, is this Mark?", reply, "I'm calling about your Northside account.")
    for temperature, seed in [(0, None), (0.9, 11)]:
        reusing.generate(first, GenerationConfig(max_new_tokens=10, temperature=0))
        got = reusing.generate(follow_up, GenerationConfig(max_new_tokens=20, temperature=temperature, seed=seed))
        prompt_len = len(reusing.prompt_ids(follow_up))
        assert prompt_len > 128
        assert reusing.last_prefill_tokens < prompt_len - 100  # the card was not fed again
        want = fresh.generate(follow_up, GenerationConfig(max_new_tokens=20, temperature=temperature, seed=seed))
        assert fresh.last_prefill_tokens == prompt_len
        assert got == want


def test_bad_model_path_is_one_line_error(tmp_path):
    with pytest.raises(BackendError) as missing:
        make_backend(f"transformers:{tmp_path / 'no-such-model'}")
    assert "not found" in str(missing.value) and "\n" not in str(missing.value)
    with pytest.raises(BackendError) as empty:
        make_backend(f"transformers:{tmp_path}")  # a folder with no model in it
    assert "\n" not in str(empty.value)
    with pytest.raises(BackendError):
        make_backend(f"transformers:{tmp_path}#missing.gguf")


@pytest.mark.slow
def test_bundled_gguf_generates_and_is_cached(monkeypatch, tmp_path):
    import os

    if not os.environ.get("CALLCOACH_TEST_CACHE_DIR"):
        monkeypatch.setenv("CALLCOACH_CACHE_DIR", str(tmp_path / "cache"))
    backend = make_backend("transformers:default")
    messages = [{"role": "system", "content": "You are Mark, a debtor. Be brief."},
                {"role": "user", "content": "Hello, is this Mark?"}]
    text = backend.generate(messages, GenerationConfig(max_new_tokens=8, temperature=0))
    assert text.strip()
    again = make_backend("transformers:default")
    assert again.loaded_from == "cache"
    assert again.generate(messages, GenerationConfig(max_new_tokens=8, temperature=0)) == text


# ---- OpenAI-compatible backend against a fake server on loopback ----------------------------


class FakeOpenAI(BaseHTTPRequestHandler):
    """Answers /v1/chat/completions; ``modes`` queues 'ok', '500', '429' or 'hang' per request."""

    modes: list[str] = []
    requests: list[dict] = []
    reply = "Who is this? I don't owe anybody."

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        mode = self.modes.pop(0) if self.modes else "ok"
        if mode == "hang":
            time.sleep(2)
            return
        if mode in ("500", "429"):
            payload = json.dumps({"error": {"message": f"fake failure {mode}"}}).encode()
            self.send_response(int(mode))
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        if body.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for word in self.reply.split(" "):
                piece = word if word == self.reply.split(" ")[0] else " " + word
                chunk = {"choices": [{"index": 0, "delta": {"content": piece}}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
            self.wfile.write(b"data: [DONE]\n\n")
            return
        payload = json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": self.reply}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def fake_server():
    FakeOpenAI.modes, FakeOpenAI.requests = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


MESSAGES = [{"role": "system", "content": "You are Mark."}, {"role": "user", "content": "Hi, is this Mark?"}]


def test_openai_streaming(fake_server, monkeypatch):
    monkeypatch.setenv("CALLCOACH_API_KEY", "test-key")
    backend = make_backend(f"openai:{fake_server}#fake-model")
    pieces = list(backend.stream(MESSAGES, GenerationConfig(max_new_tokens=20, temperature=0.3, seed=5)))
    assert len(pieces) > 1 and "".join(pieces) == FakeOpenAI.reply
    sent = FakeOpenAI.requests[-1]
    assert sent["path"] == "/v1/chat/completions" and sent["auth"] == "Bearer test-key"
    assert sent["body"]["stream"] is True and sent["body"]["model"] == "fake-model"
    assert (sent["body"]["seed"], sent["body"]["temperature"], sent["body"]["max_tokens"]) == (5, 0.3, 20)


def test_openai_non_streaming_and_stop(fake_server, monkeypatch):
    for name in ("CALLCOACH_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    backend = make_backend(f"openai:{fake_server}#fake-model")
    assert backend.generate(MESSAGES) == FakeOpenAI.reply
    assert FakeOpenAI.requests[-1]["body"]["stream"] is False
    assert FakeOpenAI.requests[-1]["auth"] is None  # no key, no Authorization header
    assert backend.generate(MESSAGES, GenerationConfig(stop=["?"])) == "Who is this"
    assert FakeOpenAI.requests[-1]["body"]["stop"] == ["?"]
    assert "".join(backend.stream(MESSAGES, GenerationConfig(stop=[" don't"]))) == "Who is this? I"


def test_openai_retries_a_500_then_succeeds(fake_server):
    FakeOpenAI.modes = ["500", "429"]
    backend = make_backend(f"openai:{fake_server}#fake-model")
    assert "".join(backend.stream(MESSAGES)) == FakeOpenAI.reply
    assert len(FakeOpenAI.requests) == 3


def test_openai_gives_up_after_retries(fake_server):
    FakeOpenAI.modes = ["500", "500", "500"]
    backend = make_backend(f"openai:{fake_server}#fake-model")
    with pytest.raises(BackendError) as error:
        backend.generate(MESSAGES)
    assert "HTTP 500" in str(error.value) and "fake failure" in str(error.value)
    assert "\n" not in str(error.value)


def test_openai_hang_times_out(fake_server):
    FakeOpenAI.modes = ["hang"]
    backend = make_backend(f"openai:{fake_server}#fake-model", read_timeout_s=0.3)
    started = time.monotonic()
    with pytest.raises(BackendError) as error:
        list(backend.stream(MESSAGES))
    assert time.monotonic() - started < 1.5
    assert "0.3 s" in str(error.value) and "\n" not in str(error.value)


def test_openai_unreachable_and_bad_spec():
    import socket

    with socket.socket() as s:  # a loopback port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    backend = make_backend(f"openai:http://127.0.0.1:{port}/v1#m")
    with pytest.raises(BackendError, match="cannot reach"):
        backend.generate(MESSAGES)
    with pytest.raises(BackendError):
        make_backend("openai:localhost:8000")
