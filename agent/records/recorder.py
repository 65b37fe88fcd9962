"""Observes one call and writes each turn and event to the call log as it ends, and its audio as it goes."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import itertools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from pipecat.frames.frames import (
    ErrorFrame,
    InputDTMFFrame,
    InterimTranscriptionFrame,
    TranscriptionFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.observers.base_observer import BaseObserver, FramePushed
from sqlalchemy.ext.asyncio import AsyncSession

from agent.calls.timing import TurnTimingObserver
from agent.records import repo
from agent.records.recording import RATE, RecordingFile, StereoRecording
from agent.records.storage import RecordingStore
from agent.records.writer import Writer
from agent.telephony.transport import TwilioOutput, Utterance

log = structlog.get_logger(__name__)
SETTLE_S = 1.0  # audio older than this (on both clocks) can no longer change, so it can go to disk
SPILL_EVERY_S = 2.0  # how much settled audio is written at a time: a crash loses about this plus SETTLE_S


@dataclass
class _CallerTurn:
    seq: int
    start_s: float
    end_s: float | None = None
    finals: list[str] = field(default_factory=list)
    partials: list[dict[str, Any]] = field(default_factory=list)
    stopped: bool = False


@dataclass
class _AgentTurn:
    seq: int
    start_s: float
    text: list[str] = field(default_factory=list)
    latency: dict[str, float | None] = field(default_factory=dict)


def fallback_voice(voice: str) -> str:
    """How the call log names the stock voice standing in for the cloned voice `voice`."""
    return f"piper (fallback from {voice})"


def heard_part(text: str, unheard: str) -> str:
    """The words of `text` before the trailing `unheard` words the caller never heard."""
    words, cut = text.split(), len(unheard.split())
    return " ".join(words[: max(0, len(words) - cut)])


class CallRecorder(BaseObserver):
    """Caller turns from the pipeline's frames, agent turns and barge-ins from the Twilio transport.

    Writes go through a `Writer`, so the call never waits on the database; each turn is queued the
    moment it ends. The recording's file is named in the call's row from the start and grows every few
    seconds (in a worker thread), so a server killed mid-call leaves its turns and its audio so far.
    Offsets are seconds since the stream started.
    """

    def __init__(
        self,
        info: repo.CallInfo,
        writer: Writer,
        vad_stop_secs: float,
        recording: StereoRecording | None = None,
        store: RecordingStore | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Record the call described by `info`; with `recording`, its audio is spooled to `store`'s folder
        as the call goes and published to it when the call ends."""
        super().__init__(observe_every_push=False)
        self.on_finished: Callable[[str], object] | None = None  # told the CallSid once all is written
        self.writer = writer
        self.recording = recording if store is not None else None
        self.store = store
        self._file: RecordingFile | None = None
        self._spilling: asyncio.Future[None] | None = None
        if self.recording is not None and store is not None:
            # our own id names the file: nothing from the wire does
            name = f"{info.started_at.strftime('%Y/%m/%d')}/{uuid.uuid4().hex}.wav"
            info = dataclasses.replace(info, recording=name)
            self._file = RecordingFile(store.spool / name)
        self.info = info
        self.vad_stop_secs = vad_stop_secs
        self._clock = clock
        self._t0 = clock()
        self._seq = itertools.count()
        self._caller: _CallerTurn | None = None
        self._agent: _AgentTurn | None = None
        self._text: list[str] = []
        self._caller_seq: int | None = None
        self._barge_in_id: int | None = None
        self.call_id: int | None = None
        self.fatal_error = False

    def now(self) -> float:
        """Seconds since the stream started."""
        return self._clock() - self._t0

    # -- writes -------------------------------------------------------------------------------------

    def begin(self) -> None:
        """Start the writer and open the call's row."""
        self.writer.start()

        async def write(session: AsyncSession) -> None:
            self.call_id = await repo.insert_call(session, self.info)

        self.writer.put(write)

    def _turn(self, record: repo.TurnRecord) -> None:
        async def write(session: AsyncSession) -> None:
            if self.call_id is not None:
                await repo.insert_turn(session, self.call_id, record)

        self.writer.put(write)

    def event(
        self, kind: str, detail: dict[str, Any], turn_seq: int | None = None, barge_in: bool = False
    ) -> None:
        """Queue an event now (linked to `turn_seq`, else the caller's latest turn)."""
        at = self.now()
        seq = self._caller_seq if turn_seq is None else turn_seq

        async def write(session: AsyncSession) -> None:
            if self.call_id is not None:
                event_id = await repo.insert_event(session, self.call_id, kind, at, detail, seq)
                if barge_in:
                    self._barge_in_id = event_id

        self.writer.put(write)

    def note(self, kind: str, detail: dict[str, Any]) -> None:
        """What the receptionist did: a tool call or transfer, or how it took the last barge-in."""
        if kind != "barge_in_handled":
            self.event(kind, detail)
            return

        async def write(session: AsyncSession) -> None:
            if self._barge_in_id is not None:
                await repo.update_event(session, self._barge_in_id, detail)

        self.writer.put(write)

    def voice_fell_back(self, voice: str, reason: str) -> None:
        """The cloned voice `voice` failed for `reason`: store the event, and Piper as the call's voice."""
        self.event("voice_fallback", {"voice": voice, "reason": reason, "to": "piper"})

        async def write(session: AsyncSession) -> None:
            if self.call_id is not None:
                await repo.set_voice(session, self.call_id, fallback_voice(voice))

        self.writer.put(write)

    # -- the transport's side: agent speech as it plays ----------------------------------------------

    def attach(self, output: TwilioOutput, timing: TurnTimingObserver) -> None:
        """Hook the transport's playback callbacks, keeping the ones already set."""
        first_audio, cleared, ended = output.on_first_audio, output.on_clear, output.on_utterance_end

        def on_first_audio(utterance: Utterance) -> None:
            turns = len(timing.turns)
            if first_audio:
                first_audio(utterance)
            latency = timing.turns[-1].split() if len(timing.turns) > turns else {}
            self._agent_started(utterance, latency)

        def on_clear() -> None:
            reactions = len(timing.barge_in_reactions)
            if cleared:
                cleared()
            detail: dict[str, Any] = {"treated_as": "interruption"}
            if len(timing.barge_in_reactions) > reactions:
                detail["reaction_ms"] = round(timing.barge_in_reactions[-1] * 1000, 1)
            if self.recording is not None:
                self.recording.clear(self.now())
            self.event("barge_in", detail, self._agent.seq if self._agent else None, barge_in=True)

        output.on_first_audio = on_first_audio
        output.on_clear = on_clear

        def on_utterance_end(utterance: Utterance) -> None:
            self._agent_ended(utterance, output.unheard_text)  # before anything can take the unheard text
            if ended:
                ended(utterance)

        output.on_utterance_end = on_utterance_end
        output.on_text = self._text.append
        if self.recording is not None:
            recording = self.recording
            output.on_audio_sent = lambda ulaw: recording.agent(ulaw, self.now())

    def _agent_started(self, utterance: Utterance, latency: dict[str, float | None]) -> None:
        if self._agent is not None:
            self._agent_ended(None, "")
        self._agent = _AgentTurn(next(self._seq), utterance.started_at - self._t0, latency=latency)

    def _agent_ended(self, utterance: Utterance | None, unheard: str) -> None:
        turn, self._agent = self._agent, None
        if turn is None:
            return
        text, self._text[:] = " ".join(t.strip() for t in self._text if t.strip()), []
        interrupted = bool(utterance and utterance.interrupted)
        heard = heard_part(text, unheard) if interrupted else text
        self._turn(
            repo.TurnRecord(
                turn.seq, "agent", text, turn.start_s, self.now(), interrupted, heard, None, turn.latency
            )
        )

    def caller_audio(self, ulaw: bytes, timestamp_ms: int) -> None:
        """Caller audio as it arrived, placed by Twilio's timestamp."""
        if self.recording is not None:
            jump = self.recording.caller(ulaw, timestamp_ms / 1000, self.now())
            if jump:
                log.warning("media_timestamp_jump", seconds=round(jump, 1), timestamp_ms=timestamp_ms)
            self._spill()

    def _spill(self) -> None:
        """Start writing the settled audio once there are SPILL_EVERY_S of it, one write at a time."""
        rec, file = self.recording, self._file
        if rec is None or file is None or (self._spilling is not None and not self._spilling.done()):
            return
        upto = min(rec.caller_end_s, self.now()) - SETTLE_S
        if upto - rec.taken_s >= SPILL_EVERY_S:
            self._spilling = asyncio.ensure_future(asyncio.to_thread(self._append, file, rec.take(upto)))

    def _append(self, file: RecordingFile, frames: bytes) -> None:
        try:
            if frames:
                file.append(frames)
        except OSError:
            log.exception("recording_write_failed")
            self.recording = None  # the call goes on unrecorded past this point

    # -- the pipeline's side: caller turns, keypresses, errors --------------------------------------

    async def on_push_frame(self, data: FramePushed) -> None:
        """Follow the caller's speech and transcripts, keypresses and errors."""
        frame, now = data.frame, self.now()
        if isinstance(frame, VADUserStartedSpeakingFrame):
            if self._caller is not None and self._caller.stopped:
                self._caller_ended()
            if self._caller is None:
                self._open_caller(now - frame.start_secs)
        elif isinstance(frame, VADUserStoppedSpeakingFrame) and self._caller is not None:
            self._caller.end_s = now - self.vad_stop_secs
        elif isinstance(frame, InterimTranscriptionFrame):
            turn = self._caller or self._open_caller(now)
            turn.partials.append({"at_s": round(now, 3), "text": frame.text})
        elif isinstance(frame, TranscriptionFrame):
            turn = self._caller or self._open_caller(now)
            turn.finals.append(frame.text.strip())
            turn.partials.append({"at_s": round(now, 3), "text": frame.text, "final": True})
            if turn.stopped:
                self._caller_ended()
        elif isinstance(frame, UserStoppedSpeakingFrame) and self._caller is not None:
            self._caller.stopped = True
            if self._caller.finals:
                self._caller_ended()
        elif isinstance(frame, InputDTMFFrame):
            self.event("dtmf", {"digit": frame.button.value})
        elif isinstance(frame, ErrorFrame):
            self.fatal_error = self.fatal_error or frame.fatal
            self.event("error", {"error": str(frame.error)[:500], "fatal": frame.fatal})

    def _open_caller(self, start_s: float) -> _CallerTurn:
        self._caller = _CallerTurn(next(self._seq), max(0.0, start_s))
        self._caller_seq = self._caller.seq
        return self._caller

    def _caller_ended(self) -> None:
        turn, self._caller = self._caller, None
        if turn is None or not any(turn.finals):
            return
        end = turn.end_s if turn.end_s is not None else self.now()
        text = " ".join(t for t in turn.finals if t)
        self._turn(
            repo.TurnRecord(
                turn.seq, "caller", text, turn.start_s, max(end, turn.start_s), partials=turn.partials
            )
        )

    # -- the end ------------------------------------------------------------------------------------

    async def finish(self, outcome: str, reason: str, ended_at: dt.datetime) -> None:
        """Write what is still open, the recording (in a worker thread) and the call's end; drain."""
        self._caller_ended()
        self._agent_ended(None, "")
        name = await self._finish_recording()

        async def write(session: AsyncSession) -> None:
            if self.call_id is not None:
                await repo.end_call(session, self.call_id, ended_at, outcome, reason, name)

        self.writer.put(write)
        await self.writer.close()
        if self.on_finished is not None:
            self.on_finished(self.info.call_sid)

    async def _finish_recording(self) -> str | None:
        """Write the rest of the audio and close the file; the recording's name, or None if it has none."""
        file = self._file
        if file is None:
            return None
        if self._spilling is not None:
            with contextlib.suppress(Exception):
                await self._spilling
        if self.recording is not None:
            await asyncio.to_thread(self._append, file, self.recording.take())
        try:
            await asyncio.to_thread(file.close)
        except OSError:
            log.exception("recording_write_failed")
            return None
        if file.frames == 0:
            return None
        log.info("call_recorded", recording=self.info.recording, seconds=round(file.frames / RATE, 1))
        if self.store is not None and self.info.recording is not None:
            try:
                await self.store.publish(self.info.recording)
            except Exception:  # the file stays spooled; the next start publishes it
                log.exception("recording_publish_failed", recording=self.info.recording)
        return self.info.recording
