"""Actor guards and fallbacks: every turn gets an in-character debtor line, whatever the model does."""

from __future__ import annotations

import pytest

from core.transcript import Turn
from simulator.actor import Actor, build_messages, check_line, persona_card
from simulator.backends.base import BackendError
from simulator.backends.scripted import ScriptedBackend
from simulator.director import Decision, initial_state
from simulator.intents import Intent
from simulator.personas import load_personas

LIB = load_personas()
MARIA = LIB.get("cooperative-maria")
HISTORY = [Turn(speaker="debtor", text="Hello?"), Turn(speaker="agent", text="Hi, this is Sam from Acme Recovery.")]


def decision(intent=Intent.answer_question, revealed=(), newly=(), detail=None):
    st = initial_state(MARIA)
    from dataclasses import replace

    st = replace(st, revealed=tuple(revealed))
    return Decision(intent, st, tuple(newly), "test", detail or {})


def run(replies, dec=None, history=HISTORY):
    be = ScriptedBackend(replies)
    actor = Actor(MARIA, be)
    events = list(actor.stream(dec or decision(), history))
    final = events[-1]
    assert final.kind == "final"
    return final.line, events, be


def test_good_line_is_used_and_streamed():
    line, events, _ = run(["Oh, yes, I know. I've been meaning to call."])
    assert line.source == "model" and line.text == "Oh, yes, I know. I've been meaning to call."
    assert "".join(e.text for e in events if e.kind == "delta") == line.text


@pytest.mark.parametrize(
    "bad, guard",
    [
        ("As an AI language model, I cannot pretend to owe money.", "breaks_character"),
        ("I'm here to help you find a payment plan that works.", "breaks_character"),
        ("This is an attempt to collect a debt and any information will be used for that purpose.", "speaks_as_collector"),
        ("Thank you for calling. Can you confirm your date of birth?", "speaks_as_collector"),
        ("", "empty"),
        ("one two three four five six seven eight " * 10, "too_long"),
    ],
)
def test_bad_line_gets_one_retry_then_a_fallback(bad, guard):
    line, _, be = run([bad, bad])
    assert line.source == "fallback"
    assert line.text in [x.format_map({}) if "{" not in x else line.text for x in MARIA.fallback_lines[Intent.answer_question]]
    assert any(f.startswith(guard) for f in line.failures)
    assert len(be.calls) == 2  # exactly one retry


def test_retry_can_succeed():
    line, events, _ = run(["As an AI, I can't.", "Sorry, it's been a crazy few months."])
    assert line.source == "retry" and line.text.startswith("Sorry")
    kinds = [e.kind for e in events]
    assert "reset" in kinds  # the rejected partial line was withdrawn


@pytest.mark.parametrize("exc", [BackendError("connection refused"), TimeoutError("read timed out"), RuntimeError("boom")])
def test_backend_failure_falls_back_and_never_raises(exc):
    line, _, be = run([exc, exc])
    assert line.source == "fallback" and line.text
    assert "backend_error" in line.failures


def test_repeating_an_earlier_line_is_rejected():
    history = HISTORY + [Turn(speaker="debtor", text="Honestly I just lost track of the bills for a while."), Turn(speaker="agent", text="I see.")]
    line, _, _ = run(["Honestly I just lost track of the bills for a while.", "honestly, I just lost track of the bills for a while"], history=history)
    assert line.source == "fallback" and "repeats_itself" in line.failures


def test_a_decoding_loop_is_cut_off_and_retried():
    loop = "Send me the proof in writing, one sixty-seven twenty twenty twenty twenty twenty twenty twenty."
    line, events, _ = run([loop, "Send me the proof in writing first."])
    assert line.source == "retry" and line.text == "Send me the proof in writing first."
    assert "stutters" in line.failures and "reset" in [e.kind for e in events]


@pytest.mark.parametrize(
    "text, stutters",
    [
        ("No, no, no. I'm not paying that.", False),  # people say it three times
        ("It's me, it's me. Go ahead.", False),
        ("twenty twenty twenty twenty", True),
        ("I said it's me it's me it's me, okay?", True),
    ],
)
def test_stutter_guard_tells_speech_from_a_loop(text, stutters):
    assert ("stutters" in check_line(text, MARIA, initial_state(MARIA), [])) is stutters


