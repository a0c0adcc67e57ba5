"""The abuse detector (core/analysis/abuse.py): short, informal, misspelled insults are caught;
insults taken back by a negation or a report are not; floors on lines it was never trained on."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from core.analysis.abuse import (
    AbuseDetector,
    AbuseError,
    AbuseModel,
    Normaliser,
    catalogue_detector,
    default_cues,
)
from core.analysis.analyzer import split_sentences
from core.analysis.detectors import TurnText

ROOT = Path(__file__).resolve().parent.parent
LINES = ROOT / "training" / "data" / "abuse_lines.yaml"
COLLECTOR = ROOT / "training" / "data" / "collector_lines.yaml"


@pytest.fixture(scope="module")
def detector() -> AbuseDetector:
    return catalogue_detector()


def _hit(detector: AbuseDetector, text: str) -> bool:
    return detector.detect(TurnText(split_sentences(text), "en")) is not None


@pytest.mark.parametrize("line", [
    "ur a deadbeat", "u r so stupidd", "what a loser", "f off", "sh1t", "you lazy bum", "idoit",
    "shut up and pay u moron", "Listen, you lazy deadbeat, this is your own fault.",
])
def test_short_misspelled_insults_are_abuse(detector, line):
    assert _hit(detector, line), line


@pytest.mark.parametrize("line", [
    "I'm not calling you a deadbeat.",
    "I know you're not a deadbeat.",
    "Nobody thinks you're stupid.",
    "He called me a deadbeat and it still hurts.",
    'You said "lazy bum" to me yesterday, and I want to apologise for how that felt.',
    "That's not a stupid question at all.",
    "You owe $1,250; could you manage $50 a month?",
])
def test_negated_and_reported_insults_are_not(detector, line):
    assert not _hit(detector, line), line


def test_swearing_is_not_taken_back_by_a_negation(detector):
    assert _hit(detector, "That's not fucking fair.")
    assert not _hit(detector, "That's not fair.")


def test_masking_keeps_the_insult_of_a_new_clause():
    norm = Normaliser(default_cues())
    assert norm("You're not a deadbeat, you're a thief").split()[-1] == "thief"
    assert "idiot" in norm("Don't be an idiot")  # an order, not a negation


def test_the_hit_quotes_the_abusive_sentence(detector):
    hit = detector.detect(TurnText(["Thanks for calling.", "You are such a loser."], "en"))
    assert hit is not None and hit.signal == "abuse" and hit.quote == "You are such a loser."


def test_floors_on_lines_never_trained_on(detector):
    """Precision and recall on the written test lines and the collector lines' held-out ones."""
    test = yaml.safe_load(LINES.read_text(encoding="utf-8"))["test"]
    moves = yaml.safe_load(COLLECTOR.read_text(encoding="utf-8"))["moves"]
    fill = lambda s: re.sub(r"\{\w+\}", "Maria", s)  # noqa: E731
    abusive = test["abusive"] + [fill(s) for s in moves["abuse"]["heldout"]]
    clean = test["clean"] + [fill(s) for name, m in moves.items() if name != "abuse" for s in m["heldout"]]
    caught = sum(_hit(detector, s) for s in abusive)
    false = [s for s in clean if _hit(detector, s)]
    assert caught / len(abusive) >= 0.8, f"recall {caught}/{len(abusive)}"
    assert len(false) / len(clean) <= 0.02, false
    precision = caught / (caught + len(false))
    assert precision >= 0.9


def test_the_model_is_small_and_says_where_it_comes_from():
    model = AbuseModel.load()
    assert 0 < model.threshold < 1 and 100 < len(model.weights) < 20_000
    assert model.card["data"]["davidson_licence"] == "MIT"


def test_a_broken_model_file_is_one_clear_line(tmp_path):
    path = tmp_path / "abuse.json"
    path.write_text(json.dumps({"weights": {}}), encoding="utf-8")
    with pytest.raises(AbuseError, match="not an abuse model"):
        AbuseModel.load(path)
    with pytest.raises(AbuseError, match="no such file"):
        AbuseModel.load(tmp_path / "missing.json")
