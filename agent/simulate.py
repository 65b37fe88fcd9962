"""Play Twilio's part of a call against a running server: sign, stream caller audio, play replies.

Every message goes through the protocol events the server parses (agent.telephony.events), both ways."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import secrets
import time
import wave
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import numpy as np

from agent.telephony.codec import StreamResampler, ulaw_decode, ulaw_encode
from agent.telephony.events import (
    Connected,
    Event,
    Mark,
    Media,
    Play,
    PlayMark,
    ProtocolError,
    Start,
    Stop,
    parse_outbound,
    twilio_message,
)  # fmt: skip
from agent.telephony.security import MEDIA_PATH, VOICE_PATH, public_url, sign

FRAME_MS = 20
FRAME_BYTES = 160  # 20 ms of μ-law at 8 kHz
SILENCE = b"\xff" * FRAME_BYTES
ECHO_DELAY_FRAMES = 3  # 60 ms from loudspeaker back to microphone and line
VOICED_RMS = 300.0


class SimulationError(RuntimeError):
    """The simulated call could not be placed or did not go as Twilio's would."""


def read_wav_as_ulaw(path: str | Path) -> bytes:
    """Read a 16-bit PCM WAV (any rate, mono or stereo) as 8 kHz μ-law, the way a caller arrives."""
    try:
        with wave.open(str(path), "rb") as wav:
            if wav.getsampwidth() != 2:
                raise SimulationError(f"{path}: only 16-bit PCM WAV files are supported")
            rate, channels = wav.getframerate(), wav.getnchannels()
            pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    except (wave.Error, EOFError, OSError) as exc:
        raise SimulationError(f"{path}: not a readable WAV file ({exc})") from exc
    if channels > 1:
        pcm = pcm.reshape(-1, channels).mean(axis=1).astype("<i2")
    resampler = StreamResampler(rate, 8000)
    pcm8 = resampler.process(pcm.tobytes()) + resampler.flush()
    return ulaw_encode(pcm8)


def mix_ulaw(a: bytes, b: bytes, gain_b: float) -> bytes:
    """Mix two μ-law frames, the second scaled by `gain_b`, as a line carrying both would."""
    x = np.frombuffer(ulaw_decode(a), dtype="<i2").astype(np.float64)
    y = np.frombuffer(ulaw_decode(b), dtype="<i2").astype(np.float64) * gain_b
    return ulaw_encode(np.clip(x + y, -32768, 32767).astype("<i2").tobytes())


def frame_is_voiced(ulaw: bytes) -> bool:
    """Whether a μ-law frame carries speech-level energy."""
    pcm = np.frombuffer(ulaw_decode(ulaw), dtype="<i2").astype(np.float32)
    return bool(len(pcm)) and float(np.sqrt(np.mean(pcm**2))) > VOICED_RMS


@dataclass
class Turn:
    """One exchange: what the caller said and how long the agent took to start answering."""

    caller_wav: str
    first_voiced_sent_at: float | None = None
    last_voiced_sent_at: float = 0.0
    cleared_at: float | None = None
    resumed_at: float | None = None
    first_reply_at: float | None = None
    reply_ulaw: bytearray = field(default_factory=bytearray)
    caller_text: str = ""
    agent_text: str = ""

    @property
    def latency_s(self) -> float | None:
        """Seconds from the caller's last voiced frame sent to the agent's first audio received."""
        if self.first_reply_at is None:
            return None
        return self.first_reply_at - self.last_voiced_sent_at

    @property
    def clear_after_s(self) -> float | None:
        """Seconds from the caller's first voiced frame sent to the agent's `clear` received (a barge-in)."""
        if self.cleared_at is None or self.first_voiced_sent_at is None:
            return None
        return self.cleared_at - self.first_voiced_sent_at

    @property
    def silent_after_clear_s(self) -> float | None:
        """Seconds from that `clear` to the agent's next audio: how long a barge-in stopped it."""
        if self.cleared_at is None or self.resumed_at is None:
            return None
        return self.resumed_at - self.cleared_at


