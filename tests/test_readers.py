"""Lenient transcript readers: formats, speaker aliases, errors with file and line, fuzzing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.readers import (
    DEFAULT_LIMITS,
    ReadError,
    TranscriptLimits,
    iter_located,
    iter_transcripts,
    normalize_speaker,
    read_path,
    read_text,
)
from core.transcript import Transcript

DATA = Path(__file__).parent / "data" / "transcripts"


def items(text: str, fmt: str, name: str = "f") -> list:
    return [item for _, item in read_text(text, name, fmt)]


@pytest.mark.parametrize(
    "label, expected",
    [("Agent", "agent"), ("collector", "agent"), ("Trainee", "agent"), ("REP", "agent"),
     ("customer", "debtor"), ("Consumer", "debtor"), ("borrower", "debtor"), ("客户", "debtor"),
     ("third party", "third_party"), ("third-party", "third_party"), ("催收员", "agent"),
     ("robot", None), ("", None), (None, None), (3, None)],
)
def test_speaker_aliases(label, expected):
    assert normalize_speaker(label) == expected


def test_jsonl_with_aliases_and_a_broken_line():
    text = "\n".join([
        json.dumps({"id": "a", "turns": [{"role": "collector", "content": "Hi"}, {"speaker": "customer", "text": "Yes?"}]}),
        "{not json",
        "",
        json.dumps({"id": "b", "turns": [{"speaker": "martian", "text": "x"}]}),
        json.dumps({"turns": []}),
        json.dumps({"id": "c", "turns": [], "metadata": {"started_at": "2026-01-01T10:00:00-05:00"}}),
    ])
    out = items(text, "jsonl", "calls.jsonl")
    assert [type(x).__name__ for x in out] == ["Transcript", "ReadError", "ReadError", "ReadError", "Transcript"]
    assert [t.speaker for t in out[0].turns] == ["agent", "debtor"]
    assert str(out[1]).startswith("calls.jsonl:2: invalid JSON")
    assert out[2].line == 4 and out[2].id == "b" and "unknown speaker 'martian'" in out[2].message
    assert out[3].line == 5 and "missing 'id'" in out[3].message
    assert out[3].to_record() == {"id": "calls.jsonl:5", "error": "calls.jsonl:5: missing 'id'"}
    assert out[4].metadata["started_at"].startswith("2026")


def test_json_list_reports_bad_element_at_its_line_and_keeps_the_rest():
    text = '[\n {"id": "a", "turns": [{"speaker": "agent", "text": "hi"}]},\n {"id": "b"},\n {"id": "c", "turns": []}\n]'
    out = items(text, "json", "x.json")
    assert isinstance(out[0], Transcript) and isinstance(out[2], Transcript)
    assert isinstance(out[1], ReadError) and out[1].line == 3 and out[1].id == "b"


def test_json_single_object_and_wrapper():
    one = items('{"id": "a", "turns": []}', "json")
    many = items('{"transcripts": [{"id": "a", "turns": []}, {"id": "b", "turns": []}]}', "json")
    assert [t.id for t in one] == ["a"] and [t.id for t in many] == ["a", "b"]


def test_json_truncated_file_is_an_error_with_a_line():
    out = items('[\n {"id": "a", "turns": []},\n {"id": "b", "tur', "json", "t.json")
    assert isinstance(out[0], Transcript)
    assert isinstance(out[1], ReadError) and out[1].line == 3


def test_csv_groups_rows_by_id_and_orders_by_turn():
    text = "call_id,turn,role,utterance\na,1,Customer,\"Yes, it's me\"\na,0,Collector,Hello\nb,0,alien,x\nb,1,agent,y\n,0,agent,z\nc,0,rep,ok\n"
    out = items(text, "csv", "s.csv")
    assert [t.text for t in out[0].turns] == ["Hello", "Yes, it's me"]
    assert isinstance(out[1], ReadError) and out[1].line == 4 and out[1].id == "b"
    assert isinstance(out[2], ReadError) and out[2].line == 6
    assert out[3].id == "c"


def test_csv_without_required_columns():
    out = items("name,words\nx,y\n", "csv", "bad.csv")
    assert len(out) == 1 and out[0].line == 1 and "header" in out[0].message


def test_plain_text_headers_continuations_and_separators():
    text = "# id: call-9\n# started_at: 2026-11-28T10:00:00-05:00\nAgent: Hello,\nthis is Sam.\nCustomer: Who?\n---\nRep: Hi again\n"
    out = items(text, "txt", "dir/calls.txt")
    assert out[0].id == "call-9" and out[0].metadata["started_at"].startswith("2026")
    assert out[0].turns[0].text == "Hello, this is Sam."
    assert out[1].id == "calls-2" and out[1].turns[0].speaker == "agent"


def test_plain_text_without_speakers_is_an_error():
    out = items("just some words\nmore words\n", "txt", "notes.txt")
    assert isinstance(out[0], ReadError) and out[0].line == 1 and out[0].id == "notes"


def test_non_utf8_file_is_decoded_not_dropped(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_bytes(b'{"id": "a"}\n\xff\xfe')  # ASCII with two stray bytes: read as Windows-1252, line by line
    (l1, e1), (l2, e2) = list(read_path(p))
    assert (l1, l2) == (1, 2) and "missing 'turns'" in e1.message and e2.message.startswith("invalid JSON")


def _conv(tid: str, text: str = "Hello") -> dict:
    return {"id": tid, "turns": [{"speaker": "agent", "text": text}, {"speaker": "debtor", "text": "Yes?"}]}


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-8-sig"])
def test_legacy_and_utf16_files_give_one_transcript_each(tmp_path, encoding):
    texts = ["Café con leche", "Señor Muñoz, £20 today", "naïve über façade"]
    p = tmp_path / "calls.jsonl"
    p.write_bytes("\n".join(json.dumps(_conv(f"c{i}", t), ensure_ascii=False) for i, t in enumerate(texts)).encode(encoding))
    out = [item for _, item in read_path(p)]
    assert [t.turns[0].text for t in out] == texts


def test_gb18030_chinese_file_is_decoded(tmp_path):
    text = "您好，我是催收员，请问您什么时候方便还款？"
    p = tmp_path / "calls.csv"
    p.write_bytes(f"id,turn,speaker,text\nz1,0,催收员,{text}\nz1,1,客户,下周吧。\n".encode("gb18030"))
    (_, t), = list(read_path(p))
    assert t.turns[0].text == text and t.turns[1].speaker == "debtor"


def test_damaged_utf8_costs_only_the_transcript_with_the_bad_byte(tmp_path):
    good = [json.dumps(_conv(f"u{i}", "Grüße, 您好"), ensure_ascii=False).encode() for i in range(3)]
    bad = json.dumps(_conv("bad", "cut here: X")).encode().replace(b"X", b"\xe4\xbd")  # a truncated character
    p = tmp_path / "calls.jsonl"
    p.write_bytes(b"\n".join([good[0], bad, good[1], good[2]]))
    out = [item for _, item in read_path(p)]
    assert [getattr(x, "id", None) for x in out] == ["u0", "bad", "u1", "u2"]
    assert isinstance(out[1], ReadError) and "undecodable byte 0xE4" in out[1].message
    assert isinstance(out[0], Transcript) and out[0].turns[0].text == "Grüße, 您好"


def test_lone_surrogate_is_an_error_for_its_transcript_only():
    text = "\n".join([
        json.dumps(_conv("a")),
        '{"id": "b\\ud800", "turns": [{"speaker": "agent", "text": "x"}]}',
        '{"id": "c", "turns": [{"speaker": "agent", "text": "broken \\udc00 pair"}]}',
        json.dumps(_conv("d")),
    ])
    out = items(text, "jsonl", "s.jsonl")
    assert [type(x).__name__ for x in out] == ["Transcript", "ReadError", "ReadError", "Transcript"]
    assert out[1].message == "id: lone surrogate \\ud800 (not valid Unicode text)"
    assert "turns[0].text: lone surrogate" in out[2].message
    record = json.dumps(out[1].to_record(), ensure_ascii=False)
    record.encode("utf-8")  # writable: the surrogate is spelled out, not kept
    assert json.loads(record)["id"] == "b\\ud800"


@pytest.mark.parametrize("fmt", ["jsonl", "json"])
def test_deep_nesting_and_huge_integers_are_errors_in_place(fmt):
    deep = '{"id": "deep", "turns": [], "metadata": {"x": ' + "[" * 50_000 + "]" * 50_000 + "}}"
    huge = '{"id": "huge", "turns": [], "metadata": {"x": ' + "7" * 5_000 + "}}"
    nested = {"id": "nested", "turns": [], "metadata": {}}
    inner = nested["metadata"]
    for _ in range(100):
        inner["x"] = {}
        inner = inner["x"]
    parts = [json.dumps(_conv("a")), deep, huge, json.dumps(nested), json.dumps(_conv("b"))]
    text = "\n".join(parts) if fmt == "jsonl" else "[\n" + ",\n".join(parts) + "\n]"
    located = list(read_text(text, "d", fmt))
    out = [item for _, item in located]
    assert [type(x).__name__ for x in out] == ["Transcript", "ReadError", "ReadError", "ReadError", "Transcript"]
    assert "nested too deeply" in out[1].message and "more than 4,300 digits" in out[2].message
    assert out[3].id == "nested" and "nested more than 64 levels deep" in out[3].message
    assert [line for line, _ in located] == ([1, 2, 3, 4, 5] if fmt == "jsonl" else [2, 3, 4, 5, 6])


@pytest.mark.parametrize("sep", ["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e"])
def test_unicode_line_separators_do_not_split_lines(sep):
    calls = [_conv(f"x{i}", f"before{sep}after") for i in range(3)]
    out = items("\n".join(json.dumps(c, ensure_ascii=False) for c in calls), "jsonl")
    assert [t.id for t in out] == ["x0", "x1", "x2"] and out[0].turns[0].text == f"before{sep}after"
    txt = items(f"Agent: one{sep}still one\nDebtor: two\n", "txt", "t.txt")
    assert [t.text for t in txt[0].turns] == [f"one{sep}still one", "two"]


@pytest.mark.parametrize(
    "fault, indent",
    [('"note" "MARK"', 1), ('"note" = "MARK"', None), ("'note': 'MARK'", 2), ('"note": "MARK', 1),
     ('"note": MARK"', 2), ('"note": "MARK",', 1), ('"note": {"MARK"', 1), ('"note": [[{"MARK"', 2),
     ('"note": "MARK"} garbage', 1), ('"note": "MARK"}}', None)],
)
def test_json_list_syntax_error_keeps_later_elements(fault, indent):
    calls = [{**_conv(f"e{i}"), "note": "MARK"} for i in range(4)]
    text = json.dumps(calls, indent=indent)
    marker = '"note": "MARK"'
    cut = text.index(marker, text.index('"e1"'))
    text = text[:cut] + fault + text[cut + len(marker):]
    out = items(text, "json", "l.json")
    assert [type(x).__name__ for x in out] == ["Transcript", "ReadError", "Transcript", "Transcript"], out
    assert [x.id for x in out if isinstance(x, Transcript)] == ["e0", "e2", "e3"]
    assert out[1].message.startswith("invalid JSON") and "\n" not in str(out[1])


def test_wrapped_list_with_a_broken_element_keeps_the_rest():
    text = '{"transcripts": [\n  {"id": "a", "turns": []},\n  {"id": "b" "turns": []},\n  {"id": "c", "turns": []}\n]}'
    out = items(text, "json", "w.json")
    assert [getattr(x, "id", None) for x in out] == ["a", None, "c"] and out[1].line == 3


def test_csv_field_over_128_kib_is_read_or_limited():
    big = "x" * 140_000
    text = f"id,turn,speaker,text\na,0,agent,hi\nb,0,agent,{big}\nc,0,agent,\"{big}\"\nd,0,agent,bye\n"
    out = items(text, "csv", "big.csv")
    assert [x.id for x in out] == ["a", "b", "c", "d"]
    assert isinstance(out[1], ReadError) and "140,000 characters, over the limit of 4,000" in out[1].message
    roomy = [x for _, x in read_text(text, "big.csv", "csv", TranscriptLimits(max_turn_chars=200_000))]
    assert all(isinstance(x, Transcript) for x in roomy) and roomy[1].turns[0].text == big


@pytest.mark.parametrize(
    "row", ['a2,0,agent,"never closed', 'a2,0,agent,"closed by the next row', 'a2,0,agent,"x" trailing']
)
def test_csv_bad_quote_costs_only_its_call(row):
    text = f'id,turn,speaker,text\na1,0,agent,hi\n{row}\na3,0,agent,"yes, fine"\na3,1,debtor,ok\na4,0,agent,bye\n'
    out = items(text, "csv", "q.csv")
    assert [x.id for x in out] == ["a1", "a2", "a3", "a4"]
    assert isinstance(out[1], ReadError) and out[1].line == 3 and "invalid CSV" in out[1].message
    assert [t.text for t in out[2].turns] == ["yes, fine", "ok"]


def test_limits_give_one_error_each_in_every_format(tmp_path):
    lim = TranscriptLimits(max_turns=3, max_turn_chars=10, max_file_mb=0.001)
    many = {"id": "many", "turns": [{"speaker": "agent", "text": "hi"}] * 4}
    long = _conv("long", "y" * 11)
    jsonl = "\n".join(json.dumps(c) for c in (_conv("ok"), many, long))
    out = [x for _, x in read_text(jsonl, "l.jsonl", "jsonl", lim)]
    assert [x.id for x in out] == ["ok", "many", "long"] and isinstance(out[0], Transcript)
    assert out[1].message == "4 turns, over the limit of 3 a call (--max-turns)"
    assert out[2].message == "turns[0].text: 11 characters, over the limit of 10 a turn (--max-turn-chars)"
    csv_text = "id,turn,speaker,text\n" + "".join(f"m,{i},agent,hi\n" for i in range(5)) + f"n,0,agent,{'z' * 11}\n"
    out = [x for _, x in read_text(csv_text, "c.csv", "csv", lim)]
    assert [x.id for x in out] == ["m", "n"] and "more than 3 turns" in out[0].message and "--max-turn-chars" in out[1].message
    txt = "Agent: a\nDebtor: b\nAgent: c\nDebtor: d\n---\nAgent: " + "w" * 11 + "\n"
    out = [x for _, x in read_text(txt, "t.txt", "txt", lim)]
    assert [x.id for x in out] == ["t", "t-2"] and "--max-turns" in out[0].message and "--max-turn-chars" in out[1].message
    big = tmp_path / "big.jsonl"
    big.write_text(jsonl * 100)
    (line, err), = list(read_path(big, lim))
    assert line == 0 and "over the limit of 0.001 MB (--max-file-mb)" in err.message
    assert DEFAULT_LIMITS == TranscriptLimits(max_file_mb=50, max_turns=400, max_turn_chars=4_000)


def test_plain_text_header_with_long_whitespace_is_fast():
    text = "# note:" + " " * 200_000 + "x\nAgent: hi\n"
    (_, t), = list(read_text(text, "h.txt", "txt"))
    assert t.metadata["note"] == "x"


def test_folder_is_read_in_sorted_order_with_locations():
    located = list(iter_located([DATA]))
    files = [Path(f).name for f, _, _ in located]
    assert files == sorted(files)
    assert any(isinstance(x, ReadError) for _, _, x in located)
    assert any(isinstance(x, Transcript) for _, _, x in located)


# --- fuzzing: readers never raise, whatever they are given -----------------------------------
#
# The contract: every item is a Transcript or a ReadError in its place; a ReadError names the
# file and line and says why in one line. read_text turns an exception a reader lets escape into
# "unreadable (TypeError: …)" so a batch never loses a file: for the tests that is a failure.

_speaker = st.sampled_from(["agent", "Collector", "customer", "debtor", "third party", "客户", "x", ""])
_turn = st.fixed_dictionaries({"speaker": _speaker, "text": st.text(max_size=40)})
_call = st.fixed_dictionaries(
    {"id": st.one_of(st.text(max_size=8), st.integers(), st.none()), "turns": st.lists(_turn, max_size=4)}
)
_KNOWN = {"agent": "agent", "collector": "agent", "customer": "debtor", "debtor": "debtor",
          "third party": "third_party", "客户": "debtor"}


def _check(result: list, name: str) -> None:
    """Each item is a writable Transcript or a ReadError reported in place (not a reader crash)."""
    for line, item in result:
        assert isinstance(item, Transcript | ReadError), type(item)
        assert isinstance(line, int) and line >= 0
        if isinstance(item, Transcript):
            assert item.id and all(t.speaker in ("agent", "debtor", "third_party") for t in item.turns)
            item.to_json_line().encode("utf-8")
        else:
            assert item.file == name and item.line == line, item
            assert item.message and not item.message.startswith("unreadable ("), item.message
            assert "\n" not in str(item) and "\r" not in str(item)
            json.dumps(item.to_record(), ensure_ascii=False).encode("utf-8")


def _outcome(item: Transcript | ReadError) -> tuple:
    if isinstance(item, Transcript):
        return item.id, [(t.speaker, t.text) for t in item.turns]
    return item.id, item.message


def _expected_json(call: dict) -> tuple:
    """What reading one generated JSON call must give: its transcript, or the reported reason."""
    raw = call["id"]
    tid = str(raw) if raw is not None else None
    if tid is None or not tid.strip():
        return None, "missing 'id'"
    for i, t in enumerate(call["turns"]):
        if t["speaker"].lower() not in _KNOWN:
            return tid, f"turns[{i}].speaker: unknown speaker {t['speaker']!r}"
    return tid, [(_KNOWN[t["speaker"].lower()], t["text"]) for t in call["turns"]]


def _expected_csv(rows: list[tuple]) -> list[tuple]:
    """Rows grouped by id in first-seen order, sorted by turn; a blank id or speaker is reported."""
    order: list = []
    calls: dict = {}
    for n, (raw_id, turn, speaker, text) in enumerate(rows):
        tid = raw_id.strip()
        if not tid:
            order.append(n)
            calls[n] = (None, "missing id")
            continue
        if tid not in calls:
            order.append(tid)
            calls[tid] = (tid, [])
        turns = calls[tid][1]
        if isinstance(turns, str):
            continue  # the call already failed at an earlier row
        if speaker.lower() not in _KNOWN:
            calls[tid] = (tid, f"speaker: unknown speaker {speaker!r}")
            continue
        turns.append((turn, len(turns), (_KNOWN[speaker.lower()], text)))
    return [
        calls[k] if isinstance(calls[k][1], str) else (calls[k][0], [t for *_, t in sorted(calls[k][1])])
        for k in order
    ]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=300), fmt=st.sampled_from(["jsonl", "json", "csv", "txt"]))
def test_fuzz_arbitrary_text_never_raises(text, fmt):
    _check(list(read_text(text, "fuzz", fmt)), "fuzz")


@settings(max_examples=100, deadline=None)
@given(calls=st.lists(_call, max_size=4), cut=st.integers(min_value=0, max_value=400))
def test_fuzz_json_structures_and_truncation(calls, cut):
    jsonl = "\n".join(json.dumps(c, ensure_ascii=False) for c in calls)
    whole = json.dumps(calls, ensure_ascii=False, indent=1)
    for text, fmt in ((jsonl, "jsonl"), (whole, "json"), (whole[:cut], "json"), (jsonl[:cut], "jsonl")):
        _check(list(read_text(text, "fuzz", fmt)), "fuzz")
    # complete files: one item per call, in order, each the transcript or the reason expected
    # (ids may hold U+0085 and U+2028: JSON Lines splits at "\n" only)
    expected = [_expected_json(c) for c in calls]
    lines = list(read_text(jsonl, "f", "jsonl"))
    assert [_outcome(item) for _, item in lines] == expected
    assert [line for line, _ in lines] == list(range(1, len(calls) + 1))
    assert [_outcome(item) for _, item in read_text(whole, "f", "json")] == expected


@settings(max_examples=100, deadline=None)
@given(rows=st.lists(st.tuples(st.text(max_size=5), st.integers(-2, 5), _speaker, st.text(max_size=30)), max_size=8))
def test_fuzz_csv_rows(rows):
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["id", "turn", "speaker", "text"])
    w.writerows(rows)
    result = list(read_text(buf.getvalue(), "fuzz.csv", "csv"))
    _check(result, "fuzz.csv")
    assert [_outcome(item) for _, item in result] == _expected_csv(rows)


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=200), suffix=st.sampled_from([".jsonl", ".json", ".csv", ".txt", ".dat"]))
def test_fuzz_binary_files(tmp_path_factory, data, suffix):
    p = tmp_path_factory.mktemp("fuzz") / f"f{suffix}"
    p.write_bytes(data)
    result = list(read_path(p))
    _check(result, str(p))
    assert [item for _, item in result] == list(iter_transcripts([p]))
