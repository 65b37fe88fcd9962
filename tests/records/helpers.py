"""Seeding the call log for tests through the same write functions the server uses."""

from __future__ import annotations

import datetime as dt

from agent.records import repo
from agent.records.db import Database

T0 = dt.datetime(2026, 11, 1, 15, 0, tzinfo=dt.UTC)


async def seed_call(
    db: Database,
    call_sid: str = "CA" + "1" * 32,
    started_at: dt.datetime = T0,
    server: str = "host-a",
    ended: bool = True,
    recording: str | None = None,
) -> int:
    """A two-turn call (caller then agent, the agent cut by a barge-in) with one event; return its id."""
    info = repo.CallInfo(
        call_sid=call_sid,
        stream_sid="MZ" + call_sid[2:],
        business="example",
        started_at=started_at,
        answered_at=started_at + dt.timedelta(seconds=1),
        called="+15550100002",
        caller="+15550100001",
        voice="embedded",
        server=server,
    )
    async with db.sessions.begin() as session:
        call_id = await repo.insert_call(session, info)
        await repo.insert_turn(
            session,
            call_id,
            repo.TurnRecord(
                0,
                "caller",
                "What time do you open on Saturday?",
                0.5,
                2.0,
                partials=[
                    {"at_s": 1.2, "text": "What time"},
                    {"at_s": 2.1, "text": "What time do you open on Saturday?"},
                ],
            ),
        )
        await repo.insert_turn(
            session,
            call_id,
            repo.TurnRecord(
                1,
                "agent",
                "On Saturday we're open from nine to one.",
                2.6,
                4.5,
                interrupted=True,
                heard_text="On Saturday we're open",
                latency={"end_of_turn_ms": 210.0, "stt_ms": 150.0, "server_total_ms": 640.0},
            ),
        )
        await repo.insert_event(session, call_id, "barge_in", 4.4, {"treated_as": "interruption"}, 1)
        if ended:
            await repo.end_call(
                session, call_id, started_at + dt.timedelta(seconds=6), "completed", "bye", recording
            )
    return call_id
