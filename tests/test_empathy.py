"""The empathy reading (core/analysis/empathy.py): labelled cases for each mechanism with
precision and recall floors, monotonicity, spread, pressure, and the other party's opportunity."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.analysis.analyzer import split_sentences
from core.analysis.empathy import EmpathyError, EmpathyReader, load_cues
from core.analysis.readings import EmpathyReading, Mechanism, level_of

CASES = yaml.safe_load((Path(__file__).parent / "data" / "empathy_cases.yaml").read_text(encoding="utf-8"))["cases"]
MECHANISMS = ("acknowledgement", "reflection", "exploration")


@pytest.fixture(scope="module")
def reader() -> EmpathyReader:
    from core.analysis.embedder import default_embedder

    return EmpathyReader(encode=default_embedder().encode, model_id="all-MiniLM-L6-v2")


def _read(reader: EmpathyReader, said: str, reply: str) -> EmpathyReading:
    return reader.read_agent(split_sentences(reply), previous=split_sentences(said))


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_each_mechanism_meets_its_floors_on_the_labelled_cases(reader, mechanism):
    tp = fp = fn = strong_right = strong_total = 0
    for case in CASES:
        got = _read(reader, case["said"], case["reply"]).mechanisms()[mechanism].level
        want = case.get(mechanism, "none")
        tp += got != "none" and want != "none"
        fp += got != "none" and want == "none"
        fn += got == "none" and want != "none"
        if want == "strong":
            strong_total += 1
            strong_right += got == "strong"
    assert tp / max(1, tp + fp) >= 0.8, f"{mechanism}: precision {tp}/{tp + fp}"
    assert tp / max(1, tp + fn) >= 0.8, f"{mechanism}: recall {tp}/{tp + fn}"
    assert strong_right >= 0.75 * strong_total, f"{mechanism}: strong {strong_right}/{strong_total}"


def test_mechanisms_rank_replies_as_people_would(reader):
    said = "I lost my job in March and I can't keep up with anything."
    scores = [_read(reader, said, r).score for r in (
        "So since you lost your job, everything has felt impossible to keep up with. How are you coping?",
        "I'm sorry to hear that.",
        "Okay.",
        "You need to pay today, no excuses.",
    )]
    assert scores == sorted(scores, reverse=True), scores


def test_pressure_and_blame_lower_the_turn(reader):
    said = "My hours were cut."
    kind = _read(reader, said, "That sounds hard. What would help right now?")
    blamed = _read(reader, said, "That sounds hard. You should have saved some money.")
    pressed = reader.read_agent(["That sounds hard.", "What would help right now?"], previous=[said],
                                signals={"pressure"})
    assert blamed.pressure > 0 and blamed.score < kind.score
    assert pressed.pressure == 1.0 and pressed.score < 0.5 * kind.score


ACKNOWLEDGEMENTS = ["That sounds really stressful.", "I'm so sorry you're going through this.", "I'm sorry.",
                    "That must be hard for you.", "Oh no."]
REPLIES = ["Can you pay $100 today?", "Your balance is $1,250.", "What happened with the job?",
           "So you lost your job in May.", "You should have called us sooner.", "Thanks for your time.",
           "I understand.", "Let's set up a plan."]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reply=st.lists(st.sampled_from(REPLIES), min_size=1, max_size=3), ack=st.sampled_from(ACKNOWLEDGEMENTS),
       at=st.integers(min_value=0, max_value=3))
def test_adding_an_acknowledgement_never_lowers_empathy(reader, reply, ack, at):
    said = ["I lost my job and I'm scared about the rent."]
    before = reader.read_agent(reply, previous=said)
    after = reader.read_agent([*reply[:at], ack, *reply[at:]], previous=said)
    assert after.score >= before.score - 1e-9
    assert after.acknowledgement.strength >= before.acknowledgement.strength


def test_scores_spread_over_single_replies(reader):
    replies = [c["reply"] for c in CASES] + REPLIES + ACKNOWLEDGEMENTS
    scores = [round(reader.read_agent(split_sentences(r), previous=["I lost my job."]).score, 1) for r in replies]
    modal = Counter(scores).most_common(1)[0][1]
    assert modal / len(scores) <= 0.15, Counter(scores).most_common(3)


def test_the_other_partys_turn_is_an_opportunity():
    reader = EmpathyReader(encode=None)
    assert reader.read_other(["I lost my job last month."]).opportunity >= 0.8
    assert reader.read_other(["I feel so stressed about all this."]).opportunity >= 0.45
    assert reader.read_other(["Yes, that's me."]).opportunity == 0.0
    assert reader.read_other(["ok"], signals={"debtor_distress_severe"}).opportunity == 1.0


def test_levels_and_the_weakest_mechanism():
    assert [level_of(x) for x in (0.1, 0.4, 0.9)] == ["none", "weak", "strong"]
    r = EmpathyReading(acknowledgement=Mechanism(0.9), reflection=Mechanism(0.2), exploration=Mechanism(0.5))
    assert r.weakest() == "reflection"


def test_a_bad_cue_file_is_one_clear_line(tmp_path):
    bad = tmp_path / "empathy.yaml"
    text = (Path(__file__).parent.parent / "core" / "analysis" / "empathy.yaml").read_text(encoding="utf-8")
    bad.write_text(text.replace("blame:\n", "blame:\n  - \"(unclosed\"\n", 1), encoding="utf-8")
    with pytest.raises(EmpathyError, match=r"blame.*does not compile"):
        load_cues(bad)


def test_the_reflection_model_ships_with_its_card_and_matches_its_data():
    import hashlib

    from core.analysis.empathy import REFLECTION_MODEL_FILE, ReflectionModel

    model = ReflectionModel.load()
    assert model.embedding_weights.shape == (384,)
    data = Path(__file__).parent.parent / "training" / "data" / "reflection_pairs.yaml"
    assert model.card["data_sha256"] == hashlib.sha256(data.read_bytes()).hexdigest(), "retrain: the data changed"
    assert "written for this project" in model.card["data"]
    card = REFLECTION_MODEL_FILE.with_suffix(".md").read_text(encoding="utf-8")
    assert "NonCommercial" in card and "never trained on" in card


def test_the_trained_reflection_term_reads_a_frameless_restatement_higher(reader):
    cues_only = EmpathyReader(encode=reader.encode, model_id="all-MiniLM-L6-v2", reflection_model=None)
    said = "I lost my job in March and now I'm three months behind on rent."
    reply = "Three months behind, and since March without the job."
    trained, cued = _read(reader, said, reply).reflection.strength, _read(cues_only, said, reply).reflection.strength
    assert trained > cued, (trained, cued)
    advice = "You should ask your landlord for more time."
    assert _read(reader, said, advice).reflection.strength < trained


def test_residual_training_keeps_the_cue_logit_and_learns_the_embedding_term():
    import numpy as np

    from training.train_reflection import fit, predict

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 14))
    E = rng.normal(size=(200, 8))
    y = (E[:, 0] + 0.3 * rng.normal(size=200)) > 0
    m = fit(X, E, y, 0.3, "residual")
    X2 = X.copy()
    X2[:, 1:] += 5.0  # features other than the cue logit are not read
    np.testing.assert_allclose(predict(m, X2, E), predict(m, X, E))
    np.testing.assert_allclose(predict(m, X + np.eye(14)[0], E) - predict(m, X, E), 1.0)  # the cue logit: weight 1
    assert m["embedding_weights"][0] > 2 * np.abs(m["embedding_weights"][1:]).max()
