"""The event-loop lag watcher reports how late the loop woke it: near zero when idle, the length of a
blocking step when something holds the loop."""

from __future__ import annotations

import asyncio
import time

from agent.loop_lag import stop, watch_lag


async def test_a_step_that_blocks_the_loop_shows_as_lag_and_an_idle_loop_does_not() -> None:
    """Idle for 0.3 s, every wake-up is within 100 ms of its time; a 200 ms blocking call shows as one
    wake-up at least 150 ms late."""
    seen: list[float] = []
    task = asyncio.create_task(watch_lag(seen.append, tick_s=0.02))
    await asyncio.sleep(0.3)
    idle = list(seen)
    time.sleep(0.2)  # a blocking step on the loop, as a model run there would be
    await asyncio.sleep(0.1)
    await stop(task)
    assert len(idle) >= 5 and max(idle) < 0.1, idle
    assert max(seen[len(idle) :]) >= 0.15, seen
