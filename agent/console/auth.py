"""Operators, their login sessions and the login rate limit."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import secrets
import time
from collections import defaultdict, deque
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agent.console.models import ROLES, ConsoleSession, Operator
from agent.console.passwords import MIN_LENGTH, hash_password, verify_password_async
from agent.records.db import Database

SESSION_TTL = dt.timedelta(hours=12)


class OperatorError(ValueError):
    """An operator change refused: bad name, role or password, a taken or unknown name, or the last admin."""


@dataclass(frozen=True)
class Login:
    """The operator behind a request's session, with the session's CSRF token."""

    operator_id: int
    name: str
    role: str
    csrf: str

    def can(self, role: str) -> bool:
        """Whether this operator's role is `role` or above (admin > editor > viewer)."""
        return ROLES.index(self.role) <= ROLES.index(role)


@functools.cache
def _dummy_hash() -> str:
    """A hash to check when the name is unknown, so a wrong name costs as long as a wrong password."""
    return hash_password(secrets.token_hex(8))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def add_operator(db: Database, name: str, role: str, password: str) -> None:
    """Create an operator; the password is hashed in a worker thread."""
    name = name.strip()
    if not name or len(name) > 128:
        raise OperatorError("the name must be 1 to 128 characters")
    if role not in ROLES:
        raise OperatorError(f"the role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_LENGTH:
        raise OperatorError(f"the password must be at least {MIN_LENGTH} characters")
    hashed = await asyncio.to_thread(hash_password, password)
    async with db.sessions.begin() as session:
        if await session.scalar(select(Operator.id).where(Operator.name == name)) is not None:
            raise OperatorError(f"an operator named {name!r} already exists")
        session.add(Operator(name=name, role=role, password_hash=hashed, created_at=dt.datetime.now(dt.UTC)))


async def _changeable(session: AsyncSession, name: str, new_role: str | None) -> Operator:
    """The operator `name`, unless unknown or the last admin about to lose the role (None: removed)."""
    operator = await session.scalar(select(Operator).where(Operator.name == name.strip()).with_for_update())
    if operator is None:
        raise OperatorError(f"no operator named {name.strip()!r}")
    if operator.role == "admin" and new_role != "admin":
        admins = await session.scalar(select(func.count(Operator.id)).where(Operator.role == "admin"))
        if admins == 1:
            raise OperatorError(f"{operator.name!r} is the last admin: make another operator admin first")
    return operator


async def set_role(db: Database, name: str, role: str) -> str:
    """Give the operator `name` the role `role` and end their sessions; return the role they had."""
    if role not in ROLES:
        raise OperatorError(f"the role must be one of {', '.join(ROLES)}")
    async with db.sessions.begin() as session:
        operator = await _changeable(session, name, role)
        was, operator.role = operator.role, role
        await session.execute(delete(ConsoleSession).where(ConsoleSession.operator_id == operator.id))
    return was


async def remove_operator(db: Database, name: str) -> None:
    """Delete the operator `name` and their sessions."""
    async with db.sessions.begin() as session:
        operator = await _changeable(session, name, None)
        await session.execute(delete(ConsoleSession).where(ConsoleSession.operator_id == operator.id))
        await session.delete(operator)


async def list_operators(db: Database) -> list[Operator]:
    """Every operator, by name."""
    async with db.sessions() as session:
        return list(await session.scalars(select(Operator).order_by(Operator.name)))


async def log_in(db: Database, name: str, password: str) -> str | None:
    """A new session's cookie token if the name and password match, else None."""
    async with db.sessions() as session:
        operator = await session.scalar(select(Operator).where(Operator.name == name.strip()))
    ok = await verify_password_async(password, operator.password_hash if operator else _dummy_hash())
    if operator is None or not ok:
        return None
    token = secrets.token_urlsafe(32)
    now = dt.datetime.now(dt.UTC)
    async with db.sessions.begin() as session:
        await session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < now))
        session.add(
            ConsoleSession(
                token_hash=_digest(token),
                operator_id=operator.id,
                csrf=secrets.token_urlsafe(24),
                created_at=now,
                expires_at=now + SESSION_TTL,
            )
        )
    return token


async def session_login(db: Database, token: str) -> Login | None:
    """The operator a session cookie belongs to, or None if it is unknown or expired."""
    if not token:
        return None
    query = (
        select(ConsoleSession, Operator)
        .join(Operator, Operator.id == ConsoleSession.operator_id)
        .where(ConsoleSession.token_hash == _digest(token))
    )
    async with db.sessions() as session:
        row = (await session.execute(query)).first()
    if row is None or row[0].expires_at < dt.datetime.now(dt.UTC):
        return None
    return Login(row[1].id, row[1].name, row[1].role, row[0].csrf)


async def log_out(db: Database, token: str) -> None:
    """End the session behind `token`."""
    async with db.sessions.begin() as session:
        await session.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == _digest(token)))


class LoginLimiter:
    """At most `attempts` failed logins per client address and per name within `window_s` seconds."""

    def __init__(self, attempts: int = 5, window_s: float = 300.0) -> None:
        """Allow `attempts` failures per window."""
        self.attempts = attempts
        self.window_s = window_s
        self._failures: defaultdict[str, deque[float]] = defaultdict(deque)

    def _recent(self, key: str, now: float) -> int:
        """How many failures `key` has in the window; keys with none are forgotten."""
        times = self._failures.get(key)
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            self._failures.pop(key, None)
            return 0
        return len(times)

    def blocked(self, *keys: str) -> bool:
        """Whether any of `keys` (an address, a name) has used up its failures."""
        now = time.monotonic()
        return any(self._recent(k, now) >= self.attempts for k in keys)

    def failed(self, *keys: str) -> None:
        """Count a failed login against each of `keys`."""
        now = time.monotonic()
        for key in keys:
            self._recent(key, now)
            self._failures[key].append(now)
