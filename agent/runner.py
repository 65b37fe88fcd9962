"""Run the server until SIGTERM, then drain: refuse new calls, let live ones finish, then exit."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import structlog
from aiohttp import web

from agent.config import Settings
from agent.server import STATE

log = structlog.get_logger(__name__)


async def drain(app: web.Application, deadline_s: float, stop_now: asyncio.Event) -> int:
    """Mark the app draining and wait for its live calls to end (or the deadline); return those left."""
    state = app[STATE]
    state.draining = True
    state.metrics.draining.set(1)
    log.info("draining", live_calls=len(state.calls), deadline_s=deadline_s)
    deadline = time.monotonic() + deadline_s
    while state.calls and time.monotonic() < deadline and not stop_now.is_set():
        await asyncio.sleep(0.2)
    if state.calls:
        log.warning("drain_deadline_passed", live_calls=len(state.calls))
    return len(state.calls)


def start_worker_threads(loop: asyncio.AbstractEventLoop, workers: int | None = None) -> ThreadPoolExecutor:
    """Give `loop` a default executor (asyncio.to_thread's) with all its threads started now.

    asyncio's own starts a thread whenever work arrives and none is idle, so a busy moment adds threads
    that stay; started up front, the process's thread count is the same from the first call to the last,
    and a thread count that grows means something else left threads behind.
    """
    workers = workers or min(32, (os.cpu_count() or 1) + 4)  # asyncio's default size
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="asyncio")
    everyone = threading.Barrier(workers)
    started = [pool.submit(everyone.wait, 10) for _ in range(workers)]  # none idle: each submit adds one
    for future in started:
        future.result()
    loop.set_default_executor(pool)
    return pool


async def run(app: web.Application, settings: Settings) -> None:
    """Serve `app` until SIGTERM or SIGINT; a second signal ends the drain at once."""
    start_worker_threads(asyncio.get_running_loop())
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    stop, stop_now = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        (stop_now if stop.is_set() else stop).set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    await stop.wait()
    await drain(app, settings.drain_deadline_secs, stop_now)
    await runner.cleanup()
    log.info("stopped")
