"""The director: a deterministic state machine that decides what the debtor does next.

persona + state + the agent's TurnAnalysis -> new state and the debtor's next intent (and the
call's outcome when it ends). Same inputs and seed, same result. The actor (an LM) only renders
the chosen intent as a line of speech.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from core.analysis.amounts import find_date
from core.analysis.analyzer import split_sentences, tag_only, typed_question
from core.analysis.identifiers import identifiers_asked
from core.analysis.script import to_simplified
from core.analysis.types import Topic, TurnAnalysis
from simulator.director_data import SIG, DirectorSignals, Mood, director_data, director_signals
from simulator.intents import (
    ENDING_INTENTS,
    WARM_TEMPERAMENTS,
    AgentSignal,
    Intent,
    Meter,
    Outcome,
    Temperament,
)
from simulator.personas import Persona

# The numbers the rules use and the signals each persona-level signal stands for are data, in
# simulator/data/director.yaml (a persona's `director:` section may override the numbers).


# "is this Maria", "are you Maria", "speaking with Maria", "Maria there": asking for someone.
_ASKS_FOR = re.compile(
    r"\b(?:is (?:this|that|it)|are you|speak(?:ing)? (?:to|with)|talk(?:ing)? (?:to|with)|looking for|trying to reach|"
    r"is \w+(?: \w+)? (?:there|home|available|in))\b",
    re.I,
)
# A short sentence naming a detail ("Date of birth.", "zip?") asks for it, question mark or not,
# and so does a request ("last four of your social please", "need your zip to verify").
_SHORT_SENTENCE_WORDS = 5
_REQUEST = re.compile(
    r"\b(?:please|pls|plz|verify|confirm|give me|i need|need your|read me|tell me|provide)\b|"
    r"请|麻烦|报一下|说一下|提供|核对|核实|确认一下",
    re.I,
)


_GOODBYE_END = re.compile(
    r"\b(?:good ?bye+|bye+(?: now| bye+)?|take care|take it easy|later|ttyl|cya|see ya|good ?(?:night|nite)|have a (?:good|great|nice) (?:rest of (?:your|ur|the) )?(?:day|one|night|nite|evening|week|weekend)|"
    r"enjoy (?:your|the) (?:day|evening|night|weekend|afternoon))\W*$|"
    r"(?:再见|拜拜|拜了|先这样吧?|先这样哈|就这样吧|挂了啊?|回头(?:再)?聊|回头联系|有事再联系|再联系|(?:祝你|祝您).{0,8}(?:愉快|顺利|好))\W*$",
    re.I,
)


# "请问是李强先生吗", "你是李强吧", "找一下李强", "李强在家吗": asking for someone, in Chinese. The
# name must be what is asked: "刘师傅，您最近有没有想过伤害自己？" names him but asks something else.
_ZH_TITLES = "先生|女士|小姐|师傅|同学|老师|大哥|大姐"


def _asks_for_zh(text: str, holder: str) -> bool:
    """The turn asks for ``holder`` by name: the full name, or the surname with a title."""
    name = rf"(?:{re.escape(holder)}(?:{_ZH_TITLES})?|{re.escape(holder[:1])}(?:{_ZH_TITLES}))"
    return bool(
        re.search(rf"{name}(?:本人)?(?:在(?:家)?)?\s*(?:是吧|是吗|是不是|对吧|吗|嘛|吧|么|在不在|[？?]|$)", text)
        or re.search(rf"(?:找|是|请问)(?:一下)?{name}", text)
    )


def _ends_on_goodbye(text: str) -> bool:
    """The turn's last words are a goodbye ("call us back when you can ok? bye"): a question
    before it ("okay?") does not keep the call open."""
    return bool(_GOODBYE_END.search(text.strip()))


_WHEN = re.compile(r"\bwhen(?:'s|s| is| do| does| will| are)?\b|什么时候|哪天|哪一天|几号|啥时候", re.I)
_CJK_CHAR = re.compile(r"[\u3400-\u9fff]")
# A Chinese turn typed without its question mark still asks: a question word, or "说下"/"报一下"
_ZH_ASKS = re.compile(r"多少|什么|哪(?:里|儿|个|天|位)?|几[号个位天]|吗|呢|怎么|是不是|有没有|[说报讲](?:一)?下")
# A Chinese sentence this short ("出生日期？", "邮编多少") stands for a question, as five English
# words do; Chinese has no spaces, so it counts characters.
_SHORT_SENTENCE_CHARS_ZH = 8


def _asks(a: TurnAnalysis) -> bool:
    """The turn asks something: a question, or a short sentence that stands for one."""
    if a.question or typed_question(a.text) or _REQUEST.search(a.text) or _ZH_ASKS.search(a.text):
        return True
    for s in re.split(r"[.!?。！？；\n]+", a.text):
        cjk = len(_CJK_CHAR.findall(s))
        if cjk and 0 < cjk <= _SHORT_SENTENCE_CHARS_ZH or not cjk and 0 < len(s.split()) <= _SHORT_SENTENCE_WORDS:
            return True
    return False


# A caller asking a third party to pass something on ("could you pass along my number?", "can u
# take a message", "could you read that back to me?").
_MESSAGE_REQUEST = re.compile(
    r"\b(?:pass (?:it |that |this |my \w+ )?(?:along|on)|take (?:a|down a) (?:message|number)|leave (?:him |her )?a message"
    r"|give (?:him|her) (?:my|the|this|a) (?:number|message)|have (?:him|her) (?:call|give)|ask (?:him|her) to call"
    r"|let (?:him|her) know|tell (?:him|her) (?:to|that|i)|read (?:that|it) back)\b|转告|转达|留个?言|带(?:句|个)?话|回个?电话|让他回电",
    re.I,
)
# What a debtor who has promised no longer does (Director.decide: the promise stands).
_WALKS_BACK = frozenset({Intent.stall, Intent.deflect, Intent.counter_offer})
# Debtors who answer an offense with a complaint rather than a hang-up.
COMPLAINERS = frozenset({Temperament.hostile, Temperament.disputing, Temperament.represented, Temperament.wrong_party})
HARDSHIP_TOPICS = {Topic.situation, Topic.employment, Topic.health, Topic.household, Topic.expenses, Topic.reason_unpaid, Topic.wellbeing}


@dataclass(frozen=True)
class Promise:
    amount: float
    monthly: bool
    due: str  # ISO date of the first payment
    plan: str  # as agreed, in words
    date_said: str | None = None  # the first payment's date as said ("the 15th", "Friday")


@dataclass(frozen=True)
class DebtorState:
    """Everything the director knows about the call from the debtor's side."""

    meters: dict[str, float]
    agent_turns: int = 0
    intent: Intent = Intent.answer
    revealed: tuple[str, ...] = ()
    outcome: Outcome | None = None
    promise: Promise | None = None
    refused: tuple[float, ...] = ()  # amounts offered that they said no to
    identity_confirmed: bool = False
    disclosed_to_third_party: bool = False
    referred_to_attorney: bool = False
    stop_requested: bool = False
    help_offered: bool = False
    threats: int = 0
    abuse: int = 0
    pressure: int = 0
    offenses: int = 0  # agent turns with a threat or an insult (SEVERE/CLEAR/MILD_OFFENSES)
    leaving: bool = False  # said they will complain or go after an offense: the next turn ends the call
    intent_history: tuple[Intent, ...] = ()
    ended: bool = False
    mood_words: Mood | None = field(default=None, compare=False, repr=False)  # the persona's; None: shipped

    @property
    def trust(self) -> float:
        return self.meters[Meter.trust.value]

    @property
    def anger(self) -> float:
        return self.meters[Meter.anger.value]

    @property
    def distress(self) -> float:
        return self.meters[Meter.distress.value]

    def mood(self) -> str:
        """A short mood description for the stage direction and the UI (director.yaml's mood bands)."""
        words = self.mood_words if self.mood_words is not None else director_data().tunables.mood
        return words.describe(self.anger, self.distress, self.trust)

    def to_dict(self) -> dict:
        return {
            "meters": {k: round(v, 1) for k, v in self.meters.items()},
            "agent_turns": self.agent_turns,
            "intent": self.intent.value,
            "revealed": list(self.revealed),
            "outcome": self.outcome.value if self.outcome else None,
            "promise": self.promise.__dict__ if self.promise else None,
            "identity_confirmed": self.identity_confirmed,
            "disclosed_to_third_party": self.disclosed_to_third_party,
            "mood": self.mood(),
        }


