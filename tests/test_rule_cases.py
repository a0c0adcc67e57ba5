"""Compliance rules on whole labelled calls (tests/data/rule_cases.yaml), with the real turn
analysis, routed by language like batch scoring; the call facts (local time, call history,
absent facts); language routing; Traditional characters; and properties of the rules.

Precision and recall per rule are held to floors on the labelled set (near misses included);
``python tests/rule_cases.py --misses`` prints the table and every call scored differently.
"""

from __future__ import annotations

import json
from functools import lru_cache

import pytest
import rule_cases
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core.transcript import CallFacts, Transcript
from rubrics.batch import RubricRouter, score_inputs, transcript_language
from rubrics.loader import load_rubric

OVERALL_FLOOR = {"precision": 0.95, "recall": 0.90}
EACH_FLOOR = {"precision": 0.75, "recall": 0.75}


@lru_cache(maxsize=1)
def router() -> RubricRouter:
    return RubricRouter()


@lru_cache(maxsize=1)
def outcomes():
    return rule_cases.run(rule_cases.load_cases(), router().score_many)


def _rules(rubric: str) -> set[str]:
    return {r.id for r in load_rubric(rubric).rulebook_rules.rules}


# --- the labelled set ----------------------------------------------------------------------------


def test_the_labelled_set_is_large_and_bilingual():
    cases = rule_cases.load_cases()
    assert len(cases) >= 300
    assert sum(c.language.startswith("zh") for c in cases) >= 100
    assert sum(c.language == "zh-TW" for c in cases) >= 20
    negatives = [c for c in cases if not c.expect]
    assert len(negatives) >= 100, "near misses: calls that break no rule"


def test_every_rule_has_labelled_calls_that_break_it():
    labelled = {r for c in rule_cases.load_cases() for r in c.expect}
    for rubric in ("default-en", "default-zh"):
        # mini-Miranda on later contacts shares its detector with first contact
        assert _rules(rubric) - labelled <= {"fdcpa-1692e-11-later"}, rubric
    assert labelled <= _rules("default-en") | _rules("default-zh"), "a label names no rule"


def test_the_rule_coverage_table_lists_every_rule():
    readme = (rule_cases.DATA.parents[2] / "rubrics" / "README.md").read_text(encoding="utf-8")
    for rid in _rules("default-en") | _rules("default-zh"):
        assert f"| `{rid}` |" in readme, f"rubrics/README.md's rule coverage table has no row for {rid}"


def test_setups_break_no_rule():
    spec = rule_cases.CaseFile.model_validate(
        __import__("yaml").safe_load(rule_cases.DATA.read_text(encoding="utf-8"))
    )
    calls = [
        Transcript(id=f"{lang}-{name}", language=lang, turns=[{"speaker": s, "text": t} for s, t in turns])
        for lang, setups in spec.setups.items() for name, turns in setups.items() if turns
    ]
    for t, s in zip(calls, router().score_many(calls), strict=True):
        assert s.violations == [], (t.id, [(v.rule, v.quote) for v in s.violations])


@pytest.mark.parametrize("family", ["en", "zh"])
def test_rules_precision_and_recall(family):
    mine = [o for o in outcomes() if rule_cases.family(o.case.language) == family]
    rules = _rules(f"default-{family}")
    stats = rule_cases.rule_stats(mine, rules)
    report = rule_cases.table(stats) + "\n" + "\n".join(rule_cases.misses(mine))
    for name, s in stats.items():
        floor = OVERALL_FLOOR if name == "__all__" else EACH_FLOOR
        assert s["precision"] >= floor["precision"] and s["recall"] >= floor["recall"], f"{name}\n{report}"


def test_overall_precision_and_recall_both_languages():
    stats = rule_cases.rule_stats(outcomes())
    assert stats["__all__"]["precision"] >= OVERALL_FLOOR["precision"], rule_cases.table(stats)
    assert stats["__all__"]["recall"] >= OVERALL_FLOOR["recall"], rule_cases.table(stats)


# --- call facts ----------------------------------------------------------------------------------

OPENING = [
    {"speaker": "agent", "text": "Good morning, this is Sam from Acme Recovery. Am I speaking with John Smith?"},
    {"speaker": "debtor", "text": "Yes, this is John."},
]


def _call(metadata: dict, turns=OPENING, language="en") -> Transcript:
    return Transcript(id="facts", language=language, turns=turns, metadata=metadata)


def _broken(t: Transcript) -> set[str]:
    return {v.rule for v in router().score(t).violations}


