"""Flesch reading ease and Flesch-Kincaid grade count as textstat 0.7.4 did, so scores never move.

The expected figures are textstat 0.7.4's own, for texts that exercise each counting rule:
contractions and hyphenated words are one word, a "sentence" of two words or fewer is not
counted, syllables are pyphen's en_US hyphenation points plus one, averages are rounded to one
decimal before the formula and the result half away from zero.
"""

from __future__ import annotations

import pytest

from rubrics import metrics

CASES = [
    # text, reading ease, grade, syllables, sentences, words
    ("We can set up $70 a month, with the first payment on Friday the 15th. Does that make sense?",
     104.13, 1.1, 21, 2, 19),
    ("I understand. Notwithstanding the aforementioned contractual obligations, remuneration is "
     "expected forthwith.", -32.76, 20.6, 30, 1, 11),
    ("I can't -- won't -- pay. Call me back at 9:30 a.m. tomorrow, okay?", 99.23, 0.9, 14, 2, 12),
    ("Hi. Yes. Fine.", 119.19, -2.7, 3, 1, 3),
    ("The singer-songwriter didn't co-operate with the re-examination of the U.S.A. accounts!",
     9.55, 14.7, 24, 1, 11),
    ("", 206.84, -15.7, 0, 1, 0),
]


@pytest.mark.parametrize("text, ease, grade, syllables, sentence_count, words", CASES)
def test_flesch_counts_as_textstat_0_7_4(text, ease, grade, syllables, sentence_count, words):
    assert metrics.flesch_reading_ease(text) == ease
    assert metrics.flesch_kincaid_grade(text) == grade
    assert metrics.syllable_count(text) == syllables
    assert metrics.flesch_sentence_count(text) == sentence_count
    assert len(metrics.lexicon(text)) == words


def test_readability_is_the_reading_ease_and_none_for_tiny_texts():
    assert metrics.readability(CASES[0][0]) == CASES[0][1]
    assert metrics.readability("Okay, sure.") is None