def test_hidden_fact_leak_is_rejected_until_revealed():
    fact = next(f for f in MARIA.hidden_facts if f.leak_terms)
    leaky = f"Well, it's about the {fact.leak_terms[0]}, you know."
    st = initial_state(MARIA)
    assert any(x.startswith("leaks_fact") for x in check_line(leaky, MARIA, st, []))
    from dataclasses import replace

    assert not any(x.startswith("leaks_fact") for x in check_line(leaky, MARIA, replace(st, revealed=(fact.id,)), []))


def test_prompt_has_card_and_direction_but_no_unrevealed_facts():
    dec = decision(Intent.explain_hardship)
    msgs = build_messages(MARIA, dec, HISTORY)
    assert msgs[0]["role"] == "system" and MARIA.name in msgs[0]["content"]
    assert msgs[-1]["role"] == "system" and "Stage direction" in msgs[-1]["content"]
    blob = " ".join(m["content"] for m in msgs)
    for f in MARIA.hidden_facts:
        assert f.fact not in blob
    revealed = decision(Intent.explain_hardship, revealed=(MARIA.hidden_facts[0].id,), newly=(MARIA.hidden_facts[0].id,))
    blob2 = " ".join(m["content"] for m in build_messages(MARIA, revealed, HISTORY))
    assert MARIA.hidden_facts[0].fact in blob2


def test_card_is_stable_across_turns_for_prefix_reuse():
    a = build_messages(MARIA, decision(Intent.deflect), HISTORY)
    b = build_messages(MARIA, decision(Intent.promise_to_pay, detail={"amount": 50, "monthly": True, "date": "2026-12-05"}), HISTORY)
    assert a[0] == b[0] and a[0]["content"] == persona_card(MARIA)
    assert "$50 a month" in b[-1]["content"]


def test_fallback_lines_fill_placeholders_and_rotate():
    be = ScriptedBackend([], default=None)  # every call raises: forces fallbacks
    actor = Actor(MARIA, be)
    dec = decision(Intent.promise_to_pay, detail={"amount": 75, "monthly": True, "date": "2026-12-05"})
    texts = [actor.render(dec, HISTORY).text for _ in range(2)]
    assert all("{" not in t for t in texts)
    if len(MARIA.fallback_lines[Intent.promise_to_pay]) > 1:
        assert texts[0] != texts[1]


def test_a_line_cut_by_the_token_limit_ends_on_a_whole_sentence():
    line, events, _ = run(["I hear you. I just can't do that right now because my"])
    assert line.text == "I hear you."
    assert "reset" in [e.kind for e in events]  # the streamed fragment is withdrawn


def test_direction_anchors_on_an_authored_line_for_the_intent():
    msgs = build_messages(MARIA, decision(Intent.stall), HISTORY)
    lines = MARIA.fallback_lines[Intent.stall]
    assert any(x.split("{")[0][:20] in msgs[-1]["content"] for x in lines)


@pytest.mark.parametrize(
    "echo",
    [
        "Here's an example of how you can respond to the situation:",
        "No thanks. Reply as Mark with one or two short sentences.",
        "You are on a phone call with a debt collector.",
    ],
)
def test_a_line_that_echoes_the_prompt_is_rejected(echo):
    line, _, _ = run([echo, echo])
    assert line.source == "fallback"
    assert {"echoes_prompt", "breaks_character"} & set(line.failures)


def test_ordinary_lines_are_not_mistaken_for_prompt_echoes():
    st = initial_state(MARIA)
    for ok in ["Who is calling, and what is this about?", "No, not today.", "I can do fifty a month, maybe."]:
        assert check_line(ok, MARIA, st, []) == []


@pytest.mark.parametrize(
    "narration",
    [
        "Maria, a bit of a shy person, her family was always a challenge.",
        "This is a great example of how Maria Delgado is using her own strengths.",
        "For example: I could pay something.",
    ],
)
def test_narrating_the_persona_or_the_prompt_is_rejected(narration):
    line, _, _ = run([narration, narration])
    assert line.source == "fallback"
    assert {"third_person", "breaks_character"} & set(line.failures)


