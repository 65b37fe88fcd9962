"""Whole simulated calls leave their record: call row, turns as they end, events, message, recording."""

from __future__ import annotations

import asyncio
import wave
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer, unused_port
from sqlalchemy import select
from structlog.testing import capture_logs

from agent.config import Settings
from agent.models import Models
from agent.records.db import Database, open_database
from agent.records.models import Call, Turn
from agent.records.queries import CallRecord, get_call
from agent.records.redact import REDACTED
from agent.server import STATE
from agent.simulate import place_call
from agent.telephony.codec import ulaw_decode
from agent.telephony.security import sign
from tests.calls.test_receptionist_calls import serve, twilio, wait_idle  # noqa: F401 (a fixture)
from tests.conftest import AUTH_TOKEN
from tests.fake_openai import FakeChatEndpoint
from tests.fake_twilio import FakeTwilio

pytestmark = pytest.mark.models
BLOCK = 80  # 10 ms at 8 kHz
# The store itself is tested on both databases; these calls exercise the recorder, so SQLite is enough.
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture
def cfg(settings: Settings, db_url: str) -> Settings:
    return replace(settings, database_url=db_url)


@pytest.fixture
async def reader(db_url: str) -> AsyncIterator[Database]:
    """A second connection to the call log, as an operator's tool would have."""
    db = open_database(db_url)
    yield db
    await db.dispose()


async def one_call(db: Database, call_sid: str) -> CallRecord:
    (record,) = await get_call(db, call_sid)
    return record


def voiced_blocks(pcm: np.ndarray, level: float = 500.0) -> np.ndarray:
    """Indices of the 10 ms blocks whose RMS is speech-level."""
    blocks = pcm[: len(pcm) // BLOCK * BLOCK].astype(np.float64).reshape(-1, BLOCK)
    return np.flatnonzero(np.sqrt((blocks**2).mean(axis=1)) > level)


def read_stereo(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, 8000)
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)
    return frames[:, 0], frames[:, 1]


async def test_a_call_leaves_its_row_turns_with_heard_text_and_latency_and_its_message(
    cfg: Settings, models: Models, speech_dir: Path, reader: Database
) -> None:
    """Greeting, a request, a message taken by the model's tool: all of it is in the call log."""
    card = "Please call me back about the bill, my card is 4111 1111 1111 1111."
    fake = FakeChatEndpoint(
        "I've passed that on to Maria.",
        tool_call=(
            "take_message",
            {"caller_name": "John Smith", "callback_number": "6175550100", "message": card},
        ),
    )
    llm = TestServer(fake.app(), host="127.0.0.1", port=unused_port())
    await llm.start_server()
    settings = replace(cfg, llm_base_url=f"http://127.0.0.1:{llm.port}/v1", llm_model="m")
    srv = await serve(settings, models)
    try:
        result = await place_call(settings.public_base_url, AUTH_TOKEN, [str(speech_dir / "chat.wav")])
        await wait_idle(srv)
    finally:
        await srv.close()
        await llm.close()
    record = await one_call(reader, result.call_sid)
    call = record.call
    assert call.outcome == "message_taken" and call.end_reason == "stream stopped by Twilio"
    assert (call.caller, call.called, call.business, call.voice) == (
        "+15550100001",
        "+15550100002",
        "example",
        "embedded",
    )
    assert call.answered_at is not None and call.ended_at is not None and call.duration_s is not None
    assert call.started_at <= call.answered_at < call.ended_at and call.duration_s > 3
    speakers = [t.speaker for t in record.turns]
    assert speakers[:3] == ["agent", "caller", "agent"], speakers
    greeting, asked, reply = record.turns[:3]
    assert "Harbor Dental" in greeting.text and "recorded" in greeting.text
    assert greeting.heard_text == greeting.text and not greeting.interrupted
    assert "moved" in asked.text.lower() and asked.partials and asked.partials[-1]["final"] is True
    assert greeting.end_s <= asked.start_s < asked.end_s <= reply.start_s
    assert reply.text.startswith("I've passed that on to Maria") and reply.heard_text == reply.text
    split = (reply.end_of_turn_ms, reply.stt_ms, reply.llm_first_token_ms, reply.tts_first_audio_ms)
    assert all(v is not None and v >= 0 for v in split), split
    assert reply.voice_to_voice_ms is not None and reply.voice_to_voice_ms >= max(v or 0 for v in split)
    (message,) = record.messages
    assert message.call_id == call.id and message.caller_name == "John Smith"
    assert REDACTED in message.message and "4111" not in message.message
    tools = [e for e in record.events if e.kind == "tool"]
    assert tools and tools[0].detail["name"] == "take_message" and tools[0].turn_seq == asked.seq
    assert call.recording and (settings.recordings_path / call.recording).is_file()


