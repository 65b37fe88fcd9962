"""Reads from the call log: recent calls, one call in full, everything as plain dicts for export.

A recording leaves the call log only as `has_recording` and the console URL that serves it to a logged-in
operator (`recording_url`), never as its file name under the recordings directory.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from agent.records.db import Database
from agent.records.models import Call, Event, Message, Turn

CALL_FIELDS = (
    "call_sid",
    "stream_sid",
    "business",
    "called",
    "caller",
    "voice",
    "started_at",
    "answered_at",
    "ended_at",
    "duration_s",
    "outcome",
    "end_reason",
    "has_recording",
    "recording_url",
)
RECORDING_PATH = "/console/recordings/{call_id}"  # the console's authenticated recording handler


@dataclass
class CallRecord:
    """A call with its turns, events and messages, in order."""

    call: Call
    turns: list[Turn] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def row_dict(row: Call | Turn | Event | Message, skip: tuple[str, ...] = ("id", "call_id")) -> dict[str, Any]:
    """A row's columns as a JSON-friendly dict."""
    return {c.key: _plain(getattr(row, c.key)) for c in row.__table__.columns if c.key not in skip}


async def list_calls(
    db: Database, limit: int = 50, outcome: str | None = None, business: str | None = None
) -> list[tuple[Call, int]]:
    """The latest calls, newest first, each with its number of turns."""
    turns = select(func.count(Turn.id)).where(Turn.call_id == Call.id).scalar_subquery()
    query = select(Call, turns).order_by(Call.started_at.desc(), Call.id.desc()).limit(limit)
    if outcome:
        query = query.where(Call.outcome == outcome)
    if business:
        query = query.where(Call.business == business)
    async with db.sessions() as session:
        return [(call, int(n)) for call, n in (await session.execute(query)).all()]


async def _records(db: Database, calls: list[Call]) -> list[CallRecord]:
    ids = [c.id for c in calls]
    records = {c.id: CallRecord(c) for c in calls}
    if not ids:
        return []
    async with db.sessions() as session:
        for turn in await session.scalars(select(Turn).where(Turn.call_id.in_(ids)).order_by(Turn.seq)):
            records[turn.call_id].turns.append(turn)
        for event in await session.scalars(select(Event).where(Event.call_id.in_(ids)).order_by(Event.id)):
            records[event.call_id].events.append(event)
        query = select(Message).where(Message.call_id.in_(ids)).order_by(Message.created_at)
        for message in await session.scalars(query):
            if message.call_id is not None:
                records[message.call_id].messages.append(message)
    return [records[i] for i in ids]


async def get_call(db: Database, call_sid: str) -> list[CallRecord]:
    """Every stream of the call `call_sid` (a resumed transfer adds one), oldest first."""
    async with db.sessions() as session:
        calls = list(await session.scalars(select(Call).where(Call.call_sid == call_sid).order_by(Call.id)))
    return await _records(db, calls)


async def call_record(db: Database, call_id: int) -> CallRecord | None:
    """The call row `call_id` (one stream) with its turns, events and messages, or None."""
    async with db.sessions() as session:
        call = await session.get(Call, call_id)
    return (await _records(db, [call]))[0] if call is not None else None


async def all_calls(db: Database, since: dt.datetime | None = None) -> list[CallRecord]:
    """Every call (started after `since`, when given), oldest first."""
    query = select(Call).order_by(Call.started_at, Call.id)
    if since is not None:
        query = query.where(Call.started_at >= since)
    async with db.sessions() as session:
        calls = list(await session.scalars(query))
    return await _records(db, calls)


def recording_url(call: Call, base_url: str) -> str | None:
    """The console URL of the call's recording under `base_url`, or None without a recording or a base URL."""
    if not call.recording or not base_url:
        return None
    return base_url.rstrip("/") + RECORDING_PATH.format(call_id=call.id)


def record_dict(record: CallRecord, base_url: str = "") -> dict[str, Any]:
    """A call, its turns, events and messages as one JSON-friendly dict; its recording as a console URL."""
    return {
        **row_dict(record.call, skip=("id", "recording")),
        "has_recording": bool(record.call.recording),
        "recording_url": recording_url(record.call, base_url),
        "turns": [row_dict(t) for t in record.turns],
        "events": [row_dict(e, skip=("call_id",)) for e in record.events],
        "messages": [row_dict(m, skip=("call_id",)) for m in record.messages],
    }
