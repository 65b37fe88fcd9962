"""An ordered queue of database writes run by one background task, so a slow database never stalls a call."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from agent.records.db import Database

log = structlog.get_logger(__name__)
Write = Callable[[AsyncSession], Awaitable[None]]
LOCKED_TRIES = 4  # a write SQLite refused as locked (every call writes to one file) is tried this often


class Writer:
    """`put` a write and return at once; each runs, in order, in its own committed transaction (rolled
    back and tried again, a few times, if SQLite says the database is locked)."""

    def __init__(self, db: Database) -> None:
        """Write to `db` (nothing runs until `start`)."""
        self._db = db
        self._queue: asyncio.Queue[Write | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.failed = 0

    def start(self) -> None:
        """Start the background task on the running loop."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="call-log-writer")

    def put(self, write: Write) -> None:
        """Queue one write (never blocks)."""
        self._queue.put_nowait(write)

    @property
    def pending(self) -> int:
        """Writes queued and not yet done."""
        return self._queue.qsize()

    async def _run(self) -> None:
        while (write := await self._queue.get()) is not None:
            for attempt in range(1, LOCKED_TRIES + 1):
                try:
                    async with self._db.sessions.begin() as session:
                        await write(session)
                    break
                except Exception as exc:
                    locked = isinstance(exc, OperationalError) and "locked" in str(exc)  # SQLite, busy
                    if locked and attempt < LOCKED_TRIES:
                        log.warning("call_log_write_retried", attempt=attempt)
                        await asyncio.sleep(0.5 * attempt)
                        continue
                    self.failed += 1
                    log.exception("call_log_write_failed")
                    break

    async def close(self, timeout_s: float = 30.0) -> None:
        """Finish the queued writes (up to `timeout_s`), then stop."""
        if self._task is None:
            return
        self._queue.put_nowait(None)
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout_s)
        except TimeoutError:
            log.error("call_log_writes_abandoned", pending=self._queue.qsize())
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
