"""Whole calls that exercise the receptionist's actions against a local fake of Twilio's REST API."""

from __future__ import annotations

import asyncio
import shutil
import wave
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import aiohttp
import numpy as np
import pytest
import yaml
from aiohttp.test_utils import TestServer, unused_port
from piper import SynthesisConfig
from structlog.testing import capture_logs

from agent.calls.messages import MessageStore
from agent.config import Settings
from agent.dialog.business import load_business
from agent.models import Models
from agent.records.db import open_database
from agent.server import STATE, create_app
from agent.simulate import place_call, ulaw_to_pcm16k
from agent.speech.whisper import transcribe
from agent.telephony.security import sign
from agent.voice.piper import synthesize_pcm
from tests.conftest import AUTH_TOKEN, conversation
from tests.fake_openai import FakeChatEndpoint
from tests.fake_twilio import FakeTwilio

pytestmark = pytest.mark.models
MARIA, FRONT_DESK, DR_LEE = "+15550100010", "+15550100012", "+15550100011"


@pytest.fixture
async def twilio() -> AsyncIterator[tuple[FakeTwilio, TestServer]]:
    fake = FakeTwilio()
    srv = TestServer(fake.app(), host="127.0.0.1", port=unused_port())
    await srv.start_server()
    yield fake, srv
    await srv.close()


@pytest.fixture
def call_settings(settings: Settings, twilio: tuple[FakeTwilio, TestServer]) -> Settings:
    return replace(
        settings, twilio_api_base_url=f"http://127.0.0.1:{twilio[1].port}", twilio_stop_grace_secs=0.3
    )


async def wait_idle(srv: TestServer, timeout: float = 15.0) -> None:
    """Wait until the server has finished closing every call."""
    async with asyncio.timeout(timeout):
        while srv.app[STATE].calls:
            await asyncio.sleep(0.05)
    await asyncio.sleep(0.1)


async def serve(settings: Settings, models: Models) -> TestServer:
    srv = TestServer(create_app(settings, models), host="127.0.0.1", port=settings.port)
    await srv.start_server()
    return srv


def dialed(fake: FakeTwilio, call_sid: str) -> list[str]:
    numbers = []
    for update in fake.updates_for(call_sid):
        if "Twiml" in update:
            dial = ET.fromstring(update["Twiml"]).find("Dial")
            assert dial is not None
            numbers.append((dial.findtext("Number") or "").strip())
    return numbers


def prompts_with(base: Path, tmp_path: Path, **behaviour: float) -> Path:
    """A copy of the prompts in `base` whose example business has the given behaviour settings."""
    out = tmp_path / "prompts"
    shutil.copytree(base, out)
    path = out / "businesses" / "example.yaml"
    data = yaml.safe_load(path.read_text())
    data["behaviour"] = {**data.get("behaviour", {}), **behaviour}
    path.write_text(yaml.safe_dump(data))
    return out


async def test_transfer_request_dials_the_right_person_after_the_announcement(
    call_settings: Settings, models: Models, speech_dir: Path, twilio: tuple[FakeTwilio, TestServer]
) -> None:
    """'Someone about my bill' → announce, let it play, then update the call with <Dial> to billing."""
    fake = twilio[0]
    srv = await serve(call_settings, models)
    try:
        with capture_logs() as logs:
            result = await place_call(
                call_settings.public_base_url, AUTH_TOKEN, [str(speech_dir / "bill.wav")]
            )
            await wait_idle(srv)
    finally:
        await srv.close()
    assert dialed(fake, result.call_sid) == [MARIA]
    update = fake.updates_for(result.call_sid)[0]
    dial = ET.fromstring(update["Twiml"]).find("Dial")
    assert dial is not None and dial.attrib["timeout"] == "20"
    assert dial.attrib["action"].endswith("/twilio/dial-status?business=example&staff=Maria Lopez")
    assert fake.auth[0] == (call_settings.twilio_account_sid, AUTH_TOKEN)
    events = [e["event"] for e in logs]
    played = [i for i, e in enumerate(logs) if e["event"] == "agent_utterance_played"]
    assert played[-1] < events.index("call_transferred")
    ended = next(e for e in logs if e["event"] == "call_ended")
    assert ended["outcome"] == "transferred"


