"""Turn analysis, the signals: the labelled set (precision and recall per signal), what a hit
quotes, threats that must not fire, question type and topics, Chinese, the catalogue, and the
persona files' lines. tests/test_analysis_calls.py has amounts, dates, offers and the context a
call carries."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from helpers import transcript as _call

from core.analysis import (
    Analyzer,
    CatalogueError,
    Embedder,
    default_analyzer,
    load_catalogue,
)
from core.analysis.types import Topic

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


# Lines that must fire no threat: compliant statements of what may happen, and negated threats.
NO_THREAT = {
    "en": [
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
    "zh": [
        "欠款不会导致您被拘留。",
        "您不会被抓去坐牢。",
        "您放心，没有人会因为欠钱把您抓起来。",
        "您无需担心会被拘留。",
        "我们不会起诉您。",
        "我们不会联系您的家人和单位。",
        "我们不会反复给您打电话。",
        "如果协商不成，银行可能会考虑通过法律途径解决，届时会提前书面通知您。",
    ],
}


@pytest.mark.parametrize("language, text", [(lang, t) for lang, lines in NO_THREAT.items() for t in lines])
def test_compliant_and_negated_lines_fire_no_threat(an, an_zh, language, text):
    a = (an if language == "en" else an_zh).analyze_turn(text)
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


# Chinese debtor signals are patterns only (no sentence embedder reads Chinese): a dispute or a
# hardship told through a story ("厂子前年就不行了") is missed. Measured on the Chinese personas'
# fallback lines (not the bank lines the patterns were written against): 7/17 and 7/21.
ZH_FLOORS = {"dispute": ("debtor_dispute", 0.35), "explain_hardship": ("debtor_hardship", 0.3)}


@pytest.mark.parametrize("language", ["en", "zh"])
def test_persona_lines_carry_their_intents_signal(an, an_zh, language):
    from simulator.actor import placeholders
    from simulator.personas import load_personas

    personas = [p for p in load_personas().personas.values() if p.language == language]
    an = an_zh if language == "zh" else an
    floors = {**PERSONA_INTENT_FLOORS, **(ZH_FLOORS if language == "zh" else {})}
    low = []
    for intent, (signal, floor) in floors.items():
        lines = [
            line.format_map(placeholders(p, None, "Sam"))
            for p in personas
            for line in p.fallback_lines.get(intent, [])
        ]  # fmt: skip
        assert lines, f"no persona has {intent} lines to check"
        hits = [an.analyze_turn(t, speaker="debtor").has(signal) for t in lines]
        if sum(hits) / len(lines) < floor:
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
