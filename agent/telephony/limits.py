"""How many messages a second one media-stream connection may send, and how its skipped ones are logged."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import structlog

log = structlog.get_logger(__name__)


@dataclass
class MessageBudget:
    """A token bucket over one connection's messages.

    Twilio sends 50 media messages a second, plus marks and DTMF; `rate` leaves room for that and
    bursts after a network stall. A message over the budget is skipped; `flood_after` skipped before
    the bucket fills up again means the sender is flooding and the connection should close.
    """

    rate: ClassVar[float] = 200.0  # messages a second, sustained
    burst: float = 400.0
    flood_after: int = 2000
    skipped: int = 0  # skipped since the bucket was last full
    _tokens: float | None = None
    _last: float = 0.0

    def take(self, now: float) -> bool:
        """Spend one message at monotonic time `now`; False if it is over the budget (skip it)."""
        if self._tokens is None:
            self._tokens, self._last = self.burst, now
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= self.burst:
            self.skipped = 0  # the sender calmed down
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        self.skipped += 1
        return False

    @property
    def flooding(self) -> bool:
        """Whether so many messages in a row were over the budget that the sender is flooding."""
        return self.skipped >= self.flood_after


class SkipLog:
    """Logs a connection's skipped messages: the first few each, then every hundredth, then the total,
    so a sender of junk can't flood the log."""

    FIRST = 10

    def __init__(self) -> None:
        """Nothing skipped yet."""
        self.count = 0

    def note(self, reason: str) -> None:
        """One message skipped for `reason`."""
        self.count += 1
        if self.count <= self.FIRST or self.count % 100 == 0:
            log.warning("message_skipped", reason=reason[:200], skipped=self.count)

    def close(self) -> None:
        """Log the total once the connection ends, if not every skip was logged."""
        if self.count > self.FIRST:
            log.warning("messages_skipped", total=self.count)
