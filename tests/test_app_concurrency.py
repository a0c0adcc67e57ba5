"""Several trainees at once through gradio_client: each keeps their own call, nothing leaks."""

from __future__ import annotations

import threading

import pytest
from app_support import OPENING_LINES, make_app, serving

N_TRAINEES = 6


@pytest.fixture
def served(tmp_path):
    demo = make_app(tmp_path / "data", delay_s=0.02)
    with serving(demo) as url:
        yield demo, url + "/"


def _chat(outputs) -> list[dict]:
    """The chatbot's value among an event's outputs (the only list of message dicts)."""
    for value in outputs:
        if isinstance(value, dict) and value.get("__type__") == "update":
            value = value.get("value")
        if isinstance(value, list) and value and isinstance(value[0], dict) and "role" in value[0]:
            return value
    raise AssertionError(f"no chat in outputs: {outputs!r}")


def _text(message: dict) -> str:
    content = message["content"]
    if isinstance(content, list):  # gradio_client may return content as a list of parts
        return " ".join(str(c.get("text", c)) if isinstance(c, dict) else str(c) for c in content)
    return str(content)


def test_trainees_calling_at_once_keep_their_own_calls(served):
    from gradio_client import Client

    demo, url = served
    personas = ["cooperative-maria", "hostile-mark", "evasive-tony"]
    results: dict[int, list[dict]] = {}
    errors: list[BaseException] = []

    def trainee(n: int) -> None:
        try:
            client = Client(url, verbose=False)
            client.predict(f"Trainee {n}", personas[n % len(personas)], False, api_name="/start_call")
            out = None
            for i, line in enumerate(OPENING_LINES[:3]):
                out = client.predict(f"[t{n}] {line}", False, api_name="/say")
                chat = _chat(out)
                mine = [_text(m) for m in chat if m["role"] == "user"]
                assert len(mine) == i + 1, mine
            out = client.predict(False, api_name="/end_call")
            results[n] = _chat(out)
            client.close()
        except BaseException as exc:  # collected and reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=trainee, args=(n,)) for n in range(N_TRAINEES)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    assert len(results) == N_TRAINEES

    for n, chat in results.items():
        user_lines = [_text(m) for m in chat if m["role"] == "user"]
        assert len(user_lines) == 3
        assert all(line.startswith(f"[t{n}] ") for line in user_lines), (n, user_lines)

    history = demo.callcoach.history
    calls = history.list_calls()
    assert sorted(c.trainee for c in calls) == sorted(f"Trainee {n}" for n in range(N_TRAINEES))
    for c in calls:
        n = int(c.trainee.split()[-1])
        assert c.persona == personas[n % len(personas)]
        agent = [t.text for t in history.transcript(c.id).turns if t.speaker == "agent"]
        assert agent == [f"[t{n}] {line}" for line in OPENING_LINES[:3]]
        assert c.ended_at and c.overall is not None


def test_a_call_event_without_a_call_is_refused_not_leaked(served):
    from gradio_client import Client

    _, url = served
    a, b = Client(url, verbose=False), Client(url, verbose=False)
    a.predict("Ana", "cooperative-maria", False, api_name="/start_call")
    # b never started a call: it is told so, next to the form, and sees nothing of a's call
    out = b.predict("Hello?", False, api_name="/say")
    assert "Start a call first" in repr(out)
    assert "Maria" not in repr(out) and "Ana" not in repr(out)
    a.close()
    b.close()
