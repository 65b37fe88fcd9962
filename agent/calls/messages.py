"""Messages callers leave, appended to a JSON-lines file under the data directory (off the event loop)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class StoredMessage:
    """A message as stored: who called, how to call back, what they said, for whom."""

    id: str
    call_sid: str
    business: str
    recipient: str
    caller_name: str
    callback_number: str
    message: str
    urgent: bool
    created_at: str


class MessageStore:
    """Appends messages to `<data_dir>/messages.jsonl`; the call log can import this file later."""

    def __init__(self, data_dir: Path) -> None:
        """Store under `data_dir` (created on first write)."""
        self.path = data_dir / "messages.jsonl"
        self._lock = threading.Lock()

    def _append(self, record: StoredMessage) -> None:
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(asdict(record)) + "\n")

    async def add(
        self,
        call_sid: str,
        business: str,
        recipient: str,
        caller_name: str,
        callback_number: str,
        message: str,
        urgent: bool,
    ) -> StoredMessage:
        """Store one message in a worker thread and return it."""
        record = StoredMessage(
            uuid.uuid4().hex,
            call_sid,
            business,
            recipient,
            caller_name,
            callback_number,
            message,
            urgent,
            dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        )
        await asyncio.to_thread(self._append, record)
        return record

    def all(self) -> list[StoredMessage]:
        """Read every stored message (blocking)."""
        if not self.path.exists():
            return []
        with self.path.open(encoding="utf-8") as fh:
            return [StoredMessage(**json.loads(line)) for line in fh if line.strip()]
