"""The call log as the server starts it: schema upgraded, a dead process's open calls closed."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

from agent.config import Settings
from agent.records.calllog import CallLog, server_name
from agent.records.db import open_database
from agent.records.queries import get_call
from tests.records.helpers import seed_call
from tests.records.test_webhook import SECRET, Receiver, serve

SID = "CA" + "4" * 32
NOW = dt.datetime.now(dt.UTC)


class TestStart:
    async def test_a_restart_closes_the_calls_this_server_left_open_as_interrupted(
        self, db_url: str, tmp_path: Path
    ) -> None:
        """A call still open from before a crash is closed on the next start; another pod's is not."""
        settings = Settings(data_dir=tmp_path, database_url=db_url, twilio_auth_token="t", pod_name="pod-1")
        db = open_database(db_url)
        await db.upgrade()
        await seed_call(db, SID, started_at=NOW, ended=False, server=server_name(settings))
        await seed_call(db, "CA" + "5" * 32, started_at=NOW, ended=False, server="pod-2")
        await db.dispose()
        calllog = CallLog(settings)
        await calllog.start()
        try:
            (mine,) = await get_call(calllog.db, SID)
            (other,) = await get_call(calllog.db, "CA" + "5" * 32)
        finally:
            await calllog.stop()
        assert mine.call.outcome == "interrupted" and mine.call.ended_at is not None
        assert [t.speaker for t in mine.turns] == ["caller", "agent"]  # what was said is kept
        assert other.call.outcome is None

    async def test_each_call_closed_as_interrupted_at_restart_is_sent_to_the_webhook_signed(
        self, db_url: str, tmp_path: Path
    ) -> None:
        """With a webhook URL, each call the restart closes is POSTed, signed, to a real receiver; logged."""
        receiver = Receiver([200])
        async for url in serve(receiver):
            settings = Settings(
                data_dir=tmp_path,
                database_url=db_url,
                twilio_auth_token="t",
                pod_name="pod-1",
                post_call_webhook_url=url,
                post_call_webhook_secret=SECRET,
            )
            db = open_database(db_url)
            await db.upgrade()
            await seed_call(db, SID, started_at=NOW, ended=False, server="pod-1")
            stale = NOW - dt.timedelta(hours=7)  # a pod that never came back
            await seed_call(db, "CA" + "6" * 32, started_at=stale, ended=False, server="pod-9")
            await seed_call(db, "CA" + "5" * 32, started_at=NOW, ended=False, server="pod-2")  # still live
            await seed_call(db, "CA" + "7" * 32, started_at=NOW, ended=True, server="pod-1")
            await db.dispose()
            calllog = CallLog(settings)
            await calllog.start()
            try:
                async with asyncio.timeout(10):
                    while len(receiver.bodies) < 2:
                        await asyncio.sleep(0.02)
                await asyncio.sleep(0.2)  # nothing more is coming
                (mine,) = await get_call(calllog.db, SID)
            finally:
                await calllog.stop()
        assert receiver.valid == [True, True]
        calls = sorted((json.loads(body)["call"] for body in receiver.bodies), key=lambda c: c["call_sid"])
        assert [c["call_sid"] for c in calls] == [SID, "CA" + "6" * 32]
        assert all(c["outcome"] == "interrupted" and len(c["turns"]) == 2 for c in calls)
        assert [e.detail["delivered"] for e in mine.events if e.kind == "webhook"] == [True]

    def test_the_server_name_is_the_pod_else_the_host(self) -> None:
        """POD_NAME names the server in the call log; without it the host name does."""
        assert server_name(Settings(pod_name="pod-7")) == "pod-7"
        assert server_name(Settings()) != ""
