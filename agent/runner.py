"""Run the server until SIGTERM, then drain: refuse new calls, let live ones finish, then exit."""

from __future__ import annotations

import asyncio
import signal
import time

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


async def run(app: web.Application, settings: Settings) -> None:
    """Serve `app` until SIGTERM or SIGINT; a second signal ends the drain at once."""
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
