"""Calls speaking at once through `XttsPool`: how long each waits for a replica, and its first chunk.

Shared by `tts_latency` (tiny XTTS on the CPU) and `xtts_gpu --pool` (full-size XTTS-v2 on a GPU). Each
round, `calls` calls ask the pool for one sentence at the same moment; the pool's own log gives each
request's queue wait, and the call's clock gives request → first chunk received (queue wait included).
Needs only numpy, structlog and what `agent.voice.xtts` needs (no pipecat), so it runs on a bare GPU box.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from structlog.testing import capture_logs

from agent.voice.pool import XttsPool
from agent.voice.xtts import CHUNK_TOKENS, FIRST_CHUNK_TOKENS, Latents
from agent.voice.xtts_process import XttsWorker, threads_per_worker
from benchmarks.report import pct

SENTENCE = "Sure, we open at nine on Saturdays and close at one, but you can leave a message any time."


@dataclass
class PoolRun:
    """Every request of `rounds` rounds of `calls` simultaneous calls on `replicas` replicas (ms)."""

    replicas: int
    calls: int
    waits_ms: list[float]
    firsts_ms: list[float]
    rtfs: list[float] = field(default_factory=list)  # each utterance's synthesis time over its audio time
    kind: str = "threads"  # where the replicas ran: "threads" of this process, or worker "processes"


async def _speak(pool: XttsPool, call_id: str, latents: Latents, text: str) -> float:
    """Ask the pool for `text` as call `call_id`; seconds until its first chunk arrived (drains the rest)."""
    t0 = time.perf_counter()
    first: float | None = None
    async for _chunk in pool.stream(call_id, text, "en", latents):
        first = first if first is not None else time.perf_counter() - t0
    if first is None:
        raise RuntimeError("the pool streamed no audio")
    return first


async def measure(
    models: Sequence[Any], calls: int, latents: Latents, rounds: int, text: str = SENTENCE
) -> PoolRun:
    """`rounds` times, `calls` calls speak `text` at once through one pool of `models` (after a warm-up):
    in-process models in threads, or `XttsWorker`s (their processes outlive the pool)."""
    processes = bool(models) and all(isinstance(m, XttsWorker) for m in models)
    pool = XttsPool.of_workers(models) if processes else XttsPool(models)
    try:
        await asyncio.gather(*(_speak(pool, f"warm-{i}", latents, text) for i in range(len(models))))
        firsts: list[float] = []
        with capture_logs() as logs:
            for r in range(rounds):
                done = await asyncio.gather(
                    *(_speak(pool, f"r{r}-c{c}", latents, text) for c in range(calls))
                )
                firsts += [s * 1000 for s in done]
    finally:
        pool.close(end_workers=False)
    streams = [e for e in logs if e["event"] == "xtts_stream"]
    waits = [float(e["waited_ms"]) for e in streams]
    rtfs = [float(e["rtf"]) for e in streams if e.get("rtf") is not None]
    return PoolRun(len(models), calls, waits, firsts, rtfs, "processes" if processes else "threads")


def real_time_streams(runs: list[PoolRun], kind: str, first_ms: float = 150.0) -> int:
    """The most calls at once, each on a replica of its own, whose utterances all kept real time (RTF p95
    below 1) and started within `first_ms` (first chunk p95), for replicas run as `kind`; 0 if none."""
    held = [
        run.calls
        for run in runs
        if run.kind == kind
        and run.calls <= run.replicas
        and run.rtfs
        and pct(run.rtfs, 0.95) < 1.0
        and pct(run.firsts_ms, 0.95) <= first_ms
    ]
    return max(held, default=0)


def render(runs: list[PoolRun], rounds: int, model: str) -> list[str]:
    """The table of `runs` on `model` and a sentence on what its numbers mean, as markdown lines."""
    lines = [
        f"**Through `XttsPool`** ({model}): in each of {rounds} rounds, that many calls ask the pool for the"
        f" same sentence at once (first chunk {FIRST_CHUNK_TOKENS} GPT tokens, chunks doubling up to"
        f" {CHUNK_TOKENS}).",
        "Queue wait is how long a request waited for a free replica (the pool's `xtts_stream` log); first",
        "chunk is from the call's request to its first chunk arriving on the event loop, wait included. With",
        "more calls than replicas the later calls wait about one sentence's synthesis per place in the queue",
        "(the pool serves calls in turn); extra replicas only help as far as the hardware runs them in",
        "parallel (on a small CPU they share its cores).",
        "",
        "Real-time factor (RTF) is each utterance's synthesis time over its audio's length (below 1 keeps",
        "ahead of playback). Replicas run as threads of one process or as worker processes (`XTTS_WORKERS`).",
        "",
        "| replicas | as | calls at once | queue wait p50 | p95 | first chunk p50 | p95 | RTF p50 | p95 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        waits, firsts, rtfs = run.waits_ms, run.firsts_ms, run.rtfs
        rtf = f"{pct(rtfs, 0.5):.2f} | {pct(rtfs, 0.95):.2f}" if rtfs else "– | –"
        lines.append(
            f"| {run.replicas} | {run.kind} | {run.calls} | {pct(waits, 0.5):.0f} ms"
            f" | {pct(waits, 0.95):.0f} ms | {pct(firsts, 0.5):.0f} ms | {pct(firsts, 0.95):.0f} ms | {rtf} |"
        )
    for kind in sorted({run.kind for run in runs}):
        lines += [
            "",
            f"Real-time streams as {kind}: {real_time_streams(runs, kind)} (the most calls at once, each on"
            " its own replica, with RTF p95 < 1 and first chunk p95 ≤ 150 ms).",
        ]
    return lines


def start_workers(model_dir: Path, replicas: int, max_tokens: int = 0) -> list[XttsWorker]:
    """`replicas` worker processes loading `model_dir`, the machine's cores shared out among them (each
    utterance capped at `max_tokens` GPT tokens if > 0)."""
    threads = threads_per_worker(replicas)
    return [
        XttsWorker(model_dir, threads=threads, name=f"bench-worker-{i}", max_tokens=max_tokens)
        for i in range(replicas)
    ]
