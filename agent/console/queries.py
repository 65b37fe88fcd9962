"""The console's reads and writes on the call log: filtered, paged calls; the audit log; one call by id."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, or_, select

from agent.console.models import AuditEntry
from agent.records.db import Database
from agent.records.models import Call, Event, Message, Turn
from agent.records.webhook import EVENT_KIND as WEBHOOK

PAGE_SIZE = 25


@dataclass(frozen=True)
class CallFilter:
    """What the calls list is narrowed to: a date range, outcome, business, number and transcript text."""

    since: dt.date | None = None
    until: dt.date | None = None
    outcome: str = ""
    business: str = ""
    number: str = ""
    text: str = ""
    number_tail: bool = False  # match `number` only at the end of a number (a viewer's filter)

    def apply(self, query: Select[Any]) -> Select[Any]:
        """`query` narrowed to the calls this filter keeps."""
        if self.since:
            query = query.where(Call.started_at >= _midnight(self.since))
        if self.until:
            query = query.where(Call.started_at < _midnight(self.until + dt.timedelta(days=1)))
        if self.outcome:
            query = query.where(Call.outcome == self.outcome)
        if self.business:
            query = query.where(Call.business == self.business)
        if self.number:
            number = literal(self.number)
            like = f"%{number}" if self.number_tail else f"%{number}%"
            query = query.where(or_(Call.caller.like(like, escape="\\"), Call.called.like(like, escape="\\")))
        if self.text:
            text = f"%{literal(self.text)}%"
            said = select(Turn.id).where(Turn.call_id == Call.id, Turn.text.ilike(text, escape="\\"))
            query = query.where(said.exists())
        return query


def literal(text: str) -> str:
    """`text` for a LIKE pattern that matches it as written: its % and _ are not wildcards."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


@dataclass(frozen=True)
class CallPage:
    """One page of calls, newest first, each with its number of turns, and how many match in all."""

    calls: list[tuple[Call, int]]
    total: int
    page: int
    pages: int


async def search_calls(db: Database, where: CallFilter, page: int = 1, size: int = PAGE_SIZE) -> CallPage:
    """The calls `where` keeps, one page of them."""
    turns = select(func.count(Turn.id)).where(Turn.call_id == Call.id).scalar_subquery()
    count = where.apply(select(func.count(Call.id)))
    async with db.sessions() as session:
        total = int(await session.scalar(count) or 0)
        pages = max(1, -(-total // size))
        page = min(max(1, page), pages)
        query = where.apply(select(Call, turns)).order_by(Call.started_at.desc(), Call.id.desc())
        rows = (await session.execute(query.offset((page - 1) * size).limit(size))).all()
    return CallPage([(c, int(n)) for c, n in rows], total, page, pages)


async def matching_sids(db: Database, where: CallFilter) -> list[str]:
    """The CallSids of every call `where` keeps, oldest first (for export)."""
    query = where.apply(select(Call.call_sid)).order_by(Call.started_at, Call.id)
    async with db.sessions() as session:
        return list(dict.fromkeys(await session.scalars(query)))


async def call_by_id(db: Database, call_id: int) -> Call | None:
    """One stream's call row."""
    async with db.sessions() as session:
        return await session.get(Call, call_id)


async def open_elsewhere(db: Database, server: str, since: dt.datetime) -> list[tuple[Call, int]]:
    """Calls other servers have open (no end yet) started after `since`, newest first, with agent turns."""
    replies = select(func.count(Turn.id)).where(Turn.call_id == Call.id, Turn.speaker == "agent")
    query = (
        select(Call, replies.scalar_subquery())
        .where(Call.ended_at.is_(None), Call.server != server, Call.started_at >= since)
        .order_by(Call.started_at.desc(), Call.id.desc())
    )
    async with db.sessions() as session:
        return [(call, int(n)) for call, n in (await session.execute(query)).all()]


async def businesses(db: Database) -> list[str]:
    """Every business that has calls, for the filter's choices."""
    async with db.sessions() as session:
        return list(await session.scalars(select(Call.business).distinct().order_by(Call.business)))


async def inbox(db: Database, handled: bool | None = None) -> list[Message]:
    """Messages callers left, open ones first, newest first; only open (False) or handled (True) if asked."""
    query = select(Message).order_by(Message.handled_at.is_not(None), Message.created_at.desc(), Message.id)
    if handled is not None:
        query = query.where(Message.handled_at.is_not(None) if handled else Message.handled_at.is_(None))
    async with db.sessions() as session:
        return list(await session.scalars(query))


async def audit(db: Database, operator: str, action: str, target: str, **detail: Any) -> None:
    """Record that `operator` did `action` to `target`."""
    async with db.sessions.begin() as session:
        session.add(
            AuditEntry(
                at=dt.datetime.now(dt.UTC), operator=operator, action=action, target=target, detail=detail
            )
        )


async def audit_log(db: Database, limit: int = 200) -> list[AuditEntry]:
    """The latest audit entries, newest first."""
    query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    async with db.sessions() as session:
        return list(await session.scalars(query))


async def webhook_deliveries(db: Database, limit: int = 200) -> list[tuple[Event, str]]:
    """The latest post-call webhook attempts, newest first, each with its call's CallSid."""
    query = (
        select(Event, Call.call_sid)
        .join(Call, Call.id == Event.call_id)
        .where(Event.kind == WEBHOOK)
        .order_by(Event.id.desc())
        .limit(limit)
    )
    async with db.sessions() as session:
        return [(event, sid) for event, sid in (await session.execute(query)).all()]
