"""Retention: calls, their turns, events, messages and recordings older than N days are deleted."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, select

from agent.records.db import Database
from agent.records.models import Call, Event, Message, Turn
from agent.records.storage import RecordingStore

BATCH = 500


@dataclass(frozen=True)
class Removed:
    """What one retention pass deleted."""

    calls: int
    files: int


async def apply_retention(
    db: Database, days: int, store: RecordingStore, now: dt.datetime | None = None
) -> Removed:
    """Delete everything older than `days` days (0 keeps everything), recordings from `store` too."""
    if days <= 0:
        return Removed(0, 0)
    cutoff = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=days)
    async with db.sessions.begin() as session:
        rows = (await session.execute(select(Call.id, Call.recording).where(Call.started_at < cutoff))).all()
        ids = [r.id for r in rows]
        for i in range(0, len(ids), BATCH):
            batch = ids[i : i + BATCH]
            for table in (Event, Turn, Message):
                await session.execute(delete(table).where(table.call_id.in_(batch)))
            await session.execute(delete(Call).where(Call.id.in_(batch)))
        await session.execute(delete(Message).where(Message.created_at < cutoff))
    names = [r.recording for r in rows if r.recording]
    files = await store.remove(names, older_than=cutoff)
    return Removed(len(ids), files)