@SQLITE_ONLY  # the call before this one runs on PostgreSQL too; each store write is tested on both
async def test_each_turn_is_stored_when_it_ends_while_the_call_goes_on(
    cfg: Settings, models: Models, speech_dir: Path, reader: Database
) -> None:
    """The greeting and the caller's turn can be read back while the call is still open; closing the call
    twice at once ends it once."""
    srv = await serve(cfg, models)
    try:
        call = asyncio.create_task(
            place_call(cfg.public_base_url, AUTH_TOKEN, [str(speech_dir / "hours.wav")], hold_s=30)
        )
        seen: list[str] = []
        async with asyncio.timeout(60):
            while "caller" not in seen:
                await asyncio.sleep(0.2)
                async with reader.sessions() as session:
                    open_call = await session.scalar(select(Call).where(Call.ended_at.is_(None)))
                    if open_call is not None:
                        turns = await session.scalars(select(Turn).where(Turn.call_id == open_call.id))
                        seen = [t.speaker for t in turns]
        assert not call.done() and seen[0] == "agent"
        live = srv.app[STATE].calls[open_call.call_sid]  # type: ignore[union-attr]
        with capture_logs() as logs:  # closed twice at once, as when the server stops while a call ends
            await asyncio.gather(live.close("test over"), live.close("server shutting down"))
            await call
            await wait_idle(srv)
    finally:
        await srv.close()
    async with reader.sessions() as session:
        ended = await session.get(Call, open_call.id)  # type: ignore[union-attr]
    assert ended is not None and ended.ended_at is not None and ended.end_reason == "test over"
    assert [e["event"] for e in logs].count("call_ended") == 1  # the second close waited for the first