@dataclass(frozen=True)
class Decision:
    """The director's output for one debtor turn."""

    intent: Intent
    state: DebtorState
    newly_revealed: tuple[str, ...] = ()
    reason: str = ""
    detail: dict = field(default_factory=dict)  # e.g. amount/date for promise or counter-offer
    topics: tuple[Topic, ...] = ()  # what the collector's turn asked about (the actor answers it)


def initial_state(persona: Persona) -> DebtorState:
    return DebtorState(meters={m.value: float(v) for m, v in persona.meters.items()}, mood_words=persona.director.mood)


def _clamp(x: float) -> float:
    return max(0.0, min(100.0, x))


def _present(analysis: TurnAnalysis, signals: DirectorSignals) -> set[AgentSignal]:
    sigs = analysis.signals
    present = {s for s, names in signals.agent_signals.items() if sigs.intersection(names)}
    if analysis.question == "open":
        present.add(AgentSignal.open_question)
    if analysis.offer is not None or SIG.payment_offer in sigs:
        present.add(AgentSignal.clear_offer)
    if SIG.debt_mention in sigs and (analysis.context.third_party or not analysis.context.identity_verified):
        present.add(AgentSignal.debt_disclosure)
    return present


def _apply_meters(persona: Persona, meters: dict[str, float], present: set[AgentSignal]) -> dict[str, float]:
    out = dict(meters)
    # In AgentSignal's order, never the set's: meters clamp at 0 and 100, so the order of two
    # signals can change the result, and a set of enum members iterates in an order that
    # changes with the process's string-hash seed (the same call, seed and turn gave trust 95
    # in one process and 96 in another).
    for sig in AgentSignal:
        if sig not in present:
            continue
        s = persona.sensitivity(sig)
        out["trust"] = _clamp(out["trust"] + s.trust)
        out["anger"] = _clamp(out["anger"] + s.anger)
        out["distress"] = _clamp(out["distress"] + s.distress)
    return out


