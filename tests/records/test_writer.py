"""The call log's writer runs each write in order in its own transaction, and a write SQLite refused as
locked is rolled back and tried again instead of losing the call's row."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from agent.records import repo
from agent.records.db import Database
from agent.records.models import Call
from agent.records.writer import LOCKED_TRIES, Write, Writer

NOW = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)


def locked() -> OperationalError:
    """What aiosqlite raises when another connection held the write lock past busy_timeout."""
    return OperationalError("INSERT INTO calls ...", {}, Exception("database is locked"))


async def run(db: Database, *writes: Write) -> Writer:
    """Queue `writes` on a new writer and wait until it has finished them."""
    writer = Writer(db)
    writer.start()
    for write in writes:
        writer.put(write)
    await writer.close()
    return writer


async def calls(db: Database) -> int:
    async with db.sessions() as session:
        return int((await session.execute(select(func.count(Call.id)))).scalar_one())


async def test_a_write_refused_as_locked_is_tried_again_and_stored_once(db: Database) -> None:
    """Refused twice as locked, the call row's insert goes in on the third try, once, and the next write
    still runs after it."""
    refusals = [locked(), locked()]
    order: list[str] = []

    async def insert(session: AsyncSession) -> None:
        await repo.insert_call(session, repo.CallInfo("CA" + "1" * 32, "MZ" + "1" * 32, "example", NOW, NOW))
        if refusals:
            raise refusals.pop()
        order.append("insert")

    async def after(session: AsyncSession) -> None:
        order.append("after")

    writer = await run(db, insert, after)
    assert (await calls(db), order, writer.failed) == (1, ["insert", "after"], 0)


async def test_a_write_locked_every_time_is_counted_failed_and_the_queue_goes_on(db: Database) -> None:
    """After LOCKED_TRIES refusals the write is given up (and counted), and the writes after it run."""
    tries: list[int] = []
    done: list[str] = []

    async def never(session: AsyncSession) -> None:
        tries.append(1)
        raise locked()

    async def after(session: AsyncSession) -> None:
        done.append("after")

    writer = await run(db, never, after)
    assert (len(tries), writer.failed, done) == (LOCKED_TRIES, 1, ["after"])