async def test_goodbye_plays_the_closing_then_hangs_up(
    call_settings: Settings, models: Models, speech_dir: Path, twilio: tuple[FakeTwilio, TestServer]
) -> None:
    """'Thanks, bye' → the closing line is heard in full, then the call is completed via REST."""
    fake = twilio[0]
    srv = await serve(call_settings, models)
    try:
        with capture_logs() as logs:
            result = await place_call(
                call_settings.public_base_url, AUTH_TOKEN, [str(speech_dir / "bye.wav")]
            )
            await wait_idle(srv)
    finally:
        await srv.close()
    assert [u.get("Status") for u in fake.updates_for(result.call_sid)] == ["completed"]
    closing = [e for e in logs if e["event"] == "agent_utterance_played"][-1]
    assert closing["heard_ms"] == closing["sent_ms"] > 1000
    events = [e["event"] for e in logs]
    assert events.index("agent_utterance_played", events.index("agent_reply")) < events.index(
        "call_hung_up_by_agent"
    )
    assert next(e for e in logs if e["event"] == "call_ended")["outcome"] == "completed"


async def test_message_taken_over_the_phone_is_stored_with_every_field(
    call_settings: Settings, models: Models, speech_dir: Path
) -> None:
    """A spoken message (name, number read back and confirmed, text, urgency) is stored in full."""
    srv = await serve(call_settings, models)
    try:
        with capture_logs() as logs:
            result = await place_call(
                call_settings.public_base_url,
                AUTH_TOKEN,
                [str(speech_dir / f"{n}.wav") for n in ("msg0", "name", "number", "yes", "msg2", "no")],
            )
            await wait_idle(srv)
    finally:
        await srv.close()
    detail = [e["detail_model"] for e in logs if e["event"] == "stt_final"]
    assert detail[0] is False and any(detail[1:]), detail  # details are heard by the bigger model
    db = open_database(call_settings.db_url)
    messages = await MessageStore(db).all()
    await db.dispose()
    assert len(messages) == 1, conversation(logs)
    message = messages[0]
    assert message.call_sid == result.call_sid
    assert (message.caller_name, message.callback_number) == ("John Smith", "6175550100")
    assert message.recipient == "Front Desk" and message.urgent is False
    assert "cleaning" in message.message.lower()


async def test_keypad_zero_transfers_to_the_operator(
    call_settings: Settings, models: Models, twilio: tuple[FakeTwilio, TestServer]
) -> None:
    """Pressing 0 transfers to the profile's operator."""
    from tests.test_server import answered_stream

    fake = twilio[0]
    srv = await serve(call_settings, models)
    try:
        async with aiohttp.ClientSession() as http:
            stream = await answered_stream(http, call_settings, "CA" + "f" * 32)
            await stream.dtmf("0")
            await stream.play_until(lambda: bool(dialed(fake, stream.call_sid)))
    finally:
        await srv.close()
    assert dialed(fake, "CA" + "f" * 32) == [MARIA]


async def test_a_key_pressed_over_the_last_keys_reply_replaces_it(
    call_settings: Settings, models: Models, twilio: tuple[FakeTwilio, TestServer]
) -> None:
    """2 (transfer to the front desk) and then 1 (hours) before the first reply was heard: the first
    reply is cleared and its transfer never dialed; the hours are what plays, to the end."""
    from tests.test_server import answered_stream

    fake = twilio[0]
    srv = await serve(call_settings, models)
    try:
        async with aiohttp.ClientSession() as http:
            stream = await answered_stream(http, call_settings, "CA" + "e" * 32)
            with capture_logs() as logs:
                await stream.dtmf("2")
                await stream.next_event("media")  # its reply has begun to arrive; none of it played
                await stream.dtmf("1")
                await stream.next_event("clear")

                def heard_whole() -> bool:
                    ends = [e for e in logs if e["event"] == "agent_utterance_played"]
                    return any(not e["interrupted"] for e in ends)

                await stream.play_until(heard_whole)
                await asyncio.sleep(1.0)  # time enough for a transfer that was going to happen
    finally:
        await srv.close()
    replies = [e["intent"] for e in logs if e["event"] == "agent_reply"]
    assert replies[:2] == ["transfer", "hours"], conversation(logs)
    assert dialed(fake, "CA" + "e" * 32) == [], conversation(logs)


async def test_unanswered_transfer_comes_back_and_offers_a_message(
    call_settings: Settings, models: Models
) -> None:
    """Dial status no-answer reconnects the stream; the agent apologises and starts a message."""
    srv = await serve(call_settings, models)
    url = call_settings.public_base_url + "/twilio/dial-status?business=example&staff=Maria Lopez"
    params = {"CallSid": "CA" + "9" * 32, "DialCallStatus": "no-answer", "AccountSid": "AC1"}
    try:
        async with aiohttp.ClientSession() as http:
            forged = await http.post(url, data=params, headers={"X-Twilio-Signature": "x"})
            assert forged.status == 403
            resp = await http.post(
                url, data=params, headers={"X-Twilio-Signature": sign(AUTH_TOKEN, url, params)}
            )
            body = await resp.text()
            stream = ET.fromstring(body).find("./Connect/Stream")
            assert stream is not None
            done = dict(params, DialCallStatus="completed")
            hung = await http.post(
                url, data=done, headers={"X-Twilio-Signature": sign(AUTH_TOKEN, url, done)}
            )
            assert "<Hangup" in await hung.text()
            from tests.test_server import Stream

            ws_url = stream.attrib["url"]
            ws = await http.ws_connect(ws_url, headers={"x-twilio-signature": sign(AUTH_TOKEN, ws_url, {})})
            token = stream.find("Parameter")
            assert token is not None
            s = Stream(ws, params["CallSid"], token.attrib["value"])
            with capture_logs() as logs:
                await s.start()
                await s.next_event("media")
                await s.stop()
    finally:
        await srv.close()
    reply = next(e for e in logs if e["event"] == "agent_reply")
    assert reply["text"].startswith("I'm sorry, Maria Lopez isn't available right now.")
    assert "May I have your name" in reply["text"]


