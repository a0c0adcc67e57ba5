"""Money amounts, instalment cadence and payment dates in a line of speech.

``extract_amounts("I can pay $50 a month")`` -> [50.0]; ``find_date("on the 15th", today)``
-> ("the 15th", days until the 15th). English and Chinese (500元, 五百块, 一千二, 1万; 今天/明天/
周五/N号/十五号).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}
_SCALES = {"hundred": 100, "thousand": 1000, "grand": 1000}
_NUMBER_WORD = "|".join(sorted([*_UNITS, *_TENS, *_SCALES, "a", "and"], key=len, reverse=True))
_WORDS_RE = rf"(?:(?:{_NUMBER_WORD})(?:[\s-]+(?:{_NUMBER_WORD}))*)"

_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+(?:\.\d{1,2})?"
def _suffix(name: str) -> str:
    return rf"(?:\s*(?P<{name}>k|grand|thousand|hundred)\b)?"
_CUR_WORD = r"(?:dollars?|bucks|usd|pounds?|euros?|yuan|rmb|元|块钱?)"

# "$1,200.50", "$50k", "USD 300", "300 dollars", "fifty dollars", "500元"
_MONEY = re.compile(
    rf"(?:[$£€¥]\s?(?P<a>{_NUM}){_suffix('ka')})"
    rf"|(?:\b(?:usd|rmb)\s?(?P<b>{_NUM}){_suffix('kb')})"
    rf"|(?:(?<![\d.,])(?P<c>{_NUM}){_suffix('kc')}\s*{_CUR_WORD}(?![a-z]))"
    rf"|(?:\b(?P<w>{_WORDS_RE})\s+{_CUR_WORD}\b)",
    re.IGNORECASE,
)
# a bare number that is clearly a payment: "pay 50 a month", "I can do 200 on Friday", "pay the
# full 1120", or dollars and cents typed without the sign ("confirm 1210.75 this friday": two
# digits before the point at least, so a time such as "5.30" is not money)
_BARE = re.compile(
    rf"(?:\b(?:pay|do|offer|manage|afford|settle for|send|put down|make it)\s+(?:about\s+|maybe\s+|like\s+)?(?:the\s+)?(?:full\s+|whole\s+)?(?P<x>{_NUM})\b(?!\s*(?:%|percent\b|days?\b|weeks?\b|months?\b|years?\b|am\b|pm\b|o'clock)|(?:th|st|nd|rd)\b|\.\d))"
    rf"|(?:(?<![\d.,$])(?P<y>{_NUM})\s+(?:a|per|each|every)\s+(?:month|week)\b)"
    r"|(?:(?<![\d.,$:/-])(?P<z>\d{1,3}(?:,\d{3})+\.\d\d|\d{2,}\.\d\d)(?![\d%]|\.\d))",
    re.IGNORECASE,
)

RECURRING = re.compile(
    r"\b(?:a|per|each|every)\s+(?:month|week|fortnight|two weeks|pay ?day)\b|\bmonthly\b|\bweekly\b"
    r"|\bbi-?weekly\b|\bfortnightly\b|\binstal+ments?\b|\b/\s?mo(?:nth)?\b|每月|每个月|每周|分期",
    re.IGNORECASE,
)


def words_to_number(text: str) -> float | None:
    """'two hundred and fifty' -> 250; None when the words are not a number."""
    total = current = 0
    seen = False
    for tok in re.split(r"[\s-]+", text.lower().strip()):
        if tok in ("and", ""):
            continue
        if tok == "a":
            current = max(current, 1)
            continue
        if tok in _UNITS:
            current += _UNITS[tok]
        elif tok in _TENS:
            current += _TENS[tok]
        elif tok == "hundred":
            current = max(current, 1) * 100
        elif tok in ("thousand", "grand"):
            total += max(current, 1) * 1000
            current = 0
        else:
            return None
        seen = True
    return float(total + current) if seen else None


def _scaled(num: str, k: str | None) -> float:
    value = float(num.replace(",", ""))
    if k:
        value *= {"k": 1000, "grand": 1000, "thousand": 1000, "hundred": 100}[k.lower()]
    return value


@dataclass(frozen=True)
class AmountMatch:
    value: float
    start: int
    end: int
    text: str


# Chinese numerals: "五百元", "三千二百块钱", "一千二" (1,200), "一万二" (12,000), "1万".
_ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
              "八": 8, "九": 9}
_ZH_NUMERAL = "零〇一二两三四五六七八九十百千万"
_ZH_CHARS = re.compile(r"[\u4e00-\u9fff]")
# A numeral with 元/块, or one of a hundred or more said alone ("先还三百"); not a count of
# days, instalments or months ("三百六十五天", "分十二期").
_ZH_MONEY = re.compile(
    rf"(?<![{_ZH_NUMERAL}\d])(?:(?P<z>[{_ZH_NUMERAL}]+)\s*(?:元|块钱?)"
    rf"|(?P<zb>[一二两三四五六七八九十]*[百千万][{_ZH_NUMERAL}]*)(?![{_ZH_NUMERAL}天期个月年次号日人位页倍分秒遍条岁])"
    rf"|(?P<zd>\d+(?:\.\d+)?)\s*(?P<zu>万|千)(?:元|块钱?)?)"
)


def zh_number(text: str) -> float | None:
    """'三千二百' -> 3200, '一千二' -> 1200, '一万二' -> 12000; None when it is no number."""
    total = section = 0
    digit: int | None = None
    unit = 0  # the last unit said, when the digit after it abbreviates the next one down
    for ch in text:
        if ch in _ZH_DIGITS:
            if ch in "零〇":
                unit = 0
            digit = _ZH_DIGITS[ch]
        elif ch in "十百千":
            unit = {"十": 10, "百": 100, "千": 1000}[ch]
            section += (digit if digit is not None else 1) * unit
            digit = None
        elif ch == "万":
            total += (section + (digit or 0)) * 10000
            section, digit, unit = 0, None, 10000
        else:
            return None
    if digit is not None:
        section += digit * (unit // 10) if unit >= 100 else digit
    value = float(total + section)
    return value or None


# An Arabic number said as money in Chinese without 元: after a paying verb or "每月" ("每月还300",
# "先打5000", "还1500"), never a day, a count or a year ("15号", "12期", "3个月", "2026年").
_ZH_BARE = re.compile(
    r"(?:每个?月|每期|(?<![归])还|付|交|打|先还|先打|凑)\s*(?:个|上)?\s*(?P<n>\d{2,7}(?:\.\d+)?)(?![\d.]|\s*(?:[号日天年期次%％位]|个月|点|分|岁|元|块|万|千))"
)


def _zh_amounts(text: str, taken: list[tuple[int, int]]) -> list[AmountMatch]:
    found = []
    for m in _ZH_BARE.finditer(text):
        s, e = m.span("n")
        if any(s < te and e > ts for ts, te in taken):
            continue
        value = float(m.group("n"))
        if value >= 50:
            found.append(AmountMatch(value, s, e, m.group("n")))
            taken = [*taken, (s, e)]
    for m in _ZH_MONEY.finditer(text):
        if any(m.start() < te and m.end() > ts for ts, te in taken):
            continue
        if m.group("zd"):
            value: float | None = float(m.group("zd")) * (10000 if m.group("zu") == "万" else 1000)
        else:
            value = zh_number(m.group("z") or m.group("zb"))
        if value:
            found.append(AmountMatch(value, m.start(), m.end(), m.group(0)))
    return found


def find_amounts(text: str) -> list[AmountMatch]:
    """Money amounts in ``text`` in order of appearance (currency-marked, or clearly a payment)."""
    found: list[AmountMatch] = []
    taken: list[tuple[int, int]] = []
    for m in _MONEY.finditer(text):
        if m.group("w"):
            value = words_to_number(m.group("w"))
            if value is None or value == 0:
                continue
        else:
            num = m.group("a") or m.group("b") or m.group("c")
            value = _scaled(num, m.group("ka") or m.group("kb") or m.group("kc"))
        found.append(AmountMatch(value, m.start(), m.end(), m.group(0)))
        taken.append((m.start(), m.end()))
    for m in _BARE.finditer(text):
        g = next(k for k in ("x", "y", "z") if m.group(k))
        s, e = m.span(g)
        if any(s < te and e > ts for ts, te in taken):
            continue
        found.append(AmountMatch(float(m.group(g).replace(",", "")), s, e, m.group(g)))
    if _ZH_CHARS.search(text):
        found += _zh_amounts(text, taken)
    found.sort(key=lambda a: a.start)
    return found


def extract_amounts(text: str) -> list[float]:
    """Just the values of :func:`find_amounts`."""
    return [a.value for a in find_amounts(text)]


def is_recurring(text: str) -> bool:
    """True when the line talks about a monthly/weekly instalment rather than a one-off payment."""
    return RECURRING.search(text) is not None


# ---------------------------------------------------------------- dates

_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
_MONTHS.update({m.lower(): i for i, m in enumerate(calendar.month_abbr) if m})
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_COUNT = r"(?P<n>\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|a couple of|couple of)"
_ORD = r"(?P<d>[0-3]?\d)(?:st|nd|rd|th)"
_ORD_WORDS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "fifteenth": 15,
    "twentieth": 20, "thirtieth": 30,
}
_ORD_WORD_RE = "|".join(_ORD_WORDS)

_DATE_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("today", re.compile(r"\b(?:today|tonight|right now|this (?:morning|afternoon|evening))\b", re.I)),
    ("tomorrow", re.compile(r"\btomorrow\b", re.I)),
    ("in_n", re.compile(rf"\b(?:in|within)\s+{_COUNT}\s+(?P<u>days?|weeks?|months?)\b", re.I)),
    ("next_weekday", re.compile(rf"\bnext\s+(?P<wd>{'|'.join(_WEEKDAYS)})\b", re.I)),
    # "Friday the 15th": the day of the month decides
    ("weekday_dom", re.compile(rf"\b(?:{'|'.join(_WEEKDAYS)}),?\s+(?:the\s+)?(?P<d>[0-3]?\d)(?:st|nd|rd|th)\b", re.I)),
    ("weekday", re.compile(rf"\b(?:this\s+|on\s+|by\s+)?(?P<wd>{'|'.join(_WEEKDAYS)})\b", re.I)),
    ("month_day", re.compile(rf"\b(?P<m>{_MONTH_RE})\.?\s+(?P<d>[0-3]?\d)(?:st|nd|rd|th)?\b", re.I)),
    ("day_of_month", re.compile(rf"\b(?:the\s+)?{_ORD}(?:\s+of\s+(?P<m>{_MONTH_RE}))?\b", re.I)),
    ("day_word", re.compile(rf"\bthe\s+(?P<dw>{_ORD_WORD_RE})(?:\s+of\s+(?:the\s+month|(?P<m>{_MONTH_RE})))?\b", re.I)),
    ("next_week", re.compile(r"\bnext\s+week\b", re.I)),
    # "下个月10号", "12月15号", "一月五号": a day of a named (or the next) month
    ("zh_month_day", re.compile(
        r"(?:(?P<zm>下个?月|(?P<mn>1[0-2]|[1-9]|十[一二]?|[一二三四五六七八九])月(?:份)?)的?\s*)"
        r"(?:(?P<d>[0-3]?\d)|(?P<zd>[一二三]?十[一二三四五六七八九]?|[一二三四五六七八九]))\s*[号日]"
    )),
    ("end_of_month", re.compile(r"\b(?:the\s+)?end\s+of\s+(?:the|this)\s+month\b|月底", re.I)),
    ("next_month", re.compile(r"\bnext\s+month\b|下个?月", re.I)),
    ("payday", re.compile(r"\b(?:my\s+)?(?:next\s+)?pay ?day\b", re.I)),
    ("zh_today", re.compile(r"今天|今晚")),
    ("zh_tomorrow", re.compile(r"明天")),
    ("zh_day_after", re.compile(r"后天")),
    ("zh_weekday", re.compile(r"(?P<zn>下(?:个)?|这(?:个)?|本)?(?:周|星期|礼拜)(?P<zwd>[一二三四五六日天])")),
    ("zh_next_week", re.compile(r"下(?:个)?(?:周|星期|礼拜)")),
    ("zh_day_of_month", re.compile(r"(?P<d>[0-3]?\d)\s*[号日]")),
    ("zh_day_of_month", re.compile(r"(?<![一二三四五六七八九十])(?P<zd>[一二三]?十[一二三四五六七八九]?|[一二三四五六七八九])[号日]")),
]

_COUNT_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "a couple of": 2, "couple of": 2,
}


def _days_to_day_of_month(today: date, day: int, month: int | None) -> int | None:
    if not 1 <= day <= 31:
        return None
    year, mon = today.year, month or today.month
    for _ in range(13):
        last = calendar.monthrange(year, mon)[1]
        if day <= last:
            target = date(year, mon, day)
            if target >= today:
                return (target - today).days
        if month is not None:  # a named month that is past: next year
            year += 1
            continue
        mon += 1
        if mon > 12:
            mon, year = 1, year + 1
    return None


def _resolve(kind: str, m: re.Match[str], today: date) -> int | None:
    if kind in ("today", "zh_today"):
        return 0
    if kind in ("tomorrow", "zh_tomorrow"):
        return 1
    if kind == "zh_day_after":
        return 2
    if kind in ("next_week", "zh_next_week"):
        return 7
    if kind == "in_n":
        n_text = m.group("n").lower()
        n = int(n_text) if n_text.isdigit() else _COUNT_WORDS.get(n_text, 1)
        unit = m.group("u").lower()
        return n * (7 if unit.startswith("week") else 30 if unit.startswith("month") else 1)
    if kind == "zh_weekday":
        day = min("一二三四五六日天".find(m.group("zwd")), 6)  # Monday 0 ... 日/天 Sunday 6
        if (m.group("zn") or "").startswith("下"):  # 下周三: the Wednesday of next week
            return 7 - today.weekday() + day
        return (day - today.weekday()) % 7
    if kind in ("weekday", "next_weekday"):
        delta = (_WEEKDAYS.index(m.group("wd").lower()) - today.weekday()) % 7
        return delta or (7 if kind == "next_weekday" else 0)
    if kind == "month_day":
        return _days_to_day_of_month(today, int(m.group("d")), _MONTHS[m.group("m").lower().rstrip(".")])
    if kind == "weekday_dom":
        return _days_to_day_of_month(today, int(m.group("d")), None)
    if kind == "zh_month_day":
        day = int(m.group("d")) if m.group("d") else int(zh_number(m.group("zd")) or 0)
        if m.group("mn"):
            mn = m.group("mn")
            month = int(mn) if mn.isdigit() else int(zh_number(mn) or 0)
        else:  # 下个月
            month = today.month % 12 + 1
        return _days_to_day_of_month(today, day, month) if 1 <= month <= 12 else None
    if kind == "zh_day_of_month" and m.groupdict().get("zd"):
        return _days_to_day_of_month(today, int(zh_number(m.group("zd")) or 0), None)
    if kind in ("day_of_month", "zh_day_of_month"):
        month = m.groupdict().get("m")
        return _days_to_day_of_month(today, int(m.group("d")), _MONTHS[month.lower()] if month else None)
    if kind == "day_word":
        month = m.group("m")
        return _days_to_day_of_month(today, _ORD_WORDS[m.group("dw").lower()], _MONTHS[month.lower()] if month else None)
    if kind == "end_of_month":
        return calendar.monthrange(today.year, today.month)[1] - today.day
    if kind == "next_month":
        nxt = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
        return (nxt - today).days
    return None  # payday: said, but not resolvable without the debtor's pay schedule


_ZH_EVERY = re.compile(r"每个?月|每期|每次")


def find_date(text: str, today: date | None = None) -> tuple[str, int | None] | None:
    """The first payment date in ``text``: (as said, days from ``today`` or None)."""
    today = today or date.today()
    best: tuple[int, str, int | None] | None = None
    due_day: tuple[int, str, int | None] | None = None  # "每月10号还": the monthly due day
    for kind, rx in _DATE_PATTERNS:
        for m in rx.finditer(text):
            if kind in ("day_of_month", "day_word") and _looks_like_not_a_date(text, m):
                continue
            if kind == "zh_day_of_month" and _ZH_EVERY.search(text[max(0, m.start() - 4):m.start()]):
                # the day each instalment is due, not when the first one is: used only when the
                # turn names no other date ("每月10号还，从下个月10号开始": the 10th of next month)
                if due_day is None:
                    due_day = (m.start(), m.group(0).strip(), _resolve(kind, m, today))
                continue
            said = m.group(0).strip()
            said = re.sub(r"^(?:on|by|this)\s+", "", said, flags=re.I) if kind == "weekday" else said
            days = _resolve(kind, m, today)
            start = m.start("wd") if kind == "weekday" else m.start()  # "on Friday the 15th": the 15th
            if best is None or start < best[0]:
                best = (start, said, days)
            break
    best = best or due_day
    return None if best is None else (best[1], best[2])


def _looks_like_not_a_date(text: str, m: re.Match[str]) -> bool:
    # "the 3rd payment", "my 2nd call": an ordinal that counts things, not a day of the month
    after = text[m.end():m.end() + 20].lower()
    return bool(re.match(
        r"\s+(?:payment|instal|call|time|notice|letter|month|week|year|floor|line|card|account|loan|number|phone|"
        r"person|one|thing|step|page|bill|statement|charge|fee|attempt|try|option|question|job|shift|address|digit)",
        after,
    ))
