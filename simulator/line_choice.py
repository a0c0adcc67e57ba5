"""Which bank line the debtor says: the persona's authored lines for the director's decision,
filtered by what the call so far allows and ranked by how well they answer the collector.

The bank and the ranking are ``simulator/line_bank.py``; this module decides which lines are
candidates at this moment of a call (an answer to the question asked, whichever intent filed it;
no fact before it is earned; no line that presupposes what was not said; no question the
collector already answered) and when the debtor dodges instead. Measured by blind audits on
held-out whole calls: docs/DEBTOR.md.
"""

from __future__ import annotations

import re

from core.analysis.analyzer import tag_only, typed_question
from core.analysis.types import Topic
from core.transcript import Turn
from simulator.director import Decision
from simulator.intents import Intent
from simulator.line_bank import (
    Candidate,
    LineBank,
    answer_type,
    best_ask_fit,
    eligible,
    norm,
    presupposed,
    rank,
)
from simulator.personas import Persona

_ASKS_WHO_LINE = re.compile(
    r"\bwho(?:'s| is) (?:this|calling|asking)\b|\bwho are you\b|\bwho is this\b|\bwhat(?:'s| is) your name\b|\byour name,? (?:please|again|first)\b|\btell me who you are\b|"
    r"\b(?:need|get|have|want|take) your (?:full )?name\b|\buntil (?:i know|you tell me|you say) (?:who you are|what this is about|who this is)\b|"
    r"\bwhere (?:you're|you are) calling from\b|\band you are\?|你是谁|哪位|贵姓|哪里打来",
    re.I,
)
# A phone number said ("555-0187", "(614) 555-0142", "800 555 0199"), and lines that ask for one
_GAVE_NUMBER = re.compile(r"\(?\b\d{3}\)?[\s.-]?\d{3}[\s.-]\d{4}\b|\b\d{3}-\d{4}\b|\d{3,4}[-\s]?\d{4}")
_ASKS_NUMBER_LINE = re.compile(
    r"\b(?:a|your|the) (?:call-?back |phone )?number\b(?!.{0,20}\b(?:is|was)\b)|\bname and (?:a )?number\b|留个?(?:电话|号码)|电话号码",
    re.I,
)
_GAVE_MESSAGE = re.compile(r"\b(?:have him|ask him to|tell him(?: to)?|let him know)\b|让他|叫他|转告", re.I)
_ASKS_MESSAGE_LINE = re.compile(
    r"\bwhat should i tell him\b|\bleave (?:him )?a message\b|\bwant to leave\b|\bjot (?:something|it|that) down\b|\bgrab a pen\b"
    r"|\bgo slow\b|要我转告什么",
    re.I,
)
_GIVES_NAME = re.compile(
    r"\b(?:this is|it'?s|its|i'?m|im|my name(?:'s| is)?|name'?s)\s+"
    r"(?!(?:calling|sorry|just|not|here|with|from|trying|looking|going|about|a|an|the|so|really|afraid|glad|happy|me|him|her|regarding)\b)[A-Za-z]{2,}"
    # Chinese: "我是小王", "我姓李", "我叫张伟", "这边是…的小王"
    r"|我(?:是|叫|姓)(?!不是|说|想|问|打|来|在|们)[\u3400-\u9fff]|这边是",
    re.I,
)


_ANSWER_POOL = (Intent.answer_question, Intent.explain_hardship)
# Intents that take a stance rather than answer; a plain question a line clearly answers (MiniLM
# cosine between the question and the line's asks at least this) is answered instead.
_STANCES = (Intent.dispute, Intent.ask_proof, Intent.take_message, Intent.counter_offer)
_STANCE_YIELDS_AT = 0.7
_GENDERED_ADDRESS = re.compile(r"\b(?:ma'?am|sir)\b|,\s*(?:lady|mister|miss|young (?:man|lady))\b", re.I)
_SENTENCE = re.compile(r"[^.!?？。\n]+[.!?？。]*")


def _question_part(text: str) -> str:
    """The sentences of a turn that ask something (with "?" or typed without it), else the turn."""
    asked = [m.group().strip() for m in _SENTENCE.finditer(text) if "?" in m.group() or "？" in m.group() or typed_question(m.group())]
    return " ".join(asked) or text
# A question is about a hidden fact when a line telling it matches the question this well (MiniLM
# cosine, question to question) and this much better than any line the debtor may say yet.
_HIDDEN_ASK_FIT = 0.6
_HIDDEN_ASK_MARGIN = 0.1
# Below this the best line's questions are about something else (MiniLM cosine between two
# questions: under 0.4 they share little more than a topic): the debtor dodges instead.
_ANSWER_ASK_FIT = 0.4
# A line not telling the fact just earned is said instead when it answers the question this well
# (and by the margin above better than the fact's lines)
_FACT_YIELDS_AT = 0.6
_DEBT_WORDS = re.compile(
    r"\b(?:debts?|dispute\w*|owe[sd]?|balance|bills?|account|card|loan|payments?|creditor|reference number)\b|\$|\d|"
    r"欠|借款|贷款|逾期|还款|账单|信用卡|额度|分期|网贷|担保",
    re.I,
)


