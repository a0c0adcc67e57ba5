"""Turn analysis: signals, question type and topics, amounts and dates, context threading."""

from __future__ import annotations

import pytest

from simulator.analysis import Analyzer, CallContext, default_analyzer
from simulator.transcript import Transcript


@pytest.fixture(scope="session")
def an() -> Analyzer:
    a = default_analyzer()
    a.warm_up()
    return a


def test_default_analyzer_is_cached():
    assert default_analyzer() is default_analyzer()


def test_opening_line_signals(an):
    a = an.analyze_turn("Hi, this is Sam from Acme Recovery. Am I speaking with Maria Lopez?")
    assert {"greeting", "self_identification", "identity_check"} <= a.signals
    assert a.question == "closed"


@pytest.mark.parametrize(
    "text",
    ["You cannot be arrested for this debt.", "We will not sue you.", "I'm not threatening you.", "Nobody is going to hurt you."],
)
def test_negated_threats_do_not_fire(an, text):
    assert not an.analyze_turn(text).has_any("threat_")


def test_offer_amount_cadence_and_date(an):
    a = an.analyze_turn("Would $100 a month starting next Friday work for you?")
    assert a.has("payment_offer")
    assert a.offer is not None and a.offer.amount == 100 and a.offer.monthly
    assert a.offer.date_text == "next Friday"


def test_identity_verified_only_after_debtor_confirms(an):
    t = Transcript(
        id="x",
        turns=[
            {"speaker": "agent", "text": "Hello, this is Sam from Acme Recovery. Am I speaking with John Smith?"},
            {"speaker": "debtor", "text": "Yes, speaking."},
        ],
    )
    first, second = an.analyze_transcript(t)
    assert first.after.identity_asked and not first.after.identity_verified
    assert second.after.identity_verified


def test_third_party_set_by_debtor_line(an):
    a = an.analyze_turn("He's not here, this is his mother.", speaker="debtor", context=CallContext(identity_asked=True))
    assert a.has("debtor_not_account_holder") and a.after.third_party
