"""Retention deletes old calls with their turns, events, messages and recordings; newer ones stay."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from sqlalchemy import func, select

from agent.calls.messages import MessageStore
from agent.records.db import Database
from agent.records.models import Call, Event, Message, Turn
from agent.records.retention import apply_retention
from agent.records.storage import LocalStore
from tests.records.helpers import T0, seed_call


async def counts(db: Database) -> dict[str, int]:
    async with db.sessions() as session:
        return {
            m.__tablename__: int(await session.scalar(select(func.count()).select_from(m)) or 0)
            for m in (Call, Turn, Event, Message)
        }


class TestRetention:
    async def test_calls_older_than_the_limit_go_with_everything_they_own(
        self, db: Database, tmp_path: Path
    ) -> None:
        """A 40-day-old call, its rows, message and recording are deleted; a 2-day-old one stays whole."""
        recordings = tmp_path / "recordings"
        for name in ("old.wav", "new.wav"):
            (recordings / name).parent.mkdir(parents=True, exist_ok=True)
            (recordings / name).write_bytes(b"RIFF")
        now = T0 + dt.timedelta(days=40)
        await seed_call(db, "CA" + "1" * 32, started_at=T0, recording="old.wav")
        await seed_call(db, "CA" + "2" * 32, started_at=now - dt.timedelta(days=2), recording="new.wav")
        store = MessageStore(db)
        await store.add("CA" + "1" * 32, "example", "Maria", "John", "6175550100", "call me", False)
        await store.add("CA" + "2" * 32, "example", "Maria", "Ann", "6175550101", "call me too", False)
        removed = await apply_retention(db, 30, LocalStore(recordings), now=now)
        assert (removed.calls, removed.files) == (1, 1)
        assert await counts(db) == {"calls": 1, "turns": 2, "events": 1, "messages": 1}
        assert [m.caller_name for m in await store.all()] == ["Ann"]
        assert not (recordings / "old.wav").exists() and (recordings / "new.wav").exists()

    async def test_stray_recordings_older_than_the_limit_are_deleted(
        self, db: Database, tmp_path: Path
    ) -> None:
        """A recording no row points at (its write never landed) goes once it is older than the limit."""
        stray = tmp_path / "2026" / "stray.wav"
        stray.parent.mkdir(parents=True)
        stray.write_bytes(b"RIFF")
        old = (T0 - dt.timedelta(days=1)).timestamp()
        os.utime(stray, (old, old))
        removed = await apply_retention(db, 30, LocalStore(tmp_path), now=T0 + dt.timedelta(days=30))
        assert removed.files == 1 and not stray.exists()

    async def test_zero_days_keeps_everything(self, db: Database, tmp_path: Path) -> None:
        """RETENTION_DAYS=0 deletes nothing."""
        await seed_call(db)
        removed = await apply_retention(db, 0, LocalStore(tmp_path), now=T0 + dt.timedelta(days=3650))
        assert removed.calls == 0 and (await counts(db))["calls"] == 1