def _said_the_debt(history: list[Turn]) -> bool:
    """The collector has said something about the debt in this call."""
    return any(t.speaker == "agent" and _DEBT_WORDS.search(t.text) for t in history)


def _said_a_name(history: list[Turn]) -> bool:
    """The collector has said a name of theirs in this call ("this is Sam", "its carla")."""
    return any(t.speaker == "agent" and _GIVES_NAME.search(t.text) for t in history)


def choose_lines(bank: LineBank, persona: Persona, decision: Decision, history: list[Turn], *, fill, embed, seed: int) -> list[Candidate]:
    """The bank's lines the debtor may say now, best first (empty: the bank has none left).

    ``fill``: the placeholders of the lines; ``embed``: the sentence embedder's encode (None for a
    language it does not read: shared characters then); ``seed``: this turn's ranking seed."""
    said = {norm(t.text) for t in history if t.speaker != "agent"}
    last_agent = next((t for t in reversed(history) if t.speaker == "agent"), None)
    asked = last_agent is not None and ("?" in last_agent.text or "？" in last_agent.text or typed_question(last_agent.text)) \
        and not tag_only(last_agent.text)
    # what the lines' questions are matched against: the turn's question, without the news or
    # the apology around it ("It's about your Lumen card, I'll keep it short. Is this number
    # the best one for later?")
    question = _question_part(last_agent.text) if asked else (last_agent.text if last_agent else "")
    # Asked something about their life, the debtor answers from everything they could say
    # about it: the line whose questions (asks) best match, whether the bank filed it as a
    # plain answer or as part of the hardship story ("when's payday?" is answered by a line
    # filed under either). Only when no line of the pool tells a fact just earned does the
    # earned fact's own intent win, as before.
    # (with the sentence embedder only: its question-to-question match is what ranks the pool)
    pool = (decision.intent,)
    answers = (*_ANSWER_POOL, Intent.refer_to_attorney) if persona.attorney is not None else _ANSWER_POOL
    if asked and embed is not None and decision.intent in _STANCES and not decision.newly_revealed \
            and not (decision.intent is Intent.counter_offer and answer_type(last_agent.text) == "how_much"):
        # Asked something plain while disputing, taking a message or offering a plan ("what's the
        # best number to reach you?"), a person answers it when they have the answer, then goes
        # on; the stance line would ignore the question. Only a clear match counts.
        direct = [p for intent in answers for p in eligible(bank, intent, revealed=decision.state.revealed, newly_revealed=(), said=said, fill=fill)]
        if direct and best_ask_fit([ln for ln, _ in direct], _question_part(last_agent.text), embed) >= _STANCE_YIELDS_AT:
            return rank(direct, collector_text=_question_part(last_agent.text), topics=decision.topics, embed=embed,
                        seed=seed, use_asks=True)
    if asked and embed is not None and decision.intent in _ANSWER_POOL:
        # a represented debtor's answers include their attorney's name and number
        pool = (*_ANSWER_POOL, Intent.refer_to_attorney) if persona.attorney is not None else _ANSWER_POOL
    pairs = [
        pair for intent in pool
        for pair in eligible(bank, intent, revealed=decision.state.revealed, newly_revealed=decision.newly_revealed, said=said, fill=fill,
                             retell=len(pool) > 1)
    ]
    if decision.newly_revealed and any(ln.reveals in decision.newly_revealed for ln, _ in pairs):
        told = [(ln, t) for ln, t in pairs if ln.reveals in decision.newly_revealed]
        # everything else they may say: facts earned before included (asked for, said again)
        rest = [pair for intent in pool
                for pair in eligible(bank, intent, revealed=decision.state.revealed, newly_revealed=(), said=said, fill=fill, retell=True)
                if pair[0].reveals not in decision.newly_revealed]
        pairs = told
        # Never for what a person says of how they are (a fact earned by a wellbeing question:
        # Walter's "everybody'd be better off if I just went to be with June" is the disclosure
        # a trainee must hear and answer, whichever line fits the words of the question better)
        personal = any(Topic.wellbeing in f.revealed_by for f in persona.hidden_facts if f.id in decision.newly_revealed)
        if asked and embed is not None and len(pool) > 1 and rest and not personal and any(ln.asks for ln, _ in told):
            # The question's topic earned the fact, but its lines may not answer what was asked
            # ("Is there someone you could call today?" earned the login on a slip of paper; "Are
            # you at work right now?" the overtime): when another line answers it clearly and
            # clearly better, that line is said and the fact waits (it stays earned: asked for
            # it, the debtor says it; the trainee's facts are what the lines say)
            fit_told = best_ask_fit([ln for ln, _ in told], question, embed)
            fit_rest = best_ask_fit([ln for ln, _ in rest], question, embed)
            if fit_rest >= _FACT_YIELDS_AT and fit_rest > fit_told + _HIDDEN_ASK_MARGIN:
                pairs = rest
    # A line that reacts to what the collector has not said ("Seventy-eight dollars of that is
    # late fees?" before any fee was named) waits until they have, while another line fits
    collector_said = "\n".join(t.text for t in history if t.speaker == "agent")
    pairs = [(ln, t) for ln, t in pairs if presupposed(ln, collector_said, persona.language)] or pairs
    # "Yes, ma'am" to a collector named Kyle: a line that calls the collector ma'am, sir, miss or
    # lady guesses their gender, which the debtor cannot know; said only when nothing else fits
    pairs = [(ln, t) for ln, t in pairs if not _GENDERED_ADDRESS.search(t)] or pairs
    if decision.intent is not Intent.ask_who_is_calling and _said_a_name(history):
        # Told who is calling, a debtor taking a message or disputing does not ask it again as
        # if unheard ("Tell me who you are and where you're calling from" right after "This is
        # Vince from Cornerstone": flagged in three blind audits); asking is the director's call
        pairs = [(ln, t) for ln, t in pairs if not _ASKS_WHO_LINE.search(t)] or pairs
    collector_said = "\n".join(t.text for t in history if t.speaker == "agent")
    if _GAVE_NUMBER.search(collector_said):
        # Given a call-back number, a third party does not ask for one ("Leave your name and a
        # call-back number" right after "the number is 555-0187": flagged in the held-out 6 audit)
        pairs = [(ln, t) for ln, t in pairs if not _ASKS_NUMBER_LINE.search(t)] or pairs
    if _GAVE_MESSAGE.search(collector_said) or _GAVE_NUMBER.search(collector_said):
        # Told what to pass on, or given the number to pass on, they do not ask what to tell him
        # or offer to take it down again ("I can jot something down for him. Go slow")
        pairs = [(ln, t) for ln, t in pairs if not _ASKS_MESSAGE_LINE.search(t)] or pairs
    if decision.intent is Intent.ask_who_is_calling and not _said_a_name(history):
        # "And your name again?", "you said your name was what?" presuppose a name given
        pairs = [(ln, t) for ln, t in pairs if not re.search(r"\b(?:again|you said|said your)\b|刚才说|再说一(?:遍|下)|又是", t, re.I)] or pairs
    if decision.intent is Intent.ask_who_is_calling and not _said_the_debt(history):
        # "what's your mailing address? I need it for my dispute letter" presupposes the debt
        pairs = [(ln, t) for ln, t in pairs if not _DEBT_WORDS.search(t)] or pairs
    if len(pool) > 1 and not decision.newly_revealed:
        # Asked for something only a fact not yet earned answers ("when do you get paid next?"
        # when the payday is hidden): the question matches that fact's lines' asks better than
        # anything the debtor may say yet, and the best of those would answer something else.
        # Or nothing they may say answers it at all ("what date works for the first one?" to a
        # bank with no dates in its answers): the best match would be about something else.
        hidden = [ln for intent in pool for ln in bank.lines.get(intent, []) if ln.reveals and ln.reveals not in decision.state.revealed]
        best_hidden = best_ask_fit(hidden, question, embed)
        best_here = best_ask_fit([ln for ln, _ in pairs], question, embed)
        if best_here < _ANSWER_ASK_FIT or (best_hidden >= _HIDDEN_ASK_FIT and best_hidden > best_here + _HIDDEN_ASK_MARGIN):
            dodges = eligible(bank, Intent.deflect, revealed=decision.state.revealed, newly_revealed=(), said=said, fill=fill)
            if dodges:
                return rank(dodges, collector_text=last_agent.text, topics=(), embed=embed, seed=seed, use_asks=False)
    if decision.intent is Intent.answer_question and decision.topics and not any(ln.topic in decision.topics for ln, _ in pairs):
        # Asked about something their bank answers only with a fact not yet earned (or has no
        # line on): a person dodges it rather than answering something else.
        dodges = eligible(bank, Intent.deflect, revealed=decision.state.revealed, newly_revealed=(), said=said, fill=fill)
        pairs = dodges or pairs
    return rank(pairs, collector_text=question, topics=decision.topics, embed=embed, seed=seed, use_asks=asked)
