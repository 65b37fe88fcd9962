"""Start-up: time from `agent serve` starting to its models loaded, and its resident memory then.

Starts the server from each checkout given (this one by default; `--before DIR` adds another, e.g. a
`git worktree` of an older commit) in turn, `--runs` times each, alternating, and prints p50s. Runs with
whichever Python runs this (so both checkouts share one environment); `python -m benchmarks.startup`.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.server_process import REPO, agent_serve


def start_once(checkout: Path) -> tuple[float, float, bool]:
    """Seconds to ready, resident MB at ready, and whether torch was imported, for one start."""
    work = Path(tempfile.mkdtemp(prefix="startup-"))
    started = time.monotonic()
    with agent_serve(work, cwd=checkout) as served:
        ready_s = time.monotonic() - started
        status = Path(f"/proc/{served.process.pid}/status").read_text()
        found = re.search(r"VmRSS:\s+(\d+) kB", status)
        rss_mb = int(found.group(1)) / 1024 if found else 0.0
        torch = "libtorch" in Path(f"/proc/{served.process.pid}/maps").read_text()
    return ready_s, rss_mb, torch


def main() -> None:
    """Start each checkout `--runs` times and print time to ready and memory at ready."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--before", type=Path, help="another checkout to compare with this one")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    checkouts = {"this checkout": REPO, **({"before": args.before} if args.before else {})}
    runs: dict[str, list[tuple[float, float, bool]]] = {name: [] for name in checkouts}
    for _ in range(args.runs):
        for name, checkout in checkouts.items():
            runs[name].append(start_once(checkout))
    print("| checkout | time to ready p50 s | resident MB at ready p50 | torch imported |")
    print("|---|---:|---:|---|")
    for name, results in runs.items():
        ready = statistics.median(r[0] for r in results)
        rss = statistics.median(r[1] for r in results)
        torch = "yes" if any(r[2] for r in results) else "no"
        print(f"| {name} | {ready:.1f} | {rss:.0f} | {torch} |")


if __name__ == "__main__":
    main()
