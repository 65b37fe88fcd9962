"""Rewrite reply text so a voice says numbers, times, money and abbreviations as a receptionist would (pure).

>>> speakable("Call 617-555-0100 before 5:30 pm.")
'Call six one seven, five five five, zero one zero zero before five thirty p.m.'
>>> speakable("A cleaning is $120; Dr. Lee sees patients Mon-Fri.")
'A cleaning is one hundred and twenty dollars; Doctor Lee sees patients Monday to Friday.'

Voices read digits badly on their own: XTTS's English cleaner says "617-555-0100" as "six hundred and
seventeen-five hundred and fifty-five-one hundred", "9:30" as "nine:thirty" and "St." as "saint". Phone
numbers come out digit by digit in their groups, times as a receptionist says them ("nine thirty",
"noon"), money with its units, long digit strings (account numbers, zip codes) digit by digit. Only
English text is rewritten; other languages go to the voice as written.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from num2words import num2words

from agent.speech.wer import DIGIT_WORDS

WEEKDAYS = {
    "mon": "Monday",
    "tue": "Tuesday",
    "tues": "Tuesday",
    "wed": "Wednesday",
    "thu": "Thursday",
    "thur": "Thursday",
    "thurs": "Thursday",
    "fri": "Friday",
    "sat": "Saturday",
    "sun": "Sunday",
}
MONTHS = {
    "jan": "January",
    "feb": "February",
    "mar": "March",
    "apr": "April",
    "jun": "June",
    "jul": "July",
    "aug": "August",
    "sep": "September",
    "sept": "September",
    "oct": "October",
    "nov": "November",
    "dec": "December",
}
MONTH_NAMES = "|".join(sorted({*MONTHS.values(), "May"}))
TITLES = {"dr": "Doctor", "mr": "Mister", "mrs": "Missus", "ms": "Miz", "prof": "Professor"}
STREET_WORDS = {
    "st": "Street",
    "ave": "Avenue",
    "blvd": "Boulevard",
    "rd": "Road",
    "ln": "Lane",
    "hwy": "Highway",
    "ste": "Suite",
    "apt": "Apartment",
}
PHRASES = {
    "e.g.": "for example",
    "i.e.": "that is",
    "etc.": "et cetera",
    "approx.": "approximately",
    "&": "and",
    "24/7": "twenty-four seven",
}
MERIDIEM = {"a": "a.m.", "p": "p.m."}  # both voices say these letter by letter


def words(number: int, to: str = "cardinal") -> str:
    """A number in English words, without the commas num2words puts in ('one thousand two hundred')."""
    return str(num2words(number, to=to)).replace(",", "")


def say_digits(digits: str) -> str:
    """Read digits one by one: '0100' → 'zero one zero zero'."""
    return " ".join(DIGIT_WORDS[int(d)] for d in digits if d.isdigit())


def say_number(text: str) -> str:
    """Say a number with optional thousands commas and decimals: '1,200' → 'one thousand two hundred'."""
    plain = text.replace(",", "")
    if "." in plain:
        whole, frac = plain.split(".", 1)
        return f"{words(int(whole or 0))} point {say_digits(frac)}"
    return words(int(plain))


def say_clock(hour: int, minute: int, meridiem: str | None) -> str:
    """Say a clock time: (9, 30, 'p') → 'nine thirty p.m.'; (17, 0, None) → 'five p.m.'."""
    if hour == 12 and minute == 0 and meridiem == "p":
        return "noon"
    if hour in (0, 12) and minute == 0 and meridiem == "a":
        return "midnight"
    if meridiem is None and hour >= 13:
        hour, meridiem = hour - 12, "p"  # 17:00 is said "five p.m."
    said = words(hour % 12 or 12) if meridiem else words(hour)
    if minute:
        said += f" oh {words(minute)}" if minute < 10 else f" {words(minute)}"
    elif not meridiem:
        said += " o'clock"
    return f"{said} {MERIDIEM[meridiem]}" if meridiem else said


def _phone(m: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", m.group(0))
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    groups = [digits[:3], digits[3:6], digits[6:]] if len(digits) == 10 else [digits[:3], digits[3:]]
    return ", ".join(say_digits(g) for g in groups)


def _ends_sentence(m: re.Match[str]) -> bool:
    """Whether a match that swallowed a final '.' (as in 'p.m.') also ended the sentence."""
    rest = m.string[m.end() :]
    return m.group(0).endswith(".") and (not rest.strip() or bool(re.match(r"\s+[A-Z]", rest)))


def _time(m: re.Match[str]) -> str:
    mer = m.groupdict().get("mer")
    meridiem = mer[0].lower() if mer else None
    said = say_clock(int(m.group("h")), int(m.group("m") or 0), meridiem)
    return said + "." if _ends_sentence(m) and not said.endswith(".") else said


def _money(m: re.Match[str]) -> str:
    dollars = int(m.group("d").replace(",", ""))
    cents = int(m.group("c") or 0)
    parts = []
    if dollars or not cents:
        parts.append(f"{words(dollars)} dollar{'' if dollars == 1 else 's'}")
    if cents:
        parts.append(f"{words(cents)} cent{'' if cents == 1 else 's'}")
    return " and ".join(parts)


def _day_range(m: re.Match[str]) -> str:
    return f"{WEEKDAYS[m.group(1).lower()]} to {WEEKDAYS[m.group(2).lower()]}"


def _integer(m: re.Match[str]) -> str:
    text = m.group(0)
    plain = text.replace(",", "")
    if len(plain) >= 5 and "," not in text and "." not in text:
        return say_digits(plain)  # an account number, a zip code: digit by digit
    if len(plain) == 4 and 1900 <= int(plain) <= 2099 and "," not in text:
        return words(int(plain), to="year")
    return say_number(text)


TIME = r"\b(?P<h>[01]?\d|2[0-3])(?::(?P<m>[0-5]\d))?\s*(?P<mer>[aApP]\.?\s?[mM]\b\.?)"
RANGE = r"\b(\d{1,2}(?::[0-5]\d)?)(\s*[aApP]\.?\s?[mM]\b\.?)?\s?[-–]\s?(\d{1,2}(?::[0-5]\d)?)\b(?!\s?%|-)"
DAY = r"(Mon|Tues?|Wed|Thu(?:rs?)?|Fri|Sat|Sun)"
RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str] | str]] = [
    (re.compile(rf"\b{DAY}\.?\s?(?:[-–]|to|through)\s?{DAY}\b"), _day_range),
    (re.compile(r"(?<![\w/])24/7\b"), "twenty-four seven"),
    (re.compile(r"(?<!\w)(?:\+?1[\s.-]?)?\(?\b\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}\b"), _phone),
    (re.compile(r"(?<![\d:])\b\d{3}-\d{4}\b"), _phone),
    (re.compile(RANGE), lambda m: f"{m.group(1)}{m.group(2) or ''} to {m.group(3)}"),
    (re.compile(TIME), _time),
    (re.compile(r"\b(?P<h>[01]?\d|2[0-3]):(?P<m>[0-5]\d)\b"), _time),
    (re.compile(r"\$(?P<d>\d[\d,]*)(?:\.(?P<c>\d{2}))?\b"), _money),
    (re.compile(r"\b(\d+(?:\.\d+)?)\s?%"), lambda m: f"{say_number(m.group(1))} percent"),
    (re.compile(r"\b(\d+)(?:st|nd|rd|th)\b"), lambda m: words(int(m.group(1)), to="ordinal")),
    (
        re.compile(r"\b(Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.?(?=\s+\d)"),
        lambda m: MONTHS[m.group(1).lower()],
    ),
    (
        re.compile(rf"\b({MONTH_NAMES})\s+(\d{{1,2}})\b(?!:)"),
        lambda m: f"{m.group(1)} {words(int(m.group(2)), to='ordinal')}",
    ),
    (re.compile(r"#(?=\d)"), "number "),
    (re.compile(r"\bNo\.\s?(?=\d)"), "number "),
]
WORD_RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"\b(Dr|Mr|Mrs|Ms|Prof)\.(?=\s+[A-Z])"), lambda m: TITLES[m.group(1).lower()]),
    (
        re.compile(r"(?<=[A-Za-z0-9] )(St|Ave|Blvd|Rd|Ln|Hwy)\.?(?=[\s,;:!?]|$)"),
        lambda m: STREET_WORDS[m.group(1).lower()],
    ),
    (re.compile(r"\b(Ste|Apt)\.?\s+(?=\d)"), lambda m: STREET_WORDS[m.group(1).lower()] + " "),
    (re.compile(rf"\b{DAY}\.?(?=[\s,;:!?]|$)"), lambda m: WEEKDAYS[m.group(1).lower()]),
]
PHRASE_RULE = re.compile("|".join(re.escape(p) for p in sorted(PHRASES, key=len, reverse=True)))
NUMBER = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?:\.\d+)?\b|(?<![\w.])\d+(?:\.\d+)?\b")


def speakable(text: str, language: str = "en") -> str:
    """Rewrite `text` in words a voice reads correctly (English only; other languages are returned as is)."""
    if not language.lower().startswith("en"):
        return text
    for pattern, rule in RULES:
        text = pattern.sub(rule, text)
    for pattern, word_rule in WORD_RULES:
        text = pattern.sub(word_rule, text)
    text = PHRASE_RULE.sub(lambda m: PHRASES[m.group(0)], text)
    return NUMBER.sub(_integer, text)


async def speakable_transform(text: str, _text_type: str) -> str:
    """pipecat `text_transforms` hook: what the caller hears is rewritten, the conversation keeps the text."""
    return speakable(text)
