"""What the debtor says in whole calls: identity details from the persona file, the persona's
bank line that fits the moment, acknowledgements, goodbyes (issue 12)."""

from __future__ import annotations

import re

import pytest

from core.analysis.identifiers import identifiers_asked
from core.transcript import Turn
from simulator.actor import Actor, resolve_lines
from simulator.backends.base import Backend
from simulator.backends.scripted import ScriptedBackend
from simulator.director import Decision, initial_state
from simulator.identity_lines import identity_answer, say_date
from simulator.intents import Intent
from simulator.line_bank import norm, persona_bank
from simulator.personas import PersonaError, load_personas, parse_persona
from simulator.session import CallSession

LIB = load_personas()
MARIA = LIB.get("cooperative-maria")


@pytest.mark.parametrize(
    "text, kinds",
    [
        ("Can you confirm your date of birth and zip code?", ("dob", "zip")),
        ("can u verify the last four of your social", ("ssn4",)),
        ("whats your zip code real quick", ("zip",)),
        ("Is your mailing address still the same, can you read it to me?", ("address",)),
        ("This is Dave from Summit Recovery. Date of birth.", ("dob",)),
        ("what are the last 4 digits on the card", ("account4",)),
        ("and ur DOB?", ("dob",)),
        ("when were you born", ("dob",)),
        ("where do you live now", ("address",)),
        ("请核实一下您的身份证后四位", ("ssn4",)),
        ("您的出生日期是？", ("dob",)),
        ("and the last four of your social security?", ("ssn4",)),
        ("Social security number please", ("ssn4",)),
        # not a request for a detail of the person
        ("Do you get social security every month?", ()),
        ("What's your email address?", ()),
        ("I'm calling about your Harbor Point Visa", ()),
        ("If you send us a copy of your FTC report to the address on the letter, it will speed up the review.", ()),
        ("You can mail it to our address.", ()),
    ],
)
def test_which_identifying_detail_is_asked(text, kinds):
    assert identifiers_asked(text) == kinds


@pytest.fixture(scope="module")
def analyzer():
    from core.analysis import default_analyzer

    a = default_analyzer()
    a.warm_up()
    return a


def call(analyzer, persona_id: str, lines: list[str], **kw) -> CallSession:
    s = CallSession(LIB.get(persona_id), ScriptedBackend(default="Mm."), analyzer, seed=3, agent_name="Jordan", lines="bank", **kw)
    s.open()
    for text in lines:
        s.say(text)
    return s


def debtor(s: CallSession) -> list[str]:
    return [t.text for t in s.turns if t.speaker != "agent"]


@pytest.mark.parametrize("pid", ["cooperative-maria", "busy-greg", "hostile-mark", "vulnerable-walter", "disputing-priya"])
def test_identity_details_come_from_the_persona_file_however_they_are_asked(analyzer, pid):
    p = LIB.get(pid)
    first = p.name.split()[0].lower()
    s = call(
        analyzer,
        pid,
        [
            f"hi is this {first}? its jordan from summit recovery",
            "whats your date of birth",
            "ok and zip code",
            "last four of your social please",
            "Great. Is your mailing address still the same? Can you read it to me?",
        ],
    )
    said = debtor(s)[2:]
    assert say_date(p.identity.date_of_birth, "en") in said[0]
    assert p.identity.zip in said[1]
    assert p.identity.id_last4 in said[2]
    assert p.identity.street in said[3]  # after verification too: a mailing address is answered
    assert all(r.source == "authored" for r in s.replies[-4:])


def test_too_angry_to_give_a_detail_they_refuse_in_character():
    mark = LIB.get("hostile-mark")
    text = identity_answer(mark, ("dob",), confirm_name=False, refuse=True)
    assert "1982" not in text and re.search(r"not (giving|telling)|no\b", text, re.I)


def test_a_persona_without_identity_facts_declines_politely():
    p = MARIA.model_copy(update={"identity": None})
    text = identity_answer(p, ("dob",), confirm_name=False, refuse=False)
    assert "phone" in text and not re.search(r"\d", text)


def test_a_bad_identity_field_is_one_readable_line():
    import yaml

    data = yaml.safe_load((LIB.get("cooperative-maria") and open("personas/cooperative-maria.yaml", encoding="utf-8")).read())
    data["identity"]["zip"] = "7820"
    with pytest.raises(PersonaError) as exc:
        parse_persona(yaml.safe_dump(data), "personas/x.yaml")
    assert "personas/x.yaml: identity.zip" in str(exc.value)


