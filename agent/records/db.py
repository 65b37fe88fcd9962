"""The call log's database: an async engine by URL (SQLite file or PostgreSQL) and Alembic upgrades."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK = 0x70686F6E65  # the advisory lock key schema upgrades take ('phone' in ASCII)
_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}


def async_url(url: str) -> str:
    """The URL with an async driver: `sqlite:` → aiosqlite, `postgresql:`/`postgres:` → asyncpg."""
    scheme, sep, rest = url.partition("://")
    return f"{_ASYNC_DRIVERS.get(scheme, scheme)}{sep}{rest}"


@dataclass
class Database:
    """An engine and its session factory; `upgrade()` brings the schema to the newest revision."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    @property
    def dialect(self) -> str:
        """The database's dialect name (sqlite, postgresql)."""
        return self.engine.dialect.name

    async def upgrade(self) -> None:
        """Run Alembic's `upgrade head` over the async engine (migrations run in its worker context).

        On PostgreSQL the upgrade holds an advisory lock to the end of its transaction: pods starting
        together migrate one at a time, and those after the first find the schema at head.
        """
        async with self.engine.begin() as conn:
            if self.dialect == "postgresql":
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            await conn.run_sync(_upgrade)

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # the CLI can read while a server writes
    cursor.execute("PRAGMA busy_timeout=15000")  # many calls' writers share the one file
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def open_database(url: str, password: str = "") -> Database:
    """Create the engine for `url` (an SQLite file's folder is created); nothing connects yet.

    `password` fills in a URL that has none (DATABASE_PASSWORD_FILE, a mounted secret).
    """
    parsed = make_url(async_url(url))
    if password and not parsed.password:
        parsed = parsed.set(password=password)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(parsed, pool_pre_ping=parsed.get_backend_name() != "sqlite")
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return Database(engine, async_sessionmaker(engine, expire_on_commit=False))


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for the packaged migrations, bound to `connection` when given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")