@pytest.mark.parametrize(
    ("started_at", "zone", "local", "flagged"),
    [
        ("2026-01-15T12:59:00Z", "America/New_York", "07:59", True),   # winter, UTC-5
        ("2026-01-15T13:00:00Z", "America/New_York", "08:00", False),
        ("2026-07-02T00:59:00Z", "America/New_York", "20:59", False),  # summer, UTC-4
        ("2026-07-02T01:00:00Z", "America/New_York", "21:00", True),
        ("2026-03-05T23:30:00Z", "America/New_York", "18:30", False),  # the call read as UTC
        ("2026-11-28T14:00:00Z", "America/Los_Angeles", "06:00", True),
        ("2026-11-28T20:59:00-05:00", None, "20:59", False),           # no zone: its own offset
        ("2026-11-28T21:00:00-05:00", None, "21:00", True),
        ("2026-11-28T08:00:00", "America/Chicago", "08:00", False),    # naive: the zone's wall clock
    ],
)
def test_local_time_at_the_8_and_21_edges(started_at, zone, local, flagged):
    meta = {"started_at": started_at, **({"debtor_timezone": zone} if zone else {})}
    assert f"{CallFacts.model_validate(meta).local_start():%H:%M}" == local
    assert ("fdcpa-1692c-a-1-hours" in _broken(_call(meta))) is flagged
    zh = _call(meta, [{"speaker": "agent", "text": "您好，我是某某银行的小王，请问是张伟先生本人吗？"}], "zh")
    assert ("cn-hours" in _broken(zh)) is flagged


@pytest.mark.parametrize(
    ("meta", "flagged"),
    [
        ({"calls_last_7_days": 6}, False),   # this call is the 7th: allowed
        ({"calls_last_7_days": 7}, True),    # the 8th in 7 days
        ({"last_conversation_days_ago": 6}, True),
        ({"last_conversation_days_ago": 7}, False),
        ({"calls_last_7_days": 12, "channel": "sms"}, False),  # a text is not a call
    ],
)
def test_seven_in_seven_boundary(meta, flagged):
    assert ("reg-f-1006-14-b-2" in _broken(_call(meta))) is flagged


def test_absent_facts_are_listed_as_not_checked():
    bare = router().score(_call({}))
    needs = {c.rule: c.needs for c in bare.not_checked}
    assert needs["fdcpa-1692c-a-1-hours"] == ["started_at"]
    assert needs["reg-f-1006-14-b-2"] == ["calls_last_7_days", "last_conversation_days_ago"]
    assert needs["reg-f-1006-26-b"] == ["time_barred"] and needs["reg-f-1006-2-j"] == ["channel"]
    assert {"us-bankruptcy-known", "fdcpa-1692g-b-disputed", "fdcpa-1692e-2"} <= set(needs)
    assert "fdcpa-1692d-2" not in needs  # what the words settle is always checked
    facts = {"started_at": "2026-11-28T10:00:00-05:00", "calls_last_7_days": 2, "last_conversation_days_ago": 9,
             "time_barred": False, "channel": "call", "bankruptcy": False, "disputed": False, "debt_amount": 500,
             "represented_by_attorney": False}
    full = router().score(_call(facts))
    assert {c.rule for c in full.not_checked} == set(), full.not_checked
    assert json.loads(full.to_json_line()).keys() == json.loads(full.model_copy(update={"not_checked": []}).to_json_line()).keys()
    assert "not_checked" in json.loads(bare.to_json_line())


def test_bad_facts_are_one_clear_error(tmp_path):
    src = tmp_path / "calls.jsonl"
    src.write_text(json.dumps({"id": "tz", "turns": OPENING, "metadata": {"debtor_timezone": "Mars/Olympus"}}) + "\n")
    result = score_inputs([src], scorer_factory=router)
    assert "debtor_timezone: unknown IANA time zone 'Mars/Olympus'" in result.records[0]["error"]


def test_a_first_party_creditor_is_held_to_the_fdcpa_as_policy():
    turns = [*OPENING, {"speaker": "agent", "text": "You're a deadbeat and a liar."}]
    agency = router().score(_call({}, turns)).violations
    creditor = router().score(_call({"collector_type": "first_party"}, turns)).violations
    assert [(v.rule, v.basis) for v in agency] == [("fdcpa-1692d-2", "law")]
    assert [(v.rule, v.basis) for v in creditor] == [("fdcpa-1692d-2", "policy")]
    assert creditor[0].citation.startswith("Agency policy for a first-party creditor") and "1692d(2)" in creditor[0].citation


# --- routing and script --------------------------------------------------------------------------