def test_statements_are_acknowledged_and_a_goodbye_after_a_tag_question_closes(analyzer):
    s = call(
        analyzer,
        "cooperative-maria",
        [
            "hi maria, its jordan with summit recovery",
            "ok. im supposed to say this is an attempt to collect a debt and any info will be used for that purpose",
            "alright ill put notes on the account, call us back when you can ok? bye",
        ],
    )
    intents = [r.intent for r in s.replies]
    assert intents[2] is Intent.acknowledge
    assert intents[3] is Intent.goodbye and s.ended


def test_a_typed_question_without_a_question_mark_is_answered_not_acknowledged(analyzer):
    s = call(analyzer, "cooperative-maria", ["hi maria its jordan from summit recovery about your harbor point card", "ok so are you working right now"])
    assert s.replies[-1].intent is not Intent.acknowledge


def _decision(intent, topics=(), revealed=(), newly=()):
    from dataclasses import replace

    st = replace(initial_state(MARIA), revealed=tuple(revealed))
    return Decision(intent, st, tuple(newly), "test", {}, tuple(topics))


def test_the_bank_line_answers_the_topic_asked_and_never_a_fact_not_yet_earned():
    from core.analysis.types import Topic

    actor = Actor(MARIA, ScriptedBackend(default="model line"), lines="bank")
    history = [Turn(speaker="debtor", text="Hello?"), Turn(speaker="agent", text="Are you working at the moment?")]
    line = actor.render(_decision(Intent.answer_question, topics=(Topic.employment,)), history)
    bank = persona_bank(MARIA.id)
    by_text = {norm(x.text): x for x in bank.lines[Intent.answer_question]}
    assert line.source == "bank" and by_text[norm(line.text)].topic is Topic.employment
    hidden = {f.id for f in MARIA.hidden_facts}
    for seed in range(10):
        actor = Actor(MARIA, ScriptedBackend(default="model line"), lines="bank", seed=seed)
        said = actor.render(_decision(Intent.explain_hardship), history)
        assert by_text.get(norm(said.text)) is None or by_text[norm(said.text)].reveals not in hidden


def _ask(analyzer, question: str, intent=Intent.answer_question, revealed=(), said=()):
    actor = Actor(MARIA, ScriptedBackend(default="model line"), analyzer, lines="bank")
    history = [Turn(speaker="debtor", text=t) for t in said] + [Turn(speaker="agent", text=question)]
    return actor.render(_decision(intent, revealed=revealed), history)


@pytest.mark.parametrize("question, answer", [
    ("When's your next payday?", r"15th"),
    ("so when do u get paid next", r"15th"),
    ("What do you do for work?", r"cafeteria|school"),
    ("who lives there with you", r"Ray|husband"),
])
def test_a_question_gets_the_line_that_answers_it_whichever_intent_filed_it(analyzer, question, answer):
    # matched question to question (the lines' asks); the payday was told before, and asked
    # again a person says it again rather than something else about money
    line = _ask(analyzer, question, revealed=("payday",), said=["The school district pays me every other Friday."])
    assert line.source == "bank" and re.search(answer, line.text), line.text


def test_asked_for_a_fact_not_yet_earned_the_debtor_dodges_instead_of_answering_something_else(analyzer):
    line = _ask(analyzer, "When's your next payday?")
    deflect = {norm(x.text) for x in persona_bank(MARIA.id).lines[Intent.deflect]}
    assert norm(line.text) in deflect, line.text


def test_asked_for_the_attorneys_name_a_represented_debtor_gives_it(analyzer):
    kevin = LIB.get("represented-kevin")
    actor = Actor(kevin, ScriptedBackend(default="model line"), analyzer, lines="bank")
    history = [Turn(speaker="debtor", text="I have an attorney."), Turn(speaker="agent", text="You have a lawyer. Sure. What's her name then?")]
    line = actor.render(Decision(Intent.answer_question, initial_state(kevin), (), "test", {}, ()), history)
    assert kevin.attorney.name.split()[-1] in line.text, line.text


