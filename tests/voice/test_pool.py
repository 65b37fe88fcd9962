"""The XTTS pool on real tiny replicas: queueing across calls, fairness, failures, early stops."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from structlog.testing import capture_logs

from agent.voice.pool import XttsPool
from agent.voice.xtts import Latents, load_xtts, stream

TEXT = "We open at nine."


@pytest.fixture(scope="module")
def second_replica(tiny_xtts_dir: Path) -> Any:
    """Another copy of the tiny model, for a two-replica pool."""
    return load_xtts(tiny_xtts_dir, device="cpu")


async def speak(pool: XttsPool, call: str, latents: Latents, text: str = TEXT) -> tuple[float, float]:
    """Stream one utterance; return when its first and last chunks arrived (monotonic seconds)."""
    first = last = 0.0
    async for _chunk in pool.stream(call, text, "en", latents):
        last = time.monotonic()
        first = first or last
    return first, last


class TestQueueing:
    async def test_one_replica_serves_calls_one_after_another(
        self, tiny_xtts: Any, tiny_latents: Latents
    ) -> None:
        """With one replica a second call waits for the first utterance to end, and the wait is logged."""
        pool = XttsPool([tiny_xtts])
        with capture_logs() as logs:
            (_, a_last), (b_first, _) = await asyncio.gather(
                speak(pool, "call-a", tiny_latents), speak(pool, "call-b", tiny_latents)
            )
        assert b_first > a_last
        waited = [e for e in logs if e["event"] == "xtts_waited"]
        assert [e["call"] for e in waited] == ["call-b"]
        assert waited[0]["waited_ms"] >= 100
        pool.close()

    async def test_two_replicas_serve_two_calls_at_once(
        self, tiny_xtts: Any, second_replica: Any, tiny_latents: Latents
    ) -> None:
        """With two replicas both calls start at once: each hears audio before the other's utterance ends."""
        pool = XttsPool([tiny_xtts, second_replica])
        with capture_logs() as logs:
            (a_first, a_last), (b_first, b_last) = await asyncio.gather(
                speak(pool, "call-a", tiny_latents), speak(pool, "call-b", tiny_latents)
            )
        assert a_first < b_last and b_first < a_last
        assert not [e for e in logs if e["event"] == "xtts_waited"]
        assert pool.served == 2
        pool.close()

    async def test_waiting_calls_take_turns(self, tiny_xtts: Any, tiny_latents: Latents) -> None:
        """A call with three clauses queued does not hold back another call's one clause."""
        pool = XttsPool([tiny_xtts])
        with capture_logs() as logs:
            busy = [asyncio.create_task(speak(pool, "call-a", tiny_latents)) for _ in range(3)]
            await asyncio.sleep(0.05)  # call-a's clauses are all queued first
            await asyncio.gather(speak(pool, "call-b", tiny_latents), *busy)
        order = [e["call"] for e in logs if e["event"] == "xtts_stream"]
        assert order == ["call-a", "call-b", "call-a", "call-a"]
        pool.close()


class TestWorkers:
    async def test_synthesis_runs_on_worker_threads(self, tiny_xtts: Any, tiny_latents: Latents) -> None:
        """Every chunk is made on the pool's own thread, never on the event loop's."""
        threads: set[str] = set()

        def traced(model: Any, text: str, language: str, latents: Latents) -> Iterator[np.ndarray]:
            for chunk in stream(model, text, language, latents):
                threads.add(threading.current_thread().name)
                yield chunk

        pool = XttsPool([tiny_xtts], synth=traced)
        await speak(pool, "call-a", tiny_latents)
        assert threads == {"xtts-0"}
        pool.close()

    async def test_failure_reaches_the_call_and_frees_the_replica(
        self, tiny_xtts: Any, tiny_latents: Latents
    ) -> None:
        """Latents of the wrong shape make the model raise in the caller's stream; the next call is served."""
        bad = Latents(gpt_cond_latent=torch.zeros(1, 5, 3), speaker_embedding=torch.zeros(1, 7, 1))
        pool = XttsPool([tiny_xtts])
        with pytest.raises(RuntimeError):
            await speak(pool, "call-a", bad)
        first, _ = await asyncio.wait_for(speak(pool, "call-b", tiny_latents), timeout=30)
        assert first > 0
        pool.close()

    async def test_stopping_early_frees_the_replica(self, tiny_xtts: Any, tiny_latents: Latents) -> None:
        """A call that stops listening after one chunk (a barge-in) releases the replica at the next chunk."""
        pool = XttsPool([tiny_xtts])
        with capture_logs() as logs:
            async for _chunk in pool.stream("call-a", "One two three four five six.", "en", tiny_latents):
                break
            await asyncio.wait_for(speak(pool, "call-b", tiny_latents), timeout=30)
        streams = {e["call"]: e for e in logs if e["event"] == "xtts_stream"}
        assert streams["call-a"]["stopped"] is True
        assert streams["call-a"]["audio_s"] < streams["call-b"]["audio_s"]
        pool.close()