@pytest.mark.parametrize(
    "ok",
    ["Hello? This is Maria.", "Yes, Maria speaking.", "Mm-hm, Maria here. Who's this?", "This is Maria, the one you keep calling."],
)
def test_saying_your_own_name_on_the_phone_is_fine(ok):
    assert check_line(ok, MARIA, initial_state(MARIA), []) == []


def test_no_authored_line_trips_a_guard_against_itself():
    """Fallback and example lines are what the call falls back on: they must be clean."""
    from simulator.actor import _narrates_self, placeholders

    for p in LIB.personas.values():
        fill = placeholders(p, None, "Sam")
        for lines in [*p.fallback_lines.values(), p.voice.example_lines]:
            for raw in lines:
                text = raw.format_map(fill)
                assert not _narrates_self(text, p), (p.id, text)
                st = initial_state(p)
                fails = [f for f in check_line(text, p, st, []) if not f.startswith("leaks_fact")]
                assert fails == [], (p.id, text, fails)


@pytest.fixture(scope="module")
def analyzer():
    from core.analysis import default_analyzer

    return default_analyzer()


@pytest.mark.parametrize(
    "intent, said, guard",
    [
        (Intent.promise_to_pay, "Hmm, I'll have to think about it.", "off_intent"),
        (Intent.refuse, "Okay, I'll pay $100 this Friday.", "contradicts_intent"),
        (Intent.request_stop, "Well, what else did you want to know?", "off_intent"),
    ],
)
def test_words_must_do_what_the_director_decided(analyzer, intent, said, guard):
    actor = Actor(MARIA, ScriptedBackend([said, said]), analyzer=analyzer)
    line = actor.render(decision(intent, detail={"amount": 100, "monthly": False, "date": "2026-12-04"}), HISTORY)
    assert line.source == "fallback" and guard in line.failures


def test_a_real_promise_passes_the_intent_check(analyzer):
    said = "Okay, I can do $100 on Friday. I'll put it in my calendar."
    actor = Actor(MARIA, ScriptedBackend([said]), analyzer=analyzer)
    line = actor.render(decision(Intent.promise_to_pay, detail={"amount": 100, "monthly": False, "date": "2026-12-04"}), HISTORY)
    assert line.source == "model" and line.text == said


@pytest.mark.parametrize("drift", ["I'm here to offer my support and care to all those who need it.", 'A: "He loved being sick.'])
def test_counsellor_drift_and_qa_labels_are_rejected(drift):
    assert "breaks_character" in check_line(drift, MARIA, initial_state(MARIA), [])


def test_every_other_model_prompt_in_a_call_extends_the_one_before():
    """The history window moves in steps (WINDOW_STEP), so the engines can reuse the previous
    prompt's keys and values: once the window moves, every other prompt of a call begins with the
    whole previous one but its stage direction, and none holds fewer turns than the window's."""
    be = ScriptedBackend([
        "Let me think about it.", "I get paid on Friday.", "My daughter helps with groceries.",
        "The school cut my hours last spring.", "Can you send me something in writing?", "Hold on, the dog is barking.",
        "Work has been crazy this month.", "Honestly I forgot about the card.", "What would the fees come to?",
        "I'd rather do it by check.", "Is there a number I can call you back on?", "Okay, I'm writing that down.",
        "Sorry, say that again?",
    ])
    actor = Actor(MARIA, be)
    history = [Turn(speaker="debtor", text="Hello?")]
    for k in range(12):
        history.append(Turn(speaker="agent", text=f"Question number {k} for you, Maria?"))
        line = actor.render(decision(Intent.stall), history, turn_seed=k)
        history.append(Turn(speaker="debtor", text=line.text))
    prompts = [c["messages"] for c in be.calls]
    assert len(prompts) == 12
    extends = [p[: len(q) - 1] == q[:-1] for q, p in zip(prompts, prompts[1:], strict=False)]
    assert sum(extends[4:]) >= 3 and not all(extends[4:])  # the sliding window never extends
    turns = [sum(m["role"] in ("user", "assistant") for m in p[1:-1]) for p in prompts]
    assert all(t >= actor.history_turns for t in turns[4:]) and max(turns) <= actor.history_turns + 3
