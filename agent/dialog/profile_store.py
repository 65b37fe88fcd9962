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
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from agent.dialog.business import Directory, directory_of, read_persona
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


class PhoneNumber(Base):
    """A called number's routing set in the console: the business that answers it and the voice that
    speaks ("" for either: the profile's `numbers` and VOICES_BY_NUMBER/VOICE_DEFAULT decide)."""

    __tablename__ = "phone_numbers"

    number: Mapped[str] = mapped_column(String(32), primary_key=True)
    business: Mapped[str] = mapped_column(String(64))
    voice: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(128))


@dataclass(frozen=True)
class Route:
    """What the console set for one called number."""

    business: str
    voice: str


@dataclass(frozen=True)
class Loaded:
    """The directory built from the database (the console's number routes applied), the voice per number
    the console set, and the revision it was all read at."""

    directory: Directory
    revision: int
    voices: dict[str, str]


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
    """The newest revision of any profile or number route (0 when there are none): one cheap query, run
    before each call."""
    async with db.sessions() as session:
        return await _newest(session)


async def _newest(session: AsyncSession) -> int:
    profiles = select(func.coalesce(func.max(BusinessProfile.revision), 0)).scalar_subquery()
    numbers = select(func.coalesce(func.max(PhoneNumber.revision), 0)).scalar_subquery()
    found = (await session.execute(select(profiles, numbers))).one()
    return int(max(found[0] or 0, found[1] or 0))


async def routes(db: Database) -> dict[str, Route]:
    """Every called number the console routed, with its business and voice."""
    async with db.sessions() as session:
        rows = await session.scalars(select(PhoneNumber).order_by(PhoneNumber.number))
        return {r.number: Route(r.business, r.voice) for r in rows}


async def save_route(db: Database, number: str, route: Route, by: str) -> int:
    """Set a called number's business and voice ("" for the defaults) at the next revision; return it."""
    async with db.sessions.begin() as session:
        number_revision = await _newest(session) + 1
        now = dt.datetime.now(dt.UTC)
        row = await session.get(PhoneNumber, number)
        if row is None:
            row = PhoneNumber(number=number, business=route.business, voice=route.voice,
                              revision=number_revision, updated_at=now, updated_by=by)  # fmt: skip
            session.add(row)
        else:
            row.business, row.voice, row.revision = route.business, route.voice, number_revision
            row.updated_at, row.updated_by = now, by
    log.info("number_routed", number_tail=number[-4:], business=route.business, voice=route.voice, by=by)
    return number_revision


async def save(db: Database, changes: dict[str, str], by: str) -> int:
    """Store these profiles' YAML texts (added or replaced) at the next revision; return it. The caller
    has validated them (`check`)."""
    async with db.sessions.begin() as session:
        number = await _newest(session) + 1
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
    directory = await asyncio.to_thread(check, stored, {}, prompts_dir, default)
    routed = await routes(db)
    for number, route in routed.items():
        if route.business in directory.businesses:
            directory.by_number[number] = route.business
        elif route.business:
            log.warning("number_routed_to_no_profile", number_tail=number[-4:], business=route.business)
    return Loaded(directory, at, {n: r.voice for n, r in routed.items() if r.voice})


def differing_files(stored: dict[str, str], prompts_dir: Path) -> list[str]:
    """The profiles whose file in prompts/businesses differs from (or is missing from) the database."""
    return [
        path.stem
        for path in sorted((prompts_dir / "businesses").glob("*.yaml"))
        if stored.get(path.stem) != path.read_text()
    ]