async def test_silence_reprompts_then_says_goodbye_and_hangs_up(
    call_settings: Settings, models: Models, tmp_path: Path, twilio: tuple[FakeTwilio, TestServer]
) -> None:
    """A silent caller is asked if they're still there, then told goodbye, then hung up on."""
    cfg = replace(
        call_settings,
        prompts_dir=prompts_with(
            call_settings.prompts_dir, tmp_path, silence_reprompt_secs=1.0, silence_max_reprompts=1
        ),
    )
    srv = await serve(cfg, models)
    try:
        with capture_logs() as logs:
            result = await place_call(cfg.public_base_url, AUTH_TOKEN, [], reply_timeout_s=30, hold_s=40)
            await wait_idle(srv)
            async with asyncio.timeout(30):
                while not twilio[0].updates_for(result.call_sid):
                    await asyncio.sleep(0.1)
    finally:
        await srv.close()
    replies = [e["intent"] for e in logs if e["event"] == "agent_reply"]
    assert replies == ["silence", "silence"]
    assert [u.get("Status") for u in twilio[0].updates_for(result.call_sid)] == ["completed"]


async def test_barge_in_keeps_only_what_the_caller_heard_in_the_conversation(
    settings: Settings, models: Models, speech_dir: Path
) -> None:
    """After talking over the greeting, the model sees the greeting cut where the caller cut it."""
    fake = FakeChatEndpoint("We open at nine on Saturday.")
    llm = TestServer(fake.app(), host="127.0.0.1", port=unused_port())
    await llm.start_server()
    cfg = replace(settings, llm_base_url=f"http://127.0.0.1:{llm.port}/v1", llm_model="m")
    srv = await serve(cfg, models)
    try:
        result = await place_call(
            cfg.public_base_url, AUTH_TOKEN, [str(speech_dir / "ramble.wav")], barge_in_after_s=1.5
        )
        await wait_idle(srv)
    finally:
        await srv.close()
        await llm.close()
    assert result.clears >= 1
    assistant = [m for m in fake.requests[0]["messages"] if m["role"] == "assistant"]
    opening = load_business(settings.prompts_dir, "example").opening_line
    assert assistant, fake.requests[0]["messages"]
    heard = assistant[0]["content"]
    assert heard.endswith("—")
    assert opening.startswith(heard.rstrip("—").strip())
    assert 0 < len(heard) < len(opening)


async def test_a_backchannel_over_the_agent_does_not_stop_its_reply(
    settings: Settings, models: Models, speech_dir: Path
) -> None:
    """'Okay.' said over the greeting cuts it for a moment, then the agent says the rest of it."""
    srv = await serve(settings, models)
    try:
        with capture_logs() as logs:
            result = await place_call(
                settings.public_base_url, AUTH_TOKEN, [str(speech_dir / "okay.wav")], barge_in_after_s=1.5
            )
            await wait_idle(srv)
    finally:
        await srv.close()
    assert result.clears >= 1
    handled = [e for e in logs if e["event"] == "barge_in_not_a_turn"]
    assert handled and handled[0]["kind"] == "backchannel" and handled[0]["resumed"] is True
    assert not [e for e in logs if e["event"] == "agent_reply"], "the backchannel was answered as a request"
    rest = transcribe(models.whisper, ulaw_to_pcm16k(bytes(result.turns[0].reply_ulaw))).text.lower()
    assert "automated" in rest and "recorded" in rest, rest  # the rest of the opening line, to its end
    assert "harbor" not in rest, rest  # not started over


