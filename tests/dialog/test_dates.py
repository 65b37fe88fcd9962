"""Which days a caller means: weekdays, relative days, dates, and holidays by name."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from agent.dialog.business import load_business
from agent.dialog.dates import mentioned_days, next_weekday, part_of_day
from tests.conftest import REPO

WEDNESDAY = dt.date(2026, 12, 2)


def hours_of(key: str):  # type: ignore[no-untyped-def]
    return load_business(Path(REPO / "prompts"), key).hours


def test_weekdays_relative_days_and_the_weekend_resolve_from_today() -> None:
    """'today', 'tomorrow', 'saturdays' and 'this weekend' become dates after a Wednesday."""
    assert [d.date for d in mentioned_days("are you open today", WEDNESDAY)] == [WEDNESDAY]
    assert [d.label for d in mentioned_days("what about tomorrow", WEDNESDAY)] == ["tomorrow"]
    assert mentioned_days("do you work saturdays", WEDNESDAY)[0].date == dt.date(2026, 12, 5)
    weekend = mentioned_days("open this weekend?", WEDNESDAY)
    assert [d.date for d in weekend] == [dt.date(2026, 12, 5), dt.date(2026, 12, 6)]
    assert next_weekday(WEDNESDAY, "wednesday").label == "today"


def test_month_day_dates_are_read_in_any_common_order() -> None:
    """'December 24th', 'the 24th of December' and 'the 24th' all mean Dec 24 this year."""
    for text in ("hours on december 24th", "the twenty fourth of december", "open on the 24th"):
        assert mentioned_days(text, WEDNESDAY)[0].date == dt.date(2026, 12, 24), text
    assert mentioned_days("january 2nd", WEDNESDAY)[0].date == dt.date(2027, 1, 2)


def test_holidays_are_found_by_the_profiles_name_or_a_common_one() -> None:
    """'christmas eve' is the profile's exception; 'new years eve' is not 'new year's day'."""
    hours = hours_of("example")
    eve = mentioned_days("what are your hours on christmas eve", WEDNESDAY, hours)
    assert [(d.date, d.label) for d in eve] == [(dt.date(2026, 12, 24), "on Christmas Eve")]
    assert mentioned_days("open on christmas", WEDNESDAY, hours)[0].date == dt.date(2026, 12, 25)
    nye = mentioned_days("are you open new years eve", WEDNESDAY, hours)
    assert [d.date for d in nye] == [dt.date(2026, 12, 31)]  # not in the dental profile: an ordinary Thursday
    assert mentioned_days("new year's day", WEDNESDAY, hours)[0].date == dt.date(2027, 1, 1)


def test_part_of_day_is_read_when_named() -> None:
    """A caller's 'morning', 'tonight' or 'after lunch' narrows the day; none leaves it whole."""
    assert part_of_day("saturday morning") == "morning"
    assert part_of_day("open tonight") == "evening"
    assert part_of_day("open saturday") is None
