"""Shared fixtures: real embedded models loaded once, caller speech made with Piper, a live server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from aiohttp.test_utils import TestServer, unused_port

from agent.config import Settings
from agent.models import Models, load_models
from agent.server import create_app
from agent.voice.piper import write_wav

REPO = Path(__file__).resolve().parent.parent
AUTH_TOKEN = "test-auth-token-0123456789abcdef"


def unavailable(reason: str, requirement: str) -> NoReturn:
    """Skip the test for a missing dependency, or fail it if the env sets `requirement` (`.ci/run` does)."""
    if os.environ.get(requirement):
        pytest.fail(f"{reason} ({requirement} is set)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def models() -> Models:
    """The real embedded models (Whisper tiny.en, Piper Joe, SmolLM2), loaded once per test run."""
    return load_models(Settings(twilio_auth_token=AUTH_TOKEN))


@pytest.fixture(scope="session")
def speech_dir(tmp_path_factory: pytest.TempPathFactory, models: Models) -> Path:
    """Caller utterances synthesized with Piper and saved as 16-bit WAV files."""
    out = tmp_path_factory.mktemp("speech")
    lines = {
        "hours": "Hi, what time do you open on Saturday?",
        "where": "Where are you located?",
        "long": "I would like to book a cleaning for next Tuesday morning if you have any time.",
        "bill": "Can I speak to someone about my bill?",
        "bye": "Thanks, bye!",
        "msg0": "Please take a message for the front desk.",
        "name": "This is John Smith.",
        "number": "My number is 617 555 0100.",
        "yes": "Yes.",
        "msg2": "I need to move my cleaning to next week.",
        "no": "No.",
        "chat": "I just moved to the area.",
        "ramble": "So my family and I just moved here from Ohio last month, and we are still settling in.",
        "okay": "Okay.",
    }
    for name, text in lines.items():
        write_wav(models.piper, text, out / f"{name}.wav")
    return out


TEST_GREETING = "Harbor Dental, how can I help?"


@pytest.fixture(scope="session")
def prompts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped prompts, the example business's greeting cut to a few words.

    Every whole call waits for its greeting to play in real time; the shipped one (with the disclosure and
    the recording announcement) is about ten seconds. The disclosure and announcement stay, so the opening
    still lasts long enough (about five seconds) to be barged in on 1.5 s in.
    """
    out = tmp_path_factory.mktemp("prompts") / "prompts"
    shutil.copytree(REPO / "prompts", out)
    path = out / "businesses" / "example.yaml"
    shipped = path.read_text()
    greeting = next(line for line in shipped.splitlines() if line.startswith("greeting:"))
    path.write_text(shipped.replace(greeting, f'greeting: "{TEST_GREETING}"'))
    return out


@pytest.fixture
def settings(tmp_path: Path, prompts_dir: Path) -> Settings:
    """Settings for a server on a free loopback port, with a known auth token and a short greeting."""
    port = unused_port()
    return Settings(
        host="127.0.0.1",
        port=port,
        public_base_url=f"http://127.0.0.1:{port}",
        twilio_auth_token=AUTH_TOKEN,
        data_dir=tmp_path / "data",
        prompts_dir=prompts_dir,
        voices_dir=tmp_path / "voices",
    )


@pytest.fixture
async def server(settings: Settings, models: Models) -> AsyncIterator[TestServer]:
    """A real aiohttp server on loopback running the whole app."""
    srv = TestServer(create_app(settings, models), host=settings.host, port=settings.port)
    await srv.start_server()
    try:
        yield srv
    finally:
        await srv.close()


def conversation(logs: list[dict[str, object]]) -> str:
    """The call as the logs tell it (what was heard, said, barged in on), for a failing test's message."""
    lines = []
    for e in logs:
        if e["event"] == "stt_final":
            lines.append(f"caller: {e['text']!r} ({e['audio_s']} s, rejected={e['rejected']})")
        elif e["event"] == "agent_reply":
            lines.append(f"agent [{e['intent']}]: {e['text']!r}")
        elif e["event"] in ("barge_in", "barge_in_not_a_turn", "echo_gate_learned", "agent_utterance_played"):
            detail = {k: v for k, v in e.items() if k not in ("event", "log_level", "call_sid")}
            lines.append(f"{e['event']}: {detail}")
    return "\n".join(lines)


BUCKET = "calls"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's standalone S3 server in its own process, with an empty bucket."""
    port = _free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def s3_env(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Credentials for the test server in the environment (as boto3 reads them) and a fresh bucket."""
    import boto3

    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    bucket = f"{BUCKET}-{os.urandom(4).hex()}"
    client.create_bucket(Bucket=bucket)
    return bucket


def objects(endpoint: str, bucket: str) -> dict[str, int]:
    import boto3

    listed = boto3.client("s3", endpoint_url=endpoint).list_objects_v2(Bucket=bucket)
    return {o["Key"]: o["Size"] for o in listed.get("Contents", [])}


@pytest.fixture
def clips(tmp_path: Path) -> dict[str, Path]:
    """Two reference clips and a consent recording (contents don't matter to the store)."""
    out = {}
    for name in ("a.wav", "b.WAV", "said.wav"):
        out[name] = tmp_path / name
        out[name].write_bytes(name.encode())
    return out