def test_a_tag_after_a_statement_is_not_a_question_of_fact(analyzer):
    from core.analysis.analyzer import tag_only

    assert tag_only("I'm a debt collector, anything you say gets used for that. Okay?")
    assert not tag_only("Okay?") and not tag_only("That's $150 a month. Does that work for you?")
    s = call(analyzer, "cooperative-maria", ["hi is this maria delgado? its jordan from summit recovery"])
    reply = s.say("I'm a debt collector, I'm collecting a debt, anything you say gets used for that. Okay?")
    assert reply.intent is Intent.acknowledge, (reply.intent, reply.text)


def test_asked_a_plain_question_while_disputing_the_debtor_answers_it(analyzer):
    priya = LIB.get("disputing-priya")
    actor = Actor(priya, ScriptedBackend(default="model line"), analyzer, lines="bank")
    history = [Turn(speaker="debtor", text="This isn't my debt."), Turn(speaker="agent", text="What do you do for work?")]
    line = actor.render(Decision(Intent.dispute, initial_state(priya), (), "test", {}, ()), history)
    answers = {norm(x.text) for x in persona_bank(priya.id).lines[Intent.answer_question]}
    assert norm(line.text) in answers and re.search(r"analyst|insurance|work", line.text, re.I), line.text


def test_told_who_is_calling_a_third_party_does_not_ask_it_again(analyzer):
    for seed in range(5):
        s = CallSession(LIB.get("wrong-party-linda"), ScriptedBackend(default="Mm."), analyzer, seed=seed, agent_name="Tess", lines="bank")
        s.open()
        s.say("Hello, is this the Brennan residence?")
        s.say("Hi, my name is Tess, I'm calling from Cornerstone. I'm trying to reach Ryan. Is he available?")
        reply = s.say("Oh, okay. And who am I speaking with?")
        if reply.intent is not Intent.ask_who_is_calling:
            assert not re.search(r"tell me who you are|who(?:'s| is) (?:this|calling)", reply.text, re.I), reply.text


@pytest.mark.parametrize("need, said, met", [
    ("fees", "your balance is 1,842.37", False), ("fees", "78 of that is late fees", True),
    ("debt", "hi is this maria? its sam", False), ("debt", "its about ur visa", True),
    ("amount", "you're behind on the card", False), ("amount", "the balance is 1120.75", True),
    ("attorney", "can you confirm your zip", False), ("attorney", "whats ur lawyers number", True),
    ("offer", "how are you doing", False), ("offer", "could you do 150 a month?", True),
])
def test_a_line_that_presupposes_what_was_not_said_waits(need, said, met):
    from simulator.line_bank import AuthoredLine, presupposed

    assert presupposed(AuthoredLine(text="x", needs=[need]), said) is met
    assert presupposed(AuthoredLine(text="x"), said)


def test_the_late_fee_line_waits_until_the_collector_names_the_fees(analyzer):
    actor = Actor(MARIA, ScriptedBackend(default="model line"), analyzer, lines="bank")
    for question in ["Do you have any questions about the account?", "What happened with the account?"]:
        for seed in range(4):
            history = [Turn(speaker="agent", text="Hi Maria, it's Sam from Summit Recovery, about your Visa."), Turn(speaker="debtor", text="Okay."),
                       Turn(speaker="agent", text=question)]
            line = actor.render(_decision(Intent.answer_question), history, turn_seed=seed)
            assert "late fees?" not in line.text, line.text
    history = [Turn(speaker="agent", text="Your balance is $1,842.37, and $78 of that is late fees. Any questions about the fees?")]
    assert "late fees?" in actor.render(_decision(Intent.answer_question), history).text


def test_an_offer_without_a_date_starts_on_the_debtors_own_preferred_day():
    from datetime import date

    from core.analysis.types import PaymentOffer
    from simulator.director import Director

    # "first payment on her next payday (the 15th)": not a day the calendar picks for her
    promise = Director(MARIA, today=date(2026, 12, 7))._promise(PaymentOffer(150.0, monthly=True))
    assert promise.due == "2026-12-15"
    assert Director(MARIA, today=date(2026, 12, 7))._promise(PaymentOffer(150.0, True, "Friday", 4)).due == "2026-12-11"