async def test_a_noise_burst_over_the_agent_does_not_lose_its_reply(
    settings: Settings, models: Models, tmp_path: Path
) -> None:
    """A loud burst of line noise mid-greeting leaves the greeting heard to its end."""
    burst = tmp_path / "burst.wav"
    noise = np.random.default_rng(5).normal(0, 8000, 8000 * 3 // 10).clip(-32768, 32767).astype("<i2")
    with wave.open(str(burst), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(noise.tobytes())
    srv = await serve(settings, models)
    try:
        result = await place_call(settings.public_base_url, AUTH_TOKEN, [str(burst)], barge_in_after_s=1.5)
        await wait_idle(srv)
    finally:
        await srv.close()
    heard = transcribe(models.whisper, ulaw_to_pcm16k(result.heard_ulaw)).text.lower()
    assert "help" in heard and "recorded" in heard, heard  # its first words and its last


def paused_sentence(models: Models, first: str, rest: str, pause_s: float, path: Path) -> Path:
    """Both parts in the stock voice (the same audio every run) with `pause_s` of silence between."""
    config = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    rate = models.piper.config.sample_rate
    parts = [b"".join(synthesize_pcm(models.piper, text, config)) for text in (first, rest)]
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(parts[0] + bytes(2 * int(pause_s * rate)) + parts[1])
    return path


async def test_a_caller_who_pauses_mid_sentence_is_answered_on_the_whole_sentence(
    settings: Settings, models: Models, tmp_path: Path
) -> None:
    """'I was wondering about your hours' … 0.7 s … 'on Saturday.': smart-turn hears the first half as
    complete and the turn ends in the pause; the caller going on over the reply cuts it, and the two
    halves are answered as one: Saturday's hours, not the whole week's (on a machine slow enough that
    the turn had not ended in the pause, the one turn gets the same answer)."""
    wav = paused_sentence(models, "I was wondering about your hours", "on Saturday.", 0.7, tmp_path / "p.wav")
    srv = await serve(settings, models)
    try:
        with capture_logs() as logs:
            result = await place_call(settings.public_base_url, AUTH_TOKEN, [str(wav)])
            await wait_idle(srv)
    finally:
        await srv.close()
    ends = [e for e in logs if e["event"] == "turn_end"]
    continued = [e for e in logs if e["event"] == "turn_continued"]
    assert len(ends) == 1 or [c["text"] for c in continued] == [
        "I was wondering about your hours. On Saturday."
    ], conversation(logs)
    replies = [e["text"] for e in logs if e["event"] == "agent_reply"]
    assert replies[-1].startswith("On Saturday, we're open from 9 AM to 1 PM"), conversation(logs)
    heard = transcribe(models.whisper, ulaw_to_pcm16k(bytes(result.turns[0].reply_ulaw))).text.lower()
    assert "saturday" in heard and "monday" not in heard, heard  # after they finished: the one answer


async def test_endpoint_model_transfers_with_a_tool_call(
    call_settings: Settings, models: Models, speech_dir: Path, twilio: tuple[FakeTwilio, TestServer]
) -> None:
    """With an endpoint configured, the model's transfer_call tool moves the call via REST.

    The caller says something the profile doesn't answer, so the router leaves the turn to the model.
    """
    fake = FakeChatEndpoint("Connecting you now.", tool_call=("transfer_call", {"staff_name": "Dr. Sam Lee"}))
    llm = TestServer(fake.app(), host="127.0.0.1", port=unused_port())
    await llm.start_server()
    cfg = replace(call_settings, llm_base_url=f"http://127.0.0.1:{llm.port}/v1", llm_model="m")
    srv = await serve(cfg, models)
    try:
        result = await place_call(cfg.public_base_url, AUTH_TOKEN, [str(speech_dir / "chat.wav")])
        await wait_idle(srv)
    finally:
        await srv.close()
        await llm.close()
    tools = {t["function"]["name"] for t in fake.requests[0]["tools"]}
    assert tools == {"business_hours", "open_now", "take_message", "transfer_call", "end_call"}
    assert dialed(twilio[0], result.call_sid) == [DR_LEE]


async def test_calls_end_politely_at_the_maximum_length(
    call_settings: Settings, models: Models, tmp_path: Path, twilio: tuple[FakeTwilio, TestServer]
) -> None:
    """At the profile's maximum call length the agent says so, says goodbye and hangs up."""
    cfg = replace(
        call_settings,
        prompts_dir=prompts_with(
            call_settings.prompts_dir, tmp_path, max_call_minutes=0.1, silence_reprompt_secs=60
        ),
    )
    srv = await serve(cfg, models)
    try:
        with capture_logs() as logs:
            result = await place_call(cfg.public_base_url, AUTH_TOKEN, [], reply_timeout_s=30, hold_s=40)
            async with asyncio.timeout(30):
                while not twilio[0].updates_for(result.call_sid):
                    await asyncio.sleep(0.1)
            await wait_idle(srv)
    finally:
        await srv.close()
    reply = next(e for e in logs if e["event"] == "agent_reply")
    assert reply["intent"] == "time_limit" and "time limit" in reply["text"]
    assert [u.get("Status") for u in twilio[0].updates_for(result.call_sid)] == ["completed"]