@dataclass
class SimulationResult:
    """The whole call as the caller experienced it."""

    call_sid: str
    greeting_ulaw: bytes
    turns: list[Turn]
    heard_ulaw: bytes
    clears: int
    marks_echoed: int
    greeting_text: str = ""
    player_late_s: float = 0.0  # how far the simulated phone's playback ran behind its clock at worst
    playing_late_s: float = 0.0  # the same while it was playing the agent's audio (when echo timing counts)

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly summary."""
        return {
            "call_sid": self.call_sid,
            "greeting": self.greeting_text,
            "turns": [
                {
                    "caller": t.caller_text,
                    "agent": t.agent_text,
                    "latency_s": None if t.latency_s is None else round(t.latency_s, 3),
                    "clear_after_s": None if t.clear_after_s is None else round(t.clear_after_s, 3),
                }
                for t in self.turns
            ],
            "clears": self.clears,
            "marks_echoed": self.marks_echoed,
            "heard_seconds": round(len(self.heard_ulaw) / 8000, 2),
        }


class _Phone:
    """Twilio's media stream side: real-time sender, buffered player, mark echo and clear."""

    def __init__(
        self, ws: aiohttp.ClientWebSocketResponse, stream_sid: str, echo_db: float | None = None
    ) -> None:
        self.ws = ws
        # With echo_db, what the phone plays leaks back into its microphone that many dB down, 60 ms later.
        self.echo_gain = None if echo_db is None else 10 ** (-echo_db / 20)
        self.echo_line: collections.deque[bytes] = collections.deque(maxlen=ECHO_DELAY_FRAMES)
        self.stream_sid = stream_sid
        self.seq = 0
        self.outgoing: asyncio.Queue[bytes] = asyncio.Queue()
        self.buffer = bytearray()
        self.received = 0
        self.played = 0
        self.pending_marks: list[tuple[str, int]] = []
        self.heard = bytearray()
        self.clears = 0
        self.marks_echoed = 0
        self.last_media_at = 0.0
        self.played_out_at = 0.0
        self.sent_voiced_at = 0.0
        self.player_late_s = 0.0  # the most this simulated phone's 20 ms play clock ran late (event-loop lag)
        self.playing_late_s = 0.0  # the same, counting only ticks that played agent audio
        self.turn: Turn | None = None
        self.collect: bytearray | None = None
        self.on_media: Any = None
        self.closed = asyncio.Event()

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    async def send(self, event: Event) -> None:
        await self.ws.send_str(twilio_message(event))

    async def sender(self) -> None:
        """Send one 20 ms inbound frame on a real-time schedule, caller audio or silence."""
        chunk = 0
        t0 = time.monotonic()
        while not self.closed.is_set():
            try:
                frame = self.outgoing.get_nowait()
            except asyncio.QueueEmpty:
                frame = SILENCE
            chunk += 1
            if self.echo_gain is not None and len(self.echo_line) == ECHO_DELAY_FRAMES:
                frame = mix_ulaw(frame, self.echo_line[0], self.echo_gain)
            await self.send(
                Media(self.next_seq(), self.stream_sid, "inbound", chunk, (chunk - 1) * FRAME_MS, frame)
            )
            if frame is not SILENCE and frame_is_voiced(frame):
                self.sent_voiced_at = time.monotonic()
                if self.turn is not None and self.turn.first_voiced_sent_at is None:
                    self.turn.first_voiced_sent_at = self.sent_voiced_at
            await asyncio.sleep(max(0.0, t0 + chunk * FRAME_MS / 1000 - time.monotonic()))

    async def player(self) -> None:
        """Play buffered agent audio on a real-time clock, echoing marks as their audio finishes."""
        t0 = time.monotonic()
        tick = 0
        while not self.closed.is_set():
            late = time.monotonic() - (t0 + tick * FRAME_MS / 1000)
            self.player_late_s = max(self.player_late_s, late)
            take = bytes(self.buffer[:FRAME_BYTES])
            if take:
                self.playing_late_s = max(self.playing_late_s, late)
            del self.buffer[:FRAME_BYTES]
            if take and not self.buffer:
                self.played_out_at = time.monotonic()
            self.played += len(take)
            self.heard += take + b"\xff" * (FRAME_BYTES - len(take))
            self.echo_line.append(take.ljust(FRAME_BYTES, b"\xff"))
            await self._echo_played_marks()
            tick += 1
            await asyncio.sleep(max(0.0, t0 + tick * FRAME_MS / 1000 - time.monotonic()))

    async def _echo_played_marks(self) -> None:
        while self.pending_marks and self.pending_marks[0][1] <= self.played:
            name, _ = self.pending_marks.pop(0)
            await self._echo(name)

    async def _echo(self, name: str) -> None:
        self.marks_echoed += 1
        await self.send(Mark(self.next_seq(), self.stream_sid, name))

    async def receiver(self) -> None:
        """Take the server's media, mark and clear messages as Twilio does."""
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            try:
                sent = parse_outbound(msg.data)
            except ProtocolError as exc:  # Twilio closes the stream on a message it can't read (31924)
                raise SimulationError(
                    f"server sent a message Twilio rejects: {exc}: {msg.data[:200]}"
                ) from exc
            if sent.stream_sid != self.stream_sid:
                raise SimulationError(f"server sent a message with the wrong streamSid: {sent}")
            if isinstance(sent, Play):
                payload = sent.payload
                self.buffer += payload
                self.received += len(payload)
                self.last_media_at = time.monotonic()
                if (
                    self.turn is not None
                    and self.turn.cleared_at is not None
                    and self.turn.resumed_at is None
                ):
                    self.turn.resumed_at = self.last_media_at
                if self.on_media:
                    self.on_media(payload)
            elif isinstance(sent, PlayMark):
                self.pending_marks.append((sent.name, self.received))
                await self._echo_played_marks()
            else:  # Clear
                self.clears += 1
                turn = self.turn
                if turn is not None and turn.first_voiced_sent_at is not None and turn.cleared_at is None:
                    turn.cleared_at = time.monotonic()
                self.played += len(self.buffer)
                self.buffer.clear()
                self.played_out_at = time.monotonic()
                for name, _ in self.pending_marks:
                    await self._echo(name)
                self.pending_marks.clear()
        self.closed.set()

    def idle_for(self) -> float:
        """Seconds of quiet since the agent's audio finished playing (0 while it still plays)."""
        if self.buffer or not self.last_media_at:
            return 0.0
        return time.monotonic() - max(self.played_out_at, self.last_media_at)


