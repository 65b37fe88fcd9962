"""pipecat input and output processors over one Twilio media stream, with playback tracked by marks."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from pipecat.audio.dtmf.types import KeypadEntry
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    CancelFrame,
    EndFrame,
    Frame,
    InputAudioRawFrame,
    InputDTMFFrame,
    InterruptionFrame,
    OutputAudioRawFrame,
    StartFrame,
    SystemFrame,
    TTSStoppedFrame,
    TTSTextFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.transports.base_input import BaseInputTransport
from pipecat.transports.base_transport import TransportParams

from agent.telephony import events
from agent.telephony.codec import StreamResampler, ulaw_decode, ulaw_encode
from agent.telephony.echo import EchoGate, frame_levels, rms

log = structlog.get_logger(__name__)

PHONE_RATE = 8000
PIPELINE_IN_RATE = 16000
MARK_EVERY_MS = 100
SEND_PIECE_MS = 200  # the most agent audio resampled before it is sent
SPEECH_END_GRACE_S = 0.4

Send = Callable[[str], Awaitable[None]]


class TwilioInput(BaseInputTransport):
    """Turns the caller's μ-law 8 kHz media into 16 kHz PCM frames, and keypresses into DTMF frames."""

    def __init__(self, echo: EchoGate | None = None) -> None:
        """Create the input side; audio that arrives before the pipeline starts is held, not lost.

        With `echo`, inbound audio judged to be our own voice leaking back is replaced by silence.
        """
        super().__init__(
            TransportParams(audio_in_enabled=True, audio_in_sample_rate=PIPELINE_IN_RATE),
            name="twilio-in",
        )
        self._resampler = StreamResampler(PHONE_RATE, PIPELINE_IN_RATE)
        self._ready = False
        self._early: list[bytes] = []
        self.last_media_at: float | None = None
        self._stream_zero: float | None = None
        self.echo = echo

    async def start(self, frame: StartFrame) -> None:
        """Start the audio task, then release any audio that arrived early."""
        await super().start(frame)
        await self.set_transport_ready(frame)
        self._ready = True
        early, self._early = self._early, []
        for pcm in early:
            await self._push_pcm(pcm)

    async def feed_media(self, ulaw: bytes, timestamp_ms: int | None = None) -> None:
        """Decode and upsample one media payload and push it into the pipeline."""
        self.last_media_at = time.monotonic()
        pcm8k = ulaw_decode(ulaw)
        if self.echo is not None and self.echo.is_echo(rms(pcm8k), self._media_clock(timestamp_ms)):
            pcm8k = bytes(len(pcm8k))
        pcm = self._resampler.process(pcm8k)
        if not self._ready:
            self._early.append(pcm)
            return
        await self._push_pcm(pcm)

    def _media_clock(self, timestamp_ms: int | None) -> float:
        """When this audio was spoken, on our monotonic clock: its stream timestamp, less network jitter.

        The stream's start is placed by the least-delayed message so far, so a burst of messages that
        arrive together (a stalled network or event loop) keeps its 20 ms spacing for the echo gate.
        """
        now = time.monotonic()
        if timestamp_ms is None:
            return now
        offset = now - timestamp_ms / 1000
        if self._stream_zero is None or offset < self._stream_zero:
            self._stream_zero = offset
        return self._stream_zero + timestamp_ms / 1000

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
    levels: list[float] = field(default_factory=list)  # 20 ms frame levels, for the echo gate
    cleared: bool = False


@dataclass
class _Held:
    frame: Frame
    marks: list[str]


@dataclass
class PlaybackStats:
    """What the caller heard over the whole call, from returned marks."""

    utterances: list[Utterance] = field(default_factory=list)


