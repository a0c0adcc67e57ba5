"""The call never stalls: an ``openai:`` reply has an overall deadline and a size cap, checked
while streaming, and the actor then says its authored fallback line (issue 16).

A tiny local HTTP server plays the misbehaving servers: keep-alive comments for ever, one
100 MB chunk, a reply that never ends.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from core.transcript import Turn
from simulator.actor import MAX_LINE_CHARS, Actor, check_line
from simulator.backends import MAX_REPLY_CHARS, REPLY_DEADLINE_S, ReplyLimitError, make_backend
from simulator.backends.scripted import ScriptedBackend
from simulator.director import Decision, initial_state
from simulator.intents import Intent
from simulator.personas import load_personas

MARIA = load_personas().get("cooperative-maria")
HISTORY = [Turn(speaker="debtor", text="Hello?"), Turn(speaker="agent", text="Hi, this is Sam from Acme Recovery.")]
MESSAGES = [{"role": "system", "content": "You are Maria."}, {"role": "user", "content": "Hi, is this Maria?"}]
DEADLINE = 1.0  # seconds: short, so the tests are quick


def _chunk(text: str) -> bytes:
    return f"data: {json.dumps({'choices': [{'index': 0, 'delta': {'content': text}}]})}\n\n".encode()


class Misbehaving(BaseHTTPRequestHandler):
    """``modes`` queues one behaviour per request (default ``ok``)."""

    modes: list[str] = []
    requests = 0

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests += 1
        mode = self.modes.pop(0) if self.modes else "ok"
        try:
            if not body.get("stream"):
                self._plain(mode)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            getattr(self, f"_{mode}")()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up on us, as it should

    def _ok(self):
        for piece in ["Yes, this is Maria.", " What is it about?"]:
            self.wfile.write(_chunk(piece))
        self.wfile.write(b"data: [DONE]\n\n")

    def _keepalive(self):
        while True:  # a server that is alive, and says nothing, for ever
            self.wfile.write(b": keep-alive\n\n")
            self.wfile.flush()
            time.sleep(0.05)

    def _huge(self):
        # one 100 MB chunk with no spaces, written as it is made
        self.wfile.write(b'data: {"choices": [{"index": 0, "delta": {"content": "')
        block = b"a" * 1_000_000
        for _ in range(100):
            self.wfile.write(block)
        self.wfile.write(b'"}}]}\n\n')

    def _endless(self):
        while True:  # ordinary little pieces that never stop
            self.wfile.write(_chunk("blah"))
            self.wfile.flush()
            time.sleep(0.001)

    def _slow_bad(self):
        time.sleep(0.7)  # a line the guards reject, after most of the deadline
        self.wfile.write(_chunk("As an AI language model, I cannot pretend to owe money."))
        self.wfile.write(b"data: [DONE]\n\n")

    def _plain(self, mode):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if mode == "keepalive":  # headers, then a body that trickles and never ends
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            while True:
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.05)
        content = "a" * 3_000 if mode == "huge" else "Yes, this is Maria."
        payload = json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}).encode()
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def server():
    Misbehaving.modes, Misbehaving.requests = [], 0
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Misbehaving)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def _backend(url: str):
    return make_backend(f"openai:{url}#fake", reply_deadline_s=DEADLINE, read_timeout_s=10)


def _timed(fn):
    started = time.monotonic()
    try:
        return fn(), time.monotonic() - started
    except ReplyLimitError as exc:
        return exc, time.monotonic() - started


def test_defaults_are_thirty_seconds_and_two_thousand_characters():
    backend = make_backend("openai:http://127.0.0.1:9/v1#m")
    assert (backend.reply_deadline_s, backend.max_reply_chars) == (REPLY_DEADLINE_S, MAX_REPLY_CHARS) == (30.0, 2_000)
    assert backend.takes_deadline


def test_an_ordinary_reply_still_streams(server):
    assert "".join(_backend(server).stream(MESSAGES)) == "Yes, this is Maria. What is it about?"
    assert _backend(server).generate(MESSAGES) == "Yes, this is Maria."


def test_keep_alive_comments_for_ever_end_at_the_deadline(server):
    Misbehaving.modes = ["keepalive"]
    backend = _backend(server)  # loading the client is not part of the reply's time
    error, took = _timed(lambda: list(backend.stream(MESSAGES)))
    assert isinstance(error, ReplyLimitError) and error.guard == "reply_deadline"
    assert DEADLINE - 0.05 <= took < DEADLINE + 1.0
    assert "no complete reply within 1 s" in str(error) and "\n" not in str(error)


def test_a_reply_that_never_ends_is_cut_by_the_size_cap(server):
    Misbehaving.modes = ["endless"]
    backend = _backend(server)  # loading the client is not part of the reply's time
    error, took = _timed(lambda: list(backend.stream(MESSAGES)))
    assert isinstance(error, ReplyLimitError) and error.guard == "reply_too_long"
    assert took < DEADLINE + 1.0
    assert "longer than 2,000 characters" in str(error)


def test_one_100_mb_chunk_is_refused_without_reading_it(server):
    Misbehaving.modes = ["huge"]
    backend = _backend(server)  # loading the client is not part of the reply's time
    error, took = _timed(lambda: list(backend.stream(MESSAGES)))
    assert isinstance(error, ReplyLimitError) and error.guard == "reply_too_long"
    assert took < DEADLINE  # refused on its first 64 KiB, not at the deadline


def test_the_non_streaming_request_keeps_the_same_limits(server):
    Misbehaving.modes = ["keepalive"]
    backend = _backend(server)  # loading the client is not part of the reply's time
    error, took = _timed(lambda: backend.generate(MESSAGES))
    assert isinstance(error, ReplyLimitError) and error.guard == "reply_deadline"
    assert took < DEADLINE + 1.0
    Misbehaving.modes = ["huge"]
    error, _ = _timed(lambda: backend.generate(MESSAGES))
    assert isinstance(error, ReplyLimitError) and error.guard == "reply_too_long"


# --- the actor: the authored fallback line, in time ---------------------------------------------


def _decision():
    return Decision(Intent.answer_question, initial_state(MARIA), (), "test", {})


def _render(backend, **kw):
    actor = Actor(MARIA, backend, **kw)
    started = time.monotonic()
    events = list(actor.stream(_decision(), HISTORY))
    return events[-1].line, events, time.monotonic() - started


@pytest.mark.parametrize(
    "mode, failures",
    [
        ("keepalive", ("reply_deadline",)),  # no retry: it would most likely do the same
        ("huge", ("reply_too_long",)),
        ("endless", ("too_long", "too_long")),  # the actor's own guard stops at 400 characters, then one retry
    ],
)
def test_the_actor_falls_back_within_the_deadline(server, mode, failures):
    Misbehaving.modes = [mode, mode]
    line, events, took = _render(_backend(server), reply_deadline_s=DEADLINE)
    assert line.source == "fallback" and line.text
    assert line.failures == failures
    assert Misbehaving.requests == len(failures)
    assert took < DEADLINE + 1.0
    assert "".join(e.text for e in events if e.kind == "delta").endswith(line.text)


def test_the_retry_shares_the_replys_deadline(server):
    # the first try is rejected by a guard late; the retry gets only the time that is left
    Misbehaving.modes = ["slow_bad", "keepalive"]
    line, _, took = _render(_backend(server), reply_deadline_s=DEADLINE)
    assert line.source == "fallback"
    assert line.failures[0] == "breaks_character" and line.failures[-1] == "reply_deadline"
    assert Misbehaving.requests == 2
    assert took < DEADLINE + 1.0  # one deadline for the whole reply, not one per try


@pytest.mark.parametrize("size", [100_000, 5_000_000])
def test_a_run_with_no_spaces_fails_the_length_guard(size):
    # a 100k-5M character "word" passed the 45-word guard as one word
    backend = ScriptedBackend(["a" * size, "b" * size])
    started = time.monotonic()
    line, _, _ = _render(backend)
    assert time.monotonic() - started < 2.0
    assert line.source == "fallback" and line.failures == ("too_long", "too_long")


def test_the_length_guard_counts_characters():
    state = initial_state(MARIA)
    assert check_line("x" * (MAX_LINE_CHARS + 1), MARIA, state, []) == ["too_long"]
    assert "too_long" not in check_line("I know, I know. I've been meaning to call you.", MARIA, state, [])


# --- callcoach chat: brackets are text, and the transcript is always written ---------------------


def _chat(tmp_path, replies: list[str], stdin: str):
    from typer.testing import CliRunner

    from callcoach.cli import app

    scripted = tmp_path / "replies.json"
    scripted.write_text(json.dumps(replies), encoding="utf-8")
    out = tmp_path / "calls" / "call.jsonl"
    args = ["chat", "--persona", "cooperative-maria", "--backend", f"scripted:{scripted}", "--out", str(out)]
    return CliRunner().invoke(app, args, input=stdin), out


def test_chat_prints_markup_like_text_as_typed(tmp_path):
    from core.transcript import read_jsonl

    stdin = "Hi [/b] is this [bold]Maria[/bold]?\nAnd [/INST] [link=x]?\n/end\n"
    result, out = _chat(tmp_path, ["Yeah [/INST] this is Maria.", "What [/b] do you mean?"], stdin)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output and "MarkupError" not in result.output
    assert "You: Hi [/b] is this [bold]Maria[/bold]?" in result.output
    assert "Yeah [/INST] this is Maria." in result.output
    texts = [t.text for t in read_jsonl(out)[0].turns]
    assert "Hi [/b] is this [bold]Maria[/bold]?" in texts and "Yeah [/INST] this is Maria." in texts


def test_chat_writes_the_transcript_when_the_call_breaks_mid_way(tmp_path, monkeypatch):
    from core.transcript import read_jsonl
    from simulator.session import CallSession

    said = CallSession.say_stream

    def breaks_on_the_second_turn(self, text):
        if len(self.turns) > 2:
            raise RuntimeError("the analyzer fell over")
        yield from said(self, text)

    monkeypatch.setattr(CallSession, "say_stream", breaks_on_the_second_turn)
    result, out = _chat(tmp_path, ["Yeah, this is Maria."], "Hi, is this Maria?\nHow are you?\n/end\n")
    assert result.exit_code == 1
    assert "error: the call stopped: RuntimeError: the analyzer fell over" in result.output
    assert "Traceback" not in result.output
    assert [t.speaker for t in read_jsonl(out)[0].turns] == ["debtor", "agent", "debtor"]


def test_chat_writes_the_transcript_on_ctrl_c(tmp_path, monkeypatch):
    from core.transcript import read_jsonl
    from simulator.session import CallSession

    said = CallSession.say_stream

    def interrupted(self, text):
        if len(self.turns) > 2:
            raise KeyboardInterrupt
        yield from said(self, text)

    monkeypatch.setattr(CallSession, "say_stream", interrupted)
    result, out = _chat(tmp_path, ["Yeah, this is Maria."], "Hi, is this Maria?\nHow are you?\n")
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "Transcript written to" in result.output
    assert len(read_jsonl(out)[0].turns) == 3


def test_chat_cannot_write_the_transcript_is_one_line(tmp_path):
    (tmp_path / "calls").write_text("a file where a folder should be", encoding="utf-8")
    result, _ = _chat(tmp_path, ["Yeah, this is Maria."], "Hi, is this Maria?\n/end\n")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "error: cannot write the transcript to" in result.output