def _reveal(persona: Persona, state: DebtorState, analysis: TurnAnalysis) -> tuple[str, ...]:
    """Facts this question earns: topic matches and trust is high enough; one per turn."""
    topics = set(analysis.question_topics)
    if not topics:
        return ()
    for fact in persona.hidden_facts:
        if fact.id in state.revealed:
            continue
        if topics.intersection(fact.revealed_by) and state.trust >= fact.min_trust:
            return (fact.id,)
    return ()


def _first_payment_date(persona: Persona, today: date, days: int | None) -> date:
    """The date the agent named, else the date of the debtor's own preferred plan ("first payment
    on her next payday (the 15th)"), else the soonest the debtor said they could start."""
    if days is None or days < 0:
        preferred = preferred_start(persona, today)
        days = preferred[1] if preferred else persona.payment_capacity.first_payment_within_days
    return today + timedelta(days=days)


def preferred_start(persona: Persona, today: date) -> tuple[str, int] | None:
    """The first payment date the persona's preferred plan names, as said and in days from today
    ("the 15th"; "next payday" alone names no day and is passed over)."""
    text = persona.payment_capacity.preferred_plan or ""
    for _ in range(4):
        found = find_date(text, today)
        if found is None:
            return None
        said, days = found
        if days is not None and days >= 0:
            return said, days
        text = text[text.find(said) + len(said):] if said in text else ""
    return None


# What a rule decides: the intent, the call's outcome (None: not decided), why, details for the
# actor (an amount, a date), and the state it leaves.
Choice = tuple[Intent, Outcome | None, str, dict, DebtorState]


