"""Console fixtures: a real server on loopback, an operator per role, a seeded call and its recording."""

from __future__ import annotations

import re
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from aiohttp.test_utils import TestServer

from agent.calls.messages import MessageStore
from agent.config import Settings
from agent.console.auth import add_operator
from agent.models import Models
from agent.records.db import Database
from agent.server import STATE, create_app
from tests.records.conftest import db_url
from tests.records.helpers import seed_call

PASSWORD = "correct horse battery"
ROLES = ("admin", "editor", "viewer")
__all__ = ["db_url"]  # the call log's SQLite/PostgreSQL fixture, shared with the store's tests
RECORDING = "2026/11/01/seeded.wav"
RECORDING_S = 6.0
METRICS_TOKEN = "console-metrics-token-0123456789"


def write_stereo(path: Path, seconds: float) -> None:
    """A stereo 8 kHz WAV: a tone on the left (caller), another on the right (agent)."""
    t = np.arange(int(seconds * 8000)) / 8000
    frames = np.stack([np.sin(2 * np.pi * 300 * t), np.sin(2 * np.pi * 500 * t)], axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes((frames * 8000).astype("<i2").tobytes())


@dataclass
class Seeded:
    """The running console and what was put in it."""

    server: TestServer
    db: Database
    call_sid: str
    call_id: int
    message_id: str

    def url(self, path: str) -> str:
        """An absolute URL on the test server."""
        return str(self.server.make_url(path))


async def log_in(http: aiohttp.ClientSession, console: Seeded, name: str, password: str = PASSWORD) -> int:
    """Log in through the real form (its CSRF cookie and field); return the final status."""
    async with http.get(console.url("/console/login")) as page:
        token = re.search(r'name="csrf" value="([^"]+)"', await page.text())
    assert token is not None
    form = {"csrf": token.group(1), "name": name, "password": password, "next": "/console/calls"}
    async with http.post(console.url("/console/login"), data=form) as done:
        return done.status


def csrf_of(html: str) -> str:
    """The CSRF token a console page's forms carry."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


@pytest.fixture
async def console(settings: Settings, models: Models, db_url: str) -> AsyncIterator[Seeded]:
    """The whole app on loopback (SQLite, then PostgreSQL), an operator per role, a call and a message."""
    settings = replace(settings, database_url=db_url, metrics_token=METRICS_TOKEN)
    server = TestServer(create_app(settings, models), host=settings.host, port=settings.port)
    await server.start_server()
    db = server.app[STATE].calllog.db
    try:
        for role in ROLES:
            await add_operator(db, role, role, PASSWORD)
        write_stereo(settings.recordings_path / RECORDING, RECORDING_S)
        call_sid = "CA" + "7" * 32
        call_id = await seed_call(db, call_sid, recording=RECORDING)
        message = await MessageStore(db).add(
            call_sid, "example", "Maria", "John Smith", "+16175550100", "Please call me back.", False
        )
        yield Seeded(server, db, call_sid, call_id, message.id)
    finally:
        await server.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A browser-like client: keeps cookies for the loopback address, asks for HTML."""
    async with aiohttp.ClientSession(
        cookie_jar=aiohttp.CookieJar(unsafe=True), headers={"Accept": "text/html"}
    ) as session:
        yield session
