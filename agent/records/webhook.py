"""Post-call webhook: each ended call's record as JSON, signed with HMAC-SHA256, retried, logged as events.

The receiver checks `X-Agent-Signature: t=<unix seconds>,v1=<hex>`, where v1 is HMAC-SHA256 over
`"<t>." + body` with the shared secret (`verify_signature` does exactly that); the timestamp bounds replays.
A 2xx answer delivers; a 4xx other than 408/429 is final (the receiver refused it); anything else (5xx, a
timeout, a refused connection) is retried with exponential backoff, honouring a numeric Retry-After.
Every attempt is stored as a `webhook` event on the call, so operators see its deliveries.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import asdict, dataclass
from typing import Any

import aiohttp
import structlog

from agent.records.db import Database
from agent.records.queries import CallRecord, call_record, get_call, record_dict
from agent.records.repo import insert_event

log = structlog.get_logger(__name__)
SIGNATURE_HEADER = "X-Agent-Signature"
EVENT_KIND = "webhook"


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header value for `body` sent at `timestamp` (unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(
    secret: str, body: bytes, header: str, now: float | None = None, tolerance_s: float = 300.0
) -> bool:
    """Whether `header` signs `body` with `secret` and was made within `tolerance_s` of `now`."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, body, timestamp), f"t={timestamp},v1={parts.get('v1', '')}")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a delivery is retried."""

    attempts: int = 6
    first_delay_s: float = 1.0
    factor: float = 2.0
    max_delay_s: float = 300.0
    timeout_s: float = 10.0

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        if retry_after and retry_after.strip().isdigit():
            return min(float(retry_after), self.max_delay_s)
        return min(self.first_delay_s * self.factor ** (attempt - 1), self.max_delay_s)


@dataclass(frozen=True)
class Attempt:
    """One try at delivering: its number, the HTTP status (None: no answer), the error, and the outcome."""

    attempt: int
    status: int | None
    error: str
    delivered: bool
    final: bool
    at: str


def _retryable(status: int) -> bool:
    return status >= 500 or status in (408, 429)


async def deliver(
    http: aiohttp.ClientSession,
    url: str,
    secret: str,
    payload: dict[str, Any],
    policy: RetryPolicy,
    on_attempt: Callable[[Attempt], Awaitable[None]] | None = None,
) -> bool:
    """POST `payload` signed to `url`, retrying per `policy`, reporting each attempt; True once delivered."""
    body = json.dumps(payload, sort_keys=True, default=str).encode()
    for number in range(1, policy.attempts + 1):
        status: int | None = None
        error = ""
        retry_after: str | None = None
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, body, int(time.time()))}
        try:
            timeout = aiohttp.ClientTimeout(total=policy.timeout_s)
            async with http.post(url, data=body, headers=headers, timeout=timeout) as response:
                status = response.status
                retry_after = response.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:200]
        delivered = status is not None and 200 <= status < 300
        final = delivered or number == policy.attempts or (status is not None and not _retryable(status))
        attempt = Attempt(number, status, error, delivered, final, dt.datetime.now(dt.UTC).isoformat())
        log.info("webhook_attempt", attempt=number, status=status, error=error or None, delivered=delivered)
        if on_attempt is not None:
            await on_attempt(attempt)
        if final:
            return delivered
        await asyncio.sleep(policy.delay(number, retry_after))
    return False


class WebhookSender:
    """Sends each ended call's record to the configured URL in the background, recording every attempt."""

    def __init__(
        self, db: Database, url: str, secret: str, policy: RetryPolicy | None = None, base_url: str = ""
    ) -> None:
        """Deliver to `url`, signing with `secret`; recordings are linked in the console at `base_url`."""
        self.db = db
        self.url = url
        self.secret = secret
        self.base_url = base_url
        self.policy = policy or RetryPolicy()
        self._http: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[bool]] = set()

    def call_ended(self, call_sid: str) -> asyncio.Task[bool]:
        """Start delivering the record of the call `call_sid` (its latest stream); return the task."""
        return self._spawn(self._latest(call_sid), f"webhook-{call_sid[-6:]}")

    def call_closed(self, call_id: int) -> asyncio.Task[bool]:
        """Start delivering the record of the call row `call_id` (closed as interrupted at startup)."""
        return self._spawn(call_record(self.db, call_id), f"webhook-call-{call_id}")

    def _spawn(self, load: Coroutine[Any, Any, CallRecord | None], name: str) -> asyncio.Task[bool]:
        task = asyncio.create_task(self._send(load), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _latest(self, call_sid: str) -> CallRecord | None:
        records = await get_call(self.db, call_sid)
        return records[-1] if records else None

    async def _send(self, load: Awaitable[CallRecord | None]) -> bool:
        record = await load
        if record is None:
            log.warning("webhook_no_record")
            return False
        call = record.call
        payload = {"event": "call.ended", "call": record_dict(record, self.base_url)}

        async def note(attempt: Attempt) -> None:
            at_s = (dt.datetime.now(dt.UTC) - call.started_at).total_seconds()
            async with self.db.sessions() as session, session.begin():
                await insert_event(
                    session, call.id, EVENT_KIND, at_s, {"url": self.url, **asdict(attempt)}, None
                )

        if self._http is None:
            self._http = aiohttp.ClientSession()
        return await deliver(self._http, self.url, self.secret, payload, self.policy, note)

    async def close(self, wait_s: float = 5.0) -> None:
        """Give deliveries in flight `wait_s` to finish, cancel the rest, and close the HTTP session."""
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=wait_s)
            for task in pending:
                task.cancel()
        if self._http is not None:
            await self._http.close()