class TwilioOutput(FrameProcessor):
    """Sends agent audio as μ-law `media` with a `mark` per chunk; returned marks say what was heard.

    Bot speaking starts when the first chunk is sent and stops when the last mark comes back (or a
    barge-in clears the buffer), not by a local clock guessing at playback. The spoken text that
    follows its audio (TTSTextFrame) is held until that audio's marks return, so the conversation
    downstream records only what the caller heard; the piece a barge-in cut is left in `cut_text`,
    up to the words heard, for HeardTextWriter to add after the interruption.
    """

    def __init__(
        self, send: Send, stream_sid: str, mark_every_ms: int = MARK_EVERY_MS, echo: EchoGate | None = None
    ) -> None:
        """Send messages with `send` on the stream `stream_sid`."""
        super().__init__(name="twilio-out")
        self._send = send
        self._stream_sid = stream_sid
        self._chunk_bytes = PHONE_RATE * mark_every_ms // 1000
        self._resamplers: dict[int, StreamResampler] = {}
        self._pending: OrderedDict[str, _Pending] = OrderedDict()
        self._mark_ms: dict[str, float] = {}
        self._names = itertools.count(1)
        self._current: Utterance | None = None
        self._stop_task: asyncio.Task[None] | None = None
        self._tts_done = True
        self._held: list[_Held] = []
        self._unlabelled: list[str] = []
        self.cut_text = ""
        self.unheard_text = ""
        self.echo = echo or EchoGate()
        self._last_mark_at = 0.0
        self.stats = PlaybackStats()
        self.on_first_audio: Callable[[Utterance], None] | None = None
        self.on_clear: Callable[[], None] | None = None
        self.on_utterance_end: Callable[[Utterance], None] | None = None
        self.on_text: Callable[[str], None] | None = None  # spoken text as it reaches the transport
        self.on_audio_sent: Callable[[bytes], None] | None = None  # each μ-law chunk as it is sent

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Send audio, honour interruptions, and pass every other frame on."""
        await super().process_frame(frame, direction)
        if isinstance(frame, InterruptionFrame):
            await self.interrupt()
            await self.push_frame(frame, direction)
        elif isinstance(frame, OutputAudioRawFrame):
            await self._send_audio(frame.audio, frame.sample_rate)
        elif isinstance(frame, (EndFrame, CancelFrame)):
            for held in self._held:
                await self.push_frame(held.frame)
            self._held.clear()
            await self.push_frame(frame, direction)
        elif direction == FrameDirection.UPSTREAM or isinstance(frame, (StartFrame, SystemFrame)):
            await self.push_frame(frame, direction)
        else:
            if isinstance(frame, TTSStoppedFrame):
                await self._flush_resamplers()
                self._tts_done = True
                self._maybe_schedule_stop()
            await self._hold_or_push(frame)

    async def _hold_or_push(self, frame: Frame) -> None:
        marks: list[str] = []
        if isinstance(frame, TTSTextFrame):
            marks, self._unlabelled = self._unlabelled, []
            if self.on_text:
                self.on_text(frame.text)
        self._held.append(_Held(frame, marks))
        await self._release_heard()

    async def _release_heard(self) -> None:
        while self._held and not any(m in self._pending for m in self._held[0].marks):
            held = self._held.pop(0)
            self._forget(held.marks)
            await self.push_frame(held.frame)

    def _forget(self, marks: list[str]) -> None:
        for m in marks:
            self._mark_ms.pop(m, None)

    def _heard_fraction(self, marks: list[str]) -> float:
        total = sum(self._mark_ms.get(m, 0.0) for m in marks)
        heard = sum(self._mark_ms.get(m, 0.0) for m in marks if m not in self._pending)
        return 1.0 if total == 0 else heard / total

    async def _release_heard_part(self) -> None:
        """On barge-in: pass on text heard in full, keep the piece cut mid-way in `cut_text`.

        What the caller never heard is left in `unheard_text`, so the agent can go on after a backchannel.
        """
        unheard: list[str] = []
        for held in self._held:
            if not isinstance(held.frame, TTSTextFrame):
                continue
            fraction = self._heard_fraction(held.marks) if not unheard else 0.0
            if fraction >= 0.999:
                await self.push_frame(held.frame)
                continue
            words = held.frame.text.split()
            kept = words[: int(len(words) * fraction)]
            if kept:
                self.cut_text = " ".join(kept) + "—"
            unheard.append(" ".join(words[len(kept) :]))
        self.unheard_text = " ".join(t for t in unheard if t)
        for held in self._held:
            self._forget(held.marks)
        self._forget(self._unlabelled)
        self._held.clear()
        self._unlabelled.clear()

    async def _send_audio(self, pcm: bytes, rate: int) -> None:
        resampler = self._resamplers.get(rate)
        if resampler is None:
            resampler = self._resamplers[rate] = StreamResampler(rate, PHONE_RATE)
        self._tts_done = False
        # A TTS frame may hold a whole sentence: resample and send it a piece at a time, so its first
        # audio goes out without waiting for the rest (and a barge-in stops it between pieces).
        step = rate * 2 * SEND_PIECE_MS // 1000
        for start in range(0, len(pcm), step):
            await self._send_ulaw(ulaw_encode(resampler.process(pcm[start : start + step])))

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
            if self.on_audio_sent:
                self.on_audio_sent(chunk)
            await self._send(events.mark_message(self._stream_sid, name))
            self._pending[name] = _Pending(utterance, ms, now, frame_levels(ulaw_decode(chunk)))
            self._mark_ms[name] = ms
            self._unlabelled.append(name)
            utterance.sent_ms += ms
            if utterance.first_audio_sent_at is None:
                utterance.first_audio_sent_at = time.monotonic()
                if self.on_first_audio:
                    self.on_first_audio(utterance)
        self._update_echo()

    def _update_echo(self) -> None:
        """Tell the echo gate which chunk Twilio is playing now: it began when the one before it ended."""
        playing = next((p for p in self._pending.values() if not p.cleared), None)
        if playing is None:
            self.echo.now_playing(None)
        else:
            self.echo.now_playing(max(playing.sent_at, self._last_mark_at), playing.levels)

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
            self._last_mark_at = time.monotonic()
            self.echo.played(self._last_mark_at, pending.levels)
        self._update_echo()
        await self._release_heard()
        self._maybe_schedule_stop()

    async def interrupt(self) -> None:
        """Barge-in: clear Twilio's buffer, drop our filter state, and stop speaking at once."""
        await self._release_heard_part()
        live = [p for p in self._pending.values() if not p.cleared]
        if live:
            await self._send(events.clear_message(self._stream_sid))
            if self.on_clear:
                self.on_clear()
            for pending in live:
                pending.cleared = True
            self._update_echo()
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

    def take_unheard(self) -> str:
        """Return (and forget) what the last barge-in kept the caller from hearing."""
        text, self.unheard_text = self.unheard_text, ""
        return text

    def utterances_started(self) -> int:
        """How many stretches of agent speech have started so far."""
        return len(self.stats.utterances)

    async def wait_spoken(
        self, utterances_before: int, start_timeout: float = 4.0, timeout: float = 60.0
    ) -> bool:
        """Wait until speech begun after `utterances_before` utterances has been heard in full."""
        deadline = time.monotonic() + start_timeout
        while len(self.stats.utterances) <= utterances_before:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.02)
        deadline = time.monotonic() + timeout
        while self._current is not None:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.02)
        return True


