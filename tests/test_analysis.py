"""Turn analysis: signals (labelled set), question type and topics, amounts and dates, offers,
context threading, batching and the embedder cache."""

from __future__ import annotations

import re
import statistics
import time
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import yaml

from core.analysis import (
    Analyzer,
    CallContext,
    CatalogueError,
    Embedder,
    default_analyzer,
    load_catalogue,
)
from core.analysis.amounts import extract_amounts, find_date, is_recurring
from core.analysis.analyzer import split_sentences
from core.analysis.types import Topic
from core.transcript import Transcript

LABELLED = yaml.safe_load((Path(__file__).parent / "data" / "labelled_signals.yaml").read_text(encoding="utf-8"))

# Compliance-relevant signals are held to a higher floor than the soft, semantic ones.
COMPLIANCE = {
    "self_identification", "mini_miranda", "collector_disclosure", "identity_check", "debt_mention",
    "support_referral", "threat_violence", "threat_arrest", "threat_legal", "legal_consequence_statement",
    "threat_credit", "threat_repeated_calls", "threat_contact_others", "abuse", "impersonation",
    "crime_accusation", "unauthorized_fee", "deny_dispute_rights", "rights_statement",
    "debtor_confirms_identity", "debtor_not_account_holder", "debtor_stop_request", "debtor_attorney",
    "debtor_distress_severe",
}  # fmt: skip
COMPLIANCE_FLOOR = 0.85
SEMANTIC_FLOOR = 0.75


@pytest.fixture(scope="session")
def an() -> Analyzer:
    a = default_analyzer()
    a.warm_up()
    return a


@pytest.fixture(scope="session")
def an_zh(an) -> Analyzer:
    return default_analyzer("zh")


def _call(*turns: tuple[str, str], **metadata) -> Transcript:
    return Transcript(id="t", turns=[{"speaker": s, "text": x} for s, x in turns], metadata=metadata)


# --------------------------------------------------------------------------- labelled set


def _precision_recall(analyzer: Analyzer, block: dict) -> tuple[dict[str, tuple[float, float]], list[str]]:
    items = [
        (name, spec["speaker"], label == "positive", text)
        for name, spec in block.items()
        for label in ("positive", "negative")
        for text in spec[label]
    ]
    calls = [_call((speaker, text)) for _, speaker, _, text in items]
    results = analyzer.analyze_many(calls)
    counts: dict[str, list[int]] = {}
    misses = []
    for (name, _, expected, text), (a,) in zip(items, results, strict=True):
        got = a.has(name)
        c = counts.setdefault(name, [0, 0, 0])  # tp, fn, fp
        if expected:
            c[0 if got else 1] += 1
        elif got:
            c[2] += 1
        if got != expected:
            misses.append(f"  {'missed' if expected else 'false hit'}: {name}: {text!r}")
    prf = {n: (tp / (tp + fp) if tp + fp else 1.0, tp / (tp + fn) if tp + fn else 1.0) for n, (tp, fn, fp) in counts.items()}
    return prf, misses


def _table(prf: dict[str, tuple[float, float]], misses: list[str]) -> str:
    rows = [f"{'signal':30s} precision recall"] + [f"{n:30s} {p:9.2f} {r:6.2f}" for n, (p, r) in sorted(prf.items())]
    return "\n".join(rows + ["", *misses])


@pytest.mark.parametrize("language", ["en", "zh"])
def test_signal_precision_and_recall(an, an_zh, language):
    analyzer, block = (an, LABELLED["signals"]) if language == "en" else (an_zh, LABELLED["zh"])
    prf, misses = _precision_recall(analyzer, block)
    low = [
        n for n, (p, r) in prf.items()
        if min(p, r) < (COMPLIANCE_FLOOR if n in COMPLIANCE or language == "zh" else SEMANTIC_FLOOR)
    ]  # fmt: skip
    assert not low, f"below the floor: {low}\n" + _table(prf, misses)


def test_every_catalogue_signal_is_labelled(an):
    block = LABELLED["signals"]
    assert set(block) == set(an.catalogue.signals)
    for name, spec in block.items():
        assert len(spec["positive"]) >= 6 and len(spec["negative"]) >= 6, name
        assert spec["speaker"] == an.catalogue.signals[name].speaker, name