@SQLITE_ONLY
async def test_the_recording_holds_both_sides_aligned_without_the_audio_a_barge_in_cut(
    cfg: Settings, models: Models, speech_dir: Path, reader: Database
) -> None:
    """Caller left, agent right, on the phone's clock: the cut greeting stops where the phone stopped it."""
    srv = await serve(cfg, models)
    try:
        result = await place_call(
            cfg.public_base_url, AUTH_TOKEN, [str(speech_dir / "long.wav")], barge_in_after_s=1.5
        )
        await wait_idle(srv)
    finally:
        await srv.close()
    assert result.clears >= 1
    record = await one_call(reader, result.call_sid)
    assert record.call.recording is not None
    left, right = read_stereo(cfg.recordings_path / record.call.recording)
    heard = np.frombuffer(ulaw_decode(result.heard_ulaw), dtype="<i2")
    agent, caller, phone = voiced_blocks(right), voiced_blocks(left), voiced_blocks(heard)
    # The simulated phone shares the test's event loop: when a loaded machine stalls that loop (0.6-0.8 s
    # measured beside a CPU hog), its play clock runs late and audio is booked on its timeline off by up
    # to that lag. The lag bounds how exactly the two clocks can agree, so it widens each tolerance.
    lag = int(np.ceil(result.player_late_s * 100))  # in 10 ms blocks
    why = f"phone clock late by up to {result.player_late_s * 1000:.0f} ms"
    # The greeting starts where the phone started playing it (10 ms blocks; the phone ticks every 20 ms).
    assert abs(int(agent[0]) - int(phone[0])) <= 10 + lag, (agent[0], phone[0], why)
    # The caller spoke 1.5 s after the greeting's first audio reached the phone (plus the WAV's lead-in).
    assert 140 - lag <= caller[0] - phone[0] <= 230 + lag, (caller[0], phone[0], why)
    # The greeting is cut: on both clocks its last sound is at about the same moment, by the time the
    # barge-in was heard (it may fall in a pause between words just before the caller started). The
    # recording cuts when the server sends the clear; the phone stops when its receiver, on the same busy
    # event loop as the server, gets to it: a full-suite run once saw that 290 ms late with the play clock
    # only 60 ms late. So the phone may stop up to 300 ms after the recording's cut, never before it.
    cut_rec = int(agent[agent < caller[0] + 150][-1])
    cut_phone = int(phone[phone < caller[0] + 150][-1])
    assert cut_rec - caller[0] < 150 and -30 - lag <= cut_rec - cut_phone <= 15 + lag, (
        cut_rec,
        cut_phone,
        caller[0],
        why,
    )
    # What the clear dropped is not in the recording: silence on the right while the caller goes on.
    caller_end = int(caller[caller < caller[0] + 600][-1])
    assert caller_end - cut_rec > 150
    assert not np.any((agent > cut_rec + 5) & (agent < caller_end)), "cleared greeting audio was recorded"
    greeting = next(t for t in record.turns if t.speaker == "agent")
    assert greeting.interrupted and greeting.heard_text is not None
    assert 0 < len(greeting.heard_text) < len(greeting.text) and greeting.text.startswith(greeting.heard_text)
    barge_in = next(e for e in record.events if e.kind == "barge_in")
    assert barge_in.turn_seq == greeting.seq and barge_in.detail["treated_as"] == "interruption"


@SQLITE_ONLY
async def test_a_backchannel_over_the_agent_is_recorded_as_one(
    cfg: Settings, models: Models, speech_dir: Path, reader: Database
) -> None:
    """'Okay.' over the greeting: the barge-in event says the agent took it as a backchannel."""
    srv = await serve(cfg, models)
    try:
        result = await place_call(
            cfg.public_base_url, AUTH_TOKEN, [str(speech_dir / "okay.wav")], barge_in_after_s=1.5
        )
        await wait_idle(srv)
    finally:
        await srv.close()
    record = await one_call(reader, result.call_sid)
    barge_ins = [e for e in record.events if e.kind == "barge_in"]
    assert barge_ins and barge_ins[0].detail["treated_as"] == "backchannel", barge_ins
    assert barge_ins[0].detail["resumed"] is True


@SQLITE_ONLY
async def test_keypresses_and_the_hours_they_look_up_are_events(
    cfg: Settings, models: Models, reader: Database
) -> None:
    """Pressing 1 stores a DTMF event and the hours lookup it triggered."""
    from tests.test_server import open_stream

    srv = await serve(cfg, models)
    try:
        async with aiohttp.ClientSession() as http:
            stream = await open_stream(http, cfg, "CA" + "e" * 32)
            await stream.start()
            await stream.next_event("media")
            await stream.dtmf("1")
            async with asyncio.timeout(20):  # stored while the call goes on
                while not any(
                    e.kind == "tool" for r in await get_call(reader, stream.call_sid) for e in r.events
                ):
                    await asyncio.sleep(0.2)
            await stream.stop()
        await wait_idle(srv)
    finally:
        await srv.close()
    record = await one_call(reader, "CA" + "e" * 32)
    kinds = [(e.kind, e.detail.get("digit") or e.detail.get("name")) for e in record.events]
    assert ("dtmf", "1") in kinds and ("tool", "hours") in kinds, kinds