def test_given_a_number_a_third_party_does_not_ask_for_one(analyzer):
    for seed in range(5):
        s = CallSession(LIB.get("wrong-party-linda"), ScriptedBackend(default="Mm."), analyzer, seed=seed, agent_name="Tess", lines="bank")
        s.open()
        s.say("Hello, is this the Brennan residence? I'm trying to reach Ryan.")
        reply = s.say("Could you pass along my number? It's 800-555-0188. Please have him call me back.")
        assert not re.search(r"\b(?:a|your) (?:call-?back )?number\b|name and (?:a )?number|what should i tell him", reply.text, re.I), reply.text


def test_the_answer_kind_a_question_wants():
    from simulator.line_bank import answer_type

    assert answer_type("When's your next paycheck?") == answer_type("whens payday") == "when"
    assert answer_type("How much could you do a month?") == "how_much"
    assert answer_type("Who lives with you?") == "who"
    assert answer_type("What do you do for work?") is None


def test_a_day_of_the_month_is_said_back_without_a_weekday_the_debtor_never_said():
    from simulator.actor import _say_date

    assert _say_date("2026-12-15", "en", "the 15th") == "December 15"
    assert _say_date("2026-12-11", "en", "Friday") == "Friday, December 11"
    assert _say_date("2026-12-15", "zh", "15号") == "12月15号"


def test_the_debtor_does_not_guess_the_collectors_gender(analyzer):
    walter = LIB.get("vulnerable-walter")
    for seed in range(6):
        s = CallSession(walter, ScriptedBackend(default="Mm."), analyzer, seed=seed, agent_name="Kyle", lines="bank")
        s.open()
        reply = s.say("Walter Pryor? Kyle, Buckeye Recovery.")
        assert not re.search(r"\bma'?am\b|\bsir\b", reply.text, re.I), reply.text


def test_a_newly_earned_fact_is_told_by_a_line_that_tells_it():
    actor = Actor(MARIA, ScriptedBackend(default="model line"), lines="bank")
    history = [Turn(speaker="agent", text="What happened? It's not like you to fall behind.")]
    line = actor.render(_decision(Intent.explain_hardship, revealed=("hospital_stay",), newly=("hospital_stay",)), history)
    assert re.search(r"hospital|surgery|gallbladder|ICU", line.text, re.I), line.text


def test_no_bank_line_is_said_twice_and_the_model_speaks_when_the_bank_is_spent():
    actor = Actor(MARIA, ScriptedBackend(default="Okay then, I hear you."), lines="bank")
    history: list[Turn] = []
    n = len(persona_bank(MARIA.id).lines[Intent.acknowledge])
    for k in range(n + 1):
        history.append(Turn(speaker="agent", text=f"Statement number {k}."))
        line = actor.render(_decision(Intent.acknowledge), history, turn_seed=k)
        history.append(Turn(speaker="debtor", text=line.text))
    said = [t.text for t in history if t.speaker == "debtor"]
    assert len({norm(x) for x in said[:n]}) == n
    assert actor.render(_decision(Intent.acknowledge), history).source in ("model", "retry", "fallback")


def test_which_lines_a_call_uses(monkeypatch):
    monkeypatch.delenv("CALLCOACH_DEBTOR_LINES", raising=False)
    assert resolve_lines(None, ScriptedBackend()) == "model"  # a stand-in for a model
    assert resolve_lines(None, Backend.__new__(type("B", (Backend,), {"stream": lambda *a, **k: iter(())}))) == "bank"
    monkeypatch.setenv("CALLCOACH_DEBTOR_LINES", "bank")
    assert resolve_lines(None, ScriptedBackend()) == "bank"
    assert resolve_lines("model", ScriptedBackend()) == "model"
    monkeypatch.setenv("CALLCOACH_DEBTOR_LINES", "banks")
    with pytest.raises(ValueError, match="CALLCOACH_DEBTOR_LINES"):
        resolve_lines(None, ScriptedBackend())


def test_out_of_time_a_busy_debtor_takes_the_offered_call_back(analyzer):
    greg = LIB.get("busy-greg")
    lines = ["hi is this greg? its leah with bayside credit solutions", "sorry, this is about your lumen card"]
    lines += ["ok", "got it", "right", "sure", "alright"][: greg.thresholds.patience_turns - 2]
    lines += ["Would it be easier if I called you back later instead of doing this now?"]
    s = call(analyzer, "busy-greg", lines)
    assert s.replies[-1].intent is Intent.goodbye and s.ended


