"""XTTS replicas in worker processes: streaming over the pipe, early stops, a dying child, the pool on top."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from structlog.testing import capture_logs

from agent.voice.catalog import load_pool
from agent.voice.xtts import SAMPLE_RATE, Latents, XttsLoadError
from agent.voice.xtts_process import XttsWorker, XttsWorkerError

TEXT = "We open at nine on Saturdays."


@pytest.fixture(scope="module")
def worker(tiny_xtts_dir: Path) -> Iterator[XttsWorker]:
    """One worker process with the tiny model, shared by this module's tests."""
    w = XttsWorker(tiny_xtts_dir, device="cpu", threads=1)
    yield w
    w.close()


def test_a_worker_streams_audio_from_a_process_of_its_own(worker: XttsWorker, tiny_latents: Latents) -> None:
    """The child loads the model and streams several float32 chunks of audible 24 kHz audio back."""
    assert worker.pid is not None and worker.pid != os.getpid()
    assert worker.device_in_use == "cpu"
    chunks = list(worker.stream(TEXT, "en", tiny_latents))
    assert len(chunks) >= 2 and all(c.dtype == np.float32 and c.ndim == 1 for c in chunks)
    audio = np.concatenate(chunks)
    assert len(audio) > SAMPLE_RATE // 10 and float(np.abs(audio).max()) > 0


def test_stopping_early_leaves_the_worker_ready_for_the_next_utterance(
    worker: XttsWorker, tiny_latents: Latents
) -> None:
    """Closing a stream after its first chunk stops the child; the next utterance streams in full."""
    chunks = worker.stream(TEXT + " " + TEXT, "en", tiny_latents)
    first = next(chunks)
    chunks.close()
    assert len(first) > 0
    again = list(worker.stream("Goodbye.", "en", tiny_latents))
    assert again and sum(len(c) for c in again) > 0


def test_a_killed_worker_fails_its_utterance_and_the_next_one_restarts_it(
    tiny_xtts_dir: Path, tiny_latents: Latents
) -> None:
    """kill -9 of the child mid-utterance raises XttsWorkerError; the next utterance starts a new child,
    which, closed mid-utterance, quits by itself (exit code 0, not killed)."""
    w = XttsWorker(tiny_xtts_dir, device="cpu", threads=1)
    try:
        old = w.pid
        chunks = w.stream(TEXT + " " + TEXT, "en", tiny_latents)
        next(chunks)
        assert old is not None
        os.kill(old, signal.SIGKILL)
        with pytest.raises(XttsWorkerError, match="died"):
            for _ in chunks:
                pass
        with capture_logs() as logs:
            again = list(w.stream("Goodbye.", "en", tiny_latents))
        assert again and w.pid not in (None, old)
        assert "xtts_worker_restarting" in [e["event"] for e in logs]
        # Closed mid-utterance (the server stopping), the new child finishes and exits on its own.
        child = w._process
        speaking = w.stream(TEXT + " " + TEXT, "en", tiny_latents)
        next(speaking)  # held open: the child is still generating when the server closes it
        w.close()
        assert child is not None and child.exitcode == 0
        speaking.close()
    finally:
        w.close()


def test_a_checkpoint_the_child_cannot_load_is_refused_with_the_reason(
    tiny_xtts_dir: Path, tmp_path: Path
) -> None:
    """The child's load error (a missing model.pth) comes back as XttsLoadError, and the child is gone."""
    broken = tmp_path / "broken"
    shutil.copytree(tiny_xtts_dir, broken, ignore=shutil.ignore_patterns("model.pth"))
    with pytest.raises(XttsLoadError, match=r"model\.pth"):
        XttsWorker(broken, device="cpu", threads=1)


async def test_a_pool_of_worker_processes_serves_two_calls_at_once(
    tiny_xtts_dir: Path, tiny_latents: Latents
) -> None:
    """Two process replicas behind the pool: two calls stream at once, each on a different child."""
    pool = load_pool(tiny_xtts_dir, 2, "process")
    try:
        pids = {w.pid for w in pool.models}
        assert len(pids) == 2 and os.getpid() not in pids

        async def speak(call: str) -> int:
            return sum([len(c) async for c in pool.stream(call, TEXT, "en", tiny_latents)])

        with capture_logs() as logs:
            sizes = await asyncio.gather(speak("call-a"), speak("call-b"))
        assert all(n > 0 for n in sizes)
        assert not [e for e in logs if e["event"] == "xtts_waited"]  # neither waited for the other
    finally:
        pool.close()
    assert all(w.pid is None for w in pool.models)