class Director:
    """Decides the debtor's next intent. Pure apart from the seeded RNG it is given."""

    def __init__(self, persona: Persona, *, seed: int = 0, today: date | None = None):
        self.persona = persona
        self.seed = seed
        self.today = today or date.today()
        self.signals = director_signals()
        self.tune = persona.director  # director.yaml's tunables with the persona's overrides

    def opening(self, state: DebtorState) -> Decision:
        return Decision(Intent.answer, replace(state, intent=Intent.answer, intent_history=(Intent.answer,)), reason="picks up the phone")

    # The main entry point -------------------------------------------------------------
    def step(self, state: DebtorState, analysis: TurnAnalysis) -> Decision:
        p = self.persona
        if p.language == "zh":
            # the analysis quotes what was typed; the rules below read it in Simplified characters
            analysis = replace(analysis, text=to_simplified(analysis.text))
        rng = random.Random(self.seed * 1_000_003 + state.agent_turns)
        present = _present(analysis, self.signals)
        meters = _apply_meters(p, state.meters, present)
        turns = state.agent_turns + 1
        st = replace(
            state,
            meters=meters,
            agent_turns=turns,
            threats=state.threats + (AgentSignal.threat in present),
            abuse=state.abuse + (AgentSignal.abuse in present),
            pressure=state.pressure + (AgentSignal.pressure in present),
            offenses=state.offenses + bool(analysis.signals & self.signals.offenses.any),
            help_offered=state.help_offered or (SIG.support_referral in analysis.signals),
        )
        new = _reveal(p, st, analysis)
        if new:
            st = replace(st, revealed=st.revealed + new)
        intent, outcome, reason, detail, st = self._choose(st, analysis, present, bool(new))
        if st.promise is not None and intent in _WALKS_BACK:
            # Having promised, they do not stall, dodge or bargain as if nothing was agreed ("put me
            # down for $200 on January 1" then "we'll talk numbers later"): asked something else
            # ("what's the best time to catch you?"), they answer it; else the promise stands.
            if (analysis.question or typed_question(analysis.text)) and set(analysis.question_topics) - {Topic.payment_ability}:
                intent, reason, detail = Intent.answer_question, f"{reason}; having promised, answers", {}
            else:
                intent, reason, detail = Intent.promise_to_pay, f"{reason}; the promise they made stands", self._promised(st.promise)
        # Avoid a broken record: the same non-terminal intent repeated max_repeats times running
        # becomes a neighbouring one, so the debtor keeps moving like a person would.
        rep = self.tune.repetition
        recent = st.intent_history[-rep.max_repeats:]
        if intent not in ENDING_INTENTS and not st.ended and len(recent) == rep.max_repeats and set(recent) == {intent}:
            alt = rep.alternatives.get(intent)
            if alt:
                intent = rng.choice(alt)
                reason += f"; varied to {intent.value} after repeating"
        ended = intent in ENDING_INTENTS or st.ended  # a complaint that ends the call marks the state
        st = replace(
            st,
            intent=intent,
            outcome=outcome if outcome is not None else st.outcome,
            intent_history=st.intent_history + (intent,),
            ended=ended,
        )
        return Decision(intent, st, new, reason, detail, tuple(analysis.question_topics))

    # The rules, in order of precedence: the first step that decides, decides. --------------
    def _choose(self, st: DebtorState, a: TurnAnalysis, present: set[AgentSignal], revealed: bool) -> Choice:
        steps = (
            self._call_ends,  # 1-2. offenses, the agent's goodbye, anger and patience
            self._roles,  # 3. a wrong party or a represented debtor
            self._identity,  # 4. character tests and identity
            self._person_first,  # 5. a debtor in crisis; a caller who did not say who they are
            self._disputes,  # 6. a disputing debtor
            self._money,  # 7. money on the table
            self._pressured,  # 8. pressure and threats
            self._conversation,  # 9. questions and listening
        )
        for rule in steps:
            choice = rule(st, a, present, revealed)
            if choice is not None:
                return choice
        return self._by_temperament(st)  # 10.

    def _call_ends(self, st: DebtorState, a: TurnAnalysis, present: set[AgentSignal], revealed: bool) -> Choice | None:
        th, sig = self.persona.thresholds, a.signals
        # 1. Threats and insults end the call, even one said on the way out.
        offense = self._answer_offense(st, sig)
        if offense:
            return offense
        # 2. The agent ends the call (a recap of the plan the debtor agreed to may close it).
        if SIG.close in sig and (not a.question or _ends_on_goodbye(a.text)) and (a.offer is None or (SIG.recap in sig and st.promise is not None)):
            if a.offer is not None:
                st = self._recapped(st, a)
            outcome = st.outcome or self._outcome_on_close(st)
            return Intent.goodbye, outcome, "agent closed the call", {}, st
        # Anger boils over into a complaint or a hang-up.
        hostile_turn = bool(present & {AgentSignal.threat, AgentSignal.abuse})
        if hostile_turn and st.anger >= th.complaint_anger:
            return Intent.threaten_complaint, Outcome.complaint, "threat or abuse pushed anger past the complaint threshold", {}, replace(st, ended=True)
        if st.anger >= th.hang_up_anger:
            return Intent.hang_up, Outcome.hang_up, "anger reached the hang-up threshold", {}, st
        # Out of time, but a plan they can keep is on the table: they hear it out first (a busy
        # debtor takes "the full $1,120.75 this Friday?" before going)
        on_table = a.offer is not None and self.persona.payment_capacity.fits(a.offer.amount, monthly=a.offer.monthly)
        if st.agent_turns > th.patience_turns and not on_table:
            if "follow_up" in sig or Topic.contact in a.question_topics:
                # Out of time, and asked when to call back: a debtor who wants the call-back says
                # when first (the question earned the fact); then, on the next turn, goes. Offered
                # one ("shall I call you back later?"), they take it and go.
                if revealed and Topic.contact in a.question_topics and _WHEN.search(a.text):
                    fact = next(f for f in self.persona.hidden_facts if f.id == st.revealed[-1])
                    if Topic.contact in fact.revealed_by:
                        return Intent.answer_question, None, "out of time: says when to call back, then goes", {"fact": fact.id}, st
                # out of time, and the caller offers to call back later: they take it and go
                return Intent.goodbye, st.outcome or Outcome.ended_by_agent, "out of time: takes the offered call-back", {}, st
            if any(Topic.contact in f.revealed_by for f in self.persona.hidden_facts if f.id in st.revealed):
                # they have said when to call back: out of time, they go, but as someone expecting
                # the call ("Gotta go."), not slamming the phone down ("That's it, I'm done.")
                return Intent.goodbye, st.outcome or Outcome.hang_up, "out of time, a call-back set: goes", {}, st
            return Intent.hang_up, st.outcome or Outcome.hang_up, "ran out of patience", {}, st
        return None

    def _roles(self, st: DebtorState, a: TurnAnalysis, present: set[AgentSignal], revealed: bool) -> Choice | None:
        """3. Roles that change the whole call."""
        if self.persona.temperament is Temperament.wrong_party:
            return self._wrong_party(st, a, present)
        if self.persona.temperament is Temperament.represented:
            return self._represented(st, a, present)
        return None

    def _identity(self, st: DebtorState, a: TurnAnalysis, present: set[AgentSignal], revealed: bool) -> Choice | None:
        """4. Character tests and identity: asked who they are, or for a detail (date of birth,
        address, zip, last four), they answer; even a debtor in distress. A detail is answered
        whenever it is asked (a mailing address for the letter, after verification too), from the
        persona's facts by the actor (detail ``identifiers``); too angry, they refuse."""
        sig = a.signals
        if SIG.break_character in sig:
            return Intent.deflect, None, "ignores an attempt to break character", {}, st
        if SIG.safety_check in sig or SIG.support_referral in sig:
            # The person first: "Mr. Pryor, are you having any thoughts of ending your life?" is
            # about their safety, never an identity check (rule 5 answers it).
            return None
        kinds = identifiers_asked(a.text) if (SIG.identifier_request in sig or _asks(a)) else ()
        asked_detail = bool(kinds) or (SIG.identifier_request in sig and not a.context.identity_verified)
        asked_name = AgentSignal.identity_check in present or self._asks_for_debtor(a.text)
        if (asked_name and not st.identity_confirmed) or asked_detail:
            if st.agent_turns == 1 and AgentSignal.self_identification not in present and st.trust < self.tune.identity.ask_who_below_trust:
                return Intent.ask_who_is_calling, None, "wants to know who is calling first", {}, st
            if kinds:
                # too angry, or wary (not a warm temperament) of a caller who has not said who they are
                unknown_caller = not (a.context.self_identified or AgentSignal.self_identification in present)
                wary = self.persona.temperament not in WARM_TEMPERAMENTS and unknown_caller
                refuse = st.anger >= self.tune.identity.refuse_detail_at_anger or wary
                detail = {"identifiers": list(kinds), "confirm_name": not st.identity_confirmed, "refuse": refuse,
                          "caller_known": not unknown_caller or a.context.debt_disclosed or a.context.mini_miranda_given}
                if refuse:
                    return Intent.confirm_identity, None, "too angry to give the detail asked for", detail, st
                return Intent.confirm_identity, None, "gives the detail asked for", detail, replace(st, identity_confirmed=True)
            return Intent.confirm_identity, None, "confirms who they are", {}, replace(st, identity_confirmed=True)
        # Once they have said who they are, only a turn that asks for them by name again gets it
        # said again: "I'm sorry about your wife, Mr. Pryor. How are you doing, really?" uses the
        # name to ask something else.
        # (_asks_for_zh wants the Chinese name asked as a question already)
        asked_again = any(self._asks_for_debtor(x) and ("?" in x or typed_question(x) or self.persona.language == "zh")
                          for x in split_sentences(a.text, self.persona.language))
        if asked_again and not a.question_topics and not self.persona.third_party:
            return Intent.confirm_identity, None, "asked again who they are: says so again", {}, st
        return None

    def _asks_for_debtor(self, text: str) -> bool:
        """A turn that asks for the debtor by name, as trainees type it: "are you dana?", "Maria
        Delgado?", "hey is greg there" (the catalogue's identity_check pattern wants capitals)."""
        if self.persona.language == "zh":
            return _asks_for_zh(text, self.persona.account_holder)
        words = re.findall(r"[a-z']+", text.lower())
        names = {n.lower() for n in self.persona.account_holder.split() if len(n) > 1}
        if not names.intersection(words):
            return False
        if len(words) <= 4 and "?" in text:
            return True
        # The name is what is asked: "is this Greg Halvorsen?", "speaking with maria", "is greg
        # there"; not "Mr. Pryor, are you having any thoughts of ...?", which only addresses him.
        name = "|".join(re.escape(n) for n in names)
        title = r"(?:(?:mr|mrs|ms|miss|dr)\.?\s+)?"
        if re.search(rf"{_ASKS_FOR.pattern}\s+{title}(?:\w+\s+)?(?:{name})\b", text, re.I) \
                or re.search(rf"\bis\s+{title}(?:{name})(?:\s+\w+)?\s+(?:there|home|available|in|around)\b", text, re.I):
            return True
        # "calling for Greg Halvorsen, is that you?"
        if re.search(rf"\b(?:{name})\b[\w\s.,'-]{{0,20}}\b(?:is (?:that|this) you|that you|you there)\s*\?", text, re.I):
            return True
        # "Dana Whitfield? It's Vince from Clearwater.", "Hi, Mr. Pryor?": the name asked as a
        # question; "Is everything alright, Mr. Pryor?" asks something else and adds the name
        start = r"(?:^|(?<!\bmr)(?<!\bmrs)(?<!\bms)(?<!\bdr)[.!?]\s+)"  # a sentence's start, not "Mr. "
        return bool(re.search(rf"{start}(?:(?:hi|hello|hey|good \w+)\W+)?{title}(?:{name})\b[\w\s.'-]{{0,20}}\?", text, re.I))

    def _person_first(self, st: DebtorState, a: TurnAnalysis, present: set[AgentSignal], revealed: bool) -> Choice | None:
        """5. A debtor in crisis: the person first (their own words, or the persona's distress)."""
        crisis = st.distress >= self.tune.crisis.at_distress or a.context.distress_disclosed
        if self.persona.temperament is Temperament.vulnerable or crisis:
            r = self._vulnerable(st, a, present)
            if r:
                return r
        if st.agent_turns == 1 and AgentSignal.self_identification not in present and not a.question:
            return Intent.ask_who_is_calling, None, "caller did not say who they are", {}, st
        return None

    def _disputes(self, st: DebtorState, a: TurnAnalysis, present: set[AgentSignal], revealed: bool) -> Choice | None:
        """6. Disputes come before money for a disputing debtor, until proof is offered (trust earned)."""
        if self.persona.temperament is not Temperament.disputing or st.trust >= self.persona.thresholds.agree_trust:
            return None
        if SIG.rights_statement in a.signals or SIG.legal_consequence in a.signals:
            return Intent.ask_proof, Outcome.dispute, "told of their rights: wants it in writing", {}, st
        if a.question_topics and set(a.question_topics) <= {Topic.contact, Topic.representation, Topic.wellbeing}:
            return Intent.answer_question, Outcome.dispute, "answers a plain question, still disputing", {}, st
        intent = Intent.dispute if st.intent != Intent.dispute else Intent.ask_proof
        return intent, Outcome.dispute, "disputes the debt until proof is offered", {}, st

    def _money(self, st: DebtorState, a: TurnAnalysis, present: set[AgentSignal], revealed: bool) -> Choice | None:
        """7. Money on the table."""
        th = self.persona.thresholds
        if a.offer is not None:
            return self._consider_offer(st, a)
        if Topic.payment_ability not in a.question_topics:
            return None
        if revealed and _WHEN.search(a.text):  # "When's your next payday?" earned the payday: they say it (rule 9)
            return None
        if st.trust >= th.agree_trust - self.tune.money.capacity_question_margin and st.agent_turns >= th.min_turns_before_agreement:
            return self._counter(st, "asked what they could pay")
        if self.persona.temperament is Temperament.evasive:
            return Intent.stall, None, "asked to commit, stalls", {}, st
        return Intent.deflect, None, "not ready to talk numbers", {}, st

    def _pressured(self, st: DebtorState, a: TurnAnalysis, present: set[AgentSignal], revealed: bool) -> Choice | None:
        """8. Pressure and threats."""
        if not present & {AgentSignal.threat, AgentSignal.abuse, AgentSignal.pressure}:
            return None
        temp, tune = self.persona.temperament, self.tune.pressure
        if a.signals & frozenset(self.signals.offenses.mild):
            return Intent.threaten_hang_up, None, "a first threat: warns that the next one ends the call", {}, st
        if st.anger >= self.persona.thresholds.hang_up_anger - tune.warn_margin:
            return Intent.threaten_hang_up, None, "pushed close to hanging up", {}, st
        if temp is Temperament.distressed and st.distress >= tune.despair_at_distress:
            return Intent.express_despair, None, "pressure overwhelms them", {}, st
        if temp is Temperament.evasive:
            return Intent.stall, None, "pressure makes them stall", {}, st
        return (Intent.vent if st.anger >= tune.vent_at_anger else Intent.refuse), None, "reacts to pressure", {}, st

    def _conversation(self, st: DebtorState, a: TurnAnalysis, present: set[AgentSignal], revealed: bool) -> Choice | None:
        """9. Questions and listening."""
        p, th, tune = self.persona, self.persona.thresholds, self.tune.conversation
        temp = p.temperament
        if revealed:
            fact = next(f for f in p.hidden_facts if f.id == st.revealed[-1])
            intent = Intent.explain_hardship if set(fact.revealed_by) & HARDSHIP_TOPICS else Intent.answer_question
            return intent, None, f"the question earned the fact '{fact.id}'", {"fact": fact.id}, st
        if (a.question or typed_question(a.text)) and not tag_only(a.text):
            if AgentSignal.empathy in present and st.distress >= tune.open_up_at_distress:
                return Intent.explain_hardship, None, "empathy invites them to open up", {}, st
            if temp is Temperament.evasive and st.trust < th.agree_trust:
                return Intent.stall, None, "answers vaguely", {}, st
            if temp is Temperament.hostile and st.anger >= tune.hostile_closed_at_anger:
                return Intent.deflect, None, "won't answer while angry", {}, st
            return Intent.answer_question, None, "answers the question", {}, st
        if SIG.debt_mention in a.signals and temp is Temperament.hostile and st.anger >= tune.hostile_closed_at_anger:
            return Intent.vent, None, "the balance sets them off", {}, st
        if SIG.mini_miranda in a.signals and AgentSignal.empathy not in present:
            return Intent.acknowledge, None, "takes in the mini-Miranda", {}, st
        if SIG.debt_mention in a.signals and temp is Temperament.cooperative:
            return Intent.explain_hardship, None, "told what they owe, says why it slipped", {}, st
        if AgentSignal.empathy in present:
            if st.distress >= tune.explain_at_distress:
                return Intent.explain_hardship, None, "empathy lets them explain", {}, st
            if st.trust >= th.agree_trust and st.agent_turns >= th.min_turns_before_agreement:
                return self._counter(st, "feels understood and suggests a plan")
        return None

    def _by_temperament(self, st: DebtorState) -> Choice:
        """10. Default behaviour by temperament."""
        hostile = Intent.vent if st.anger >= self.tune.conversation.hostile_vent_at_anger else Intent.deflect
        default = {
            # nothing was asked: a cooperative debtor takes in what was said
            Temperament.cooperative: Intent.acknowledge,
            Temperament.hostile: hostile,
            Temperament.distressed: Intent.explain_hardship,
            Temperament.evasive: Intent.stall,
            Temperament.disputing: Intent.ask_proof,
            Temperament.vulnerable: Intent.explain_hardship,
            Temperament.represented: Intent.refer_to_attorney,
        }[self.persona.temperament]
        return default, None, "default for temperament", {}, st

    # --- helpers --------------------------------------------------------------------
    def _answer_offense(self, st: DebtorState, sig: frozenset[str]) -> Choice | None:
        """After a threat or an insult: say they will complain (or go), then hang up on the next
        turn, whatever it says. None when the turn is no such offense, or a first mild one (the
        pressure branch warns)."""
        if st.leaving:
            return Intent.hang_up, st.outcome or Outcome.hang_up, "said they would end the call after an offense", {}, replace(st, ended=True)
        offenses = self.signals.offenses
        if not sig & offenses.any:
            return None
        if not sig & offenses.at_once and st.offenses < self.tune.offenses.mild_to_leave:
            return None
        st = replace(st, leaving=True)
        temp = self.persona.temperament
        if temp in COMPLAINERS or SIG.abuse in sig or st.anger >= self.persona.thresholds.complaint_anger:
            return Intent.threaten_complaint, Outcome.complaint, "a threat or an insult: will complain, then go", {}, st
        return Intent.threaten_hang_up, Outcome.hang_up, "a threat or an insult: is going", {}, st

    def _recapped(self, st: DebtorState, a: TurnAnalysis) -> DebtorState:
        """The plan the agent recapped becomes the promise, when it is within what they can pay."""
        offer = a.offer
        if offer is None or not self.persona.payment_capacity.fits(offer.amount, monthly=offer.monthly):
            return st
        return replace(st, promise=self._promise(offer))

    def _promise(self, offer) -> Promise:
        due = _first_payment_date(self.persona, self.today, offer.days_from_now)
        if self.persona.language == "zh":  # the outcome a Chinese scorecard shows
            per = "每月" if offer.monthly else ""
            said = f"{per}{offer.amount:,.2f}元，首期 {due.month}月{due.day}日"
        else:
            per = " a month" if offer.monthly else ""
            said = f"${offer.amount:,.2f}{per}, first payment {due.isoformat()}"
        date_said = offer.date_text if offer.days_from_now is not None else (preferred_start(self.persona, self.today) or (None,))[0]
        return Promise(offer.amount, offer.monthly, due.isoformat(), said, date_said)

    @staticmethod
    def _promised(promise: Promise) -> dict:
        """The actor's details for a line that says the promise."""
        return {"amount": promise.amount, "monthly": promise.monthly, "date": promise.due, "plan": promise.plan,
                "date_said": promise.date_said}

    def _misread(self, promise: Promise | None, offer) -> tuple[str, str | None] | None:
        """What a recap reads back wrong against the debtor's promise: ``("amount", None)`` for
        more than they said, ``("date", "the 25th")`` for a first payment sooner, or on another
        day than one they named; None when it matches, asks less, or moves a date nobody named
        (agreed as recapped)."""
        if promise is None:
            return None
        if offer.amount > promise.amount + 0.005:
            return "amount", None  # the actor says the amount read back (``heard_amount``)
        if offer.days_from_now is not None and offer.date_text:
            due, promised = _first_payment_date(self.persona, self.today, offer.days_from_now), date.fromisoformat(promise.due)
            # sooner than they can; or another day than the one they named ("the 5th" for "the 15th")
            if due < promised or (due != promised and promise.date_said):
                return "date", offer.date_text
        return None

    def _outcome_on_close(self, st: DebtorState) -> Outcome:
        if st.promise:
            return Outcome.promise_to_pay
        return Outcome.ended_by_agent

    def _counter(self, st: DebtorState, reason: str) -> Choice:
        cap = self.persona.payment_capacity
        amount = cap.monthly_max if cap.monthly_max > 0 else cap.lump_sum_max
        detail = {"amount": amount, "monthly": cap.monthly_max > 0, "plan": cap.preferred_plan}
        return Intent.counter_offer, None, reason, detail, st

    def _consider_offer(self, st: DebtorState, a: TurnAnalysis) -> Choice:
        p, th, tune = self.persona, self.persona.thresholds, self.tune.money
        offer = a.offer
        assert offer is not None
        fits = p.payment_capacity.fits(offer.amount, monthly=offer.monthly)
        early = st.agent_turns < th.min_turns_before_agreement
        # A recap of a plan within their means, once they have agreed to pay (or offered this
        # amount themselves), is agreed as recapped: the recorded promise is what was read back.
        # The plan they promised, said back in other words ("So $175 a month starting the 5th."), is
        # a recap too.
        restated = st.promise is not None and abs(offer.amount - st.promise.amount) < 0.005 and offer.monthly == st.promise.monthly
        agreed = (SIG.recap in a.signals or restated) and (st.promise is not None or st.intent is Intent.counter_offer)
        fix = self._misread(st.promise, offer) if agreed else None
        if fix is not None:  # read back for more, or sooner, than they promised: they say so
            kind, heard = fix
            detail = {**self._promised(st.promise), "correct": kind, "heard": heard,
                      "heard_amount": offer.amount, "heard_monthly": offer.monthly}
            return Intent.promise_to_pay, Outcome.promise_to_pay, f"corrects the recap's {kind}", detail, st
        said_no = any(abs(offer.amount - x) < 0.005 for x in st.refused) and st.intent is Intent.refuse
        if said_no and not agreed and AgentSignal.empathy not in a.signals:
            # "Not a chance." and then, asked the same again with nothing new, "Put me down for it":
            # a person who just said no to this says no again (flagged in the held-out 9 audit)
            return Intent.refuse, Outcome.refusal, "just said no to this offer, and nothing changed", {}, st
        if fits and (agreed or (not early and st.trust >= th.agree_trust)):
            promise = self._promise(offer)
            detail = {"amount": offer.amount, "monthly": offer.monthly, "date": promise.due, "plan": promise.plan,
                      "date_said": promise.date_said}
            reason = "agrees to the plan as recapped" if agreed else "offer fits and trust is high enough"
            return Intent.promise_to_pay, Outcome.promise_to_pay, reason, detail, replace(st, promise=promise)
        if p.temperament is Temperament.evasive and fits:
            return Intent.stall, None, "offer fits but they stall without trust", {}, st
        if not fits and st.trust >= th.agree_trust - tune.counter_offer_margin:
            return self._counter(st, "offer is beyond what they can pay")
        if p.temperament is Temperament.hostile or st.anger >= tune.refuse_at_anger:
            return Intent.refuse, Outcome.refusal, "refuses while angry or distrustful", {}, replace(st, refused=st.refused + (offer.amount,))
        if early or st.trust < th.agree_trust:
            return Intent.deflect, None, "not ready to commit yet", {}, st
        return self._counter(st, "offer is beyond what they can pay")

    def _wrong_party(self, st: DebtorState, a: TurnAnalysis, present: set[AgentSignal]) -> Choice:
        # The person on the line is not the debtor: never confirms the debt.
        if SIG.debt_mention in a.signals:
            hurt = self.tune.wrong_party
            st = replace(
                st,
                disclosed_to_third_party=True,
                meters={
                    **st.meters,
                    "anger": _clamp(st.anger + hurt.disclosure_anger),
                    "trust": _clamp(st.trust + hurt.disclosure_trust),
                },
            )
            if st.anger >= self.persona.thresholds.complaint_anger:
                return Intent.threaten_complaint, Outcome.complaint, "debt disclosed to a third party", {}, st
            return Intent.vent, None, "upset that a stranger discusses her son's affairs", {}, st
        if AgentSignal.identity_check in present or AgentSignal.self_identification in present:
            return Intent.take_message, Outcome.message_taken, "not the account holder: offers to take a message", {}, st
        known = a.context.self_identified or AgentSignal.self_identification in present
        if _MESSAGE_REQUEST.search(a.text):
            return Intent.take_message, Outcome.message_taken, "asked to pass on a message or a number", {}, st
        # (English only: a Chinese bank's answer lines carry no `asks` to match a question with yet)
        if known and self.persona.language == "en" and (a.question or typed_question(a.text)) and not tag_only(a.text):
            # "does he still live in pennsylvania?", "when's a good time to reach him?": she answers
            # what is hers to say, or dodges (the line choice), not offer to take a message again
            return Intent.answer_question, None, "a question about her son: answers what is hers to say", {}, st
        if a.question and not known:
            return Intent.ask_who_is_calling, None, "asks what this is about", {}, st
        return Intent.take_message, Outcome.message_taken, "offers to take a message", {}, st

    def _represented(self, st: DebtorState, a: TurnAnalysis, present: set[AgentSignal]) -> Choice | None:
        collecting = bool(a.signals & {SIG.debt_mention, SIG.payment_offer, SIG.pressure}) or a.offer is not None
        if not st.referred_to_attorney and (collecting or st.agent_turns >= self.tune.represented.refer_after_turns):
            return Intent.refer_to_attorney, Outcome.referred_to_attorney, "refers the caller to the attorney", {}, replace(st, referred_to_attorney=True)
        if st.referred_to_attorney and collecting:
            if st.stop_requested:
                return Intent.hang_up, Outcome.stop_requested, "caller kept collecting after the stop request", {}, st
            return Intent.request_stop, Outcome.stop_requested, "caller ignores the attorney", {}, replace(st, stop_requested=True)
        return None

    def _vulnerable(self, st: DebtorState, a: TurnAnalysis, present: set[AgentSignal]) -> Choice | None:
        tune = self.tune.crisis
        if SIG.support_referral in a.signals or (st.help_offered and AgentSignal.empathy in present):
            st = replace(st, meters={**st.meters, "distress": _clamp(st.distress - tune.help_relief)})
            return Intent.accept_help, Outcome.referred_to_help, "the caller pointed to help", {}, st
        if SIG.safety_check in a.signals:
            if st.help_offered:
                return Intent.accept_help, Outcome.referred_to_help, "asked again about their safety, after help was offered", {}, st
            # asked plainly and kindly, they answer honestly (the question may earn the fact)
            return Intent.express_despair, None, "asked directly about their safety: answers honestly", {}, st
        collecting = (
            a.offer is not None
            or SIG.payment_offer in a.signals
            or Topic.payment_ability in a.question_topics
        )
        if AgentSignal.pressure in present or AgentSignal.threat in present or collecting:
            st = replace(st, meters={**st.meters, "distress": _clamp(st.distress + tune.pressure_distress)})
            if st.distress >= tune.overwhelmed_at:
                return Intent.hang_up, Outcome.hang_up, "overwhelmed by pressure", {}, st
            return Intent.express_despair, None, "pressure deepens the distress", {}, st
        if st.distress >= tune.unheard_at and not st.help_offered:
            return Intent.express_despair, None, "distress is high and nobody has offered help", {}, st
        return None