def test_signal_names_used_elsewhere_exist(an):
    from simulator.director_data import check_signals

    assert check_signals(an.catalogue) == []  # director.yaml and the names its rules read (SIG)
    guards = yaml.safe_load((Path(__file__).parents[1] / "simulator" / "prompts" / "guards.yaml").read_text())
    assert set(guards["collector_signals"]) <= set(an.catalogue.signals)
    from rubrics.loader import known_signals

    known_signals.cache_clear()
    assert known_signals() == frozenset(an.catalogue.signals)


def test_persona_lines_do_not_sound_like_the_collector(an):
    """The actor's guard analyses debtor lines as if agent; shipped lines must pass it."""
    from simulator.personas import load_personas

    collector = {"mini_miranda", "collector_disclosure", "identity_check", "support_referral"}
    fill = {"agent_name": "Sam", "creditor": "Acme Bank", "amount": "$50", "date": "Friday"}
    flagged = []
    for p in load_personas().personas.values():
        lines = [*p.voice.example_lines, *(x for ls in p.fallback_lines.values() for x in ls)]
        for line in lines:
            text = re.sub(r"\{(\w+)\}", lambda m: fill.get(m.group(1), "Sam"), line)
            hit = an.analyze_turn(text, speaker="agent").signals & collector
            if hit:
                flagged.append((p.id, sorted(hit), text))
    assert not flagged, flagged


@pytest.mark.parametrize(
    "text, signal, quote",
    [
        ("Hi there. We will sue you tomorrow. Have a nice day.", "threat_legal", "We will sue you tomorrow."),
        ("Okay. You cannot be arrested for this debt.", "rights_statement", "You cannot be arrested for this debt."),
        ("Thanks. I'm so sorry to hear that. What happened?", "empathy", "I'm so sorry to hear that."),
    ],
)
def test_hit_quote_is_the_sentence(an, text, signal, quote):
    hit = an.analyze_turn(text).first(signal)
    assert hit is not None and hit.quote == quote


@pytest.mark.parametrize(
    "text",
    [
        "You cannot be arrested for this debt.",
        "We will not sue you.",
        "I'm not threatening you.",
        "Nobody is going to hurt you.",
        "We won't tell your employer anything.",
        "I'm not going to ruin your credit.",
        "We will never call you every hour.",
        "If we can't agree, the creditor may consider legal action and you would get formal notice first.",
        "The creditor may decide to sue, and you would get formal notice.",
        "Nobody gets arrested over a credit card bill.",
        "I'm not going to keep calling you every day.",
    ],
)
def test_compliant_lines_fire_no_threat(an, text):
    a = an.analyze_turn(text)
    assert not a.has_any("threat_"), a.signals


@pytest.mark.parametrize(
    "text",
    [
        "欠款不会导致您被拘留。",
        "您不会被抓去坐牢。",
        "您放心，没有人会因为欠钱把您抓起来。",
        "您无需担心会被拘留。",
        "我们不会起诉您。",
        "我们不会联系您的家人和单位。",
        "我们不会反复给您打电话。",
        "如果协商不成，银行可能会考虑通过法律途径解决，届时会提前书面通知您。",
    ],
)
def test_zh_negated_threats_never_fire(an_zh, text):
    a = an_zh.analyze_turn(text)
    assert not a.has_any("threat_"), a.signals


@pytest.mark.parametrize(
    "text, signal",
    [
        ("不还钱就等着坐牢吧。", "threat_arrest"),  # the 不 belongs to the condition
        ("不配合的人都会被抓。", "threat_arrest"),
        ("你信不信我报警抓你？", "threat_arrest"),  # A-not-A question, not a negation
        ("别以为我们不会起诉你。", "threat_legal"),  # "don't think we won't": asserted
        ("你跑不掉的，警察会抓你。", "threat_arrest"),
        ("我们会不断给你打电话。", "threat_repeated_calls"),  # 不断 = non-stop
        ("我们会通知别人你欠钱不还。", "threat_contact_others"),  # 别人 = others
    ],
)
def test_zh_threats_with_a_negation_word_still_fire(an_zh, text, signal):
    assert an_zh.analyze_turn(text).has(signal)


def test_typographic_quotes_match_like_ascii_and_are_quoted_as_said(an):
    text = "Okay. There’s an extra $50 processing fee for this call."
    hit = an.analyze_turn(text).first("unauthorized_fee")
    assert hit is not None and hit.quote == "There’s an extra $50 processing fee for this call."


