"""Automated proxies for the live-call eval: what can be checked in a reply without a person.

Each proxy reads one saved reply row (``evals/live_eval.py`` writes them) and the persona it came
from. They are proxies: the blind audit (``evals/live_audit.py``) is the judge of whether a line
is garbled, off the point or contradicts the persona. What they count:

- **identity**: a direct identity question (name, date of birth, address, zip, last four of the
  SSN) gets the persona's own detail, or an in-character refusal; a wrong party says who they are.
  A detail that differs from the persona's (another date of birth) is counted apart.
- **names**: the debtor never introduces themself by the collector's name or another name, and
  never calls one of their people by a relation they do not have ("my wife Karen" for a daughter)
  or a name they do not have ("my husband Bob").
- **loops**: a reply that repeats an earlier debtor line of the same call (same words, or nearly).
- **expectations**: a goodbye answered with a goodbye, a statement not answered as if it were a
  question, a recapped plan recorded as recapped, a question of fact answered on its topic.
- **copy rate**: generated lines identical to a hand-written line of ``personas/lines``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from simulator.personas import Persona
from training.banks import LINES_DIR, norm

GENERATED = ("model", "retry")  # reply sources written by the model (the rest are authored)

# --- persona facts the proxies compare against ------------------------------------------------
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december")
_MONTH = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
_DATE = re.compile(rf"\b({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(\d{{4}}))?", re.I)
_NUM_DATE = re.compile(r"\b(\d{1,2})[/-](\d{1,2})[/-](\d{2,4})\b")
_BORN_YEAR = re.compile(r"\b(?:born in|back in)\s+(?:'|19|20)?\d{2}\b", re.I)
_RELATIONS = {
    "husband": "spouse", "wife": "spouse", "spouse": "spouse", "partner": "partner", "girlfriend": "partner",
    "boyfriend": "partner", "fiance": "partner", "daughter": "daughter", "son": "son", "kid": "child", "boy": "son",
    "girl": "daughter", "ex-husband": "ex", "ex-wife": "ex", "ex": "ex", "mother": "mother", "mom": "mother",
    "father": "father", "dad": "father", "brother": "brother", "sister": "sister", "friend": "friend",
    "attorney": "attorney", "lawyer": "attorney", "daughter-in-law": "in-law", "son-in-law": "in-law",
}
_REL = r"(ex-husband|ex-wife|daughter-in-law|son-in-law|husband|wife|spouse|partner|girlfriend|boyfriend|fiance|daughter|son|kid|boy|girl|mother|mom|father|dad|brother|sister|friend|attorney|lawyer)"
_NAME = r"([A-Z][a-z]+)"
# Capitalised words that are not people (the unknown-name check skips them).
_NOT_NAMES = frozenset(
    "I I'm I'll I've I'd Mr Mrs Ms Miss Dr Sir Ma'am Okay OK Ok God Lord Jesus Christmas Easter Thanksgiving Monday Tuesday "
    "Wednesday Thursday Friday Saturday Sunday Mondays Fridays Sundays Visa Mastercard Amex Discover FDCPA FTC CFPB BBB Social "
    "Security SSN DOB ATM PIN USA US America American English Spanish Better Business Bureau Lifeline Crisis Nine Eight "
    "TV Internet Google Facebook Walmart Target Costco Oh Ah Um Uh Well Yes Yeah Yep No Nope Okay Hey Hi Hello Honey Dear Sorry "
    "Look Listen Thanks Thank Please Wait Gosh Sure Fine Right Alright Boss Pal Buddy Man Sweetheart Sweetie Babe".split()
) | {m.capitalize() for m in _MONTHS}


@dataclass(frozen=True)
class People:
    """Who is who in a persona's life, read from the persona file."""

    own: frozenset[str]  # the persona's own name parts
    roles: dict[str, frozenset[str]]  # a person's first name -> their relations to the persona
    words: frozenset[str]  # every capitalised word in the persona file (places, firms, people)


