"""The clarity reading (core/analysis/clarity.py): plainer is never worse (hypothesis), the parts
react to what they measure, and the trained part ships with a card and loads offline."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.analysis.clarity import ClarityError, ClarityModel, ClarityReader, default_cues, load_cues

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def reader() -> ClarityReader:
    from core.analysis.embedder import default_embedder

    embedder = default_embedder()
    return ClarityReader(encode=embedder.encode, layers=embedder.encode_layers)


CUES = default_cues()
HARD = sorted(CUES.plain_words)
JARGON = sorted(CUES.jargon)
OPENERS = ["We need to", "I can", "You may", "Our team will", "The bank wants to", "I would like to"]
ENDINGS = ["the payment on Friday", "your account this week", "the letter you got", "a plan that works",
           "the balance of $1,249.87", "the 1234567 reference", "your case with the office"]


@st.composite
def turns(draw) -> str:
    """A turn of one to three sentences, some long, with harder words and jargon in it."""
    sentences = []
    for _ in range(draw(st.integers(1, 3))):
        words = [draw(st.sampled_from(OPENERS)), draw(st.sampled_from(HARD)), draw(st.sampled_from(ENDINGS))]
        if draw(st.booleans()):
            words += [", and", draw(st.sampled_from(HARD)), draw(st.sampled_from(JARGON)), draw(st.sampled_from(ENDINGS))]
        sentences.append(" ".join(words).replace(" ,", ",") + ".")
    return " ".join(s[0].upper() + s[1:] for s in sentences)


def plainer(turn: str, how: int, pick: int) -> str:
    """One plainer rewrite: split at ", and", swap a harder word, replace jargon, round a number."""
    if how == 0 and ", and " in turn:
        return turn.replace(", and ", ". And ", 1)
    if how == 1:
        found = [m for m in re.finditer(r"[A-Za-z]+", turn) if m.group(0).lower() in CUES.plain_words]
        if found:
            m = found[pick % len(found)]
            return turn[: m.start()] + CUES.plain_words[m.group(0).lower()] + turn[m.end():]
    if how == 2:
        for term in sorted(CUES.jargon, key=len, reverse=True):
            if re.search(rf"(?<![\w-]){re.escape(term)}(?![\w-])", turn, re.IGNORECASE):
                return re.sub(rf"(?<![\w-]){re.escape(term)}(?![\w-])", CUES.jargon[term], turn, count=1,
                              flags=re.IGNORECASE)
    if how == 3 and "$1,249.87" in turn:
        return turn.replace("$1,249.87", "$1,250", 1)
    return turn


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(turn=turns(), how=st.integers(0, 3), pick=st.integers(0, 5))
def test_a_plainer_rewrite_never_lowers_clarity(reader, turn, how, pick):
    from core.analysis.analyzer import split_sentences

    rewrite = plainer(turn, how, pick)
    before = reader.read(split_sentences(turn))
    after = reader.read(split_sentences(rewrite))
    assert after.score >= before.score - 1e-9, (turn, rewrite, before, after)
    assert reader.canonical(rewrite) == reader.canonical(turn)


def test_plain_speech_scores_above_dense_speech(reader):
    plain = reader.read(["You owe $500.", "We can split it into small payments.", "Would $50 a month work?"])
    dense = reader.read(["Notwithstanding the aforementioned considerations, the outstanding indebtedness "
                         "necessitates immediate remediation through comprehensive financial restructuring "
                         "pursuant to the amortization schedule."])
    assert plain.score > dense.score + 20
    assert dense.jargon < 1 and "amortization" in dense.jargon_terms


def test_the_parts_measure_what_they_say(reader):
    two_asks = reader.read(["Can you confirm your address?", "Can you also send the form?"])
    one_ask = reader.read(["Can you send the form?", "I'll call you on Friday once it arrives."])
    assert two_asks.one_request < one_ask.one_request == 1.0
    assert one_ask.next_step == 1.0 and reader.read(["Can you send the form?"]).next_step == 0.0
    assert reader.read(["Thanks, that's all."]).next_step is None  # nothing asked, nothing to judge
    assert reader.read(["The balance is $1,249.87."]).plain_numbers < reader.read(["The balance is $1,250."]).plain_numbers
    assert reader.harder_words("Please remit the payment.") == [("remit", "pay")]


def test_the_model_ships_with_its_card_and_licences():
    model = ClarityModel.load()
    assert model.layers and model.embedding_weights is not None
    assert len(model.embedding_weights) == 384 * len(model.layers)
    card = (ROOT / "core" / "analysis" / "models" / "clarity.md").read_text(encoding="utf-8")
    assert "CC BY" in card and "public domain" in card and "NonCommercial" in card
    assert "public domain" in model.card["data"]
    assert (ROOT / "core" / "analysis" / "models" / "clarity.json").stat().st_size < 400_000


def test_bad_files_are_one_clear_line(tmp_path):
    bad = tmp_path / "clarity.yaml"
    text = (ROOT / "core" / "analysis" / "clarity.yaml").read_text(encoding="utf-8")
    bad.write_text(text.replace("  remit: pay\n", "  remit: make a payment\n", 1), encoding="utf-8")
    with pytest.raises(ClarityError, match="a plain word is one word"):
        load_cues(bad)
    model = tmp_path / "clarity.json"
    model.write_text(json.dumps({"features": ["flesch"]}), encoding="utf-8")
    with pytest.raises(ClarityError, match="not a clarity model"):
        ClarityModel.load(model)


def test_layer_means_are_the_same_one_at_a_time_batched_and_cached():
    import numpy as np

    from core.analysis.embedder import Embedder

    embedder = Embedder()
    texts = ["we can set up a plan of number a month", "the outstanding indebtedness necessitates remediation",
             "ok"]
    batched = embedder.encode_layers(texts, (1, 3))
    alone = np.vstack([Embedder().encode_layers([t], (1, 3)) for t in texts])
    assert batched.shape == (3, 2 * 384)
    np.testing.assert_allclose(batched, alone, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(batched[:, :384], axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(embedder.encode_layers(texts[1:2], (1, 3))[0], batched[1])  # from the cache
    assert not np.allclose(batched[:, :384], batched[:, 384:])  # two layers, not one twice


def test_the_analyzer_reads_clarity_with_the_trained_layers(reader):
    from core.analysis.analyzer import Analyzer, split_sentences
    from core.transcript import Transcript, Turn

    turn = "Notwithstanding the aforementioned, remittance is necessitated. Would $50 a month work for you?"
    analyzer = Analyzer()
    live = analyzer.analyze_turn(turn, speaker="agent").clarity
    batch = analyzer.analyze_many([Transcript(id="c", turns=[Turn(speaker="agent", text=turn)])])[0][0].clarity
    direct = reader.read(split_sentences(turn))
    assert live.readability == batch.readability == direct.readability
    assert live.readability != ClarityReader().read(split_sentences(turn)).readability  # the layers are read
