"""Retention: calls, their turns, events, messages and recordings older than N days are deleted."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, select

from agent.records.db import Database
from agent.records.models import Call, Event, Message, Turn

BATCH = 500


@dataclass(frozen=True)
class Removed:
    """What one retention pass deleted."""

    calls: int
    files: int


def _remove_files(root: Path, names: list[str], cutoff: dt.datetime) -> int:
    """Delete the named recordings, and any other recording under `root` last written before `cutoff`."""
    removed = 0
    root = root.resolve()
    for name in names:
        path = (root / name).resolve()
        if path.is_relative_to(root) and path.is_file():
            path.unlink()
            removed += 1
    if root.is_dir():
        for path in root.rglob("*.wav"):
            if dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC) < cutoff:
                path.unlink()
                removed += 1
    return removed


async def apply_retention(
    db: Database, days: int, recordings_dir: Path, now: dt.datetime | None = None
) -> Removed:
    """Delete everything older than `days` days (0 keeps everything); files go in a worker thread."""
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
    files = await asyncio.to_thread(_remove_files, recordings_dir, names, cutoff)
    return Removed(len(ids), files)
