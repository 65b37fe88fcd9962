"""How many calls this machine can hold at once: measured by `agent calibrate`, read by the server at start.

The calibration places whole simulated calls against `agent serve` in a process of its own, one at a time and
then N at once for N = 2, 3, …, and keeps the largest N whose voice-to-voice p95 stays within `bound` (1.5)
times the single call's, with every turn answered. The server takes that as its admission limit unless
MAX_CALLS is set; /readyz and /metrics show the limit and where it came from.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path

CAPACITY_FILE = "capacity.json"
DEFAULT_MAX_CALLS = 4  # without MAX_CALLS or a calibration: what a 2-core machine held in BENCHMARKS.md
BOUND = 1.5  # a level passes while its p95 stays within this multiple of one call's


@dataclass
class LevelRun:
    """Every turn's voice-to-voice latency (ms) with `calls` calls at once, and how many went unanswered."""

    calls: int
    latencies_ms: list[float] = field(default_factory=list)
    unanswered: int = 0

    @property
    def p95_ms(self) -> float | None:
        """The 95th percentile (nearest rank) of the answered turns, None without any."""
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]

    @property
    def p50_ms(self) -> float | None:
        """The median of the answered turns, None without any."""
        return statistics.median(self.latencies_ms) if self.latencies_ms else None


@dataclass
class Capacity:
    """A calibration's result: the calls this machine holds, and the levels it measured to decide."""

    calls: int
    bound: float
    measured_at: str
    machine: str
    levels: list[LevelRun]

    def save(self, data_dir: Path) -> Path:
        """Write it as DATA_DIR/capacity.json."""
        path = data_dir / CAPACITY_FILE
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")
        return path


def load_capacity(data_dir: Path) -> Capacity | None:
    """The calibration saved in `data_dir`, or None if there is none (or it is unreadable)."""
    try:
        data = json.loads((data_dir / CAPACITY_FILE).read_text())
        levels = [LevelRun(**level) for level in data.pop("levels")]
        capacity = Capacity(levels=levels, **data)
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return capacity if capacity.calls >= 1 else None


def choose(levels: list[LevelRun], bound: float = BOUND) -> int:
    """The largest N, counting up from one call, whose p95 stays within `bound` × one call's, every turn
    answered; 1 if even two calls break it (or nothing was measured)."""
    by_calls = {level.calls: level for level in levels}
    single = by_calls.get(1)
    base = single.p95_ms if single is not None and not single.unanswered else None
    if base is None:
        return 1
    held = 1
    for n in sorted(by_calls):
        level = by_calls[n]
        p95 = level.p95_ms
        if n == 1:
            continue
        if level.unanswered or p95 is None or p95 > bound * base:
            break
        held = n
    return held


def admission_limit(max_calls: int, data_dir: Path) -> tuple[int, str]:
    """The live-call limit and where it comes from: MAX_CALLS if set (> 0), else the calibration in
    `data_dir`, else the default."""
    if max_calls > 0:
        return max_calls, "MAX_CALLS"
    capacity = load_capacity(data_dir)
    if capacity is not None:
        return capacity.calls, f"calibration {capacity.measured_at}"
    return DEFAULT_MAX_CALLS, "default (no calibration: run `agent calibrate`)"