@pytest.mark.parametrize("text, asks", [
    ("aw sorry to hear that, r u working right now", True),
    ("thx!! how r u doin today", True),
    ("hows it going", True),
    ("ok got it, so when do u get paid", True),
    ("Sure - whats the best number", True),
    ("call me back, when you get paid", False),
    ("The balance is 1842, which is mostly fees", False),
    ("the amount, what you owe, is 500", False),
    ("Thanks, have a good night", False),
    ("Everybody's got a reason. Why wasn't it paid", True),
    ("cant you just pay something", True),
    ("I can't do that", False),
    ("does he still live in pennsylvania", True),
    ("he still lives there", False),
])
def test_a_question_typed_after_a_remark_and_a_comma_is_still_a_question(text, asks):
    from core.analysis.analyzer import typed_question

    assert typed_question(text) is asks


def test_small_talk_and_questions_typed_in_text_speak_get_answers_and_a_typed_goodbye_ends_the_call(analyzer):
    s = call(analyzer, "cooperative-maria", ["Hi, is this Maria?", "aw sorry to hear that, r u working right now",
                                             "thx!! how r u doin today", "thx maria have a good nite byeee"])
    intents = [r.intent for r in s.replies][-3:]  # after the opening and the name
    assert Intent.acknowledge not in intents[:2]
    assert intents[2] is Intent.goodbye and s.ended


def test_out_of_time_and_asked_when_to_call_back_a_busy_debtor_says_when_then_goes(analyzer):
    greg = LIB.get("busy-greg")
    lines = ["hi is this greg? its leah with bayside credit solutions", "sorry, this is about your lumen card"]
    lines += ["ok", "got it", "right", "sure", "alright"][: greg.thresholds.patience_turns - 2]
    lines += ["When's a better time for me to call you back so we can go over it properly?"]
    s = call(analyzer, "busy-greg", lines)
    assert not s.ended and re.search(r"12:30|5:30", debtor(s)[-1])
    s.say("ok perfect, talk to you then, bye")
    assert s.replies[-1].intent is Intent.goodbye and s.ended


MARIA_TO_PLAN = [
    "Hi, is this Maria Delgado?",
    "Maria, this is Jordan with Ironwood Collections, calling about your Harbor Point Visa. This is an attempt to "
    "collect a debt and any information obtained will be used for that purpose.",
    "The balance is $1,842.37 and it's 47 days past due. What happened?",
    "I'm so sorry to hear that. How are you feeling now?",
    "Could you do $150 a month?",
]


@pytest.mark.parametrize("recap, corrected, amount, due", [
    ("So just to confirm: $150 a month, first payment on the 15th. Is that right?", None, 150, "-12-15"),
    ("So just to confirm: $100 a month, first payment on the 15th. Is that right?", None, 100, "-12-15"),  # less: fine
    ("So just to confirm: $200 a month, first payment on the 15th. Is that right?", "$150 a month", 150, "-12-15"),
    ("So just to confirm: $150 a month, first payment on the 9th. Is that right?", "December 15", 150, "-12-15"),
    ("ok so 150 a month starting the 5th", "December 15", 150, "-12-15"),  # not the day she named
])
def test_a_recap_that_asks_more_sooner_or_another_day_is_corrected_and_the_promise_stays(analyzer, recap, corrected, amount, due):
    s = call(analyzer, "cooperative-maria", [*MARIA_TO_PLAN, recap])
    assert s.replies[-2].intent is Intent.promise_to_pay  # agreed to $150 a month from the 15th
    line = debtor(s)[-1]
    if corrected:
        assert corrected in line and re.search(r"\b(?:not|wait|said)\b", line, re.I)
    else:
        assert s.replies[-1].intent is Intent.promise_to_pay and "not" not in line.lower().split()
    promise = s.state.promise
    assert promise.amount == amount and promise.due.endswith(due)


def test_every_recap_correction_wording_fills_its_placeholders():
    from simulator.recap_lines import recap_lines

    for lang, table in recap_lines().languages.items():
        for kind in ("amount", "date"):
            for text in getattr(table, kind):
                filled = text.format_map({"payment": "P", "date": "D", "heard": "H"})
                assert "{" not in filled and ("H" in filled or "P" in filled or "D" in filled), (lang, text)


