"""pipecat input and output processors over one Twilio media stream, with playback tracked by marks."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog
from pipecat.audio.dtmf.types import KeypadEntry
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    EndFrame,
    Frame,
    InputAudioRawFrame,
    InputDTMFFrame,
    InterruptionFrame,
    OutputAudioRawFrame,
    StartFrame,
    TTSStoppedFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.transports.base_input import BaseInputTransport
from pipecat.transports.base_transport import TransportParams

from agent.telephony import events
from agent.telephony.codec import StreamResampler, ulaw_decode, ulaw_encode

log = structlog.get_logger(__name__)

PHONE_RATE = 8000
PIPELINE_IN_RATE = 16000
MARK_EVERY_MS = 100
SPEECH_END_GRACE_S = 0.4

Send = Callable[[str], Awaitable[None]]


class TwilioInput(BaseInputTransport):
    """Turns the caller's μ-law 8 kHz media into 16 kHz PCM frames, and keypresses into DTMF frames."""

    def __init__(self) -> None:
        """Create the input side; audio that arrives before the pipeline starts is held, not lost."""
        super().__init__(
            TransportParams(audio_in_enabled=True, audio_in_sample_rate=PIPELINE_IN_RATE),
            name="twilio-in",
        )
        self._resampler = StreamResampler(PHONE_RATE, PIPELINE_IN_RATE)
        self._ready = False
        self._early: list[bytes] = []
        self.last_media_at: float | None = None

    async def start(self, frame: StartFrame) -> None:
        """Start the audio task, then release any audio that arrived early."""
        await super().start(frame)
        await self.set_transport_ready(frame)
        self._ready = True
        early, self._early = self._early, []
        for pcm in early:
            await self._push_pcm(pcm)

    async def feed_media(self, ulaw: bytes) -> None:
        """Decode and upsample one media payload and push it into the pipeline."""
        self.last_media_at = time.monotonic()
        pcm = self._resampler.process(ulaw_decode(ulaw))
        if not self._ready:
            self._early.append(pcm)
            return
        await self._push_pcm(pcm)

    async def _push_pcm(self, pcm: bytes) -> None:
        await self.push_audio_frame(
            InputAudioRawFrame(audio=pcm, sample_rate=PIPELINE_IN_RATE, num_channels=1)
        )

    async def feed_dtmf(self, digit: str) -> None:
        """Push a keypress into the pipeline."""
        try:
            button = KeypadEntry(digit)
        except ValueError:
            log.warning("dtmf_unsupported_digit", digit=digit)
            return
        await self.push_frame(InputDTMFFrame(button=button))


@dataclass
class Utterance:
    """One stretch of agent speech: how much audio was sent, heard, and dropped by a clear."""

    index: int
    started_at: float
    sent_ms: float = 0.0
    heard_ms: float = 0.0
    dropped_ms: float = 0.0
    interrupted: bool = False
    first_audio_sent_at: float | None = None


@dataclass
class _Pending:
    utterance: Utterance
    ms: float
    sent_at: float
    cleared: bool = False


@dataclass
class PlaybackStats:
    """What the caller heard over the whole call, from returned marks."""

    utterances: list[Utterance] = field(default_factory=list)