MIXED = [
    {"id": "en-1", "language": "en", "turns": [
        {"speaker": "agent", "text": "Good morning, this is Sam from Acme Recovery. Am I speaking with John Smith?"},
        {"speaker": "debtor", "text": "Yes, this is John."}]},
    {"id": "zh-1", "language": "zh", "turns": [
        {"speaker": "agent", "text": "您好，我是某某银行的小王。请问是张伟先生本人吗？"},
        {"speaker": "debtor", "text": "是的，我是张伟。"}]},
    {"id": "zh-tw-1", "language": "zh-TW", "turns": [
        {"speaker": "agent", "text": "您好，我是某某銀行的小王。請問是張偉先生本人嗎？"},
        {"speaker": "debtor", "text": "是的，我是張偉。"}]},
    {"id": "zh-unlabelled", "turns": [
        {"speaker": "agent", "text": "您好，我是某某银行的小王。请问是张伟先生本人吗？"},
        {"speaker": "debtor", "text": "是我。"}]},
]


def test_a_mixed_file_is_scored_with_each_call_s_language(tmp_path):
    src = tmp_path / "mixed.jsonl"
    src.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in MIXED), encoding="utf-8")
    records = {r["id"]: r for r in score_inputs([src], out=tmp_path / "scores.jsonl", scorer_factory=router).records}
    assert {k: r["rubric"] for k, r in records.items()} == {
        "en-1": "default-en", "zh-1": "default-zh", "zh-tw-1": "default-zh", "zh-unlabelled": "default-zh"}
    assert all(r["violations"] == [] for r in records.values()), records  # nobody "failed to identify"
    forced = score_inputs([src], "default-en", scorer_factory=lambda: RubricRouter("default-en")).records
    assert {r["rubric"] for r in forced} == {"default-en"}  # --rubric applies to every call


def test_callcoach_score_routes_a_mixed_file_and_obeys_rubric(tmp_path):
    from batch_support import records, run_score

    src = tmp_path / "mixed.jsonl"
    src.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in MIXED), encoding="utf-8")
    result = run_score(src, "--out", tmp_path / "auto.jsonl", "--quiet")
    assert result.exit_code == 0, result.output
    assert [r["rubric"] for r in records(tmp_path / "auto.jsonl")] == ["default-en", "default-zh", "default-zh", "default-zh"]
    result = run_score(src, "--out", tmp_path / "en.jsonl", "--rubric", "default-en", "--quiet")
    assert result.exit_code == 0, result.output
    assert {r["rubric"] for r in records(tmp_path / "en.jsonl")} == {"default-en"}


def test_the_evaluator_routes_each_upload_by_language(tmp_path):
    from app_support import make_app

    from callcoach.ui import evaluator

    res = make_app(tmp_path / "data").callcoach
    src = tmp_path / "mixed.jsonl"
    src.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in MIXED), encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    records = evaluator.score_files(res, [str(src)], out)
    assert [r["rubric"] for r in records] == ["default-en", "default-zh", "default-zh", "default-zh"]
    assert all(r["violations"] == [] for r in records), records


def test_a_language_without_a_rubric_is_an_error_for_that_call_only(tmp_path):
    src = tmp_path / "calls.jsonl"
    calls = [MIXED[0], {"id": "fr-1", "language": "fr", "turns": [{"speaker": "agent", "text": "Bonjour."}]}]
    src.write_text("".join(json.dumps(c) + "\n" for c in calls))
    en, fr = score_inputs([src], scorer_factory=router).records
    assert en["rubric"] == "default-en" and "no rubric for language 'fr'" in fr["error"]


def test_language_tags_and_unlabelled_calls():
    def t(**kw):
        return Transcript(id="x", turns=[{"speaker": "agent", "text": kw.pop("text", "Hello")}], **kw)

    assert transcript_language(t(language="zh-Hant-TW")) == "zh"
    assert transcript_language(t(language="en-US")) == "en"
    assert transcript_language(t(text="您好，请问是张伟吗？")) == "zh"
    assert transcript_language(t(text="Hello, is this Zhang Wei?")) == "en"
    assert transcript_language(t(language="en", text="您好")) == "en"  # a stated language wins


def test_traditional_characters_are_read_and_quoted_as_written():
    call = Transcript(id="hant", language="zh-TW", turns=[
        {"speaker": "agent", "text": "您好，我是某某銀行的小王。請問是張偉先生本人嗎？"},
        {"speaker": "debtor", "text": "是的，我是張偉。"},
        {"speaker": "agent", "text": "你這個老賴…通知你單位領導和通訊錄。"},
    ])
    s = router().score(call)
    assert {v.rule for v in s.violations} == {"cn-insult", "cn-pipl-contacts"}
    assert all(v.quote in call.turns[2].text for v in s.violations), [v.quote for v in s.violations]