def test_third_party_is_analysed_like_the_debtor(an):
    a = an.analyze_turn("She's not here, I'm her sister.", speaker="third_party")
    assert a.speaker == "third_party" and a.has("debtor_not_account_holder")
    assert not a.has_any("threat_") and a.after.third_party


# --------------------------------------------------------------------------- questions


@pytest.mark.parametrize(
    "text, kind",
    [
        ("What's been going on?", "open"),
        ("How have things been for you lately?", "open"),
        ("Why did the payments stop?", "open"),
        ("Tell me about your situation.", "open"),
        ("Walk me through what happened.", "open"),
        ("Can you tell me a bit more about that?", "open"),
        ("Can you pay today?", "closed"),
        ("Do you have a job right now?", "closed"),
        ("Is this Mark?", "closed"),
        ("That works, right?", "closed"),
        ("I'm calling about your account.", None),
        ("Okay. And what would be manageable each month?", "open"),
    ],
)
def test_question_type(an, text, kind):
    assert an.analyze_turn(text).question == kind


@pytest.mark.parametrize(
    "text, topic",
    [
        ("How have things been for you lately?", Topic.situation),
        ("Are you working at the moment?", Topic.employment),
        ("How is your health these days?", Topic.health),
        ("Who else lives with you?", Topic.household),
        ("What do your monthly bills look like?", Topic.expenses),
        ("What would be manageable for you each month?", Topic.payment_ability),
        ("What made it hard to keep up with the payments?", Topic.reason_unpaid),
        ("Do you recognise this account?", Topic.dispute),
        ("Do you have questions about the late fees?", Topic.fees),
        ("Do you have an attorney handling this?", Topic.representation),
        ("When would be a better time to call you?", Topic.contact),
        ("Are you safe right now?", Topic.wellbeing),
    ],
)
def test_question_topics(an, text, topic):
    assert topic in an.analyze_turn(text).question_topics


def test_statements_have_no_topics(an):
    a = an.analyze_turn("Your health is important. Your bills are high.")
    assert a.question is None and a.question_topics == ()


# --------------------------------------------------------------------------- money and dates


@pytest.mark.parametrize(
    "text, amounts",
    [
        ("I can pay $50 a month.", [50.0]),
        ("The balance is $1,240.50.", [1240.5]),
        ("Could you do 200 dollars on Friday?", [200.0]),
        ("fifty bucks is all I have", [50.0]),
        ("two hundred and fifty dollars", [250.0]),
        ("I could pay 75 a month", [75.0]),
        ("It's $1.2k in total", [1200.0]),
        ("$100 now and $50 a week after", [100.0, 50.0]),
        ("我每月还500元", [500.0]),
        ("Call me on the 15th at 3pm", []),
        ("I have 2 kids and 3 jobs", []),
    ],
)
def test_amounts(text, amounts):
    assert extract_amounts(text) == amounts


TODAY = date(2026, 11, 28)  # a Saturday


@pytest.mark.parametrize(
    "text, said, days",
    [
        ("I'll pay today", "today", 0),
        ("tomorrow works", "tomorrow", 1),
        ("on Friday", "Friday", 6),
        ("next Friday", "next Friday", 6),
        ("by the 15th", "the 15th", 17),
        ("next week", "next week", 7),
        ("in two weeks", "in two weeks", 14),
        ("in 3 days", "in 3 days", 3),
        ("December 5th", "December 5", 7),
        ("at the end of the month", "the end of the month", 2),
        ("明天还", "明天", 1),
        ("no date here", None, None),
    ],
)
def test_dates(text, said, days):
    found = find_date(text, TODAY)
    if said is None:
        assert found is None
    else:
        assert found is not None and found[0].lower().startswith(said.lower()) and found[1] == days


@pytest.mark.parametrize(
    "text, amount, monthly, date_text",
    [
        ("Would $100 a month starting next Friday work for you?", 100.0, True, "next Friday"),
        ("How about $200 today?", 200.0, False, "today"),
        ("Of the $1,200, could you do $80 a month from the 1st?", 80.0, True, "the 1st"),
        ("We could set up a payment plan of $50 a week.", 50.0, True, None),
        ("Could you manage $75 on the 15th?", 75.0, False, "the 15th"),
    ],
)
def test_payment_offer(an, text, amount, monthly, date_text):
    t = _call(("agent", text), started_at="2026-11-28T10:00:00-05:00")
    (a,) = an.analyze_transcript(t)
    assert a.has("payment_offer") and a.offer is not None
    assert (a.offer.amount, a.offer.monthly, a.offer.date_text) == (amount, monthly, date_text)
    if date_text:
        assert a.offer.days_from_now is not None