def _persona_text(p: Persona) -> str:
    parts = [p.name, p.profile.household, p.profile.background, p.situation, *(f.fact for f in p.hidden_facts)]
    parts += [p.debt.creditor, p.debt.product, p.payment_capacity.preferred_plan, *p.voice.example_lines]
    parts += [x for lines in p.fallback_lines.values() for x in lines]
    if p.third_party:
        parts += [p.third_party.relation, p.third_party.account_holder]
    if p.attorney:
        parts += [p.attorney.name, p.attorney.firm]
    if p.identity:
        parts += [p.identity.street, p.identity.city, p.identity.state]
    return "\n".join(parts)


def people(p: Persona) -> People:
    roles: dict[str, set[str]] = {}

    def add(name: str, role: str) -> None:
        roles.setdefault(name, set()).add(role)

    text = "\n".join([p.profile.household, p.profile.background, *(f.fact for f in p.hidden_facts)])
    for rel, name in re.findall(rf"\b{_REL},?\s+{_NAME}", text, re.I):
        if name[0].isupper():
            add(name, _RELATIONS[rel.lower()])
    for name in re.findall(rf"\b[Mm]arried to {_NAME}", text):
        add(name, "spouse")
    for names in re.findall(r"\b(?:mother|father|parent) of ((?:[A-Z][a-z]+ \(\d+\)(?:,| and)? ?)+)", text):
        for name in re.findall(_NAME, names):
            add(name, "child")
    for name in re.findall(rf"\bnamed {_NAME}", text):
        roles.setdefault(name, set())
    if p.third_party:
        first = p.third_party.account_holder.split()[0]
        add(first, "son" if "mother" in p.third_party.relation or "father" in p.third_party.relation else "relative")
    if p.attorney:
        add(p.attorney.name.split()[0], "attorney")
    words = set(re.findall(r"\b[A-Z][A-Za-z']+", _persona_text(p)))
    return People(frozenset(p.name.split()), {k: frozenset(v) for k, v in roles.items()}, frozenset(words))


def _same_relation(said: str, known: frozenset[str]) -> bool:
    rel = _RELATIONS[said.lower()]
    if rel in known:
        return True
    # "my kid Kayla" for a daughter, "my boy" for a son, a son or daughter for a child
    return (rel == "child" and bool(known & {"son", "daughter"})) or (rel in {"son", "daughter"} and "child" in known)


def persona_dobs(p: Persona) -> frozenset[tuple[int, int, int | None]]:
    """Dates of birth the persona's authored identity lines give, as (month, day, year)."""
    lines = [x for k, v in p.fallback_lines.items() if k.value == "confirm_identity" for x in v]
    own = {d for x in lines for d in dates_in(x)}
    if p.identity is not None:
        dob = p.identity.date_of_birth
        own.add((dob.month, dob.day, dob.year))
    return frozenset(own)


def dates_in(text: str) -> list[tuple[int, int, int | None]]:
    out = []
    for mon, day, year in _DATE.findall(text):
        month = next(i for i, m in enumerate(_MONTHS, 1) if m.startswith(mon.lower()[:3]))
        out.append((month, int(day), int(year) if year else None))
    for m, d, y in _NUM_DATE.findall(text):
        year = int(y) + (1900 if len(y) == 2 else 0)
        out.append((int(m), int(d), year))
    return out


def persona_places(p: Persona) -> frozenset[str]:
    """Towns and states the persona lives in, from the household line ("outside Dayton, Ohio").

    Clauses about someone else ("daughter Karen lives in Phoenix") are skipped.
    """
    found = []
    for clause in p.profile.household.split(";"):
        if re.match(rf"\s*(?:her |his |one |two )?{_REL}", clause, re.I):
            continue
        for town, state in re.findall(r"\b(?:in|outside|near)\s+(?:[a-z]+ )*?((?:[A-Z][a-z]+ ?){1,3})(?:,\s*((?:[A-Z][a-z]+ ?){1,2}))?", clause):
            found += [town, state]
    return frozenset(x.strip().lower() for x in found if x.strip())


