"""Opening hours from a business profile: parse, ask about a day or right now, and say it aloud (pure)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_RANGE = re.compile(r"^\s*(\d{1,2})(?::(\d{2}))?\s*-\s*(\d{1,2})(?::(\d{2}))?\s*$")


class HoursError(ValueError):
    """An opening-hours value that cannot be understood."""


@dataclass(frozen=True)
class Span:
    """One opening span within a day, [open, close)."""

    open: dt.time
    close: dt.time


@dataclass(frozen=True)
class Special:
    """A dated holiday (no spans: closed) or exception (its own spans)."""

    date: dt.date
    name: str
    spans: tuple[Span, ...]


@dataclass(frozen=True)
class Hours:
    """A week of opening spans plus dated holidays and exceptions, in one time zone."""

    weekly: dict[str, tuple[Span, ...]]
    specials: dict[dt.date, Special] = field(default_factory=dict)

    def spans_on(self, day: dt.date) -> tuple[tuple[Span, ...], Special | None]:
        """Return the spans the business is open on `day`, and the special entry that set them."""
        special = self.specials.get(day)
        if special is not None:
            return special.spans, special
        return self.weekly[WEEKDAYS[day.weekday()]], None

    def is_open(self, moment: dt.datetime) -> bool:
        """Whether the business is open at `moment` (a time in the business's zone)."""
        spans, _ = self.spans_on(moment.date())
        t = moment.time()
        return any(s.open <= t < s.close for s in spans)

    def next_opening(self, moment: dt.datetime, horizon_days: int = 14) -> dt.datetime | None:
        """Return when the business next opens after `moment`, or None within the horizon."""
        for offset in range(horizon_days + 1):
            day = moment.date() + dt.timedelta(days=offset)
            for span in self.spans_on(day)[0]:
                start = dt.datetime.combine(day, span.open, tzinfo=moment.tzinfo)
                if start > moment:
                    return start
        return None


def parse_spans(value: object, where: str) -> tuple[Span, ...]:
    """Parse 'closed', '8:00-17:00' or '8:00-12:00, 13:00-17:00' into spans; raise HoursError."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "closed"):
        return ()
    if not isinstance(value, str):
        raise HoursError(f"{where}: expected 'closed' or 'HH:MM-HH:MM', got {value!r}")
    spans = []
    for part in value.split(","):
        m = _RANGE.match(part)
        if not m:
            raise HoursError(f"{where}: {part.strip()!r} is not 'HH:MM-HH:MM'")
        h1, m1, h2, m2 = (int(g) if g else 0 for g in m.groups())
        try:
            opening, closing = dt.time(h1, m1), dt.time(h2, m2) if h2 < 24 else dt.time(23, 59)
        except ValueError as exc:
            raise HoursError(f"{where}: {part.strip()!r} has an invalid time") from exc
        if closing <= opening:
            raise HoursError(f"{where}: {part.strip()!r} closes before it opens")
        spans.append(Span(opening, closing))
    return tuple(sorted(spans, key=lambda s: s.open))


def say_time(t: dt.time) -> str:
    """Say a time the way a receptionist would: '9 AM', '5:30 PM', 'noon'."""
    if t == dt.time(12, 0):
        return "noon"
    hour = t.hour % 12 or 12
    suffix = "AM" if t.hour < 12 else "PM"
    return f"{hour} {suffix}" if t.minute == 0 else f"{hour}:{t.minute:02d} {suffix}"


def say_spans(spans: tuple[Span, ...]) -> str:
    """Say a day's spans: 'closed', 'from 8 AM to 5 PM', 'from 8 AM to noon and 1 PM to 5 PM'."""
    if not spans:
        return "closed"
    return "from " + " and ".join(f"{say_time(s.open)} to {say_time(s.close)}" for s in spans)


def describe_day(hours: Hours, day: dt.date, label: str) -> str:
    """A sentence about one day, naming a holiday or exception where there is one."""
    spans, special = hours.spans_on(day)
    named = special and special.name and special.name.lower() not in label.lower()
    note = f" for {special.name}" if special and named else ""
    if not spans:
        return f"We're closed {label}{note}."
    return f"{label[0].upper() + label[1:]}{note}, we're open {say_spans(spans)}."


def describe_week(hours: Hours) -> str:
    """Summarise the regular week, grouping consecutive days with the same hours."""
    groups: list[tuple[list[str], tuple[Span, ...]]] = []
    for day in WEEKDAYS:
        spans = hours.weekly[day]
        if groups and groups[-1][1] == spans:
            groups[-1][0].append(day)
        else:
            groups.append(([day], spans))
    parts = []
    for days, spans in groups:
        name = days[0].title() if len(days) == 1 else f"{days[0].title()} to {days[-1].title()}"
        parts.append(f"{name} {say_spans(spans)}" if spans else f"{name} closed")
    return "; ".join(parts) + "."


def describe_now(hours: Hours, moment: dt.datetime) -> str:
    """Say whether the business is open right now, and until or from when."""
    spans, special = hours.spans_on(moment.date())
    t = moment.time()
    for span in spans:
        if span.open <= t < span.close:
            return f"Yes, we're open right now, until {say_time(span.close)} today."
    nxt = hours.next_opening(moment)
    if nxt is None:
        return "We're closed right now."
    if nxt.date() == moment.date():
        when = f"today at {say_time(nxt.time())}"
    elif nxt.date() == moment.date() + dt.timedelta(days=1):
        when = f"tomorrow at {say_time(nxt.time())}"
    else:
        when = f"on {WEEKDAYS[nxt.weekday()].title()} at {say_time(nxt.time())}"
    note = f" for {special.name}" if special and special.name and not spans else ""
    return f"We're closed right now{note}. We open again {when}."
