"""Post-call webhook: the call record signed with HMAC-SHA256, retried with backoff, each attempt recorded."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer, unused_port

from agent.config import ConfigError, Settings, load_settings
from agent.models import Models
from agent.records.db import Database
from agent.records.queries import get_call
from agent.records.repo import CallInfo, insert_call
from agent.records.webhook import SIGNATURE_HEADER, RetryPolicy, WebhookSender, sign, verify_signature
from agent.simulate import place_call
from tests.calls.test_receptionist_calls import serve as serve_agent
from tests.calls.test_receptionist_calls import wait_idle
from tests.conftest import AUTH_TOKEN
from tests.records.helpers import seed_call

SECRET = "whsec-test"
FAST = RetryPolicy(attempts=4, first_delay_s=0.01, factor=2.0, timeout_s=2.0)


class Receiver:
    """A webhook receiver that answers with the given statuses in turn and keeps what it got."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.bodies: list[bytes] = []
        self.valid: list[bool] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.bodies.append(body)
        self.valid.append(verify_signature(SECRET, body, request.headers.get(SIGNATURE_HEADER, "")))
        status = self.statuses[min(len(self.bodies), len(self.statuses)) - 1]
        return web.Response(status=status)


@pytest.fixture
async def call_sid(db: Database) -> str:
    """A call stored in the log."""
    now = dt.datetime.now(dt.UTC)
    async with db.sessions() as session, session.begin():
        await insert_call(session, CallInfo("CAwebhook0001", "MZ1", "example", now, now))
    return "CAwebhook0001"


async def serve(receiver: Receiver) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    server = TestServer(app, host="127.0.0.1", port=unused_port())
    await server.start_server()
    try:
        yield f"http://127.0.0.1:{server.port}/hook"
    finally:
        await server.close()


async def webhook_events(db: Database, call_sid: str) -> list[dict[str, object]]:
    record = (await get_call(db, call_sid))[-1]
    return [e.detail for e in record.events if e.kind == "webhook"]