class HeardTextWriter(FrameProcessor):
    """After the assistant aggregator: on a barge-in, adds the words of the cut piece the caller heard.

    pipecat drops queued text when an interruption overtakes it, so the cut piece goes straight into
    the context: appended to the assistant message of the interrupted turn, or as that message.
    """

    def __init__(self, output: TwilioOutput, context: LLMContext) -> None:
        """Read cut text from `output`; write it into `context`."""
        super().__init__(name="heard-text")
        self._output = output
        self._context = context
        self._turn_start = 0

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Note where each agent turn starts; apply the heard cut on interruption."""
        await super().process_frame(frame, direction)
        if isinstance(frame, BotStartedSpeakingFrame):
            self._turn_start = len(self._context.get_messages())
        elif isinstance(frame, InterruptionFrame) and self._output.cut_text:
            cut, self._output.cut_text = self._output.cut_text, ""
            messages = self._context.get_messages()
            last: Any = messages[-1] if len(messages) > self._turn_start else None
            if isinstance(last, dict) and last.get("role") == "assistant":
                last["content"] = f"{last.get('content', '')} {cut}".strip()
            else:
                self._context.add_message({"role": "assistant", "content": cut})
            log.info("heard_text_cut", text=cut)
        await self.push_frame(frame, direction)