def test_no_offer_without_a_proposal(an):
    a = an.analyze_turn("Your balance is $1,250.")
    assert a.offer is None and a.amounts == (1250.0,) and a.has("debt_mention")


def test_debtor_promise_carries_the_amount(an):
    a = an.analyze_turn("Okay, I'll pay $60 on Friday.", speaker="debtor")
    assert a.has("debtor_promise") and a.offer is not None and a.offer.amount == 60.0


def test_recurring_and_split():
    assert is_recurring("$50 every two weeks") and not is_recurring("$50 on Friday")
    assert split_sentences("Hi Mr. Smith. The balance is $1,200.50! Can you pay?") == [
        "Hi Mr. Smith.", "The balance is $1,200.50!", "Can you pay?",
    ]  # fmt: skip
    assert split_sentences("您好。请问是张先生吗？", "zh") == ["您好。", "请问是张先生吗？"]


# --------------------------------------------------------------------------- context


# Right-party verification (rules-us.yaml: "full name plus one detail"): the person confirms the
# name the agent asked for AND gives an identifying detail the agent asked for. Labelled calls:
# (turns, whether the call is verified after its last turn).
HELLO = "Hi, this is Sam from Acme Recovery."
VERIFICATION_CASES = [
    # asked for the name, then the date of birth, and given both: verified
    ([("agent", f"{HELLO} Am I speaking with Maria Delgado?"), ("debtor", "Yes, speaking."),
      ("agent", "Thanks. Can you confirm your date of birth?"), ("debtor", "April 9th, 1974.")], True),
    # the name and the date of birth asked at once, given at once
    ([("agent", f"{HELLO} Can you confirm your full name and date of birth?"), ("debtor", "Maria Delgado, April 9th, 1974.")], True),
    # a debtor who says a name is not verified ("I'm Mark" ticked the checklist before)
    ([("agent", HELLO), ("debtor", "I'm Mark.")], False),
    ([("agent", f"{HELLO} Is this Mark?"), ("debtor", "I'm Mark.")], False),
    # the name confirmed is half of it: one identifying detail is still to come
    ([("agent", f"{HELLO} Am I speaking with Maria Lopez?"), ("debtor", "Yes.")], False),
    # a date of birth nobody asked for verifies nothing
    ([("agent", HELLO), ("debtor", "March 3rd, 1955. What's this about?"),
      ("agent", "Am I speaking with Walter Pryor?"), ("debtor", "Yes.")], False),
    # asked for the date of birth, the person only says yes
    ([("agent", f"{HELLO} Am I speaking with Walter Pryor?"), ("debtor", "Yes, this is Walter."),
      ("agent", "Can you confirm your date of birth for me?"), ("debtor", "Yes.")], False),
]  # fmt: skip


@pytest.mark.parametrize("turns, verified", VERIFICATION_CASES)
def test_identity_verified_needs_the_name_and_a_detail_the_agent_asked_for(an, turns, verified):
    a = an.analyze_transcript(_call(*turns))
    assert a[-1].after.identity_verified is verified, [sorted(x.signals) for x in a]
    assert not any(x.after.identity_verified for x in a[:-1])  # never before the last answer


def test_the_disclosure_after_verification_sees_a_verified_call(an):
    t = _call(
        ("agent", "Hello, this is Sam from Acme Recovery."),
        ("debtor", "Yes, this is Mark."),  # confirms before being asked: not verification
        ("agent", "Am I speaking with Mark Delaney?"),
        ("debtor", "Yes, speaking."),
        ("agent", "Thanks. Can you confirm your date of birth?"),
        ("debtor", "May 30th, 1982."),
        ("agent", "This is an attempt to collect a debt and any information obtained will be used for that purpose."),
    )
    a = an.analyze_transcript(t)
    assert a[0].after.self_identified and not a[0].after.identity_asked
    assert not a[1].after.name_confirmed
    assert a[2].after.identity_asked and not a[2].after.identity_verified
    assert a[3].after.name_confirmed and not a[3].after.identity_verified
    assert a[4].after.identifier_asked and a[5].after.identity_verified and a[6].context.identity_verified
    assert a[6].after.mini_miranda_given and a[6].after.agent_turns == 4