@SQLITE_ONLY
async def test_a_transfer_is_an_event_under_the_turn_that_asked_for_it(
    cfg: Settings,
    models: Models,
    speech_dir: Path,
    reader: Database,
    twilio: tuple[FakeTwilio, TestServer],  # noqa: F811
) -> None:
    """'Someone about my bill' → a transfer event to Maria linked to that turn, outcome transferred."""
    settings = replace(
        cfg, twilio_api_base_url=f"http://127.0.0.1:{twilio[1].port}", twilio_stop_grace_secs=0.3
    )
    srv = await serve(settings, models)
    try:
        result = await place_call(settings.public_base_url, AUTH_TOKEN, [str(speech_dir / "bill.wav")])
        await wait_idle(srv)
    finally:
        await srv.close()
    record = await one_call(reader, result.call_sid)
    assert record.call.outcome == "transferred"
    asked = next(t for t in record.turns if t.speaker == "caller")
    transfer = next(e for e in record.events if e.kind == "transfer")
    assert transfer.detail == {"staff": "Maria Lopez", "ok": True} and transfer.turn_seq == asked.seq


@SQLITE_ONLY
async def test_a_stream_resumed_after_a_failed_transfer_keeps_the_calls_numbers(
    cfg: Settings, models: Models, reader: Database
) -> None:
    """The dial-status webhook carries From and To on to the resumed stream's row."""
    from tests.test_server import Stream

    sid = "CA" + "d" * 32
    url = cfg.public_base_url + "/twilio/dial-status?business=example&staff=Maria Lopez"
    params = {"CallSid": sid, "DialCallStatus": "no-answer", "From": "+15550100001", "To": "+15550100002"}
    srv = await serve(cfg, models)
    try:
        async with aiohttp.ClientSession() as http:
            signature = {"X-Twilio-Signature": sign(AUTH_TOKEN, url, params)}
            resp = await http.post(url, data=params, headers=signature)
            stream = ET.fromstring(await resp.text()).find("./Connect/Stream")
            assert stream is not None
            token = stream.find("Parameter")
            assert token is not None
            ws_url = stream.attrib["url"]
            ws = await http.ws_connect(ws_url, headers={"x-twilio-signature": sign(AUTH_TOKEN, ws_url, {})})
            resumed = Stream(ws, sid, token.attrib["value"])
            await resumed.start()
            await resumed.next_event("media")
            await resumed.stop()
        await wait_idle(srv)
    finally:
        await srv.close()
    record = await one_call(reader, sid)
    assert (record.call.caller, record.call.called) == ("+15550100001", "+15550100002")


@SQLITE_ONLY
async def test_a_failing_reply_model_leaves_an_error_event_under_the_turn(
    cfg: Settings, models: Models, speech_dir: Path, reader: Database
) -> None:
    """The endpoint model answering 500 is stored as an error event linked to the caller's turn."""

    async def overloaded(_: web.Request) -> web.Response:
        return web.json_response({"error": {"message": "model overloaded"}}, status=500)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", overloaded)
    llm = TestServer(app, host="127.0.0.1", port=unused_port())
    await llm.start_server()
    settings = replace(cfg, llm_base_url=f"http://127.0.0.1:{llm.port}/v1", llm_model="m")
    srv = await serve(settings, models)
    try:
        result = await place_call(settings.public_base_url, AUTH_TOKEN, [str(speech_dir / "chat.wav")])
        await wait_idle(srv)
    finally:
        await srv.close()
        await llm.close()
    record = await one_call(reader, result.call_sid)
    (error,) = [e for e in record.events if e.kind == "error"]
    assert "500" in error.detail["error"] and error.detail["fatal"] is False
    asked = [t for t in record.turns if t.speaker == "caller" and t.start_s < error.at_s]
    assert asked and error.turn_seq == asked[-1].seq, ([(t.seq, t.text) for t in asked], error.turn_seq)