class TwilioOutput(FrameProcessor):
    """Sends agent audio as μ-law `media` with a `mark` per chunk; returned marks say what was heard.

    Bot speaking starts when the first chunk is sent and stops when the last mark comes back (or a
    barge-in clears the buffer), not by a local clock guessing at playback.
    """

    def __init__(self, send: Send, stream_sid: str, mark_every_ms: int = MARK_EVERY_MS) -> None:
        """Send messages with `send` on the stream `stream_sid`."""
        super().__init__(name="twilio-out")
        self._send = send
        self._stream_sid = stream_sid
        self._chunk_bytes = PHONE_RATE * mark_every_ms // 1000
        self._resamplers: dict[int, StreamResampler] = {}
        self._pending: OrderedDict[str, _Pending] = OrderedDict()
        self._names = itertools.count(1)
        self._current: Utterance | None = None
        self._stop_task: asyncio.Task[None] | None = None
        self._tts_done = True
        self.stats = PlaybackStats()
        self.on_first_audio: Callable[[Utterance], None] | None = None
        self.on_utterance_end: Callable[[Utterance], None] | None = None

    @property
    def speaking(self) -> bool:
        """Whether agent audio is being played to the caller right now."""
        return self._current is not None

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Send audio, honour interruptions, and pass every other frame on."""
        await super().process_frame(frame, direction)
        if isinstance(frame, InterruptionFrame):
            await self.interrupt()
            await self.push_frame(frame, direction)
        elif isinstance(frame, OutputAudioRawFrame):
            await self._send_audio(frame.audio, frame.sample_rate)
        elif isinstance(frame, TTSStoppedFrame):
            await self._flush_resamplers()
            self._tts_done = True
            self._maybe_schedule_stop()
            await self.push_frame(frame, direction)
        elif isinstance(frame, (StartFrame, EndFrame)):
            await self.push_frame(frame, direction)
        else:
            await self.push_frame(frame, direction)

    async def _send_audio(self, pcm: bytes, rate: int) -> None:
        resampler = self._resamplers.get(rate)
        if resampler is None:
            resampler = self._resamplers[rate] = StreamResampler(rate, PHONE_RATE)
        self._tts_done = False
        await self._send_ulaw(ulaw_encode(resampler.process(pcm)))

    async def _flush_resamplers(self) -> None:
        for resampler in self._resamplers.values():
            tail = resampler.flush()
            if tail:
                await self._send_ulaw(ulaw_encode(tail))

    async def _send_ulaw(self, ulaw: bytes) -> None:
        if not ulaw:
            return
        now = time.monotonic()
        if self._current is None:
            self._current = Utterance(index=len(self.stats.utterances), started_at=now)
            self.stats.utterances.append(self._current)
            await self._broadcast(BotStartedSpeakingFrame)
        utterance = self._current
        if self._stop_task is not None:
            self._stop_task.cancel()
            self._stop_task = None
        for start in range(0, len(ulaw), self._chunk_bytes):
            chunk = ulaw[start : start + self._chunk_bytes]
            name = f"m{next(self._names)}"
            ms = len(chunk) * 1000 / PHONE_RATE
            await self._send(events.media_message(self._stream_sid, chunk))
            await self._send(events.mark_message(self._stream_sid, name))
            self._pending[name] = _Pending(utterance, ms, now)
            utterance.sent_ms += ms
            if utterance.first_audio_sent_at is None:
                utterance.first_audio_sent_at = time.monotonic()
                if self.on_first_audio:
                    self.on_first_audio(utterance)

    async def on_mark(self, name: str) -> None:
        """Account a mark Twilio returned: its audio was heard, or dropped if it had been cleared."""
        pending = self._pending.pop(name, None)
        if pending is None:
            log.warning("unknown_mark", mark=name)
            return
        if pending.cleared:
            pending.utterance.dropped_ms += pending.ms
        else:
            pending.utterance.heard_ms += pending.ms
        self._maybe_schedule_stop()

    async def interrupt(self) -> None:
        """Barge-in: clear Twilio's buffer, drop our filter state, and stop speaking at once."""
        live = [p for p in self._pending.values() if not p.cleared]
        if live:
            await self._send(events.clear_message(self._stream_sid))
            for pending in live:
                pending.cleared = True
        for resampler in self._resamplers.values():
            resampler.reset()
        if self._current is not None:
            self._current.interrupted = bool(live)
            await self._end_utterance()

    def _maybe_schedule_stop(self) -> None:
        if self._current is None or any(not p.cleared for p in self._pending.values()):
            return
        if self._stop_task is None:
            grace = 0.0 if self._tts_done else SPEECH_END_GRACE_S
            self._stop_task = self.create_task(self._stop_after(grace), name="speech-end")

    async def _stop_after(self, grace: float) -> None:
        await asyncio.sleep(grace)
        self._stop_task = None
        if self._current is not None and not any(not p.cleared for p in self._pending.values()):
            await self._end_utterance()

    async def _end_utterance(self) -> None:
        utterance, self._current = self._current, None
        if self._stop_task is not None and self._stop_task is not asyncio.current_task():
            self._stop_task.cancel()
        self._stop_task = None
        if utterance is None:
            return
        log.info(
            "agent_utterance_played",
            index=utterance.index,
            sent_ms=round(utterance.sent_ms),
            heard_ms=round(utterance.heard_ms),
            interrupted=utterance.interrupted,
        )
        if self.on_utterance_end:
            self.on_utterance_end(utterance)
        await self._broadcast(BotStoppedSpeakingFrame)

    async def _broadcast(self, frame_type: type[Frame]) -> None:
        await self.push_frame(frame_type(), FrameDirection.DOWNSTREAM)
        await self.push_frame(frame_type(), FrameDirection.UPSTREAM)

    async def wait_played(self, timeout: float) -> bool:
        """Wait until every mark sent so far has come back; False if `timeout` passed first."""
        deadline = time.monotonic() + timeout
        while any(not p.cleared for p in self._pending.values()):
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.02)
        return True
