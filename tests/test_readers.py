"""Lenient transcript readers: formats, speaker aliases, errors with file and line, fuzzing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.transcript import Transcript
from simulator.transcript_formats import (
    ReadError,
    iter_located,
    iter_transcripts,
    normalize_speaker,
    read_path,
    read_text,
)

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


def test_non_utf8_file(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_bytes(b'{"id": "a"}\n\xff\xfe')
    (line, err), = list(read_path(p))
    assert isinstance(err, ReadError) and err.line == 2 and "UTF-8" in err.message


def test_folder_is_read_in_sorted_order_with_locations():
    located = list(iter_located([DATA]))
    files = [Path(f).name for f, _, _ in located]
    assert files == sorted(files)
    assert any(isinstance(x, ReadError) for _, _, x in located)
    assert any(isinstance(x, Transcript) for _, _, x in located)


# --- fuzzing: readers never raise, whatever they are given -----------------------------------

_speaker = st.sampled_from(["agent", "Collector", "customer", "debtor", "third party", "客户", "x", ""])
_turn = st.fixed_dictionaries({"speaker": _speaker, "text": st.text(max_size=40)})
_call = st.fixed_dictionaries(
    {"id": st.one_of(st.text(max_size=8), st.integers(), st.none()), "turns": st.lists(_turn, max_size=4)}
)


def _check(result: list, fmt: str) -> None:
    for line, item in result:
        assert isinstance(item, Transcript | ReadError)
        assert isinstance(line, int) and line >= 0
        if isinstance(item, Transcript):
            assert item.id and all(t.speaker in ("agent", "debtor", "third_party") for t in item.turns)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=300), fmt=st.sampled_from(["jsonl", "json", "csv", "txt"]))
def test_fuzz_arbitrary_text_never_raises(text, fmt):
    _check(list(read_text(text, "fuzz", fmt)), fmt)


@settings(max_examples=100, deadline=None)
@given(calls=st.lists(_call, max_size=4), cut=st.integers(min_value=0, max_value=400))
def test_fuzz_json_structures_and_truncation(calls, cut):
    jsonl = "\n".join(json.dumps(c, ensure_ascii=False) for c in calls)
    whole = json.dumps(calls, ensure_ascii=False, indent=1)
    for text, fmt in ((jsonl, "jsonl"), (whole, "json"), (whole[:cut], "json"), (jsonl[:cut], "jsonl")):
        result = list(read_text(text, "fuzz", fmt))
        _check(result, fmt)
    # complete JSONL: one item per non-empty line, in order
    assert len(list(read_text(jsonl, "f", "jsonl"))) == sum(1 for line in jsonl.splitlines() if line.strip())


@settings(max_examples=100, deadline=None)
@given(rows=st.lists(st.tuples(st.text(max_size=5), st.integers(-2, 5), _speaker, st.text(max_size=30)), max_size=8))
def test_fuzz_csv_rows(rows):
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["id", "turn", "speaker", "text"])
    w.writerows(rows)
    _check(list(read_text(buf.getvalue(), "fuzz.csv", "csv")), "csv")


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=200), suffix=st.sampled_from([".jsonl", ".json", ".csv", ".txt", ".dat"]))
def test_fuzz_binary_files(tmp_path_factory, data, suffix):
    p = tmp_path_factory.mktemp("fuzz") / f"f{suffix}"
    p.write_bytes(data)
    _check(list(read_path(p)), suffix)
    assert all(isinstance(x, Transcript | ReadError) for x in iter_transcripts([p]))
