"""The call log's tables: calls, their turns and events, and the messages callers left."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

OUTCOMES = ("completed", "transferred", "message_taken", "caller_hung_up", "error", "interrupted")


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC and always read back time-zone aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        """Store in UTC (naive for SQLite, which cannot keep the zone)."""
        if value is None:
            return None
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        """Read back as UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base of the call log."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class Call(Base):
    """One media stream of a phone call (a call resumed after a failed transfer has two)."""

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_sid: Mapped[str] = mapped_column(String(64), index=True)
    stream_sid: Mapped[str] = mapped_column(String(64))
    business: Mapped[str] = mapped_column(String(64), index=True)
    called: Mapped[str] = mapped_column(String(32), default="")
    caller: Mapped[str] = mapped_column(String(32), default="")
    voice: Mapped[str] = mapped_column(String(128), default="")
    server: Mapped[str] = mapped_column(String(128), default="")
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    duration_s: Mapped[float | None] = mapped_column(Float)
    outcome: Mapped[str | None] = mapped_column(String(32), index=True)
    end_reason: Mapped[str] = mapped_column(String(200), default="")
    recording: Mapped[str | None] = mapped_column(String(300))


class Turn(Base):
    """One turn of speech: the caller's or the agent's, with what was heard and how long it took."""

    __tablename__ = "turns"
    __table_args__ = (UniqueConstraint("call_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    speaker: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text, default="")
    heard_text: Mapped[str | None] = mapped_column(Text)
    interrupted: Mapped[bool] = mapped_column(Boolean, default=False)
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)
    partials: Mapped[list[Any] | None] = mapped_column(JSON)
    end_of_turn_ms: Mapped[float | None] = mapped_column(Float)
    stt_ms: Mapped[float | None] = mapped_column(Float)
    llm_first_token_ms: Mapped[float | None] = mapped_column(Float)
    tts_first_audio_ms: Mapped[float | None] = mapped_column(Float)
    transport_ms: Mapped[float | None] = mapped_column(Float)
    voice_to_voice_ms: Mapped[float | None] = mapped_column(Float)


class Event(Base):
    """Something that happened on a call: DTMF, a barge-in, a transfer, an error, a tool call."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    turn_seq: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    at_s: Mapped[float] = mapped_column(Float)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Message(Base):
    """A message a caller left, until an operator marks it handled."""

    __tablename__ = "messages"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    call_sid: Mapped[str] = mapped_column(String(64), index=True)
    business: Mapped[str] = mapped_column(String(64))
    recipient: Mapped[str] = mapped_column(String(128))
    caller_name: Mapped[str] = mapped_column(String(200))
    callback_number: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    handled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    handled_by: Mapped[str | None] = mapped_column(String(128))
