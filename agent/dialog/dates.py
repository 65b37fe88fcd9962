"""Which days a caller means ("Saturday", "tomorrow", "Christmas Eve", "the 24th"), parsed exactly (pure)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from agent.dialog.hours import WEEKDAYS, Hours

MONTHS = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14,
    "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19, "twentieth": 20,
    "twenty first": 21, "twenty second": 22, "twenty third": 23, "twenty fourth": 24, "twenty fifth": 25,
    "twenty sixth": 26, "twenty seventh": 27, "twenty eighth": 28, "twenty ninth": 29, "thirtieth": 30,
    "thirty first": 31,
}  # fmt: skip
_DAY_NUMBER = r"(\d{1,2})(?:st|nd|rd|th)?|" + "|".join(sorted(_ORDINALS, key=len, reverse=True))
_MONTH_DAY = re.compile(rf"\b({'|'.join(MONTHS)})\s+(?:the\s+)?({_DAY_NUMBER})\b")
_DAY_MONTH = re.compile(rf"\bthe\s+({_DAY_NUMBER})\s+of\s+({'|'.join(MONTHS)})\b")
_BARE_DAY = re.compile(r"\bthe\s+(\d{1,2})(?:st|nd|rd|th)\b")
# Days with a name of their own, known whether or not the profile lists them: (month, day, name).
NAMED_DAYS = {
    "christmas eve": (12, 24, "Christmas Eve"),
    "christmas day": (12, 25, "Christmas Day"),
    "christmas": (12, 25, "Christmas Day"),
    "boxing day": (12, 26, "Boxing Day"),
    "new year's eve": (12, 31, "New Year's Eve"),
    "new years eve": (12, 31, "New Year's Eve"),
    "new year's day": (1, 1, "New Year's Day"),
    "new years day": (1, 1, "New Year's Day"),
    "new year's": (1, 1, "New Year's Day"),
    "new years": (1, 1, "New Year's Day"),
    "halloween": (10, 31, "Halloween"),
    "valentine's day": (2, 14, "Valentine's Day"),
    "independence day": (7, 4, "Independence Day"),
    "fourth of july": (7, 4, "the Fourth of July"),
}
# Names callers use for the days a profile's holidays and exceptions are called.
_HOLIDAY_ALIASES = {
    "christmas eve": ("christmas eve",),
    "christmas day": ("christmas day", "christmas"),
    "new year's eve": ("new year's eve", "new years eve", "new year eve"),
    "new year's day": ("new year's day", "new years day", "new year's", "new years", "new year"),
    "boxing day": ("boxing day",),
    "thanksgiving": ("thanksgiving",),
}
PARTS_OF_DAY = {
    "morning": (dt.time(0, 0), dt.time(12, 0)),
    "afternoon": (dt.time(12, 0), dt.time(17, 0)),
    "evening": (dt.time(17, 0), dt.time(23, 59)),
    "lunch": (dt.time(12, 0), dt.time(13, 0)),
    "lunchtime": (dt.time(12, 0), dt.time(13, 0)),
}


@dataclass(frozen=True)
class DayMention:
    """A day the caller named, how to say it back ('on Saturday', 'today', 'on Christmas Eve')."""

    date: dt.date
    label: str


def next_weekday(today: dt.date, name: str) -> DayMention:
    """The next `name` day on or after `today`, labelled 'on Saturday' (or 'today' when it is today)."""
    ahead = (WEEKDAYS.index(name) - today.weekday()) % 7
    return DayMention(today + dt.timedelta(days=ahead), "today" if ahead == 0 else f"on {name.title()}")


def _day_number(token: str) -> int:
    token = token.strip()
    return _ORDINALS[token] if token in _ORDINALS else int(re.sub(r"\D", "", token))


def _upcoming(today: dt.date, month: int, day: int) -> dt.date | None:
    for year in (today.year, today.year + 1):
        try:
            date = dt.date(year, month, day)
        except ValueError:
            return None
        if date >= today - dt.timedelta(days=1):
            return date
    return None


def _special_mentions(text: str, today: dt.date, hours: Hours | None) -> list[DayMention]:
    """Holidays and exceptions the caller named, by the profile's own name for them or a common alias."""
    found: list[DayMention] = []
    pairs: list[tuple[str, dt.date, str]] = []
    specials = hours.specials.values() if hours is not None else ()
    for special in specials:
        if special.date >= today - dt.timedelta(days=1) and special.name:
            name = special.name.lower().replace("’", "'")
            for alias in {name, name.replace("'", ""), *_HOLIDAY_ALIASES.get(name, ())}:
                pairs.append((alias, special.date, special.name))
    for alias, (month, day, name) in NAMED_DAYS.items():
        date = _upcoming(today, month, day)
        if date is not None:
            known = next((s.name for s in specials if s.date == date and s.name), name)
            pairs.append((alias, date, known))
    taken: list[tuple[int, int]] = []
    for alias, date, name in sorted(pairs, key=lambda p: (-len(p[0]), p[1])):
        for m in re.finditer(rf"\b{re.escape(alias)}\b", text):
            if any(a < m.end() and m.start() < b for a, b in taken):
                continue
            taken.append(m.span())
            if all(d.date != date for d in found):
                found.append(DayMention(date, f"on {name}"))
    return found


