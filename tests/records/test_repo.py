"""Writing calls, turns and events; calls left open by a dead process closed as interrupted."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import select

from agent.records.db import Database
from agent.records.models import Call, Event, Turn
from agent.records.redact import REDACTED
from agent.records.repo import TurnRecord, close_open_calls, insert_turn
from agent.records.writer import Writer
from tests.records.helpers import T0, seed_call

SOON = T0 + dt.timedelta(minutes=30)  # the restart comes soon after the crash


class TestCloseOpenCalls:
    async def test_open_calls_of_this_server_are_closed_as_interrupted_at_their_last_turn(
        self, db: Database
    ) -> None:
        """A call left open ends where its last stored turn ended, with outcome interrupted."""
        call_id = await seed_call(db, ended=False)
        assert await close_open_calls(db, "host-a", now=SOON) == [call_id]
        async with db.sessions() as session:
            call = await session.get(Call, call_id)
        assert call is not None and call.outcome == "interrupted"
        assert call.ended_at == T0 + dt.timedelta(seconds=1 + 4.5)
        assert call.duration_s == 5.5
        assert await close_open_calls(db, "host-a", now=SOON) == []

    async def test_another_servers_live_calls_and_ended_calls_are_left_alone(self, db: Database) -> None:
        """Only this server's open calls are closed; a finished call keeps its outcome."""
        other = await seed_call(db, "CA" + "2" * 32, ended=False, server="host-b")
        done = await seed_call(db, "CA" + "3" * 32, ended=True)
        assert await close_open_calls(db, "host-a", now=SOON) == []
        async with db.sessions() as session:
            assert (await session.get(Call, other)).outcome is None  # type: ignore[union-attr]
            assert (await session.get(Call, done)).outcome == "completed"  # type: ignore[union-attr]

    async def test_another_servers_call_open_for_hours_is_closed_too(self, db: Database) -> None:
        """A pod that died and never came back leaves calls that the next start of any server closes."""
        other = await seed_call(db, "CA" + "2" * 32, ended=False, server="host-b")
        assert await close_open_calls(db, "host-a", now=T0 + dt.timedelta(hours=7)) == [other]
        async with db.sessions() as session:
            assert (await session.get(Call, other)).outcome == "interrupted"  # type: ignore[union-attr]

    async def test_a_call_another_server_is_closing_is_skipped_on_postgresql(self, db: Database) -> None:
        """Two servers starting at once: a call row locked by one is not closed (or reported) by the other."""
        if db.dialect != "postgresql":
            pytest.skip("SQLite has one writer at a time, so the race cannot happen there")
        call_id = await seed_call(db, ended=False)
        async with db.sessions.begin() as other:
            await other.execute(select(Call).where(Call.id == call_id).with_for_update())
            assert await close_open_calls(db, "host-a", now=SOON) == []
        assert await close_open_calls(db, "host-a", now=SOON) == [call_id]


class TestStoredText:
    async def test_turns_keep_heard_text_partials_latency_and_order(self, db: Database) -> None:
        """Turns read back in order with the heard part, the partials and the latency split."""
        call_id = await seed_call(db)
        async with db.sessions() as session:
            turns = list(
                await session.scalars(select(Turn).where(Turn.call_id == call_id).order_by(Turn.seq))
            )
            event = await session.scalar(select(Event).where(Event.call_id == call_id))
        assert [t.speaker for t in turns] == ["caller", "agent"]
        assert turns[0].partials is not None and turns[0].partials[0]["text"] == "What time"
        assert turns[1].heard_text == "On Saturday we're open" and turns[1].interrupted
        assert (turns[1].end_of_turn_ms, turns[1].stt_ms, turns[1].voice_to_voice_ms) == (210.0, 150.0, 640.0)
        assert event is not None and event.turn_seq == 1 and event.detail == {"treated_as": "interruption"}

    async def test_a_card_split_across_a_turns_partials_is_stored_nowhere(self, db: Database) -> None:
        """A card said in two finals is cut from the stored text and from every partial, halves included."""
        call_id = await seed_call(db)
        partials: list[dict[str, Any]] = [
            {"at_s": 1.0, "text": "my card is 4111"},
            {"at_s": 1.5, "text": "my card is 4111 1111.", "final": True},
            {"at_s": 2.5, "text": "1111 1111.", "final": True},
        ]
        turn = TurnRecord(2, "caller", "my card is 4111 1111. 1111 1111.", 5.0, 8.0, partials=partials)
        async with db.sessions.begin() as session:
            await insert_turn(session, call_id, turn)
        async with db.sessions() as session:
            stored = await session.scalar(select(Turn).where(Turn.call_id == call_id, Turn.seq == 2))
        assert stored is not None and stored.text == f"my card is {REDACTED}."
        assert stored.partials is not None and "1111" not in json.dumps(stored.partials)


class TestWriter:
    async def test_a_slow_database_does_not_block_the_caller_and_writes_keep_their_order(
        self, db: Database
    ) -> None:
        """`put` returns at once while an earlier write is stuck; all writes land in order."""
        writer = Writer(db)
        writer.start()
        release = asyncio.Event()
        order: list[int] = []

        async def slow(_: object) -> None:
            await release.wait()
            order.append(0)

        writer.put(slow)
        for i in range(1, 4):

            async def write(_: object, i: int = i) -> None:
                order.append(i)

            writer.put(write)
        await asyncio.sleep(0.05)
        assert order == [] and writer.pending >= 3
        release.set()
        await writer.close()
        assert order == [0, 1, 2, 3]

    async def test_a_failed_write_is_logged_and_later_writes_still_run(self, db: Database) -> None:
        """One write raising does not stop the queue."""
        writer = Writer(db)
        writer.start()
        done: list[str] = []

        async def broken(_: object) -> None:
            raise RuntimeError("boom")

        async def fine(_: object) -> None:
            done.append("ok")

        writer.put(broken)
        writer.put(fine)
        await writer.close()
        assert done == ["ok"] and writer.failed == 1
