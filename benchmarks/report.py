"""Write one marked section of BENCHMARKS.md, replacing the previous run's section in place."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def write_section(out: Path, start: str, end: str, section: str) -> None:
    """Replace the text between the `start` and `end` markers in `out` (or append it) with `section`."""
    text = out.read_text() if out.exists() else "# Benchmarks\n\nWritten by `make bench` and `make eval`.\n"
    if start in text:
        head, rest = text.split(start, 1)
        text = head + section + rest.split(end, 1)[1].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    out.write_text(text)


def machine() -> str:
    """The CPU, its cores, memory and OS, as one line for a benchmark's heading."""
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