def _on_date(date: dt.date | None) -> DayMention | None:
    return DayMention(date, f"on {date:%B} {date.day}") if date is not None else None


def mentioned_days(text: str, today: dt.date, hours: Hours | None = None) -> list[DayMention]:
    """Every day the (normalised, lower-case) text names, in order of first mention, without repeats.

    Knows weekdays (and their plurals), today / tonight / this morning, tomorrow, the weekend, month-day
    dates ('December 24th', 'the 24th of December', 'the 24th'), and the profile's holidays and exceptions.
    """
    hits: list[tuple[int, DayMention]] = []

    def add(pos: int, mention: DayMention | None) -> None:
        if mention is not None:
            hits.append((pos, mention))

    for m in re.finditer(r"\b(today|tonight|this (morning|afternoon|evening)|right now|now)\b", text):
        if m.group(1) not in ("now", "right now"):
            add(m.start(), DayMention(today, "today"))
    for m in re.finditer(r"\b(tomorrow|tmrw|tomorow)\b", text):
        add(m.start(), DayMention(today + dt.timedelta(days=1), "tomorrow"))
    for m in re.finditer(r"\b(this |the |on the )?week ?ends?\b", text):
        add(m.start(), next_weekday(today, "saturday"))
        add(m.start() + 1, next_weekday(today, "sunday"))
    for name in WEEKDAYS:
        for m in re.finditer(rf"\b{name}s?\b", text):
            add(m.start(), next_weekday(today, name))
    for m in _MONTH_DAY.finditer(text):
        date = _upcoming(today, MONTHS.index(m.group(1)) + 1, _day_number(m.group(2)))
        add(m.start(), _on_date(date))
    for m in _DAY_MONTH.finditer(text):
        date = _upcoming(today, MONTHS.index(m.group(3)) + 1, _day_number(m.group(1)))
        add(m.start(), _on_date(date))
    if not _MONTH_DAY.search(text) and not _DAY_MONTH.search(text):
        for m in _BARE_DAY.finditer(text):
            day = int(m.group(1))
            month = today.month if day >= today.day else today.month % 12 + 1
            date = _upcoming(today, month, day)
            add(m.start(), _on_date(date))
    for special in _special_mentions(text, today, hours):
        where = re.search(re.escape(special.label[3:].lower().split()[-1]), text)
        add(where.start() if where else len(text), special)
    days: list[DayMention] = []
    for _, mention in sorted(hits, key=lambda h: h[0]):
        if all(d.date != mention.date for d in days):
            days.append(mention)
        elif mention.label.startswith("on ") and not mention.label[3:4].islower():
            # A holiday's name says more than the weekday or date that also named it.
            days = [mention if d.date == mention.date else d for d in days]
    return days


def part_of_day(text: str) -> str | None:
    """'morning', 'afternoon', 'evening' or 'lunch' when the caller narrows a day to one."""
    m = re.search(r"\b(morning|afternoon|evening|lunch|lunchtime|tonight)\b", text)
    if m is None:
        return None
    return "evening" if m.group(1) == "tonight" else m.group(1)
