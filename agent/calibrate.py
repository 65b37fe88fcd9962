"""`agent calibrate`: place whole calls against this machine's own server, 1, 2, 3, … at once, and save how
many it holds within the latency bound (`agent.capacity`) for the server's admission limit."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import os
import platform
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from agent.capacity import BOUND, Capacity, LevelRun, choose
from agent.config import Settings
from agent.serve_process import Served, agent_serve

if TYPE_CHECKING:
    from agent.simulate import SimulationResult

# What callers ask a receptionist, in the stock voice at three speeds (the calls exercise every stage).
LINES = (
    "Hi, what time do you open on Saturday?",
    "Where are you located?",
    "Can I speak to someone about my bill?",
    "Are you open on Sunday?",
)
SPEEDS = (0.9, 1.0, 1.15)  # Piper length scales: faster and slower talkers


def machine() -> str:
    """The CPU, its cores, memory and OS, as one line."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB, {platform.system()} {platform.machine()}"


def caller_speech(out: Path) -> list[Path]:
    """The callers' lines as WAVs in the stock Piper voice at several speeds, without its random noise."""
    from piper import SynthesisConfig

    from agent.voice.piper import load_piper, write_wav

    voice = load_piper("embedded")
    out.mkdir(parents=True, exist_ok=True)
    return [
        write_wav(
            voice,
            text,
            out / f"caller{i}.wav",
            SynthesisConfig(length_scale=SPEEDS[i % len(SPEEDS)], noise_scale=0.0, noise_w_scale=0.0),
        )
        for i, text in enumerate(LINES)
    ]


async def place_rounds(
    served: Served, calls: int, total: int, pick: Callable[[int, int], list[str]]
) -> list[tuple[int, int, SimulationResult]]:
    """`total` whole calls in rounds of `calls` at once, starting 0.7 s apart (callers don't all speak on the
    same frame); `pick(round, i)` chooses each call's turns. Returns (round, i, result) for every call."""
    from agent.simulate import place_call

    placed: list[tuple[int, int, SimulationResult]] = []

    async def one(r: int, i: int) -> None:
        await asyncio.sleep(i * 0.7)
        result = await place_call(served.url, served.token, pick(r, i), reply_timeout_s=30)
        placed.append((r, i, result))

    for r in range(math.ceil(total / calls)):
        await asyncio.gather(*(one(r, i) for i in range(calls)))
    return placed


async def run_level(served: Served, wavs: list[Path], calls: int, total: int) -> LevelRun:
    """`total` two-turn calls in rounds of `calls` at once (starting 0.7 s apart): every turn's latency."""
    level = LevelRun(calls)

    def pick(r: int, i: int) -> list[str]:
        return [str(wavs[(r * calls + i + k) % len(wavs)]) for k in range(2)]

    for _, _, result in await place_rounds(served, calls, total, pick):
        for turn in result.turns:
            if turn.latency_s is None:
                level.unanswered += 1
            else:
                level.latencies_ms.append(round(turn.latency_s * 1000, 1))
    return level


async def _measure(
    served: Served, wavs: list[Path], up_to: int, per_level: int, bound: float, say: Callable[[str], None]
) -> list[LevelRun]:
    from agent.simulate import place_call

    await place_call(served.url, served.token, [str(wavs[0])], reply_timeout_s=60)  # warm-up
    levels: list[LevelRun] = []
    for n in range(1, up_to + 1):
        level = await run_level(served, wavs, n, per_level)
        levels.append(level)
        say(
            f"{n} at once: p50 {level.p50_ms or 0:.0f} ms, p95 {level.p95_ms or 0:.0f} ms, "
            f"{len(level.latencies_ms)} turns answered, {level.unanswered} not"
        )
        if n > 1 and choose(levels, bound) < n:
            break  # this level broke the bound: the one before is the capacity
    return levels


def calibrate(
    settings: Settings,
    up_to: int = 8,
    per_level: int = 6,
    bound: float = BOUND,
    say: Callable[[str], None] = print,
) -> Capacity:
    """Measure this machine with the configured stack (blocking, minutes): the server runs in its own
    process with a scratch call log and local storage, so no calibration call reaches the real ones."""
    with tempfile.TemporaryDirectory(prefix="agent-calibrate-") as scratch:
        work = Path(scratch)
        wavs = caller_speech(work / "speech")
        env = {
            "MAX_CALLS": str(up_to + 1),
            "PROMPTS_DIR": str(settings.prompts_dir.resolve()),
            "DATABASE_URL": "",
            "DATABASE_PASSWORD_FILE": "",
            "STORAGE_URL": "",
            "METRICS_TOKEN": "",
        }
        with agent_serve(work, env) as served:
            levels = asyncio.run(_measure(served, wavs, up_to, per_level, bound, say))
    return Capacity(
        calls=choose(levels, bound),
        bound=bound,
        measured_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%MZ"),
        machine=machine(),
        levels=levels,
    )
