"""Write one marked section of BENCHMARKS.md, replacing the previous run's section in place."""

from __future__ import annotations

from pathlib import Path

from agent.calibrate import machine

__all__ = ["machine", "write_section"]


def write_section(out: Path, start: str, end: str, section: str) -> None:
    """Replace the text between the `start` and `end` markers in `out` (or append it) with `section`."""
    text = out.read_text() if out.exists() else "# Benchmarks\n\nWritten by `make bench` and `make eval`.\n"
    if start in text:
        head, rest = text.split(start, 1)
        text = head + section + rest.split(end, 1)[1].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    out.write_text(text)


def pct(values: list[float], q: float) -> float:
    """The `q` quantile (0-1) of `values`, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]
