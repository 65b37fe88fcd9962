"""How late the event loop runs: a task that sleeps a fixed tick and records how much later it woke.

Every call's audio, marks and database writes share one loop; anything that holds it (a model run on the
loop, a long synchronous step) shows here as lag, whichever call caused it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

TICK_S = 0.05
LAG_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


async def watch_lag(observe: Callable[[float], None], tick_s: float = TICK_S) -> None:
    """Forever: sleep `tick_s`, then `observe` how many seconds past its time the wake-up came."""
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + tick_s
        await asyncio.sleep(tick_s)
        observe(max(0.0, loop.time() - due))


async def stop(task: asyncio.Task[None] | None) -> None:
    """Cancel a watcher started with `watch_lag` and wait for it."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