# --- identity -----------------------------------------------------------------------------------
_REFUSES = re.compile(
    r"\b(not (giving|going to give|gonna give|telling|comfortable|saying|reading)|won'?t (give|say|tell)|don'?t (give|hand) (that|out)|"
    r"that'?s all you'?re getting|not the way this call|"
    r"why do you need|what('?s| is) (this|it) (about|regarding|for)|"
    r"how do i know|not over the phone|rather not|none of your|you first|"
    r"in writing|my (attorney|lawyer)|i have an? (attorney|lawyer)|not on the phone|scam|identify yourself|"
    r"i don'?t know you|verify (who )?you)",
    re.I,
)
# Asking who is calling: in character while the collector has not said who they are.
_ASKS_WHO = re.compile(
    r"\bwho(?:'s| is|'re| are|'d| did)?\s*(?:this|it|calling|asking|speaking|you|with)\b|what company|who you('?re| are) with|"
    r"and you are|your (full )?name|what'?s your name|where (are you|you'?re) calling from|calling from where|who'?s this|"
    r"which (\w+ )?(outfit|company|agency)|who (are )?you with",
    re.I,
)
_YES = re.compile(
    r"\b(yes|yeah|yep|yup|speaking|this is (she|he|him|her)|that'?s me|it'?s me|you'?ve got (him|her|me)|you got (him|her|me)|"
    r"mm-?hm|correct|that'?s right)\b",
    re.I,
)
_STREET = re.compile(
    r"\b\d{1,6}\s+(?:[A-Za-z]+\s){0,3}(street|st|avenue|ave|road|rd|drive|dr|lane|ln|court|ct|way|boulevard|blvd|place|pl|"
    r"circle|parkway|pkwy|terrace|trail)\b",
    re.I,
)
_SAME = re.compile(r"\b(same (address|place|one|as before|zip)|(hasn'?t|haven'?t|didn'?t|never) (changed|moved)|still (the same|at|in))\b", re.I)
_NOT_HOLDER = re.compile(
    r"\b(not (him|her|here|home|in|around)|doesn'?t live here|(his|her) (mother|mom|dad|father|wife)|wrong number|moved out|"
    r"take a message|pass (it|that|the message|a message) (along|on))\b",
    re.I,
)


@dataclass(frozen=True)
class IdentityResult:
    status: str  # answered | refused | missed
    consistent: bool | None  # the detail given matches the persona's (None: nothing to compare)


# Chinese: the same readings, for a persona whose language is zh
_REFUSES_ZH = re.compile(
    r"不方便|不能(?:告诉|给|说)|不(?:会)?(?:告诉|给)你|凭什么|为什么要(?:告诉|给|说)|干(?:嘛|什么)问|问这个(?:干嘛|干什么|做什么)|你先说|"
    r"电话里(?:不|讲不|没法)|不能在电话里|不随便|别问了|骗子|不想说|没必要告诉|律师|书面|(?:你|您)是哪|你们是(?:谁|哪)|哪个公司|什么公司|哪里打来"
)
_ASKS_WHO_ZH = re.compile(r"(?:你|您)(?:到底)?是(?:谁|哪|哪位|哪里|什么)|(?:你|您)(?:哪里|哪位)|自我介绍|号码(?:给|是)你们|哪儿的|自己的人|外包|哪(?:位|里)打|哪个公司|什么公司|怎么称呼|你们是|工号")
_YES_ZH = re.compile(r"是我|我就是|本人|对[，,。]?|是的|嗯|没错|我是")
_NOT_HOLDER_ZH = re.compile(r"回头让|让(?:他|她)(?:自己)?(?:回|找)|转给(?:他|她)|(?:他|她)不在|不在家|不是(?:他|她|我)|我不是|打错|留(?:个)?(?:言|话)|转告|帮你(?:带|传)|(?:前)?同事|紧急联系人|朋友")
_ZH_DATE = re.compile(r"(?:(\d{4})年)?(\d{1,2})月(\d{1,2})[日号]")
_SAME_ZH = re.compile(r"还是(?:那个|原来|老)|没(?:变|搬|换)|一样")


