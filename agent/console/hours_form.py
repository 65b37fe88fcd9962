"""The business page's hours form: a profile's weekly hours, holidays and exceptions as form fields and back
(pure). Field errors are keyed as the profile checks name them (`hours.saturday`, `holidays[0].date`)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from agent.dialog.hours import WEEKDAYS

_WHERE = re.compile(r": ((?:hours\.\w+)|(?:(?:holidays|exceptions)\[\d+\](?:\.\w+)?)): (.*)$")


@dataclass(frozen=True)
class Special:
    """A dated row: a holiday (no hours: closed) or an exception (its own hours)."""

    date: str
    name: str
    hours: str


@dataclass(frozen=True)
class HoursForm:
    """What the form shows: each weekday's hours as text, and the dated rows (plus an empty one to add)."""

    weekly: dict[str, str]
    specials: list[Special]


def _text(value: Any) -> str:
    return "closed" if value in (None, False, "closed") else str(value)


def form_of(data: Any) -> HoursForm:
    """The hours in a parsed profile as form values."""
    hours = data.get("hours") if isinstance(data, dict) else None
    weekly = {day: _text((hours or {}).get(day, "closed")) for day in WEEKDAYS}
    specials = [
        Special(
            str(item.get("date", "")),
            str(item.get("name", "")),
            "" if kind == "holidays" else str(item.get("hours", "")),
        )
        for kind in ("holidays", "exceptions")
        for item in (data.get(kind) or [] if isinstance(data, dict) else [])
        if isinstance(item, dict)
    ]
    specials.sort(key=lambda s: s.date)
    return HoursForm(weekly, [*specials, Special("", "", "")])


def put_hours(data: dict[str, Any], form: Mapping[str, str]) -> None:
    """Put the form's hours into a parsed profile (holidays and exceptions rebuilt from the dated rows: no
    hours is a holiday; a date that isn't one is kept as typed for the profile check to name)."""
    data["hours"] = {day: (form.get(f"hours.{day}", "").strip() or "closed") for day in WEEKDAYS}
    holidays: list[dict[str, Any]] = []
    exceptions: list[dict[str, Any]] = []
    rows = sorted({int(k.split(".")[1]) for k in form if k.startswith("special.") and k.count(".") == 2})
    for i in rows:
        raw = form.get(f"special.{i}.date", "").strip()
        if not raw or form.get(f"special.{i}.remove"):
            continue
        try:
            date: dt.date | str = dt.date.fromisoformat(raw)
        except ValueError:
            date = raw  # kept as typed: the profile check names it next to its row
        name, hours = form.get(f"special.{i}.name", "").strip(), form.get(f"special.{i}.hours", "").strip()
        if hours and hours != "closed":
            exceptions.append({"date": date, "hours": hours, "name": name})
        else:
            holidays.append({"date": date, "name": name})
    data["holidays"] = sorted(holidays, key=lambda h: str(h["date"]))
    data["exceptions"] = sorted(exceptions, key=lambda h: str(h["date"]))


def field_errors(messages: list[str], document: str) -> dict[str, str]:
    """The profile check's messages about hours, keyed by the form field they belong to."""
    data = yaml.safe_load(document) or {}
    form = form_of(data)
    dated = {s.date: i for i, s in enumerate(form.specials)}
    out: dict[str, str] = {}
    for message in messages:
        found = _WHERE.search(message)
        if found is None:
            continue
        where, problem = found.groups()
        if where.startswith("hours."):
            out[where] = problem
            continue
        kind, index = where.split("[")[0], int(where.split("[")[1].split("]")[0])
        items = data.get(kind) or []
        if index < len(items) and isinstance(items[index], dict):
            row = dated.get(str(items[index].get("date", "")))
            if row is not None:
                out[f"special.{row}"] = problem
    return out
