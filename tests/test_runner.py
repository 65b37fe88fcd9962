"""The server's run loop: its worker threads are all started up front."""

from __future__ import annotations

import asyncio
import threading
import time

from agent.runner import start_worker_threads


async def test_worker_threads_start_up_front_and_a_burst_of_work_adds_none() -> None:
    """With asyncio's own executor a burst of overlapping to_thread calls adds threads that stay; with
    start_worker_threads every worker is running before the first call and the burst adds none."""
    loop = asyncio.get_running_loop()
    before = threading.active_count()
    pool = start_worker_threads(loop, workers=5)
    try:
        started = threading.active_count()
        assert started == before + 5
        await asyncio.gather(*(asyncio.to_thread(time.sleep, 0.05) for _ in range(20)))
        assert threading.active_count() == started
    finally:
        pool.shutdown()
