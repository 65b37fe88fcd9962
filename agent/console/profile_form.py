"""The business page's form: every section of a profile as form fields and back (pure; the hours part is
hours_form's). Field errors from the profile check are keyed by the form field they belong to."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import yaml

from agent.console import hours_form
from agent.dialog.business import DEFAULT_DISCLOSURE, DEFAULT_RECORDING, Behaviour

#: The single-line facts with their labels, in the order the form shows them (`messages.recipient` is
#: nested in the YAML).
DETAILS = {
    "name": "Business name",
    "numbers": "Phone numbers it answers (commas between)",
    "greeting": "Greeting",
    "ai_disclosure": "AI disclosure (empty: none)",
    "recording_announcement": "Recording announcement (empty: none, and no recording)",
    "closing": "Goodbye line (empty: the default)",
    "timezone": "Time zone",
    "address": "Address",
    "directions": "Directions",
    "messages.recipient": "Messages go to (a staff name)",
}
#: Spoken lines that an empty field turns off (false in the YAML), with what an absent one says.
SWITCHED = {"ai_disclosure": DEFAULT_DISCLOSURE, "recording_announcement": DEFAULT_RECORDING}
BEHAVIOUR = tuple(f.name for f in fields(Behaviour))
_WHERE = re.compile(r": ([\w.\[\]*#]+): (.*)$")
_ROW = re.compile(r"^(services|faq|staff)(?:\[(\d+)\](?:\.(\w+))?)?$")


@dataclass(frozen=True)
class Column:
    """One field of a table's rows: `kind` is text, long (a text area), words (comma-separated), check
    (a tick box) or choice (one of KEY_ACTIONS)."""

    key: str
    label: str
    kind: str = "text"


@dataclass(frozen=True)
class Table:
    """A section of the profile that is a list of rows (services, FAQ, staff, keypad)."""

    key: str
    title: str
    columns: tuple[Column, ...]


WORDS = "Words callers use (commas between)"
TABLES = (
    Table("services", "Services", (
        Column("name", "Service"), Column("price", "Price as said"), Column("description", "Description"),
        Column("keywords", WORDS, "words"),
    )),
    Table("faq", "Questions callers ask", (
        Column("question", "Question"), Column("answer", "Answer", "long"),
        Column("keywords", WORDS, "words"),
    )),
    Table("staff", "Staff and desks calls go to", (
        Column("name", "Name"), Column("role", "Role"), Column("number", "Number (+1555...)"),
        Column("operator", "Operator (0)", "check"),
        Column("takes", "Topics they take (commas between)", "words"),
    )),
    Table("dtmf", "Keypad", (
        Column("digit", "Key"), Column("action", "Action", "choice"),
        Column("to", "Transfer to (a staff name)"),
    )),
)  # fmt: skip


@dataclass(frozen=True)
class ProfileForm:
    """What the form shows: the facts, the hours, each table's rows (plus an empty one to add) and the
    behaviour settings, all as text."""

    details: dict[str, str]
    hours: hours_form.HoursForm
    rows: dict[str, list[dict[str, str]]]
    behaviour: dict[str, str]


def _load(document: str) -> dict[str, Any]:
    data = yaml.safe_load(document) or {}
    return data if isinstance(data, dict) else {}


def _shown(value: Any, kind: str = "text") -> str:
    if kind == "words":
        return ", ".join(str(v) for v in value) if isinstance(value, list) else str(value or "")
    if kind == "check":
        return "1" if value else ""
    return "" if value is None else str(value)


def _items(data: dict[str, Any], table: Table) -> list[dict[str, Any]]:
    raw = data.get(table.key) or ([] if table.key != "dtmf" else {})
    if table.key == "dtmf":
        pairs = raw.items() if isinstance(raw, dict) else []
        return [{"digit": str(d), **(spec if isinstance(spec, dict) else {})} for d, spec in pairs]
    return [item for item in raw if isinstance(item, dict)] if isinstance(raw, list) else []


def form_of(document: str) -> ProfileForm:
    """The profile's YAML text as form values."""
    data = _load(document)
    details = {key: _shown(data.get(key)) for key in DETAILS if "." not in key}
    details["numbers"] = _shown(data.get("numbers"), "words")
    details["messages.recipient"] = _shown((data.get("messages") or {}).get("recipient"))
    for key, default in SWITCHED.items():
        details[key] = "" if data.get(key) is False else _shown(data.get(key, default))
    rows = {
        t.key: [{c.key: _shown(item.get(c.key), c.kind) for c in t.columns} for item in _items(data, t)]
        + [{c.key: "" for c in t.columns}]
        for t in TABLES
    }
    behaviour = {key: _shown((data.get("behaviour") or {}).get(key)) for key in BEHAVIOUR}
    return ProfileForm(details, hours_form.form_of(data), rows, behaviour)