@pytest.mark.parametrize("bye", ["ok thx maria have a good rest of ur day", "thx maria have a good nite byeee", "ok ttyl", "k cya"])
def test_goodbyes_as_trainees_type_them_end_the_call(analyzer, bye):
    s = call(analyzer, "cooperative-maria", ["Hi, is this Maria?", bye])
    assert s.replies[-1].intent is Intent.goodbye and s.ended


def test_having_promised_the_debtor_does_not_walk_it_back(analyzer):
    tony = ["Is this Tony Russo?", "Tony, it's Dan with Summit Recovery about your Apex card, this is an attempt to collect a debt "
            "and any information obtained will be used for that purpose.", "The balance is past due. Can you do $200 a month starting January 1?"]
    s = call(analyzer, "evasive-tony", tony)
    for push in ["Can you do $200 a month starting January 1?", "ok $200 a month starting January 1, right?"]:
        if s.state.promise is None:
            s.say(push)
    assert s.state.promise is not None
    s.say("You've been dodging us for three months. I'm not getting off this phone without a commitment.")
    s.say("What's the best time to catch you if that payment doesn't show up")
    assert all(r.intent not in (Intent.stall, Intent.deflect, Intent.counter_offer) for r in s.replies[-2:])


def test_the_name_used_to_ask_something_else_is_not_asked_who_they_are_again(analyzer):
    s = call(analyzer, "vulnerable-walter", ["Hi, is this Walter Pryor?", "Mr. Pryor, this is Ann with Lakeside Recovery.",
                                             "I'm very sorry about your wife, Mr. Pryor. Please don't worry about the card for a "
                                             "minute. How are you doing, really?"])
    assert s.replies[-1].intent is not Intent.confirm_identity
    s.say("Sorry, am I still speaking with Walter Pryor?")
    assert s.replies[-1].intent is Intent.confirm_identity


def test_a_mother_asked_about_her_son_answers_or_dodges_rather_than_offer_a_message_again(analyzer):
    s = call(analyzer, "wrong-party-linda", ["hi can i speak to ryan brennan pls",
                                             "my name is brandon hale with acb services, im calling for ryan about a personal "
                                             "business matter, is he around", "does he still live in pennsylvania or did he move"])
    assert s.replies[-1].intent in (Intent.answer_question, Intent.deflect)
    assert "message" not in debtor(s)[-1].lower()


def test_told_the_callers_name_the_debtor_does_not_say_she_needs_it(analyzer):
    s = call(analyzer, "disputing-priya", ["Hello, this is Marcus Bell calling from Triangle Credit Management. "
                                           "May I speak with Priya Raman, please?"])
    assert "your name" not in debtor(s)[-1].lower()


def test_asked_about_thoughts_of_ending_his_life_by_name_the_debtor_is_never_answering_an_identity_check(analyzer):
    s = call(analyzer, "vulnerable-walter", [
        "Hi, is this Walter Pryor?", "Mr. Pryor, this is Ann with Lakeside Recovery, about the joint card.",
        "I'm so sorry. How have you been holding up since June passed?",
        "Mr. Pryor, I want to ask you directly, because I care about the answer: are you having any thoughts of ending your life?",
    ])
    assert s.replies[-1].intent is not Intent.confirm_identity
    assert "that's me" not in debtor(s)[-1].lower()


def test_a_line_that_takes_up_a_hold_waits_until_one_is_offered(analyzer):
    s = call(analyzer, "vulnerable-walter", [
        "Hi, is this Walter Pryor?", "Mr. Pryor, this is Ann with Lakeside Recovery, about the joint card.",
        "You can call or text 988 any time, day or night, and talk to someone right away. Would you be willing to do that today?",
    ])
    assert "wait" not in debtor(s)[-1].lower()


def test_just_refused_an_offer_the_debtor_does_not_take_it_when_it_is_only_asked_again(analyzer):
    s = call(analyzer, "hostile-mark", [
        "Mark Kowalski. Yes or no.", "NorthStar. You're 63 days late on $3,216.50. When is the money coming.",
        "Pay $600 today or this goes to the next stage.",
    ])
    for _ in range(3):
        s.say("Then $250 a month. First one tomorrow.")
        if s.replies[-1].intent is Intent.refuse:
            break
    assert s.replies[-1].intent is Intent.refuse and 250.0 in s.state.refused
    s.say("So $250 a month starting tomorrow. Yes or no?")
    assert s.replies[-1].intent is not Intent.promise_to_pay and s.state.promise is None


