"""The call log as the server runs it: schema upgrade and crash recovery at startup, daily retention."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import socket
from collections.abc import Mapping

import structlog

from agent.calls.messages import MessageStore
from agent.config import Settings
from agent.records.db import open_database
from agent.records.recorder import CallRecorder
from agent.records.recording import StereoRecording, repair
from agent.records.repo import CallInfo, close_open_calls, recordings_of, set_recording
from agent.records.retention import apply_retention
from agent.records.storage import publish_spooled, settings_store
from agent.records.webhook import WebhookSender
from agent.records.writer import Writer

log = structlog.get_logger(__name__)
RETENTION_EVERY_S = 24 * 3600.0


def server_name(settings: Settings) -> str:
    """This process's name in the call log (the pod, else the host): whose open calls it may close."""
    return settings.pod_name or socket.gethostname()


def _when(iso: str | None, default: dt.datetime) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(iso) if iso else default
    except ValueError:
        return default


class CallLog:
    """The database, the message store on it, and a recorder for each call."""

    def __init__(self, settings: Settings) -> None:
        """Open (lazily) the database that `settings` name."""
        self.settings = settings
        self.db = open_database(settings.db_url, settings.database_password)
        self.messages = MessageStore(self.db)
        self.store = settings_store(settings)
        self._retention: asyncio.Task[None] | None = None
        self.webhook = (
            WebhookSender(
                self.db,
                settings.post_call_webhook_url,
                settings.post_call_webhook_secret,
                base_url=settings.public_base_url,
            )
            if settings.post_call_webhook_url
            else None
        )

    async def start(self) -> None:
        """Upgrade the schema, close calls a dead process left open (each to the webhook), retain daily."""
        await self.db.upgrade()
        closed = await close_open_calls(self.db, server_name(self.settings))
        await self._keep_recordings(closed)
        log.info("call_log_ready", dialect=self.db.dialect, interrupted_calls_closed=len(closed))
        if self.webhook is not None:
            for call_id in closed:
                self.webhook.call_closed(call_id)
        self._retention = asyncio.create_task(self._daily(), name="call-log-retention")

    async def _keep_recordings(self, call_ids: list[int]) -> None:
        """Each interrupted call keeps its recording up to the crash (the file's header made to cover it);
        one with no audio written names none."""
        for call_id, name in (await recordings_of(self.db, call_ids)).items():
            path = self.store.spool / name
            seconds = await asyncio.to_thread(repair, path)
            if seconds == 0:
                async with self.db.sessions.begin() as session:
                    await set_recording(session, call_id, None)
            log.info("interrupted_call_recording", call_id=call_id, seconds=round(seconds, 1))
        await publish_spooled(self.store)  # those, and any whose upload failed before

    async def _daily(self) -> None:
        s = self.settings
        while True:
            try:
                removed = await apply_retention(self.db, s.retention_days, self.store)
                log.info("retention_applied", days=s.retention_days, calls=removed.calls, files=removed.files)
            except Exception:
                log.exception("retention_failed")
            await asyncio.sleep(RETENTION_EVERY_S)

    async def stop(self) -> None:
        """Stop retention, let webhook deliveries in flight finish a moment, close the database."""
        if self.webhook is not None:
            await self.webhook.close()
        if self._retention is not None:
            self._retention.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retention
        await self.db.dispose()

    def recorder(
        self,
        call_sid: str,
        stream_sid: str,
        business: str,
        record_audio: bool,
        data: Mapping[str, str],
        voice: str,
    ) -> CallRecorder:
        """A recorder for a call whose stream just started, in `voice`; `data` is what its webhook learned."""
        now = dt.datetime.now(dt.UTC)
        info = CallInfo(
            call_sid=call_sid,
            stream_sid=stream_sid,
            business=business,
            started_at=_when(data.get("at"), now),
            answered_at=now,
            called=data.get("to", ""),
            caller=data.get("from", ""),
            voice=voice,
            server=server_name(self.settings),
        )
        recording = StereoRecording() if record_audio else None
        recorder = CallRecorder(info, Writer(self.db), self.settings.vad_stop_secs, recording, self.store)
        if self.webhook is not None:
            recorder.on_finished = self.webhook.call_ended
        return recorder