def _words(text: str) -> list[str]:
    return [w.strip() for w in text.split(",") if w.strip()]


def _number(text: str) -> int | float | str:
    """A typed number as YAML would read it; anything else stays text, for the profile check to name."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def _table_rows(form: Mapping[str, str], table: Table) -> list[tuple[int, dict[str, str]]]:
    """The table's submitted rows in order, without removed and empty ones."""
    prefix = f"{table.key}."
    parts = [k.split(".") for k in form if k.startswith(prefix)]
    indexes = sorted({int(p[1]) for p in parts if len(p) == 3 and p[1].isdigit()})
    rows = []
    for i in indexes:
        row = {c.key: form.get(f"{prefix}{i}.{c.key}", "").strip() for c in table.columns}
        typed = any(v for k, v in row.items() if k not in ("operator", "action"))  # not a box or a choice
        if form.get(f"{prefix}{i}.remove") or not typed:
            continue
        rows.append((i, row))
    return rows


def _apply_table(
    data: dict[str, Any], form: Mapping[str, str], table: Table, problems: dict[str, str]
) -> None:
    rows = _table_rows(form, table)
    if table.key == "dtmf":
        keys: dict[str, dict[str, str]] = {}
        for _, row in rows:
            if row["digit"] in keys:  # the row that stays shown is the key's first
                problems[f"dtmf.{list(keys).index(row['digit'])}.digit"] = f"key {row['digit']} is used twice"
            spec = {"action": row["action"]}
            if row["to"]:
                spec["to"] = row["to"]
            keys[row["digit"]] = spec
        data["dtmf"] = keys
        return
    before = _items(data, table)
    shown = {c.key for c in table.columns}
    items = []
    for i, row in rows:
        # Fields the form doesn't show (a note kept in the YAML) stay with their row.
        extra = before[i] if i < len(before) else {}
        item: dict[str, Any] = {k: v for k, v in extra.items() if k not in shown}
        for column in table.columns:
            value = row[column.key]
            if column.kind == "words":
                item[column.key] = _words(value)
            elif column.kind == "check":
                if value:
                    item[column.key] = True
            elif value or column.key in ("name", "question", "answer", "number"):
                item[column.key] = value
        items.append(item)
    data[table.key] = items


def apply_form(document: str, form: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """The profile's YAML text with the form's sections put in (only those the form carries: the hours
    fields alone change only the hours), and the problems the form itself shows (a keypad key used twice:
    the text keeps the last row's action)."""
    data = yaml.safe_load(document)
    if not isinstance(data, dict):
        return document, {"name": "the profile is not a mapping of fields"}
    problems: dict[str, str] = {}
    if any(k.startswith("hours.") for k in form):
        hours_form.put_hours(data, form)
    for key in DETAILS:
        if key not in form:
            continue
        value = form[key].strip()
        if key == "numbers":
            data["numbers"] = _words(value.replace(" ", ","))
        elif key == "messages.recipient":
            data["messages"] = {**(data.get("messages") or {}), "recipient": value}
        elif key in SWITCHED:
            data[key] = value or False
        elif value or key in ("name", "greeting", "timezone"):
            data[key] = value
        else:
            data.pop(key, None)
    for table in TABLES:
        if any(k.startswith(f"{table.key}.") for k in form):
            _apply_table(data, form, table, problems)
    if any(f"behaviour.{key}" in form for key in BEHAVIOUR):
        typed = {key: form.get(f"behaviour.{key}", "").strip() for key in BEHAVIOUR}
        data["behaviour"] = {key: _number(value) for key, value in typed.items() if value}
    return str(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)), problems


def field_errors(messages: list[str], document: str) -> dict[str, str]:
    """The profile check's messages keyed by the form field they belong to (a row's or a table's key when
    the problem is about the whole row or table)."""
    out = hours_form.field_errors(messages, document)
    digits = {row["digit"]: i for i, row in enumerate(form_of(document).rows["dtmf"])}
    for message in messages:
        found = _WHERE.search(message)
        if found is None:
            continue
        where, problem = found.groups()
        row = _ROW.match(where)
        if where in DETAILS or where in ("behaviour", "dtmf") or where.startswith("behaviour."):
            out[where] = problem
        elif row is not None:
            table, index, column = row.groups()
            out[".".join(p for p in (table, index, column) if p is not None)] = problem
        elif where.startswith("dtmf."):
            digit, _, column = where[len("dtmf.") :].partition(".")
            if digit in digits:
                out[f"dtmf.{digits[digit]}.{column or 'digit'}"] = problem
    return out
