"""Messages callers leave, stored in the call log's database with the call they came from."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select

from agent.records.db import Database
from agent.records.models import Call, Message
from agent.records.redact import redact_cards


@dataclass(frozen=True)
class StoredMessage:
    """A message as stored: who called, how to call back, what they said, for whom, and if handled."""

    id: str
    call_sid: str
    business: str
    recipient: str
    caller_name: str
    callback_number: str
    message: str
    urgent: bool
    created_at: str
    handled_at: str | None = None
    handled_by: str | None = None


def _stored(m: Message) -> StoredMessage:
    return StoredMessage(
        m.id,
        m.call_sid,
        m.business,
        m.recipient,
        m.caller_name,
        m.callback_number,
        m.message,
        m.urgent,
        m.created_at.isoformat(timespec="seconds"),
        m.handled_at.isoformat(timespec="seconds") if m.handled_at else None,
        m.handled_by,
    )


class MessageStore:
    """Adds, lists and marks handled the messages in the `messages` table."""

    def __init__(self, db: Database) -> None:
        """Store in `db`."""
        self.db = db

    async def add(
        self,
        call_sid: str,
        business: str,
        recipient: str,
        caller_name: str,
        callback_number: str,
        message: str,
        urgent: bool,
    ) -> StoredMessage:
        """Store one message, linked to the call's latest stream, and return it."""
        async with self.db.sessions.begin() as session:
            call_id = await session.scalar(
                select(Call.id).where(Call.call_sid == call_sid).order_by(Call.id.desc()).limit(1)
            )
            row = Message(
                id=uuid.uuid4().hex,
                call_id=call_id,
                call_sid=call_sid,
                business=business,
                recipient=recipient,
                caller_name=caller_name,
                callback_number=callback_number,
                message=redact_cards(message),
                urgent=urgent,
                created_at=dt.datetime.now(dt.UTC).replace(microsecond=0),
            )
            session.add(row)
            await session.flush()
            return _stored(row)

    async def all(self, call_sid: str | None = None) -> list[StoredMessage]:
        """Every stored message, oldest first (only the call's, with `call_sid`)."""
        query = select(Message).order_by(Message.created_at, Message.id)
        if call_sid is not None:
            query = query.where(Message.call_sid == call_sid)
        async with self.db.sessions() as session:
            return [_stored(m) for m in (await session.scalars(query)).all()]

    async def mark_handled(self, message_id: str, by: str) -> bool:
        """Mark a message handled by operator `by`; False if there is no such message."""
        async with self.db.sessions.begin() as session:
            row = await session.get(Message, message_id)
            if row is None:
                return False
            row.handled_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
            row.handled_by = by
            return True
