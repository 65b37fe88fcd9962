"""One call's lifecycle: start its pipeline, feed it Twilio's events, and clean up when it ends."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
from pipecat.frames.frames import TTSSpeakFrame
from pipecat.workers.runner import WorkerRunner

from agent.calls.messages import MessageStore
from agent.calls.pipeline import build_call_pipeline
from agent.config import EMBEDDED, Settings
from agent.dialog.business import Business
from agent.dialog.receptionist import CallContext
from agent.models import Models
from agent.records.recorder import CallRecorder, fallback_voice
from agent.telephony import events
from agent.telephony.control import CallControl
from agent.telephony.echo import EchoGate
from agent.telephony.security import public_url
from agent.telephony.transport import Send, TwilioInput, TwilioOutput
from agent.voice.catalog import VoiceChoice
from agent.voice.xtts_service import XttsTTSService

if TYPE_CHECKING:
    from agent.records.calllog import CallLog

log = structlog.get_logger(__name__)
STOP_TIMEOUT_S = 5.0
DIAL_STATUS_PATH = "/twilio/dial-status"


def recorded_voice(choice: VoiceChoice, stock: str) -> str:
    """The call log's name for a call's voice: the cloned one, or the stock one (and whose place it took)."""
    if choice.fallback_reason:
        return fallback_voice(choice.name)
    return stock if choice.name == EMBEDDED else choice.name


@dataclass
class CallServices:
    """Process-wide things a call uses: settings, models, Twilio's REST API, messages and the call log."""

    settings: Settings
    models: Models
    control: CallControl | None
    messages: MessageStore
    calllog: CallLog | None = None


class CallSession:
    """A live call: the pipeline answering it and the two halves of its Twilio transport."""

    def __init__(
        self,
        start: events.Start,
        send: Send,
        close_socket: Callable[[], Awaitable[Any]],
        services: CallServices,
        business: Business,
        resume: dict[str, str] | None = None,
    ) -> None:
        """Build the call's pipeline for the stream described by `start` (nothing runs yet)."""
        self.call_sid = start.call_sid
        self.stream_sid = start.stream_sid
        self.started_at = time.time()
        settings = services.settings
        self.output = TwilioOutput(send, start.stream_sid, echo=EchoGate(settings.echo_margin_db))
        self.input = TwilioInput(echo=self.output.echo)
        self.business = business
        self.resume = resume or {}
        self._close_socket = close_socket
        self._closing: asyncio.Future[None] | None = None
        called = self.resume.get("to", "")  # the number dialled picks the voice
        self.voice = services.models.voices.for_called(called)
        self.recorder = (
            services.calllog.recorder(
                start.call_sid,
                start.stream_sid,
                business.key,
                bool(business.recording_announcement),
                self.resume,
                voice=recorded_voice(self.voice, settings.tts_voice),
            )
            if services.calllog is not None
            else None
        )
        call = CallContext(
            call_sid=start.call_sid,
            business=business,
            control=services.control,
            messages=services.messages,
            dial_action_url=public_url(
                settings.public_base_url, DIAL_STATUS_PATH, f"business={business.key}"
            ),
            wait_spoken=self.output.wait_spoken,
            utterances_started=self.output.utterances_started,
            end_call=self._end_from_agent,
            stop_grace_s=settings.twilio_stop_grace_secs,
            take_unheard=self.output.take_unheard,
        )
        if self.recorder is not None:
            call.note = self.recorder.note
        self.pipeline = build_call_pipeline(
            settings,
            services.models,
            business,
            self.input,
            self.output,
            call,
            self.recorder,
            voice=self.voice,
        )
        self._task: asyncio.Task[None] | None = None
        self.end_reason: str | None = None

    async def start(self) -> None:
        """Run the pipeline in the background and greet the caller (or pick up after a transfer)."""
        if self.recorder is not None:
            self.recorder.begin()
            self._record_fallbacks(self.recorder)
        runner = WorkerRunner(handle_sigint=False)
        await runner.add_workers(self.pipeline.worker)
        self._task = asyncio.create_task(runner.run(), name="call-pipeline")
        receptionist = self.pipeline.receptionist
        if self.resume.get("resume") == "transfer_failed":
            reply = receptionist.router.resume_after_failed_transfer(self.resume.get("staff", "them"))
            await receptionist.respond(reply)
        else:
            await self.pipeline.worker.queue_frames([TTSSpeakFrame(self.business.call_opening)])
        log.info("call_started", business=self.business.key, resume=self.resume.get("resume"))

    def _record_fallbacks(self, recorder: CallRecorder) -> None:
        """Store the cloned voice's fallback to Piper: now if it never loaded, else the moment it fails."""
        tts = self.pipeline.tts
        if not isinstance(tts, XttsTTSService):
            return
        name = self.voice.name
        if tts.fallback_reason:
            recorder.voice_fell_back(name, tts.fallback_reason)
        tts.on_fallback = lambda reason: recorder.voice_fell_back(name, reason)

    @property
    def running(self) -> bool:
        """Whether the pipeline is still running."""
        return self._task is not None and not self._task.done()

    async def handle(self, event: events.Event) -> None:
        """Route one of Twilio's events into the call."""
        if isinstance(event, events.Media):
            if event.track in ("inbound", "inbound_track"):
                if self.recorder is not None:
                    self.recorder.caller_audio(event.payload, event.timestamp_ms)
                await self.input.feed_media(event.payload, event.timestamp_ms)
        elif isinstance(event, events.Mark):
            await self.output.on_mark(event.name)
        elif isinstance(event, events.Dtmf):
            log.info("dtmf", digit=event.digit)
            await self.input.feed_dtmf(event.digit)

    async def _end_from_agent(self, reason: str) -> None:
        self.end_reason = reason
        await self._close_socket()

    async def close(self, reason: str) -> None:
        """Stop the pipeline (the caller is gone or the socket dropped) and leave no task running; a
        close while one is under way (the server stopping as the call ends) waits for that one."""
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._close(reason))
        await asyncio.shield(self._closing)

    async def _close(self, reason: str) -> None:
        self.end_reason = self.end_reason or reason
        if self._task is not None and not self._task.done():
            await self.pipeline.worker.cancel(reason=self.end_reason)
            try:
                await asyncio.wait_for(asyncio.shield(self._task), STOP_TIMEOUT_S)
            except TimeoutError:
                log.error("pipeline_stop_timeout")
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
        outcome = self.pipeline.receptionist.outcome
        fallback = getattr(self.pipeline.tts, "fallback_reason", None)
        if self.recorder is not None:
            final = "error" if self.recorder.fatal_error else outcome.outcome
            await self.recorder.finish(final, self.end_reason or reason, dt.datetime.now(dt.UTC))
        log.info(
            "call_ended",
            reason=self.end_reason,
            outcome=outcome.outcome,
            detail=outcome.detail,
            messages=outcome.messages,
            duration_s=round(time.time() - self.started_at, 2),
            turns=len(self.pipeline.timing.turns),
            echo_frames_gated=self.output.echo.gated_frames,
            voice_fallback=fallback,
        )