def _identity_zh(reply: str, kind: str, p: Persona, collector_named: bool) -> IdentityResult:
    refuses = bool(_REFUSES_ZH.search(reply) or (not collector_named and _ASKS_WHO_ZH.search(reply)))
    if p.third_party:
        if _NOT_HOLDER_ZH.search(reply) or p.name in reply:
            return IdentityResult("answered", True)
        return IdentityResult("refused" if refuses else "missed", None)
    ident = p.identity
    given, consistent = False, None
    if kind == "name":
        given = p.name in reply or bool(_YES_ZH.search(reply))
        consistent = True if given else None
    elif kind == "dob":
        said = [(int(m), int(d), int(y) if y else None) for y, m, d in _ZH_DATE.findall(reply)]
        if said:
            given = True
            if ident is not None:
                dob = ident.date_of_birth
                consistent = any((m, d) == (dob.month, dob.day) and (y is None or y == dob.year) for m, d, y in said)
    elif kind == "address":
        if ident is not None and (ident.street in reply or ident.city in reply):
            given, consistent = True, True
        else:
            given = bool(re.search(r"[路街道巷号弄区]", reply) and re.search(r"\d", reply)) or bool(_SAME_ZH.search(reply))
    elif kind == "zip":
        zips = re.findall(r"(?<!\d)\d{6}(?!\d)", reply)
        given = bool(zips) or bool(_SAME_ZH.search(reply))
        consistent = (ident.zip in zips) if zips and ident is not None else None
    elif kind == "ssn4":
        digits = re.findall(r"(?<![\dXx])\d{3}[\dXx](?![\dXx])", reply)
        given = bool(digits)
        consistent = (ident.id_last4.upper() in [d.upper() for d in digits]) if digits and ident is not None else None
    else:
        raise ValueError(f"unknown identity kind '{kind}'")
    if given:
        return IdentityResult("answered", consistent)
    return IdentityResult("refused" if refuses else "missed", None)


def identity_answer(reply: str, kind: str, p: Persona, collector_named: bool = False) -> IdentityResult:
    """How a reply meets a direct identity question of ``kind`` (name, dob, address, zip, ssn4).

    Asking who is calling counts as a refusal only while the collector has not said who they are
    (``collector_named``): after that it dodges the question.
    """
    if p.language == "zh":
        return _identity_zh(reply, kind, p, collector_named)
    refuses = bool(_REFUSES.search(reply) or (not collector_named and _ASKS_WHO.search(reply)))
    if p.attorney and p.attorney.name.split()[-1].lower() in reply.lower():  # a represented debtor sends them to the attorney
        refuses = True
    if p.third_party:  # a wrong party says who they are, never "yes" to the holder's name or details
        if _NOT_HOLDER.search(reply) or re.search(rf"\b{re.escape(p.name.split()[0])}\b", reply):
            return IdentityResult("answered", True)
        return IdentityResult("refused" if refuses else "missed", None)
    given, consistent = _gives_detail(reply, kind, p)
    if given:
        return IdentityResult("answered", consistent)
    return IdentityResult("refused" if refuses else "missed", None)


def _gives_detail(reply: str, kind: str, p: Persona) -> tuple[bool, bool | None]:
    if kind == "name":
        first, last = p.name.split()[0], p.name.split()[-1]
        if re.search(rf"\b({re.escape(first)}|{re.escape(last)})\b", reply, re.I) or _YES.search(reply):
            return True, not name_slips(reply, p, None)
        return False, None
    if kind == "dob":
        said = dates_in(reply)
        if not said:
            return bool(_BORN_YEAR.search(reply)), None
        own = persona_dobs(p)
        if not own:
            return True, None
        return True, any((m, d) == (om, od) and (y is None or oy is None or y == oy) for m, d, y in said for om, od, oy in own)
    if kind == "address":
        if p.identity is not None and p.identity.street.lower() in reply.lower():
            return True, True
        places = persona_places(p)
        if any(pl in reply.lower() for pl in places):
            return True, True
        return bool(_STREET.search(reply) or _SAME.search(reply)), None
    if kind == "zip":
        zips = re.findall(r"\b\d{5}\b", reply)
        if zips and p.identity is not None:
            return True, p.identity.zip[:5] in zips
        return bool(zips or _SAME.search(reply)), None
    if kind == "ssn4":
        digits = re.findall(r"\b\d{4}\b", reply) + re.findall(r"\b(?:\d[\s-]){3}\d\b", reply)
        spelled = len(re.findall(r"\b(zero|oh|one|two|three|four|five|six|seven|eight|nine)\b", reply, re.I)) >= 4
        if digits and p.identity is not None:
            return True, any(re.sub(r"\D", "", d) == p.identity.id_last4 for d in digits)
        return bool(digits or spelled), None
    raise ValueError(f"unknown identity kind '{kind}'")