def test_third_party_set_by_a_debtor_line(an):
    t = _call(
        ("agent", "Hi, may I speak with Linda Chen?"),
        ("debtor", "She's not here right now, I'm her sister."),
        ("agent", "Could you ask her to call Sam at 555-0100?"),
    )
    a = an.analyze_transcript(t)
    assert not a[0].after.third_party
    assert a[1].after.third_party and a[2].context.third_party and not a[2].context.identity_verified


@pytest.mark.parametrize(
    "line, flag",
    [
        ("Stop calling me.", "stop_requested"),
        ("Talk to my lawyer.", "attorney_mentioned"),
        ("I don't see the point anymore.", "distress_disclosed"),
        ("I lost my job in March.", "hardship_disclosed"),
        ("That's not my debt.", "dispute_raised"),
    ],
)
def test_debtor_lines_set_context(an, line, flag):
    a = an.analyze_turn(line, speaker="debtor", context=CallContext())
    assert getattr(a.after, flag) and not getattr(a.context, flag)


def test_debt_disclosed_and_metadata(an):
    t = _call(
        ("agent", "I'm calling about the balance on your card."),
        started_at="2026-11-28T21:30:00-08:00",
        first_contact=False,
    )
    (a,) = an.analyze_transcript(t)
    assert a.context.local_hour == 21 and a.context.first_contact is False
    assert a.after.debt_disclosed and not a.context.debt_disclosed


def test_one_analysis_per_turn(an):
    t = _call(("debtor", "Hello?"), ("agent", "Hi, is this Mark?"), ("third_party", "No."), ("agent", "Thanks, bye."))
    a = an.analyze_transcript(t)
    assert [x.index for x in a] == [0, 1, 2, 3]
    assert [x.speaker for x in a] == ["debtor", "agent", "third_party", "agent"]
    for before, after in zip(a, a[1:], strict=False):
        assert after.context == before.after


# --------------------------------------------------------------------------- batching and embedding


def test_analyze_many_matches_one_by_one_and_embeds_each_sentence_once(an, tmp_path, monkeypatch):
    monkeypatch.setenv("CALLCOACH_CACHE_DIR", str(tmp_path))  # no exemplar bank cached on disk yet
    calls = [
        _call(("agent", "Hi, this is Sam from Acme Recovery. Am I speaking with Maria?"), ("debtor", "Yes, speaking.")),
        _call(("agent", "Hi, this is Sam from Acme Recovery. Am I speaking with Maria?"), ("debtor", "Who is this?")),
    ]
    emb = Embedder()
    fresh = Analyzer(embedder=emb)
    many = fresh.analyze_many(calls)
    assert many == [an.analyze_transcript(c) for c in calls]
    distinct = {s for c in calls for t in c.turns for s in split_sentences(t.text)}
    exemplars = set(fresh._bank.texts)  # embedded once, when the analyzer starts
    assert emb.sentences_encoded == len(distinct | exemplars)


def test_embedder_caches_repeated_sentences(an):
    emb = an.embedder
    before = emb.stats["sentences_encoded"]
    v = emb.encode(["A sentence nobody has said before, number 8812.", "A sentence nobody has said before, number 8812."])
    again = emb.encode(["A sentence nobody has said before, number 8812."])
    assert emb.stats["sentences_encoded"] - before == 1
    assert v.dtype == np.float32 and v.shape == (2, emb.dim)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5) and np.array_equal(v[0], again[0])


def test_one_encode_call_per_turn(an):
    emb = an.embedder
    before = emb.encode_calls
    an.analyze_turn("Hello there. How are you? I'm calling about your account.")
    assert emb.encode_calls - before == 1


def test_per_turn_latency(an):
    """Budget: 30 ms a turn after warm-up on 2 CPU cores (new sentences, so the model runs)."""
    times = []
    for i in range(15):
        start = time.perf_counter()
        an.analyze_turn(f"I hear you, reference {i} is a lot. What would be manageable for you each month?")
        times.append(time.perf_counter() - start)
    median_ms = statistics.median(times) * 1000
    print(f"per-turn analysis: median {median_ms:.1f} ms")
    assert median_ms < 150  # generous: shared CI machines are noisy; the benchmark reports the real figure


# --------------------------------------------------------------------------- Chinese and the catalogue


