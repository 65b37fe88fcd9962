"""Opening hours: per day, right now, holidays and exceptions, said the way a person says them."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from agent.dialog.hours import (
    Hours,
    Special,
    describe_day,
    describe_now,
    describe_week,
    parse_spans,
    say_time,
)

TZ = ZoneInfo("America/New_York")
WEEK = {d: parse_spans("8:00-17:00", d) for d in ("monday", "tuesday", "wednesday", "thursday")}
WEEK |= {"friday": parse_spans("8:00-12:00, 13:00-15:00", "f"), "saturday": (), "sunday": ()}
XMAS = dt.date(2026, 12, 25)
EVE = dt.date(2026, 12, 24)
HOURS = Hours(
    WEEK,
    {
        XMAS: Special(XMAS, "Christmas Day", ()),
        EVE: Special(EVE, "Christmas Eve", parse_spans("8:00-12:00", "e")),
    },
)


def at(y: int, m: int, d: int, h: int, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, h, mi, tzinfo=TZ)


def test_times_are_said_naturally() -> None:
    """Hours read as '9 AM', '5:30 PM' and 'noon'."""
    assert [say_time(dt.time(9)), say_time(dt.time(17, 30)), say_time(dt.time(12))] == [
        "9 AM",
        "5:30 PM",
        "noon",
    ]


def test_open_now_follows_spans_and_lunch_breaks() -> None:
    """Open inside a span, closed over a lunch break, with when it reopens."""
    assert HOURS.is_open(at(2026, 11, 27, 9))  # a Friday
    assert describe_now(HOURS, at(2026, 11, 27, 12, 30)) == (
        "We're closed right now. We open again today at 1 PM."
    )
    assert describe_now(HOURS, at(2026, 11, 27, 10)) == ("Yes, we're open right now, until noon today.")


def test_closed_weekend_names_the_next_opening_day() -> None:
    """On Saturday the next opening is Monday morning."""
    assert describe_now(HOURS, at(2026, 11, 28, 10)) == (
        "We're closed right now. We open again on Monday at 8 AM."
    )


def test_holidays_and_exceptions_override_the_week() -> None:
    """A holiday closes a weekday; an exception changes its hours; both are named."""
    assert not HOURS.is_open(at(2026, 12, 25, 10))
    assert describe_day(HOURS, XMAS, "on Friday") == "We're closed on Friday for Christmas Day."
    assert describe_day(HOURS, EVE, "tomorrow") == "Tomorrow for Christmas Eve, we're open from 8 AM to noon."
    assert describe_now(HOURS, at(2026, 12, 25, 10)).startswith("We're closed right now for Christmas Day")


def test_week_summary_groups_days_with_equal_hours() -> None:
    """Consecutive days with the same hours are grouped."""
    assert describe_week(HOURS) == (
        "Monday to Thursday from 8 AM to 5 PM; Friday from 8 AM to noon and 1 PM to 3 PM; "
        "Saturday to Sunday closed."
    )
