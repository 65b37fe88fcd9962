"""Writes to the call log: a call opened and ended, its turns and events; card numbers redacted."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agent.records.db import Database
from agent.records.models import Call, Event, Turn
from agent.records.redact import redact_turn, redact_value

STALE_AFTER = dt.timedelta(hours=6)  # far past any call's length limit
LATENCY_KEYS = {
    "end_of_turn_ms": "end_of_turn_ms",
    "stt_ms": "stt_ms",
    "llm_first_token_ms": "llm_first_token_ms",
    "tts_first_audio_ms": "tts_first_audio_ms",
    "transport_ms": "transport_ms",
    "server_total_ms": "voice_to_voice_ms",
}


@dataclass(frozen=True)
class CallInfo:
    """What is known of a call when its stream starts."""

    call_sid: str
    stream_sid: str
    business: str
    started_at: dt.datetime
    answered_at: dt.datetime
    called: str = ""
    caller: str = ""
    voice: str = ""
    server: str = ""
    recording: str | None = None  # the file its audio is being written to, named before the first byte


@dataclass
class TurnRecord:
    """One finished turn, as the recorder hands it over."""

    seq: int
    speaker: str
    text: str
    start_s: float
    end_s: float
    interrupted: bool = False
    heard_text: str | None = None
    partials: list[dict[str, Any]] | None = None
    latency: dict[str, float | None] = field(default_factory=dict)


async def insert_call(session: AsyncSession, info: CallInfo) -> int:
    """Open a call row (no outcome yet) and return its id."""
    call = Call(
        call_sid=info.call_sid,
        stream_sid=info.stream_sid,
        business=info.business,
        called=info.called,
        caller=info.caller,
        voice=info.voice,
        server=info.server,
        recording=info.recording,
        started_at=info.started_at,
        answered_at=info.answered_at,
        end_reason="",
    )
    session.add(call)
    await session.flush()
    return call.id


async def insert_turn(session: AsyncSession, call_id: int, turn: TurnRecord) -> None:
    """Store a finished turn, card numbers cut from its text and partials taken together."""
    latency = {column: turn.latency.get(key) for key, column in LATENCY_KEYS.items()}
    clean = redact_turn(turn.text, turn.partials, turn.heard_text)
    session.add(
        Turn(
            call_id=call_id,
            seq=turn.seq,
            speaker=turn.speaker,
            text=clean.text,
            heard_text=clean.heard_text,
            interrupted=turn.interrupted,
            start_s=round(turn.start_s, 3),
            end_s=round(turn.end_s, 3),
            partials=clean.partials,
            **latency,
        )
    )


async def insert_event(
    session: AsyncSession, call_id: int, kind: str, at_s: float, detail: dict[str, Any], turn_seq: int | None
) -> int:
    """Store an event and return its id."""
    event = Event(
        call_id=call_id, kind=kind, at_s=round(at_s, 3), detail=redact_value(detail), turn_seq=turn_seq
    )
    session.add(event)
    await session.flush()
    return event.id


async def update_event(session: AsyncSession, event_id: int, detail: dict[str, Any]) -> None:
    """Merge `detail` into a stored event's detail."""
    event = await session.get(Event, event_id)
    if event is not None:
        event.detail = {**event.detail, **redact_value(detail)}


async def end_call(
    session: AsyncSession,
    call_id: int,
    ended_at: dt.datetime,
    outcome: str,
    reason: str,
    recording: str | None = None,
) -> None:
    """Close a call with its outcome, end reason, duration and recording."""
    call = await session.get(Call, call_id)
    if call is None:
        return
    call.ended_at = ended_at
    call.duration_s = round((ended_at - call.started_at).total_seconds(), 3)
    call.outcome = outcome
    call.end_reason = reason[:200]
    call.recording = recording


async def set_voice(session: AsyncSession, call_id: int, voice: str) -> None:
    """Say which voice the call speaks in now (it changes when the cloned voice falls back)."""
    await session.execute(update(Call).where(Call.id == call_id).values(voice=voice[:128]))


async def close_open_calls(db: Database, server: str, now: dt.datetime | None = None) -> list[int]:
    """Close calls left open by a process that died, as interrupted; return their ids.

    This server's open calls, and any server's still open after STALE_AFTER (a pod that never came back).
    Each ends where its last stored turn ended (or where it started). On PostgreSQL the rows are locked and
    locked ones skipped, so two servers starting at once do not both close (and report) the same call.
    """
    stale = (now or dt.datetime.now(dt.UTC)) - STALE_AFTER
    async with db.sessions.begin() as session:
        last_end = select(Turn.call_id, func.max(Turn.end_s).label("end_s")).group_by(Turn.call_id).subquery()
        rows = (
            await session.execute(
                select(Call, last_end.c.end_s)
                .outerjoin(last_end, last_end.c.call_id == Call.id)
                .where(Call.ended_at.is_(None), or_(Call.server == server, Call.started_at < stale))
                .with_for_update(of=Call, skip_locked=True)
            )
        ).all()
        for call, end_s in rows:
            base = call.answered_at or call.started_at
            ended = base + dt.timedelta(seconds=end_s or 0.0)
            call.ended_at = ended
            call.duration_s = round((ended - call.started_at).total_seconds(), 3)
            call.outcome = "interrupted"
            call.end_reason = "server stopped during the call"
        return [call.id for call, _ in rows]


async def recordings_of(db: Database, call_ids: list[int]) -> dict[int, str]:
    """The recording each of these calls names (calls without one are left out)."""
    if not call_ids:
        return {}
    async with db.sessions() as session:
        rows = await session.execute(
            select(Call.id, Call.recording).where(Call.id.in_(call_ids), Call.recording.is_not(None))
        )
        return {row.id: row.recording for row in rows}


async def set_recording(session: AsyncSession, call_id: int, recording: str | None) -> None:
    """Point a call at its recording file (a name under the recordings directory)."""
    await session.execute(update(Call).where(Call.id == call_id).values(recording=recording))
