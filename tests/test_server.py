"""The server over real loopback HTTP and websockets, speaking Twilio's exact protocol."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
import structlog
from aiohttp.test_utils import TestServer, unused_port
from structlog.testing import capture_logs

from agent.config import Settings
from agent.logs import configure_logging
from agent.models import Models
from agent.server import STATE, create_app
from agent.simulate import place_call, ulaw_to_pcm16k
from agent.speech.whisper import transcribe
from agent.telephony import events
from agent.telephony.codec import ulaw_decode
from agent.telephony.security import sign
from tests.conftest import AUTH_TOKEN, conversation
from tests.fake_openai import FakeChatEndpoint

ACCOUNT = "AC" + "0" * 32


def rms(ulaw: bytes) -> float:
    pcm = np.frombuffer(ulaw_decode(ulaw), dtype="<i2").astype(float)
    return float(np.sqrt(np.mean(pcm**2))) if len(pcm) else 0.0


def words(text: str) -> list[str]:
    """The lower-case words of a transcript, punctuation dropped."""
    return re.findall(r"[a-z0-9']+", text.lower())


async def post_webhook(
    http: aiohttp.ClientSession,
    settings: Settings,
    call_sid: str,
    signature: str | None = "sign",
    query: str = "",
) -> aiohttp.ClientResponse:
    params = {
        "CallSid": call_sid,
        "AccountSid": ACCOUNT,
        "From": "+15550100001",
        "To": "+15550100002",
        "CallStatus": "ringing",
    }
    path = "/twilio/voice" + (f"?{query}" if query else "")
    headers = {}
    if signature == "sign":
        headers["X-Twilio-Signature"] = sign(AUTH_TOKEN, settings.public_base_url + path, params)
    elif signature is not None:
        headers["X-Twilio-Signature"] = signature
    return await http.post(settings.public_base_url + path, data=params, headers=headers)


# How late the simulated phone's play clock may run, while it plays our audio, for its echo timing to be a
# phone's (quiet runs: 10-25 ms; a stall of 0.3 s beside three CPU hogs brought two echo clears).
MAX_PHONE_LAG_S = 0.1


class Stream:
    """A raw Twilio-side media stream for protocol tests."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, call_sid: str, token: str) -> None:
        self.ws = ws
        self.call_sid = call_sid
        self.token = token
        self.stream_sid = "MZ" + call_sid[2:]
        self.seq = 0

    async def send(self, msg: dict[str, Any]) -> None:
        """Send a raw message (malformed ones included)."""
        await self.ws.send_str(json.dumps(msg))

    async def send_event(self, event: events.Event) -> None:
        """Send an event as Twilio formats it."""
        await self.ws.send_str(events.twilio_message(event))

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    async def start(self, token: str | None = None) -> None:
        await self.send_event(events.Connected("Call", "1.0.0"))
        params = {"token": token or self.token}
        await self.send_event(
            events.Start(
                self.next_seq(), self.stream_sid, self.call_sid, ACCOUNT, ("inbound",),
                "audio/x-mulaw", 8000, 1, params,
            )
        )  # fmt: skip

    async def dtmf(self, digit: str) -> None:
        """Press a key on the caller's phone."""
        await self.send_event(events.Dtmf(self.next_seq(), self.stream_sid, digit))

    async def mark(self, name: str) -> None:
        """Return a mark the server sent, as Twilio does once the audio before it has played."""
        await self.send_event(events.Mark(self.next_seq(), self.stream_sid, name))

    async def play_until(self, done: Callable[[], bool], timeout: float = 30.0) -> None:
        """Play what the server sends, returning each of its marks, until `done()`."""
        async with asyncio.timeout(timeout):
            while not done():
                msg = await self.ws.receive()
                if msg.type == aiohttp.WSMsgType.TEXT:
                    sent = events.parse_outbound(msg.data)
                    if isinstance(sent, events.PlayMark):
                        await self.mark(sent.name)

    async def media(self, payload: bytes = b"\xff" * 160, stream_sid: str | None = None) -> None:
        seq = self.next_seq()
        sid = stream_sid or self.stream_sid
        await self.send_event(events.Media(seq, sid, "inbound", seq, seq * 20, payload))

    async def stop(self) -> None:
        await self.send_event(events.Stop(self.next_seq(), self.stream_sid, self.call_sid))

    async def next_event(self, kind: str, timeout: float = 15.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                msg = await self.ws.receive()
                if msg.type != aiohttp.WSMsgType.TEXT:
                    raise AssertionError(f"socket ended while waiting for {kind}: {msg}")
                data = json.loads(msg.data)
                if data["event"] == kind:
                    return data


async def open_stream(
    http: aiohttp.ClientSession, settings: Settings, call_sid: str, sign_upgrade: bool = True
) -> Stream:
    resp = await post_webhook(http, settings, call_sid)
    assert resp.status == 200
    stream = ET.fromstring(await resp.text()).find("./Connect/Stream")
    assert stream is not None
    url = stream.attrib["url"]
    token = {p.attrib["name"]: p.attrib["value"] for p in stream.findall("Parameter")}["token"]
    headers = {"x-twilio-signature": sign(AUTH_TOKEN, url, {})} if sign_upgrade else {}
    ws = await http.ws_connect(url, headers=headers)
    return Stream(ws, call_sid, token)


async def answered_stream(http: aiohttp.ClientSession, settings: Settings, call_sid: str) -> Stream:
    """A stream opened and started, once the greeting's first audio has arrived."""
    stream = await open_stream(http, settings, call_sid)
    await stream.start()
    await stream.next_event("media")
    return stream


async def stream_url(http: aiohttp.ClientSession, settings: Settings, call_sid: str) -> str:
    """The stream URL a signed webhook answers with for `call_sid`."""
    resp = await post_webhook(http, settings, call_sid)
    stream = ET.fromstring(await resp.text()).find("./Connect/Stream")
    assert resp.status == 200 and stream is not None
    return stream.attrib["url"]


async def upgrade_status(http: aiohttp.ClientSession, url: str, signed_for: str | None) -> int:
    """The HTTP status of a websocket upgrade to `url`, signed as Twilio would sign `signed_for`."""
    headers = {"x-twilio-signature": sign(AUTH_TOKEN, signed_for, {})} if signed_for else {}
    try:
        ws = await http.ws_connect(url, headers=headers)
    except aiohttp.WSServerHandshakeError as exc:
        return exc.status
    await ws.close()
    return 101


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def wait_for_no_calls(server: TestServer, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while server.app[STATE].calls:
            await asyncio.sleep(0.05)


class TestWebhook:
    async def test_healthz(self, server: TestServer, http: aiohttp.ClientSession, settings: Settings) -> None:
        """/healthz answers without a signature and reports live calls."""
        resp = await http.get(settings.public_base_url + "/healthz")
        assert resp.status == 200
        assert (await resp.json())["live_calls"] == 0

    async def test_signed_webhook_connects_a_stream_with_a_token(
        self, server: TestServer, http: aiohttp.ClientSession, settings: Settings
    ) -> None:
        """A signed webhook gets TwiML <Connect><Stream> to our media URL with a token parameter."""
        resp = await post_webhook(http, settings, "CA" + "1" * 32)
        assert resp.status == 200
        assert resp.content_type == "text/xml"
        stream = ET.fromstring(await resp.text()).find("./Connect/Stream")
        assert stream is not None
        base, _, secret = stream.attrib["url"].rpartition("/")
        assert base == f"ws://127.0.0.1:{settings.port}/twilio/media" and len(secret) == 32
        params = {p.attrib["name"]: p.attrib["value"] for p in stream.findall("Parameter")}
        assert len(params["token"]) >= 24 and secret not in params["token"]

    async def test_a_replayed_webhook_gets_the_same_twiml_and_takes_no_new_slot(
        self, server: TestServer, http: aiohttp.ClientSession, settings: Settings
    ) -> None:
        """Posting one captured, signed webhook three times answers identically; other callers get in."""
        sid = "CA" + "a" * 32
        bodies = [await (await post_webhook(http, settings, sid)).text() for _ in range(3)]
        assert bodies[0] == bodies[1] == bodies[2] and "<Stream" in bodies[0]
        assert len(server.app[STATE].tokens) == 1
        limit = server.app[STATE].settings.max_calls  # the admission limit the server resolved
        assert limit >= 2
        others = [await post_webhook(http, settings, f"CA{i:032d}") for i in range(limit - 1)]
        assert all(["<Stream" in await r.text() for r in others])

    @pytest.mark.parametrize("signature", [None, "", "forged+signature="])
    async def test_unsigned_or_forged_webhook_is_403(
        self, server: TestServer, http: aiohttp.ClientSession, settings: Settings, signature: str | None
    ) -> None:
        """A webhook without a valid X-Twilio-Signature is refused with 403 and mints no token."""
        with capture_logs() as logs:
            resp = await post_webhook(http, settings, "CA" + "2" * 32, signature=signature)
        assert resp.status == 403
        assert len(server.app[STATE].tokens) == 0
        assert any(e["event"] == "webhook_forbidden" for e in logs)

    async def test_query_string_is_part_of_the_signed_url(
        self, server: TestServer, http: aiohttp.ClientSession, settings: Settings
    ) -> None:
        """The query string Twilio requested is validated; a signature without it fails."""
        assert (await post_webhook(http, settings, "CA" + "3" * 32, query="x=1")).status == 200
        params = {"CallSid": "CA" + "4" * 32}
        bad = sign(AUTH_TOKEN, settings.public_base_url + "/twilio/voice", params)
        resp = await http.post(
            settings.public_base_url + "/twilio/voice?x=1", data=params, headers={"X-Twilio-Signature": bad}
        )
        assert resp.status == 403


class TestMediaStreamSecurity:
    async def test_an_unsigned_or_misdirected_upgrade_is_refused_before_the_websocket_opens(
        self, server: TestServer, http: aiohttp.ClientSession, settings: Settings
    ) -> None:
        """No signature, one call's signature on another call's URL, or no per-call secret: 403, no socket."""
        one = await stream_url(http, settings, "CA" + "5" * 32)
        two = await stream_url(http, settings, "CA" + "b" * 32)
        bare = f"ws://127.0.0.1:{settings.port}/twilio/media"
        with capture_logs() as logs:
            assert await upgrade_status(http, one, None) == 403
            assert await upgrade_status(http, two, one) == 403
            assert await upgrade_status(http, bare, bare) == 403
            assert await upgrade_status(http, bare + "/..%2F..%2Fetc", bare + "/..%2F..%2Fetc") == 403
        reasons = [e["reason"] for e in logs if e["event"] == "media_forbidden"]
        assert reasons[:2] == ["unsigned", "bad signature"] and len(reasons) == 4

    async def test_wrong_token_is_closed_1008(
        self, server: TestServer, http: aiohttp.ClientSession, settings: Settings
    ) -> None:
        """A start whose token was not minted for its CallSid closes the socket with 1008."""
        stream = await open_stream(http, settings, "CA" + "6" * 32)
        await stream.start(token="not-the-token")
        msg = await stream.ws.receive(timeout=5)
        assert (msg.type, msg.data) == (aiohttp.WSMsgType.CLOSE, 1008)
        assert not server.app[STATE].calls

    async def test_a_used_stream_url_is_refused(
        self, server: TestServer, http: aiohttp.ClientSession, settings: Settings
    ) -> None:
        """A stream URL works once: replaying the captured, signed upgrade after the call is refused."""
        call_sid = "CA" + "7" * 32
        url = await stream_url(http, settings, call_sid)
        first = await open_stream(http, settings, call_sid)
        await first.start()
        await first.next_event("media")
        await first.stop()
        await first.ws.close()
        assert await upgrade_status(http, url, url) == 403


class TestWireLimits:
    async def test_a_malformed_call_sid_is_refused_400(
        self, server: TestServer, http: aiohttp.ClientSession, settings: Settings
    ) -> None:
        """A signed webhook whose CallSid is not a call SID (a path, markup, nothing) gets 400."""
        for sid in ("CA../../etc/passwd", "<script>", "", "CA" + "0" * 31):
            assert (await post_webhook(http, settings, sid)).status == 400
        assert len(server.app[STATE].tokens) == 0

    async def test_a_stream_that_goes_silent_is_dropped(
        self, settings: Settings, models: Models, http: aiohttp.ClientSession
    ) -> None:
        """No message for STREAM_IDLE_SECS: the server closes the socket and the call ends as dropped."""
        cfg = replace(settings, stream_idle_secs=1.0)
        srv = TestServer(create_app(cfg, models), host=cfg.host, port=cfg.port)
        await srv.start_server()
        try:
            with capture_logs() as logs:
                stream = await open_stream(http, cfg, "CA" + "c" * 32)
                await stream.start()
                async with asyncio.timeout(20):
                    while (await stream.ws.receive()).type == aiohttp.WSMsgType.TEXT:
                        pass  # the greeting goes out; the caller's side sends nothing
                await wait_for_no_calls(srv)
        finally:
            await srv.close()
        ended = [e for e in logs if e["event"] == "call_ended"]
        assert [e["reason"] for e in ended] == ["dropped: no messages for 1 s"], ended

    async def test_a_message_flood_is_skipped_then_dropped(
        self, server: TestServer, http: aiohttp.ClientSession, settings: Settings
    ) -> None:
        """Thousands of messages at once: those over the budget are skipped (logged once), then the socket
        is closed and the call ends as a flood."""
        stream = await open_stream(http, settings, "CA" + "d" * 32)
        await stream.start()
        with capture_logs() as logs:
            for _ in range(4000):
                if stream.ws.closed:
                    break
                await stream.ws.send_str("{}")
            async with asyncio.timeout(20):
                while (await stream.ws.receive()).type == aiohttp.WSMsgType.TEXT:
                    pass
            await wait_for_no_calls(server)
        over = [e for e in logs if e["event"] == "message_skipped" and "a second" in e["reason"]]
        assert len(over) == 1
        ended = [e for e in logs if e["event"] == "call_ended"]
        assert [e["reason"] for e in ended] == ["dropped: message flood"], ended


class TestMediaStreamProtocol:
    async def test_greeting_is_sent_as_media_with_marks(
        self, server: TestServer, http: aiohttp.ClientSession, settings: Settings
    ) -> None:
        """After start the agent greets: μ-law media, each chunk followed by a mark."""
        stream = await open_stream(http, settings, "CA" + "8" * 32)
        await stream.start()
        media = await stream.next_event("media")
        assert media["streamSid"] == stream.stream_sid
        assert set(media) == {"event", "streamSid", "media"}
        assert rms(base64.b64decode(media["media"]["payload"])) >= 0
        mark = await stream.next_event("mark")
        assert mark["mark"]["name"]
        await stream.stop()

    async def test_bad_messages_are_logged_skipped_and_the_call_goes_on(
        self, server: TestServer, http: aiohttp.ClientSession, settings: Settings
    ) -> None:
        """Malformed JSON, binary, unknown events, oversize and wrong-stream messages are skipped."""
        stream = await open_stream(http, settings, "CA" + "9" * 32)
        with capture_logs() as logs:
            await stream.media()  # before start
            await stream.start()
            await stream.ws.send_str("{not json")
            await stream.ws.send_bytes(b"\x00\x01")
            await stream.send({"event": "dance", "streamSid": stream.stream_sid})
            await stream.ws.send_str(json.dumps({"event": "media", "pad": "x" * 70_000}))
            await stream.media(stream_sid="MZ" + "f" * 32)
            await stream.send(
                {
                    "event": "mark",
                    "streamSid": stream.stream_sid,
                    "sequenceNumber": "99",
                    "mark": {"name": "never-sent"},
                }
            )
            await stream.next_event("media")
            await stream.media()
            await asyncio.sleep(0.2)
        reasons = [e.get("reason", "") for e in logs if e["event"] == "message_skipped"]
        assert any("before start" in r for r in reasons)
        assert any("malformed JSON" in r for r in reasons)
        assert any("binary" in r for r in reasons)
        assert any("unknown event" in r for r in reasons)
        assert any("larger than" in r for r in reasons)
        assert any("wrong streamSid" in r for r in reasons)
        assert any(e["event"] == "unknown_mark" for e in logs)
        assert stream.call_sid in server.app[STATE].calls
        await stream.stop()
        await wait_for_no_calls(server)

    async def test_dtmf_reaches_the_call(
        self, server: TestServer, http: aiohttp.ClientSession, settings: Settings
    ) -> None:
        """A keypress is parsed, logged with its digit and pushed into the call's pipeline."""
        stream = await open_stream(http, settings, "CA" + "e" * 32)
        with capture_logs() as logs:
            await stream.start()
            await stream.next_event("media")
            await stream.dtmf("0")
            await stream.media()
            await asyncio.sleep(0.2)
        assert [e["digit"] for e in logs if e["event"] == "dtmf"] == ["0"]
        assert not any(e["event"] == "event_failed" for e in logs)
        await stream.stop()
        await wait_for_no_calls(server)

    async def test_stop_ends_the_pipeline_and_leaves_no_task(
        self, server: TestServer, http: aiohttp.ClientSession, settings: Settings
    ) -> None:
        """A stop mid-reply ends that call's pipeline and every task it started."""
        before = asyncio.all_tasks()
        stream = await open_stream(http, settings, "CA" + "a" * 32)
        await stream.start()
        await stream.next_event("media")
        await stream.stop()
        await wait_for_no_calls(server)
        msg = await stream.ws.receive(timeout=5)
        while msg.type == aiohttp.WSMsgType.TEXT:  # media sent before the stop was read
            msg = await stream.ws.receive(timeout=5)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        await asyncio.sleep(0.2)
        leftover = [
            t for t in asyncio.all_tasks() - before if not t.done() and t is not asyncio.current_task()
        ]
        assert [t.get_name() for t in leftover if "call" in repr(t.get_coro())] == []
        assert not [t for t in leftover if "pipecat" in repr(t.get_coro())]

    async def test_dropped_socket_ends_the_call(
        self, server: TestServer, http: aiohttp.ClientSession, settings: Settings
    ) -> None:
        """A caller whose socket drops without stop is cleaned up the same way."""
        stream = await open_stream(http, settings, "CA" + "b" * 32)
        await stream.start()
        await stream.next_event("media")
        await stream.ws.close()
        await wait_for_no_calls(server)

    async def test_one_bad_call_does_not_disturb_another(
        self, server: TestServer, http: aiohttp.ClientSession, settings: Settings
    ) -> None:
        """A forged stream and a garbage-sending stream leave a concurrent good call running."""
        good = await open_stream(http, settings, "CA" + "c" * 32)
        await good.start()
        await good.next_event("media")
        bad = await open_stream(http, settings, "CA" + "d" * 32)
        await bad.start(token="wrong")
        for _ in range(20):
            await good.ws.send_str("garbage")
        await good.next_event("mark")
        assert "CA" + "c" * 32 in server.app[STATE].calls
        await good.stop()
        await wait_for_no_calls(server)


@pytest.mark.models
class TestWholeCall:
    async def test_two_turn_call_with_real_models(
        self, server: TestServer, settings: Settings, models: Models, speech_dir: Path
    ) -> None:
        """A caller is greeted and answered twice with speech that Whisper turns into words."""
        buf = io.StringIO()
        configure_logging("debug", stream=buf)
        try:
            result = await place_call(
                settings.public_base_url,
                AUTH_TOKEN,
                [str(speech_dir / "hours.wav"), str(speech_dir / "where.wav")],
            )
        finally:
            structlog.reset_defaults()
        assert rms(result.greeting_ulaw) > 300
        greeting = transcribe(models.whisper, ulaw_to_pcm16k(result.greeting_ulaw)).text
        assert {"dental", "automated", "recorded"} & set(words(greeting)), greeting
        assert len(result.turns) == 2
        for turn in result.turns:
            assert turn.latency_s is not None and 0 < turn.latency_s < 10
            assert rms(bytes(turn.reply_ulaw)) > 300
            text = transcribe(models.whisper, ulaw_to_pcm16k(bytes(turn.reply_ulaw))).text
            assert len(words(text)) >= 2, text
        assert result.marks_echoed > 10
        assert result.clears == 0
        lines = [json.loads(line) for line in buf.getvalue().splitlines() if line.startswith("{")]
        call_lines = [line for line in lines if line.get("call_sid") == result.call_sid]
        assert any(line["event"] == "call_started" for line in call_lines)
        latency = [line for line in call_lines if line["event"] == "turn_latency"]
        assert len(latency) >= 2
        assert all(line["server_total_ms"] > 0 for line in latency)
        assert any(line.get("module", "").startswith("pipecat") for line in call_lines)
        unbound = [
            line
            for line in lines
            if "call_sid" not in line and line.get("module", "").startswith("pipecat.processors")
        ]
        assert unbound == []
        assert not any("+15550100001" in line for line in buf.getvalue().splitlines())

    async def test_barge_in_clears_the_agent_and_marks_report_the_cut(
        self, server: TestServer, settings: Settings, speech_dir: Path
    ) -> None:
        """Talking over the greeting makes the server send clear; its marks say what was dropped."""
        with capture_logs() as logs:
            result = await place_call(
                settings.public_base_url, AUTH_TOKEN, [str(speech_dir / "long.wav")], barge_in_after_s=0.8
            )
        assert result.clears >= 1
        played = [e for e in logs if e["event"] == "agent_utterance_played"]
        assert played[0]["interrupted"] is True
        assert played[0]["heard_ms"] < played[0]["sent_ms"]
        assert result.turns[0].first_reply_at is not None
        # Timed on the caller's side: the clear follows the caller's first words, not their end.
        clear_after = result.turns[0].clear_after_s
        assert clear_after is not None and 0 < clear_after < 1.5, clear_after

    async def test_own_voice_echoing_back_does_not_interrupt_the_agent(
        self, settings: Settings, models: Models, speech_dir: Path
    ) -> None:
        """The agent's voice returning 15 dB down (no echo cancelling) is not taken for the caller.

        The same call with the echo gate off self-interrupts, which shows the echo is strong enough to.
        As in the barge-in-over-echo test below, a simulated phone whose clock ran later than
        MAX_PHONE_LAG_S while playing our audio (its event loop, shared with the server, stalled by a loaded
        machine) sends its echo late against our marks, which no phone does; then the gate need only clear
        less than no gate (fresh-clone CI runs met this twice).
        """
        clears, late = {}, {}
        for margin in (10.0, 0.0):
            cfg = replace(settings, echo_margin_db=margin)
            srv = TestServer(create_app(cfg, models), host=cfg.host, port=cfg.port)
            await srv.start_server()
            try:
                result = await place_call(
                    cfg.public_base_url, AUTH_TOKEN, [str(speech_dir / "where.wav")], echo_db=15.0
                )
            finally:
                await srv.close()
            clears[margin], late[margin] = result.clears, result.playing_late_s
            if margin:
                assert rms(bytes(result.turns[0].reply_ulaw)) > 300
        assert clears[0.0] >= 1, (clears, late)
        if late[10.0] < MAX_PHONE_LAG_S:
            assert clears[10.0] == 0, (clears, late)
        else:
            assert clears[10.0] < clears[0.0], (clears, late)

    async def test_caller_barging_in_over_echo_still_interrupts(
        self, server: TestServer, settings: Settings, speech_dir: Path
    ) -> None:
        """With our echo on the line, the caller talking over the agent still clears it at once."""
        with capture_logs() as logs:
            result = await place_call(
                settings.public_base_url,
                AUTH_TOKEN,
                [str(speech_dir / "long.wav")],
                barge_in_after_s=0.8,
                echo_db=15.0,
            )
        assert result.clears >= 1
        assert [e for e in logs if e["event"] == "barge_in"]

    async def test_a_short_yes_over_the_agent_on_an_echoing_line_is_heard(
        self, server: TestServer, settings: Settings, speech_dir: Path
    ) -> None:
        """A caller's short "Yes." said over the agent, with our voice echoing 15 dB down, is heard.

        It reaches the VAD and stops the agent for a moment (a backchannel, or an empty turn when the
        echo leaves Whisper no words: either way the agent goes on), while the echo of the agent itself
        interrupts nothing: the one clear is the caller's.
        """
        with capture_logs() as logs:
            result = await place_call(
                settings.public_base_url,
                AUTH_TOKEN,
                [str(speech_dir / "yes.wav")],
                barge_in_after_s=1.5,
                echo_db=15.0,
            )
        events = [e["event"] for e in logs]
        assert "barge_in" in events, conversation(logs)
        handled = [e for e in logs if e["event"] == "barge_in_not_a_turn"]
        assert handled and handled[0]["kind"] in ("backchannel", "empty") and handled[0]["resumed"], events
        # The simulated phone shares the test's event loop. When a loaded machine stalls that loop by more
        # than the echo gate's window, the phone's echo of our voice reaches the server late against its
        # own marks: a phone doing that is not one the gate is built for (a fresh-clone CI run met a 0.7 s
        # stall once, and a second clear). On a phone whose clock held, the echo clears nothing.
        if result.playing_late_s < MAX_PHONE_LAG_S:
            assert result.clears == 1, (result.clears, result.playing_late_s)
        else:
            assert 1 <= result.clears <= 2, (result.clears, result.playing_late_s)

    async def test_openai_compatible_endpoint_answers_when_configured(
        self, settings: Settings, models: Models, speech_dir: Path
    ) -> None:
        """With LLM_BASE_URL set, what the profile doesn't answer goes to that endpoint, with the persona."""
        fake = FakeChatEndpoint("We open at nine on Saturday.")
        fake_server = TestServer(fake.app(), host="127.0.0.1", port=unused_port())
        await fake_server.start_server()
        cfg = replace(
            settings,
            llm_base_url=f"http://127.0.0.1:{fake_server.port}/v1",
            llm_model="fake-model",
            llm_api_key="sk-test",
        )
        srv = TestServer(create_app(cfg, models), host=cfg.host, port=cfg.port)
        await srv.start_server()
        try:
            result = await place_call(cfg.public_base_url, AUTH_TOKEN, [str(speech_dir / "chat.wav")])
        finally:
            await srv.close()
            await fake_server.close()
        assert fake.requests, "the endpoint was never called"
        messages = fake.requests[-1]["messages"]
        assert messages[0]["role"] == "system" and "Harbor Dental" in messages[0]["content"]
        assert any(m["role"] == "user" and "moved" in str(m["content"]).lower() for m in messages)
        reply = transcribe(models.whisper, ulaw_to_pcm16k(bytes(result.turns[0].reply_ulaw))).text
        assert {"open", "nine", "saturday"} & set(words(reply)), reply

    async def test_an_endpoint_is_not_asked_what_the_profile_answers(
        self, settings: Settings, models: Models, speech_dir: Path
    ) -> None:
        """With LLM_BASE_URL set, Saturday's opening time comes from the profile; the model isn't asked."""
        fake = FakeChatEndpoint("We're open 24-7, every day of the year.")
        fake_server = TestServer(fake.app(), host="127.0.0.1", port=unused_port())
        await fake_server.start_server()
        cfg = replace(settings, llm_base_url=f"http://127.0.0.1:{fake_server.port}/v1", llm_model="m")
        srv = TestServer(create_app(cfg, models), host=cfg.host, port=cfg.port)
        await srv.start_server()
        try:
            result = await place_call(cfg.public_base_url, AUTH_TOKEN, [str(speech_dir / "hours.wav")])
        finally:
            await srv.close()
            await fake_server.close()
        assert fake.requests == []
        reply = words(transcribe(models.whisper, ulaw_to_pcm16k(bytes(result.turns[0].reply_ulaw))).text)
        assert "saturday" in reply and not {"24", "year"} & set(reply), reply


async def test_a_server_without_console_operators_says_how_to_create_one(
    settings: Settings, models: Models
) -> None:
    """On a fresh call log the server logs that the console has no operators and the command that adds one."""
    with capture_logs() as logs:
        srv = TestServer(create_app(settings, models), host=settings.host, port=settings.port)
        await srv.start_server()
        await srv.close()
    hint = [e for e in logs if e["event"] == "console_has_no_operators"]
    assert hint and "agent operators add" in hint[0]["create"]
