"""Short spoken answers from the profile: the hours asked about, where we are, what a service costs (pure)."""

from __future__ import annotations

import datetime as dt
import re

from agent.dialog.business import Business, Service
from agent.dialog.dates import PARTS_OF_DAY, DayMention, mentioned_days, part_of_day
from agent.dialog.hours import describe_day, describe_now, describe_week, say_spans, say_time
from agent.dialog.phrases import CLOSING_TIME, OPEN_NOW, OPENING_TIME

MAX_DAYS = 3  # a phone caller can't skim: more days than this get the week's summary


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _one_day(b: Business, day: DayMention, text: str) -> str:
    """Answer about one day: its closing or opening time, a part of the day, or its hours."""
    spans, special = b.hours.spans_on(day.date)
    note = (
        f" for {special.name}"
        if special and special.name and special.name.lower() not in day.label.lower()
        else ""
    )
    if not spans:
        return describe_day(b.hours, day.date, day.label)
    closing = CLOSING_TIME.search(text) and not re.search(r"\bopen(ing)? (time|at)\b", text)
    if closing:
        return f"{_capital(day.label)}{note}, we close at {say_time(spans[-1].close)}."
    if OPENING_TIME.search(text) and re.search(r"\bwhat time\b|\bwhen\b|\bhow early\b", text):
        return f"{_capital(day.label)}{note}, we open at {say_time(spans[0].open)}."
    part = part_of_day(text)
    if part is not None:
        start, end = PARTS_OF_DAY[part]
        open_then = any(s.open < end and start < s.close for s in spans)
        verdict = "Yes" if open_then else "No"
        return f"{verdict}, {day.label}{note} we're open {say_spans(spans)}."
    if re.match(r"^(um |uh |so |and |oh |hey |well )*(are|r|is|will|do|would) ", text):
        return f"Yes, {day.label}{note} we're open {say_spans(spans)}."
    return describe_day(b.hours, day.date, day.label)


def answer_hours(b: Business, text: str, now: dt.datetime) -> str:
    """The hours the caller asked about: right now, a day or a few days, or else the regular week."""
    days = mentioned_days(text, now.date(), b.hours)
    if OPEN_NOW.search(text) and not days:
        return describe_now(b.hours, now)
    asks_time = CLOSING_TIME.search(text) or re.search(
        r"\b(what time|when|how early) do you (guys )?open\b", text
    )
    if not days and asks_time and not re.search(r"\bweek|\bdays\b|\busually\b|\bhours\b", text):
        spans, _ = b.hours.spans_on(now.date())
        if not CLOSING_TIME.search(text) and not any(now.time() < s.open for s in spans):
            return describe_now(b.hours, now)  # "what time do you open?" after today's opening: the next one
        days = [DayMention(now.date(), "today")]  # "what time do you close?" means today
    if not days:
        return f"Our hours are {describe_week(b.hours)}"
    if len(days) > MAX_DAYS:
        return f"Our hours are {describe_week(b.hours)}"
    return " ".join(_one_day(b, d, text) for d in days)


def answer_address(b: Business, text: str) -> str:
    """Where we are; directions and parking when asked about them, or both when there's little to say."""
    if not b.address:
        return "I'm sorry, I don't have our address to hand."
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", b.directions) if s.strip()]
    parking = [s for s in sentences if re.search(r"\bpark", s.lower())]
    if re.search(r"\bpark", text) and parking:
        return " ".join(parking)
    return f"We're at {b.address}. {b.directions}".strip()


def answer_service(service: Service) -> str:
    """One service and its price."""
    price = f" is {service.price}" if service.price else " is something we offer"
    return f"{service.name}{price}."


def list_services(b: Business) -> str:
    """Every service with its price, in one sentence."""
    listed = "; ".join(f"{s.name.lower()}, {s.price}" if s.price else s.name.lower() for s in b.services)
    return f"We offer {listed}."