# --- properties ----------------------------------------------------------------------------------

ARREST = {
    "en": ["If you don't pay today, you'll be arrested.", "You could go to jail for this.",
           "The police will arrest you if you don't pay."],
    "zh": ["不还钱就让警察抓你。", "再不还就拘留你。", "你等着坐牢吧。"],
}
NEGATED = {
    "en": ["Nobody is going to arrest you.", "You won't go to jail.", "No one will hurt you.",
           "We are not going to take your car or garnish your wages."],
    "zh": ["没有人会抓你。", "您不会坐牢的。", "我们不会伤害您。", "我们不会冻结您的账户。"],
}
DISTRESS = {
    "en": [("I just can't go on like this. I don't see the point anymore.", "Okay. Can we set up a payment?"),
           ("Honestly I've thought about ending it all.", "Right. Let me pull up your account."),
           ("I don't want to be here anymore.", "I understand. What could you pay this month?")],
    "zh": [("我真的不想活了。", "那您看这个月能先还多少？"),
           ("我撑不下去了，活着没意思。", "好的，我们来核对一下账户信息。"),
           ("我想一了百了。", "您必须今天还款。")],
}


@lru_cache(maxsize=1)
def _bases() -> list[Transcript]:
    """Compliant calls of both languages (the labelled set's setups with a neutral reply)."""
    import yaml

    spec = rule_cases.CaseFile.model_validate(yaml.safe_load(rule_cases.DATA.read_text(encoding="utf-8")))
    neutral = {"en": "Can you tell me what's been going on?", "zh": "能跟我说说最近的情况吗？"}
    out = []
    for lang, setups in spec.setups.items():
        for name, turns in setups.items():
            if turns and not name.startswith("hant"):
                body = [{"speaker": s, "text": t} for s, t in turns] + [{"speaker": "agent", "text": neutral[lang]}]
                out.append(Transcript(id=f"{lang}-{name}", language=lang, turns=body))
    return out


def _insert(t: Transcript, turns: list[dict], where: int) -> Transcript:
    body = [dict(x) for x in t.model_dump()["turns"]]
    at = where % (len(body) + 1)
    return Transcript.model_validate({**t.model_dump(), "turns": body[:at] + turns + body[at:]})


def _blockers(t: Transcript) -> set[str]:
    return {v.rule for v in router().score(t).violations if v.severity == "blocker"}


PROPERTY = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(base=st.integers(0, 100), pick=st.integers(0, 2), where=st.integers(0, 20))
def test_adding_an_arrest_threat_always_gives_a_blocker(base, pick, where):
    t = _bases()[base % len(_bases())]
    lang = rule_cases.family(t.language)
    after = _insert(t, [{"speaker": "agent", "text": ARREST[lang][pick]}], where)
    assert {"fdcpa-1692e-4", "cn-intimidation"} & _blockers(after), (t.id, after.turns)


@PROPERTY
@given(base=st.integers(0, 100), pick=st.integers(0, 2), where=st.integers(0, 20))
def test_ignoring_self_harm_always_gives_a_blocker(base, pick, where):
    t = _bases()[base % len(_bases())]
    lang = rule_cases.family(t.language)
    said, reply = DISTRESS[lang][pick]
    after = _insert(t, [{"speaker": "debtor", "text": said}, {"speaker": "agent", "text": reply}], where)
    distress = {"policy-distress-collecting", "policy-distress-ignored",
                "cn-policy-distress-collecting", "cn-policy-distress-ignored"}
    assert distress & _blockers(after), (t.id, after.turns)


@PROPERTY
@given(base=st.integers(0, 100), pick=st.integers(0, 3), where=st.integers(0, 20))
# found by a random draw: a reassurance before the reply to a distress disclosure made it 'ignored'
@example(base=31, pick=0, where=6)
# ... and "We are not going to take your car or garnish your wages" after a bankruptcy was a threat
@example(base=35, pick=3, where=6)
def test_a_negated_threat_never_gives_a_blocker(base, pick, where):
    t = _bases()[base % len(_bases())]
    lang = rule_cases.family(t.language)
    after = _insert(t, [{"speaker": "agent", "text": NEGATED[lang][pick]}], where)
    assert _blockers(after) <= _blockers(t), (t.id, after.turns)
