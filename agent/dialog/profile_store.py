"""Business profiles kept in the call log's database, so every server reads the same ones and an edit
applies to the next call without a restart.

Each profile is stored as its YAML text, the format of prompts/businesses/*.yaml, so profiles import and
export as files and can still live in git; an empty table is seeded from those files. Every save takes
the next revision number of the whole table: a server compares the newest revision with the one it
loaded before each call and reloads when they differ (a call in progress keeps the profile it began with).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import structlog
from sqlalchemy import Integer, String, Text, func, select
from sqlalchemy.orm import Mapped, mapped_column

from agent.dialog.business import Directory, ProfileError, directory_of, read_persona
from agent.records.db import Database
from agent.records.models import Base, UTCDateTime

log = structlog.get_logger(__name__)


class BusinessProfile(Base):
    """One business's profile as YAML text, with the revision that last changed it and who changed it."""

    __tablename__ = "business_profiles"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    document: Mapped[str] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(128))


@dataclass(frozen=True)
class Loaded:
    """The directory built from the database, and the revision it was built at."""

    directory: Directory
    revision: int


async def documents(db: Database) -> dict[str, str]:
    """Every stored profile's YAML text, by name."""
    async with db.sessions() as session:
        rows = await session.execute(select(BusinessProfile.name, BusinessProfile.document))
        return {name: text for name, text in rows.all()}


async def rows(db: Database) -> list[BusinessProfile]:
    """Every stored profile's row, by name."""
    async with db.sessions() as session:
        return list(await session.scalars(select(BusinessProfile).order_by(BusinessProfile.name)))


async def revision(db: Database) -> int:
    """The newest revision of any profile (0 when there are none): one cheap query, run before each call."""
    async with db.sessions() as session:
        return int(await session.scalar(select(func.coalesce(func.max(BusinessProfile.revision), 0))) or 0)


async def save(db: Database, changes: dict[str, str], by: str) -> int:
    """Store these profiles' YAML texts (added or replaced) at the next revision; return it. The caller
    has validated them (`check`)."""
    async with db.sessions.begin() as session:
        current = await session.scalar(select(func.coalesce(func.max(BusinessProfile.revision), 0)))
        number = int(current or 0) + 1
        now = dt.datetime.now(dt.UTC)
        for name, text in changes.items():
            row = await session.get(BusinessProfile, name)
            if row is None:
                row = BusinessProfile(
                    name=name, document=text, revision=number, updated_at=now, updated_by=by
                )
                session.add(row)
            else:
                row.document, row.revision, row.updated_at, row.updated_by = text, number, now, by
    log.info("profiles_saved", names=sorted(changes), revision=number, by=by)
    return number


def check(stored: dict[str, str], changes: dict[str, str], prompts_dir: Path, default: str) -> Directory:
    """The directory the stored profiles with `changes` applied would make; ProfileError naming every
    problem (the same validation as loading the files) if they are not valid together."""
    return directory_of({**stored, **changes}, read_persona(prompts_dir), default, Path("businesses"))


async def seed(db: Database, prompts_dir: Path) -> list[str]:
    """Import prompts/businesses/*.yaml into an empty table (a new deployment); return what was imported."""
    if await revision(db):
        return []
    files = sorted((prompts_dir / "businesses").glob("*.yaml"))
    changes = {path.stem: path.read_text() for path in files}
    if changes:
        await save(db, changes, by="seed")
    return sorted(changes)


async def load(db: Database, prompts_dir: Path, default: str) -> Loaded:
    """The directory of every stored profile and the revision it reflects (validated in a worker thread);
    ProfileError if invalid."""
    at = await revision(db)
    stored = await documents(db)
    return Loaded(await asyncio.to_thread(check, stored, {}, prompts_dir, default), at)


def differing_files(stored: dict[str, str], prompts_dir: Path) -> list[str]:
    """The profiles whose file in prompts/businesses differs from (or is missing from) the database."""
    return [
        path.stem
        for path in sorted((prompts_dir / "businesses").glob("*.yaml"))
        if stored.get(path.stem) != path.read_text()
    ]


__all__ = [
    "BusinessProfile",
    "Loaded",
    "ProfileError",
    "check",
    "documents",
    "load",
    "revision",
    "save",
    "seed",
]
