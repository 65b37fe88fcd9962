"""Call-log fixtures: a fresh database per test, on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from agent.records.db import Database, async_url, open_database
from tests.conftest import unavailable

NO_POSTGRES = (
    "PostgreSQL is not available: set TEST_POSTGRES_URL to a server's URL "
    "(`make test` starts Debian's postgresql when run as root with apt-get; .ci/postgres said why not)"
)


async def _admin(base: str, sql: str) -> None:
    import asyncpg

    admin = make_url(base).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database: an SQLite file, or a new database on the test PostgreSQL server.

    Without a PostgreSQL server its cases skip, or fail when REQUIRE_POSTGRES is set (as `.ci/run` does).
    """
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'calls.db'}"
        return
    base = os.environ.get("TEST_POSTGRES_URL", "")
    if not base:
        unavailable(NO_POSTGRES, "REQUIRE_POSTGRES")
    base = async_url(base)
    name = f"agent_test_{secrets.token_hex(6)}"
    asyncio.run(_admin(base, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_drop(base, name))


async def _drop(base: str, name: str, tries: int = 10) -> None:
    """Drop a test database, waiting out a server process this role may not end (an autovacuum worker).

    DROP … WITH (FORCE) ends the test's own connections, but a fresh-clone CI run once met a backend of
    another role on the new database ("must be a member of the role whose process is being terminated").
    """
    import asyncpg

    for attempt in range(tries):
        try:
            await _admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except (asyncpg.exceptions.InsufficientPrivilegeError, asyncpg.exceptions.ObjectInUseError):
            if attempt == tries - 1:
                raise
            await asyncio.sleep(0.5)


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    """The database at `db_url`, upgraded to the newest schema."""
    database = open_database(db_url)
    await database.upgrade()
    try:
        yield database
    finally:
        await database.dispose()