def test_zh_is_pattern_only(an_zh):
    assert an_zh.embedder is None or not an_zh.semantic
    a = an_zh.analyze_turn("您好，我是华信公司的小王。请问您是张伟先生本人吗？")
    assert {"self_identification", "identity_check"} <= a.signals and a.question == "closed"


def test_catalogue_errors_are_readable(tmp_path):
    bad = tmp_path / "signals.yaml"
    bad.write_text("version: 1\nlanguages: [en]\nnegation_cues: {en: 'not'}\nquestion: {open: {}}\ntopics: {}\nsignals: {}\n")
    with pytest.raises(CatalogueError, match="topics: missing"):
        load_catalogue(bad)
    bad.write_text("version: 1\nsignals: {x: {description: abc, speaker: agent, kind: pattern, patterns: {en: ['(']}}}\n")
    with pytest.raises(CatalogueError, match=r"signals\.x\.patterns.*does not compile"):
        load_catalogue(bad)
    with pytest.raises(CatalogueError, match="cannot read"):
        load_catalogue(tmp_path / "missing.yaml")


def test_cached_pattern_pass_matches_each_detector(an):
    """detect_turn (sentence-level pattern cache) gives exactly what each detector's detect gives."""
    from core.analysis.detectors import detect_turn

    lines = [(spec["speaker"], t) for spec in LABELLED["signals"].values() for t in spec["positive"][:3] + spec["negative"][:3]]
    for speaker, text in lines:
        turn = an._turn_text(text)
        dets = an._by_side[speaker]
        one_by_one = tuple(h for d in dets.values() if (h := d.detect(turn)) is not None)
        assert detect_turn(dets, turn, an._patterns[speaker]) == one_by_one, text


def test_default_analyzer_is_shared_across_threads_and_loads_once(an):
    from concurrent.futures import ThreadPoolExecutor

    loads = Embedder.load_count
    lines = [f"I'm sorry to hear that. Could you do ${n} a month?" for n in range(40, 60)]
    with ThreadPoolExecutor(4) as pool:
        analyzers = list(pool.map(lambda _: default_analyzer(), range(8)))
        results = list(pool.map(lambda t: default_analyzer().analyze_turn(t), lines))
    assert all(a is an for a in analyzers)
    assert [r.offer.amount for r in results] == [float(n) for n in range(40, 60)]
    assert all(r.has("empathy") and r.has("payment_offer") for r in results)
    assert default_analyzer("zh").embedder is an.embedder and Embedder.load_count == loads


# Authored persona lines, by intent: how many carry the intent's signal (a floor, not all, since
# some lines deliberately play against their intent: "It's not a money thing" as a hardship line).
PERSONA_INTENT_FLOORS = {
    "promise_to_pay": ("debtor_promise", 0.8),
    "refuse": ("debtor_refusal", 0.6),
    "request_stop": ("debtor_stop_request", 0.9),
    "dispute": ("debtor_dispute", 0.5),
    "threaten_complaint": ("debtor_complaint", 0.9),
    "explain_hardship": ("debtor_hardship", 0.5),
}


def test_persona_lines_carry_their_intents_signal(an):
    from simulator.actor import placeholders
    from simulator.personas import load_personas

    personas = list(load_personas().personas.values())
    low = []
    for intent, (signal, floor) in PERSONA_INTENT_FLOORS.items():
        lines = [
            line.format_map(placeholders(p, None, "Sam"))
            for p in personas
            for line in p.fallback_lines.get(intent, [])
        ]  # fmt: skip
        hits = [an.analyze_turn(t, speaker="debtor").has(signal) for t in lines]
        if lines and sum(hits) / len(lines) < floor:
            low.append((intent, f"{sum(hits)}/{len(lines)}", [t for t, h in zip(lines, hits, strict=True) if not h]))
    assert not low, low


def test_unrepresented_debtors_lawyer_lines_are_not_representation(an):
    """A debtor without an attorney who mentions lawyers ("I don't have a lawyer") is not represented."""
    from simulator.actor import placeholders
    from simulator.personas import load_personas

    wrong = []
    for p in load_personas().personas.values():
        if p.attorney is not None or p.id in {"disputing-priya", "hostile-mark"}:
            continue  # consulted one / sarcastic "talk to my lawyer then"
        for line in p.fallback_lines.get("refer_to_attorney", []):
            text = line.format_map(placeholders(p, None, "Sam"))
            if an.analyze_turn(text, speaker="debtor").has("debtor_attorney"):
                wrong.append((p.id, text))
    assert not wrong, wrong
