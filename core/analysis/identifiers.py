"""Which identifying detail a right-party check asks for: date of birth, address, zip, last four.

One detector, shared: the director reads it to have the debtor answer (or refuse) the detail that
was asked, and the live-call eval checks the answer. The `identifier_request` signal (signals.yaml)
says *that* a detail was asked; this says *which*, in the order the collector asked.

    identifiers_asked("Can you confirm your date of birth and zip code?")  # ('dob', 'zip')
    identifiers_asked("请核实一下您的身份证后四位")                            # ('ssn4',)
"""

from __future__ import annotations

import re
from typing import Literal

IdentifierKind = Literal["dob", "address", "zip", "ssn4", "account4"]

# Each kind's words, English and Chinese. Kept as plain patterns, not a model: the phrases are few
# and fixed, and a miss costs only a generic identity line.
_KINDS: tuple[tuple[IdentifierKind, re.Pattern[str]], ...] = (
    (
        "dob",
        re.compile(
            r"\b(?:date of birth|birth ?date|birthday|d\.?o\.?b\.?|year of birth|when were you born|what year were you born)\b"
            r"|出生日期|生日|出生年月",
            re.I,
        ),
    ),
    (
        "zip",
        re.compile(r"\b(?:zip(?: ?code)?|postal code|post ?code)\b|邮编|邮政编码", re.I),
    ),
    (
        "address",
        re.compile(
            r"\b(?:(?:home|mailing|current|street|physical) )?address\b|\bwhere do you (?:currently )?live\b"
            r"|\bfirst line of your address\b|(?:家庭|居住|住址|地址)",
            re.I,
        ),
    ),
    (
        "account4",
        re.compile(r"\blast (?:four|4)(?: digits)? (?:of|on) (?:the|your|that) (?:card|account|visa|loan)\b|卡号后(?:四|4)位", re.I),
    ),
    (
        "ssn4",
        re.compile(
            # "social security" alone is income ("do you get social security?"), not the number
            r"\b(?:social security number|ssn|social(?! security))\b"
            r"|\blast (?:four|4)\b(?!(?: digits)? (?:of|on) (?:the|your|that) (?:card|account|visa|loan))"
            r"|身[份分]证(?:号码?)?(?:后(?:四|4|六|6)位)?",
            re.I,
        ),
    ),
)
# "email address", "web address", where to send something ("mail it to the address on the letter",
# "our address"): not an identifying detail of the person.
_NOT_ADDRESS = re.compile(
    r"\b(?:e-?mail|web|ip) address\b|\bour (?:mailing )?address\b"
    r"|\b(?:to|at) the (?:mailing )?address\b(?! (?:on file|we have))"
    r"|\baddress (?:on|in|at the (?:top|bottom) of) (?:the|our|that) (?:letter|notice|statement|website|envelope|form)\b",
    re.I,
)


def identifiers_asked(text: str) -> tuple[IdentifierKind, ...]:
    """The identifying details ``text`` asks for, in the order they are named (may be empty)."""
    cleaned = _NOT_ADDRESS.sub(" ", text)
    found: list[tuple[int, IdentifierKind]] = []
    for kind, pattern in _KINDS:
        m = pattern.search(cleaned)
        if m:
            found.append((m.start(), kind))
    return tuple(kind for _, kind in sorted(found))
