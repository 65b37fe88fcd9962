"""The schema comes from Alembic and matches the models, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from agent.records.db import Database, alembic_config, async_url, open_database
from agent.records.models import Base
from tests.conftest import REPO

# A fresh interpreter that imports only the store, upgrades a database, then runs `alembic check` through
# migrations/env.py: it fails if env.py's target_metadata is missing tables (the console's) a revision made.
ALEMBIC_CHECK = """
import asyncio, sys
from alembic import command
from agent.records.db import alembic_config, open_database

async def main():
    db = open_database(sys.argv[1])
    await db.upgrade()
    async with db.engine.connect() as conn:
        await conn.run_sync(lambda c: command.check(alembic_config(c)))
    await db.dispose()

asyncio.run(main())
"""


class TestUpgrade:
    async def test_upgrade_creates_every_table_at_the_head_revision(self, db: Database) -> None:
        """After `upgrade head`, the tables exist and alembic_version holds the newest revision."""
        async with db.engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            version = (await conn.execute(text("select version_num from alembic_version"))).scalar_one()
        assert {"calls", "turns", "events", "messages", "alembic_version"} <= tables
        assert version == ScriptDirectory.from_config(alembic_config()).get_current_head()

    async def test_migrated_schema_matches_the_models(self, db: Database) -> None:
        """Autogenerate finds nothing to change: the migration and the models agree."""
        async with db.engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata)
            )
        assert diff == []

    def test_alembic_env_knows_the_console_tables_without_the_console_imported(self, db_url: str) -> None:
        """`alembic check` via env.py finds nothing to change in a process that never imported the console."""
        proc = subprocess.run(
            [sys.executable, "-c", ALEMBIC_CHECK, db_url],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]

    async def test_upgrading_twice_changes_nothing(self, db_url: str) -> None:
        """A second start on an upgraded database runs no migration and keeps its rows."""
        first = open_database(db_url)
        await first.upgrade()
        async with first.engine.begin() as conn:
            await conn.execute(
                text(
                    "insert into calls (call_sid, stream_sid, business, called, caller, voice, server,"
                    " started_at, end_reason) values ('CA1', 'MZ1', 'b', '', '', '', '', '2026-01-01', '')"
                )
            )
        await first.dispose()
        second = open_database(db_url)
        await second.upgrade()
        async with second.engine.connect() as conn:
            count = (await conn.execute(text("select count(*) from calls"))).scalar_one()
        await second.dispose()
        assert count == 1

    @pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
    async def test_pods_starting_together_migrate_one_at_a_time(self, db_url: str) -> None:
        """Four servers upgrading one empty PostgreSQL database at once all start, the schema at head
        (each holds an advisory lock while it migrates; without it they race to create the same tables)."""
        databases = [open_database(db_url) for _ in range(4)]
        try:
            await asyncio.gather(*(d.upgrade() for d in databases))
            async with databases[0].engine.connect() as conn:
                versions = (await conn.execute(text("select version_num from alembic_version"))).all()
        finally:
            await asyncio.gather(*(d.dispose() for d in databases))
        assert len(versions) == 1, versions


class TestUrls:
    def test_plain_urls_get_async_drivers(self) -> None:
        """sqlite: and postgresql:/postgres: URLs are given aiosqlite and asyncpg."""
        assert async_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"
        assert async_url("postgresql://u@h/db") == "postgresql+asyncpg://u@h/db"
        assert async_url("postgres://u@h/db") == "postgresql+asyncpg://u@h/db"
        assert async_url("postgresql+asyncpg://u@h/db") == "postgresql+asyncpg://u@h/db"

    async def test_a_password_from_a_secret_fills_a_url_without_one(self) -> None:
        """DATABASE_PASSWORD is used only when the URL carries no password."""
        db = open_database("postgresql://agent@db:5432/agent", password="s3cret")
        other = open_database("postgresql://agent:given@db:5432/agent", password="s3cret")
        try:
            assert make_url(db.engine.url).password == "s3cret"
            assert make_url(other.engine.url).password == "given"
        finally:
            await db.dispose()
            await other.dispose()