def test_out_of_time_after_setting_a_call_back_a_busy_debtor_says_goodbye_not_slams_the_phone(analyzer):
    s = call(analyzer, "busy-greg", ["Hi, this is Hannah Kessler calling from Northgate Recovery. May I speak with Greg Halvorsen, please?",
                                     "When's a better time to reach you, when you can talk freely?"])
    assert re.search(r"12:30|5:30", debtor(s)[-1])
    for line in ["ok", "And would you pay it all at once, or spread it out?", "I see. And what do you do for work?",
                 "Do you have a budget?", "How much do you make?", "Is that weekly?", "And your wife works?"]:
        if s.ended:
            break
        s.say(line)
    assert s.ended and s.replies[-1].intent is Intent.goodbye


def test_a_question_that_ends_with_the_debtors_name_is_not_an_identity_check(analyzer):
    s = call(analyzer, "vulnerable-walter", ["Hi, this is Ann with Lakeside Recovery calling for Walter Pryor.",
                                             "Is everything alright, Mr. Pryor? You sound awfully tired today."])
    assert s.replies[-1].intent is not Intent.confirm_identity


def test_a_refusal_to_a_caller_who_said_what_the_call_is_about_does_not_ask_what_it_is_about(analyzer):
    s = call(analyzer, "disputing-priya", [
        "Priya Raman?", "Curtis, calling for Brightline Wireless. This is an attempt to collect a debt and any information "
        "obtained will be used for that purpose. You've got $1,367.22 outstanding.", "Confirm your date of birth."])
    assert not re.search(r"what this is about|who is this", debtor(s)[-1], re.I)


def test_given_the_number_to_pass_on_a_third_party_does_not_offer_to_take_a_message_again(analyzer):
    s = call(analyzer, "wrong-party-linda", ["hi can i speak to ryan brennan pls",
                                             "my name is brandon hale w/ acb services, can u have him call me at 888-555-0173",
                                             "ok great thank u", "oh sorry i didnt mean to pry!! i just wanna make sure he gets the msg"])
    assert not re.search(r"jot|go slow|grab a pen|leave (?:him )?a message", " ".join(debtor(s)[-2:]), re.I)


@pytest.mark.parametrize("ask", ["Hi, this is Leah calling for Greg Halvorsen, is that you?", "Hi, is this Greg Halvorsen?",
                                 "Greg Halvorsen? It's Leah from Bayside Credit."])
def test_asked_for_by_name_the_debtor_says_who_he_is(analyzer, ask):
    s = call(analyzer, "busy-greg", [ask])
    assert s.replies[-1].intent in (Intent.confirm_identity, Intent.ask_who_is_calling)


def test_out_of_time_a_busy_debtor_still_hears_out_a_plan_he_can_keep(analyzer):
    s = call(analyzer, "busy-greg", ["hi is this greg halvorsen", "hey greg its sam w/ ironwood collections calling for crestview "
                                     "about ur lumen card, this is an attempt to collect a debt n any info will be used for that purpose",
                                     "sounds loud there, r u at work right now", "np, when would be a better time to call u back"])
    for line in ["ok and real quick, could u pay the full 1120.75 this friday", "ok so just to confirm 1120.75 this friday, correct?"]:
        if s.ended:
            break
        s.say(line)
    assert s.state.promise is not None and s.state.promise.amount == 1120.75


def test_a_fact_earned_by_the_topic_waits_when_another_line_answers_the_question_asked(analyzer):
    s = call(analyzer, "cooperative-maria", [
        "Hi, is this Maria Delgado?", "Maria, this is Jordan with Ironwood Collections about your Harbor Point Visa. This is an "
        "attempt to collect a debt and any information obtained will be used for that purpose.",
        "The card's 47 days behind. Can I ask what's been going on?", "Oh no, I'm so sorry. Are you back at work now?"])
    assert re.search(r"\b(?:back|work|full time)\b", debtor(s)[-1], re.I)
    assert "15th" not in debtor(s)[-1]  # the payday was earned, but not asked
    s.say("And when do you get paid next?")
    assert re.search(r"15th|Friday", debtor(s)[-1])  # asked for it, she says it