# --- names ------------------------------------------------------------------------------------------
_SELF = re.compile(r"(?:^|[.!?,;]\s+|\b(?:yes|yeah|yep|hi|hello),?\s+)(?:this is|i'?m|i am|my name is|my name'?s|name'?s)\s+([A-Z][a-z]+)\b(?!'s|’s)", re.I)
# Words that follow "I'm" / "this is" at the start of a sentence without being a name.
_NOT_SELF = frozenset("not so just sorry fine okay good here still sure glad afraid busy done the his her a an it".split())
_SELF_AFTER = re.compile(r"(?:^|[.!?]\s+)([A-Z][a-z]+)\s+(?:here|speaking)\b")  # "Walter here": a known name only


def name_slips(reply: str, p: Persona, agent_name: str | None) -> list[str]:
    """Name and relationship slips in one reply: ``kind: words`` for each."""
    who = people(p)
    agent = (agent_name or "").split()[0] if agent_name else None
    slips = []
    known = set(who.roles) | ({agent} if agent else set())
    for name in [m for m in _SELF.findall(reply) if m[:1].isupper()] + [m for m in _SELF_AFTER.findall(reply) if m in known]:
        if name in who.own or name in _NOT_NAMES or name.lower() in _NOT_SELF:
            continue
        slips.append(f"takes_collector_name: {name}" if agent and name == agent else f"wrong_own_name: {name}")
    pairs = re.findall(rf"\bmy (?:late |ex-)?{_REL},?\s+{_NAME}\b", reply, re.I)
    pairs += [(rel, name) for name, rel in re.findall(rf"\b{_NAME},\s+my (?:late )?{_REL}\b", reply)]
    for rel, name in pairs:
        if not name[0].isupper() or name in _NOT_NAMES:
            continue
        if agent and name == agent:
            slips.append(f"relationship_slip: my {rel.lower()} {name} (the collector's name)")
        elif name in who.roles:
            if who.roles[name] and not _same_relation(rel, who.roles[name]):
                slips.append(f"relationship_slip: my {rel.lower()} {name} ({name} is {'/'.join(sorted(who.roles[name]))})")
        elif name in who.own:
            slips.append(f"relationship_slip: my {rel.lower()} {name} (the persona's own name)")
        else:
            slips.append(f"renames: my {rel.lower()} {name}")
    return slips


def unknown_names(reply: str, p: Persona, agent_name: str | None, call_so_far: list[str]) -> list[str]:
    """Capitalised words mid-sentence that are neither in the persona file nor said in the call."""
    seen = set(people(p).words) | set(re.findall(r"\b[A-Z][A-Za-z']+", " ".join(call_so_far)))
    if agent_name:
        seen |= set(agent_name.split())
    out = []
    for sentence in re.split(r"(?<=[.!?])\s+", reply):
        words = re.findall(r"[A-Za-z']+", sentence)
        for w in words[1:]:
            if w[0].isupper() and len(w) > 2 and w not in seen and w not in _NOT_NAMES and re.sub(r"'s$", "", w) not in seen:
                out.append(w)
    return out


# --- loops, goodbyes, statements, recaps, topics ----------------------------------------------------
def repeats(reply: str, earlier: list[str]) -> bool:
    """The reply says an earlier debtor line of the call again (same words, or 80% of them)."""
    key = norm(reply).replace("'", "")
    words = set(key.split())
    for e in earlier:
        other = norm(e).replace("'", "")
        if key == other:
            return True
        ow = set(other.split())
        if len(words) >= 4 and len(ow) >= 4 and len(words & ow) / len(words | ow) >= 0.8:
            return True
    return False


_GOODBYE = re.compile(
    r"\b(bye|goodbye|take care|take it easy|have a (good|nice|blessed|great)|talk (to you )?(later|tonight|soon|then)|so long|see ya|"
    r"gotta (go|run)|i'?ll let you go|thanks?|thank you|appreciate|good ?night)\b",
    re.I,
)
_AGREES = re.compile(r"\b(yes|yeah|yep|yup|okay|ok|alright|all right|right|correct|sure|fine|deal|sounds good|you bet|absolutely|that works|perfect|that'?s right)\b", re.I)