class TestSignature:
    def test_a_signed_body_verifies(self) -> None:
        """The signature made for a body verifies with the same secret, within the tolerance."""
        body = b'{"event":"call.ended"}'
        assert verify_signature(SECRET, body, sign(SECRET, body, int(time.time())))

    def test_tampered_body_wrong_secret_old_or_malformed_signatures_fail(self) -> None:
        """A changed body, another secret, a stale timestamp or a garbled header never verify."""
        body = b'{"event":"call.ended"}'
        now = int(time.time())
        assert not verify_signature(SECRET, body + b" ", sign(SECRET, body, now))
        assert not verify_signature("other", body, sign(SECRET, body, now))
        assert not verify_signature(SECRET, body, sign(SECRET, body, now - 3600))
        assert not verify_signature(SECRET, body, "v1=abc")
        assert not verify_signature(SECRET, body, "")

    def test_backoff_doubles_and_honours_retry_after(self) -> None:
        """Delays double from the first, are capped, and a numeric Retry-After wins."""
        policy = RetryPolicy(first_delay_s=1.0, factor=2.0, max_delay_s=5.0)
        assert [policy.delay(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 5.0]
        assert policy.delay(1, "3") == 3.0


class TestDelivery:
    async def test_the_record_is_delivered_signed_after_retrying_server_errors(
        self, db: Database, call_sid: str
    ) -> None:
        """Two 503s then a 200: three signed posts of the call record, and three attempts on record."""
        receiver = Receiver([503, 503, 200])
        async for url in serve(receiver):
            sender = WebhookSender(db, url, SECRET, FAST)
            assert await sender.call_ended(call_sid)
            await sender.close()
        assert len(receiver.bodies) == 3 and all(receiver.valid)
        payload = json.loads(receiver.bodies[-1])
        assert payload["event"] == "call.ended" and payload["call"]["call_sid"] == call_sid
        events = await webhook_events(db, call_sid)
        assert [(e["status"], e["delivered"]) for e in events] == [(503, False), (503, False), (200, True)]

    async def test_the_record_links_the_recording_in_the_console_never_its_file(self, db: Database) -> None:
        """The payload says `has_recording` and gives the console URL, never the recording's file name."""
        call_id = await seed_call(db, "CA" + "5" * 32, recording="2026/11/01/CA5555.wav")
        receiver = Receiver([200])
        async for url in serve(receiver):
            sender = WebhookSender(db, url, SECRET, FAST, base_url="https://agent.example.com/")
            assert await sender.call_ended("CA" + "5" * 32)
            await sender.close()
        call = json.loads(receiver.bodies[0])["call"]
        assert call["has_recording"] is True and "recording" not in call
        assert call["recording_url"] == f"https://agent.example.com/console/recordings/{call_id}"
        assert b"CA5555.wav" not in receiver.bodies[0] and b"2026/11/01" not in receiver.bodies[0]

    async def test_a_call_without_a_recording_says_so(self, db: Database, call_sid: str) -> None:
        """A call with no recording is sent with `has_recording` false and no URL."""
        receiver = Receiver([200])
        async for url in serve(receiver):
            sender = WebhookSender(db, url, SECRET, FAST, base_url="https://agent.example.com")
            assert await sender.call_ended(call_sid)
            await sender.close()
        call = json.loads(receiver.bodies[0])["call"]
        assert (call["has_recording"], call["recording_url"]) == (False, None)

    async def test_a_client_error_is_not_retried(self, db: Database, call_sid: str) -> None:
        """A 400 from the receiver is final: one attempt, recorded as not delivered."""
        receiver = Receiver([400])
        async for url in serve(receiver):
            sender = WebhookSender(db, url, SECRET, FAST)
            assert not await sender.call_ended(call_sid)
            await sender.close()
        assert len(receiver.bodies) == 1
        events = await webhook_events(db, call_sid)
        assert len(events) == 1 and events[0]["final"] is True and events[0]["delivered"] is False

    async def test_an_unreachable_receiver_is_tried_every_attempt_then_given_up(
        self, db: Database, call_sid: str
    ) -> None:
        """With nobody listening, each attempt records the connection error, and the last is final."""
        sender = WebhookSender(db, f"http://127.0.0.1:{unused_port()}/hook", SECRET, FAST)
        assert not await sender.call_ended(call_sid)
        await sender.close()
        events = await webhook_events(db, call_sid)
        assert len(events) == FAST.attempts
        assert all(e["status"] is None and e["error"] for e in events)
        assert events[-1]["final"] is True


async def test_a_simulated_call_posts_its_signed_record_when_it_ends(
    settings: Settings, models: Models, speech_dir: Path
) -> None:
    """With POST_CALL_WEBHOOK_URL set, a finished call's record (turns included) arrives signed."""
    receiver = Receiver([200])
    async for url in serve(receiver):
        cfg = replace(settings, post_call_webhook_url=url, post_call_webhook_secret=SECRET)
        srv = await serve_agent(cfg, models)
        try:
            result = await place_call(cfg.public_base_url, AUTH_TOKEN, [str(speech_dir / "where.wav")])
            await wait_idle(srv)
            for _ in range(100):
                if receiver.bodies:
                    break
                await asyncio.sleep(0.05)
        finally:
            await srv.close()
    assert len(receiver.bodies) == 1 and receiver.valid == [True]
    call = json.loads(receiver.bodies[0])["call"]
    assert call["call_sid"] == result.call_sid and call["outcome"]
    assert [t["speaker"] for t in call["turns"]][:2] == ["agent", "caller"]
    assert "where" in call["turns"][1]["text"].lower()


def test_a_webhook_url_without_a_secret_is_refused_at_startup() -> None:
    """POST_CALL_WEBHOOK_URL with no secret to sign with is a configuration error."""
    with pytest.raises(ConfigError, match="POST_CALL_WEBHOOK_SECRET"):
        load_settings({"POST_CALL_WEBHOOK_URL": "https://example.com/hook", "TWILIO_AUTH_TOKEN": "t"})
