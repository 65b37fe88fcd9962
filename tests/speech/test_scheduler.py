"""DecodeScheduler: one worker per model, finals ahead of interim passes, errors handed back."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from agent.speech.scheduler import DecodeScheduler


class TestDecodeScheduler:
    def test_final_passes_jump_ahead_of_waiting_interim_passes(self) -> None:
        """While the worker is busy, a final queued after two interims runs before them."""
        scheduler = DecodeScheduler("test")
        gate = threading.Event()
        order: list[str] = []
        blocker = scheduler.submit(gate.wait, final=False)
        time.sleep(0.05)
        futures = [
            scheduler.submit(lambda: order.append("interim-a"), final=False),
            scheduler.submit(lambda: order.append("interim-b"), final=False),
            scheduler.submit(lambda: order.append("final"), final=True),
        ]
        assert scheduler.queued == 3
        gate.set()
        for f in [blocker, *futures]:
            f.result(timeout=5)
        assert order == ["final", "interim-a", "interim-b"]

    def test_jobs_run_one_at_a_time(self) -> None:
        """Two jobs never overlap: the model serves one pass at a time."""
        scheduler = DecodeScheduler("test")
        running = 0
        peak = 0
        lock = threading.Lock()

        def job() -> None:
            nonlocal running, peak
            with lock:
                running += 1
                peak = max(peak, running)
            time.sleep(0.01)
            with lock:
                running -= 1

        for f in [scheduler.submit(job, final=i % 2 == 0) for i in range(8)]:
            f.result(timeout=5)
        assert peak == 1

    def test_result_reports_wait_and_run_time(self) -> None:
        """A job's result says how long it queued and how long it ran."""
        scheduler = DecodeScheduler("test")
        done = scheduler.submit(lambda: time.sleep(0.05) or 7, final=True).result(timeout=5)
        assert done.value == 7
        assert done.ran_s >= 0.04 and done.waited_s >= 0

    def test_an_exception_reaches_the_caller_and_the_worker_survives(self) -> None:
        """A failing pass raises in its caller; the next job still runs."""
        scheduler = DecodeScheduler("test")

        def boom() -> None:
            raise RuntimeError("model crashed")

        with pytest.raises(RuntimeError, match="model crashed"):
            scheduler.submit(boom, final=True).result(timeout=5)
        assert scheduler.submit(lambda: 1, final=False).result(timeout=5).value == 1

    async def test_waiting_does_not_block_the_event_loop(self) -> None:
        """The loop keeps ticking while a long pass runs on the worker."""
        scheduler = DecodeScheduler("test")
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        await scheduler.run(lambda: time.sleep(0.3), final=True)
        task.cancel()
        assert ticks >= 10
