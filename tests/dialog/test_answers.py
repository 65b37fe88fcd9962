"""Answers from the profile say what was asked: one day, a closing time, yes or no, not the whole week."""

from __future__ import annotations

import datetime as dt

import pytest

from agent.dialog.answers import answer_address, answer_hours
from agent.dialog.business import Business, load_business
from tests.conftest import REPO


@pytest.fixture(scope="module")
def dental() -> Business:
    return load_business(REPO / "prompts", "example")


def at(b: Business, *when: int) -> dt.datetime:
    return dt.datetime(*when, tzinfo=b.timezone)


def test_one_day_gets_that_days_hours_only(dental: Business) -> None:
    """Asked about Saturday, the caller hears Saturday's hours and no other weekday."""
    text = answer_hours(dental, "what are your hours on saturday", at(dental, 2026, 12, 2, 10, 30))
    assert text == "On Saturday, we're open from 9 AM to 1 PM."


def test_closing_time_today_is_just_that(dental: Business) -> None:
    """'What time do you close today?' on a Wednesday: 5 PM, one sentence."""
    text = answer_hours(dental, "what time do you close today", at(dental, 2026, 12, 2, 10, 30))
    assert text == "Today, we close at 5 PM."
    assert (
        answer_hours(dental, "what time do you close", at(dental, 2026, 12, 3, 9))
        == "Today, we close at 7 PM."
    )


def test_a_part_of_the_day_gets_yes_or_no_with_the_hours(dental: Business) -> None:
    """'Open Saturday morning?' is yes (9 to 1); 'Saturday evening' is no, with the same hours."""
    now = at(dental, 2026, 12, 2, 10, 30)
    assert answer_hours(dental, "are you open saturday morning", now).startswith("Yes, on Saturday")
    assert answer_hours(dental, "are you open saturday evening", now).startswith("No, on Saturday")


def test_holidays_and_exceptions_are_answered_by_name(dental: Business) -> None:
    """Christmas Eve has its own hours; Christmas Day is closed."""
    now = at(dental, 2026, 12, 2, 10, 30)
    assert (
        answer_hours(dental, "hours on christmas eve", now)
        == "On Christmas Eve, we're open from 8 AM to noon."
    )
    assert "closed" in answer_hours(dental, "are you open on christmas day", now)


def test_opening_time_after_todays_opening_gives_the_next_one(dental: Business) -> None:
    """'What time do you open?' on Sunday evening: when we open next, not Sunday's (closed) hours."""
    text = answer_hours(dental, "what time do you open in the morning", at(dental, 2026, 12, 6, 18, 30))
    assert "We open again tomorrow at 8 AM" in text


def test_only_a_general_question_gets_the_week(dental: Business) -> None:
    """'What are your hours?' gets the week; a parking question gets only the parking sentence."""
    assert "Saturday from 9 AM to 1 PM" in answer_hours(
        dental, "what are your hours", at(dental, 2026, 12, 2, 10)
    )
    parking = "We're on the second floor above the bakery, and there's free parking behind the building."
    assert answer_address(dental, "is there parking") == parking