_GOODBYE_ZH = re.compile(r"再见|拜拜|先这样|就这样|挂了|回头(?:再)?(?:聊|说|联系)|谢谢|麻烦(?:你|您)了|辛苦")
_AGREES_ZH = re.compile(r"好|行|可以|没问题|对|嗯|成|就这么(?:定|办)|听你的|没错")


def says_goodbye(reply: str) -> bool:
    return bool(_GOODBYE.search(reply) or _GOODBYE_ZH.search(reply))


def agrees(reply: str) -> bool:
    return bool(_AGREES.search(reply) or _AGREES_ZH.search(reply))


TOPIC_WORDS: dict[str, str] = {
    "payment_ability": r"\$|\d|hundred|fifty|twenty|thousand|afford|pay|paid|check|payday|friday|month|week|can'?t|nothing|money|budget",
    "employment": r"work|job|shift|plant|retired|laid off|commission|sell|paid|pay|hours|boss|company|interview|unemploy|lot|kitchen|school|warehouse|office",
    "reason_unpaid": r"because|sick|hospital|surgery|forgot|didn'?t (know|notice|realize)|fees?|lost|job|bank|autopay|passed|died|mail|behind|busy|slipped|juggl",
    "situation": r"job|work|kids?|rent|sick|lost|since|been|money|bills?|wife|husband|everything|hard|tough|closed|laid|month",
    "household": r"husband|wife|kids?|son|daughter|boys?|girl|family|alone|mother|mom|partner|girlfriend|live|house|nobody|parents?|friends?|married|years",
    "expenses": r"rent|bills?|groceries|food|electric|utilit|car|insurance|gas|\$|\d|hundred|payments?|school",
    "contact": r"call|phone|number|cell|text|email|mail|evening|tonight|morning|after|before|lunch|time|home|work|sunday|weekend|reach|\d",
    "wellbeing": r"okay|ok|fine|tired|not (good|great|well)|rough|hard|scared|sleep|eat|alone|hurt|safe|doing|alright|better|stress|cry|matter",
    "health": r"sick|hospital|surgery|doctor|better|health|recover|month|weeks?|out|back|work",
    "fees": r"fees?|interest|charges?|late|\$|\d|balance|payment|applied|went",
    "dispute": r"paid|closed|never|not mine|statement|proof|record|confirmation|bank|line|account|writing|stolen|theft|report|switched|carrier|\d|yes|no",
    "representation": r"attorney|lawyer|firm|letter|\d|name|number|call|her|sandra|whitlock|bankruptcy|handling",
}


def on_topic(reply: str, topic: str, p: Persona) -> bool:
    """The reply has a word of the asked topic (a lexicon proxy for 'answers what was asked').

    The persona's people count as household words ("Ray's retired").
    """
    pattern = TOPIC_WORDS.get(topic)
    if pattern is None:
        return False
    if topic == "household":
        pattern += "".join(f"|{re.escape(n)}" for n in people(p).roles)
    return bool(re.search(rf"\b(?:{pattern})", reply, re.I))


# --- copy rate --------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def training_lines(lines_dir: Path = LINES_DIR) -> tuple[frozenset[str], tuple[re.Pattern[str], ...]]:
    """The hand-written training lines: plain ones normalised, ones with placeholders as patterns."""
    plain, patterns = set(), []
    for path in sorted(lines_dir.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for items in (data.get("lines") or {}).values():
            for item in items or []:
                text = item["text"] if isinstance(item, dict) else str(item)
                if "{" not in text:
                    plain.add(norm(text))
                    continue
                parts = [norm(x) for x in re.split(r"\{[^{}]*\}", text)]
                body = r"(?:\s*\S+){1,6}\s*".join(re.escape(x) for x in parts)
                patterns.append(re.compile(rf"^\s*{body}\s*$"))
    return frozenset(plain), tuple(patterns)


def copies_training_line(reply: str, lines_dir: Path = LINES_DIR) -> bool:
    plain, patterns = training_lines(lines_dir)
    key = norm(reply)
    return key in plain or any(p.match(key) for p in patterns)