async def _await_reply_end(phone: _Phone, since: float, quiet_s: float, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not phone.closed.is_set():
        if phone.last_media_at > since and phone.idle_for() >= quiet_s:
            return
        await asyncio.sleep(0.05)


async def _await_first_audio(phone: _Phone, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not phone.last_media_at and time.monotonic() < deadline and not phone.closed.is_set():
        await asyncio.sleep(0.01)


@dataclass(frozen=True)
class StreamInvite:
    """What the webhook's TwiML tells Twilio to open: where to connect, how it is signed, what to send."""

    connect_url: str  # where to connect from here
    signature: str  # X-Twilio-Signature of the stream URL the TwiML names
    custom: dict[str, str]  # the <Parameter>s, sent back in the start message


async def ring(
    http: aiohttp.ClientSession,
    url: str,
    auth_token: str,
    params: dict[str, str],
    public_base_url: str | None = None,
) -> StreamInvite:
    """Post Twilio's signed voice webhook for a call (`params`) and read the stream the TwiML opens."""
    base = (public_base_url or url).rstrip("/")
    webhook = url.rstrip("/") + VOICE_PATH
    signature = sign(auth_token, public_url(base, VOICE_PATH), params)
    async with http.post(webhook, data=params, headers={"X-Twilio-Signature": signature}) as resp:
        body = await resp.text()
        if resp.status != 200:
            raise SimulationError(f"webhook answered {resp.status}: {body[:200]}")
    stream = ET.fromstring(body).find("./Connect/Stream")
    if stream is None:
        raise SimulationError(f"webhook TwiML has no <Connect><Stream>: {body[:200]}")
    stream_url = stream.attrib["url"]
    custom = {p.attrib["name"]: p.attrib["value"] for p in stream.findall("Parameter")}
    connect_url = stream_url
    if public_base_url:  # connect locally, sign the public URL (its path ends with the call's secret)
        path = urlsplit(stream_url).path
        connect_url = url.rstrip("/").replace("http", "ws", 1) + path[path.index(MEDIA_PATH) :]
    return StreamInvite(connect_url, sign(auth_token, stream_url, {}), custom)


async def place_call(
    url: str,
    auth_token: str,
    wavs: list[str],
    *,
    public_base_url: str | None = None,
    from_number: str = "+15550100001",
    to_number: str = "+15550100002",
    quiet_s: float = 1.2,
    reply_timeout_s: float = 30.0,
    barge_in_after_s: float | None = None,
    hold_s: float = 0.0,
    echo_db: float | None = None,
    respond: Callable[[int], Awaitable[str | None]] | None = None,
) -> SimulationResult:
    """Place one simulated call: greeting, then each WAV as a caller turn, then hang up.

    With `respond`, after the agent answers each turn the caller may say something off its script:
    `respond(turns_so_far)` returns a WAV to say next (a reply to a question the script did not expect,
    such as a correction of a wrong read-back) or None to go on with the script.

    With `barge_in_after_s`, the first turn starts that long after the greeting's first audio
    arrives, talking over the agent, instead of after the greeting has finished playing. With
    `hold_s`, the caller stays on the line, silent, that long after the last turn (or until the
    server ends the call) before hanging up. With `echo_db`, the agent's audio the phone plays comes
    back in the caller's microphone that many decibels down (a speakerphone without echo cancelling).
    """
    call_sid = "CA" + secrets.token_hex(16)
    account_sid = "AC" + "0" * 32
    params = {
        "CallSid": call_sid,
        "AccountSid": account_sid,
        "From": from_number,
        "To": to_number,
        "CallStatus": "ringing",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    }
    caller_audio = [read_wav_as_ulaw(w) for w in wavs]
    async with aiohttp.ClientSession() as http:
        invite = await ring(http, url, auth_token, params, public_base_url)
        async with http.ws_connect(
            invite.connect_url, headers={"x-twilio-signature": invite.signature}, max_msg_size=0
        ) as ws:
            stream_sid = "MZ" + secrets.token_hex(16)
            phone = _Phone(ws, stream_sid, echo_db)
            await phone.send(Connected("Call", "1.0.0"))
            await phone.send(
                Start(
                    phone.next_seq(), stream_sid, call_sid, account_sid, ("inbound",),
                    "audio/x-mulaw", 8000, 1, dict(invite.custom),
                )
            )  # fmt: skip
            tasks = [asyncio.create_task(c) for c in (phone.sender(), phone.player(), phone.receiver())]
            greeting = bytearray()
            phone.on_media = greeting.extend
            turns: list[Turn] = []
            try:
                if barge_in_after_s is None:
                    await _await_reply_end(phone, 0.0, quiet_s, reply_timeout_s)
                else:
                    await _await_first_audio(phone, reply_timeout_s)
                    await asyncio.sleep(barge_in_after_s)
                script = collections.deque(zip(wavs, caller_audio, strict=True))
                while script:
                    wav, audio = script.popleft()
                    turn = Turn(caller_wav=wav)
                    turns.append(turn)
                    phone.on_media = None
                    phone.turn = turn
                    for i in range(0, len(audio), FRAME_BYTES):
                        phone.outgoing.put_nowait(audio[i : i + FRAME_BYTES].ljust(FRAME_BYTES, b"\xff"))
                    while not phone.outgoing.empty() and not phone.closed.is_set():
                        await asyncio.sleep(0.01)
                    turn.last_voiced_sent_at = phone.sent_voiced_at

                    def on_reply(payload: bytes, turn: Turn = turn) -> None:
                        if turn.first_reply_at is None:
                            turn.first_reply_at = time.monotonic()
                        turn.reply_ulaw.extend(payload)

                    phone.on_media = on_reply
                    await _await_reply_end(phone, turn.last_voiced_sent_at, quiet_s, reply_timeout_s)
                    if respond is not None and not phone.closed.is_set():
                        extra = await respond(len(turns))
                        if extra is not None:
                            script.appendleft((extra, read_wav_as_ulaw(extra)))
                if hold_s > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(phone.closed.wait(), hold_s)
                if not phone.closed.is_set():
                    await phone.send(Stop(phone.next_seq(), stream_sid, call_sid))
            finally:
                phone.closed.set()
                for task in tasks:
                    task.cancel()
                results = await asyncio.gather(*tasks, return_exceptions=True)
            for outcome in results:
                if isinstance(outcome, SimulationError):
                    raise outcome
    return SimulationResult(
        call_sid=call_sid,
        greeting_ulaw=bytes(greeting),
        turns=turns,
        heard_ulaw=bytes(phone.heard),
        clears=phone.clears,
        marks_echoed=phone.marks_echoed,
        player_late_s=phone.player_late_s,
        playing_late_s=phone.playing_late_s,
    )


def wait_until_ready(url: str, timeout_s: float, alive: Callable[[], bool] | None = None) -> bool:
    """Poll `url`/healthz until the models are loaded; False on timeout or once `alive()` is false."""
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            return False
        try:
            with urllib.request.urlopen(url.rstrip("/") + "/healthz", timeout=1) as r:
                if b'"models_loaded": true' in r.read():
                    return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def write_ulaw_wav(path: str | Path, ulaw: bytes) -> None:
    """Write μ-law 8 kHz audio as a 16-bit PCM WAV file."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(ulaw_decode(ulaw))


def ulaw_to_pcm16k(ulaw: bytes) -> bytes:
    """Upsample μ-law 8 kHz to 16 kHz PCM, as Whisper wants it."""
    resampler = StreamResampler(8000, 16000)
    return resampler.process(ulaw_decode(ulaw)) + resampler.flush()
