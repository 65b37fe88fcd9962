"""`agent serve` in a process of its own, called from outside as Twilio would (calibration, benchmarks)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from agent.simulate import wait_until_ready

AUTH_TOKEN = "bench-token"


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Served:
    """A running server: its URL, the auth token its callers sign with, its process and its log."""

    url: str
    token: str
    process: subprocess.Popen[bytes]
    log: Path


@contextmanager
def agent_serve(
    work: Path, env: dict[str, str] | None = None, ready_s: float = 120, cwd: Path | None = None
) -> Iterator[Served]:
    """Start `agent serve` (from `cwd`, else here) on a free port with its data in `work` and `env` on top
    of this process's environment (less LLM_* and TWILIO_*), wait until its models are loaded, and stop it
    afterwards. Raises RuntimeError with the log's tail if it doesn't come up."""
    port = free_port()
    full = {k: v for k, v in os.environ.items() if not k.startswith(("LLM_", "TWILIO_"))}
    full.update(
        PORT=str(port),
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        DATA_DIR=str(work / "data"),
    )
    full.update(env or {})
    log = work / "server.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "agent", "serve"], env=full, stdout=out, stderr=out, cwd=cwd
        )
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_until_ready(url, ready_s, lambda: process.poll() is None):
            raise RuntimeError(f"agent serve did not come up:\n{log.read_text()[-3000:]}")
        yield Served(url, AUTH_TOKEN, process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
