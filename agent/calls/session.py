"""One call's lifecycle: start its pipeline, feed it Twilio's events, and clean up when it ends."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import structlog
from pipecat.frames.frames import TTSSpeakFrame
from pipecat.workers.runner import WorkerRunner

from agent.calls.pipeline import build_call_pipeline
from agent.config import Settings
from agent.dialog.business import Business
from agent.models import Models
from agent.telephony import events
from agent.telephony.transport import Send, TwilioInput, TwilioOutput

log = structlog.get_logger(__name__)
STOP_TIMEOUT_S = 5.0


class CallSession:
    """A live call: the pipeline answering it and the two halves of its Twilio transport."""

    def __init__(
        self,
        start: events.Start,
        send: Send,
        settings: Settings,
        models: Models,
        business: Business,
    ) -> None:
        """Build the call's pipeline for the stream described by `start` (nothing runs yet)."""
        self.call_sid = start.call_sid
        self.stream_sid = start.stream_sid
        self.started_at = time.time()
        self.input = TwilioInput()
        self.output = TwilioOutput(send, start.stream_sid)
        self.business = business
        self.pipeline = build_call_pipeline(settings, models, business, self.input, self.output)
        self._task: asyncio.Task[None] | None = None
        self.end_reason: str | None = None

    async def start(self) -> None:
        """Run the pipeline in the background and greet the caller."""
        runner = WorkerRunner(handle_sigint=False)
        await runner.add_workers(self.pipeline.worker)
        self._task = asyncio.create_task(runner.run(), name="call-pipeline")
        await self.pipeline.worker.queue_frames([TTSSpeakFrame(self.business.greeting)])
        log.info("call_started", business=self.business.key)

    @property
    def running(self) -> bool:
        """Whether the pipeline is still running."""
        return self._task is not None and not self._task.done()

    async def handle(self, event: events.Event) -> None:
        """Route one of Twilio's events into the call."""
        if isinstance(event, events.Media):
            if event.track in ("inbound", "inbound_track"):
                await self.input.feed_media(event.payload)
        elif isinstance(event, events.Mark):
            await self.output.on_mark(event.name)
        elif isinstance(event, events.Dtmf):
            log.info("dtmf", digit=event.digit)
            await self.input.feed_dtmf(event.digit)

    async def close(self, reason: str) -> None:
        """Stop the pipeline (the caller is gone or the socket dropped) and leave no task running."""
        self.end_reason = reason
        if self._task is not None and not self._task.done():
            await self.pipeline.worker.cancel(reason=reason)
            try:
                await asyncio.wait_for(asyncio.shield(self._task), STOP_TIMEOUT_S)
            except TimeoutError:
                log.error("pipeline_stop_timeout")
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
        log.info(
            "call_ended",
            reason=reason,
            duration_s=round(time.time() - self.started_at, 2),
            turns=len(self.pipeline.timing.turns),
        )

    def summary(self) -> dict[str, Any]:
        """Return what the call measured: per-turn latency and what the caller heard."""
        return {
            "call_sid": self.call_sid,
            "turns": self.pipeline.timing.as_dicts(),
            "utterances": [vars(u) for u in self.output.stats.utterances],
        }
