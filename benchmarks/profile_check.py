"""What checking for changed business profiles adds to each call's set-up: the revision query, timed.

Each call's webhook reads the newest profile revision before answering (`AppState.refresh_profiles`); this
times that query on SQLite and, with TEST_POSTGRES_URL set, on PostgreSQL, against a seeded database, and
the full reload a changed revision costs. `python -m benchmarks.profile_check [--out BENCHMARKS.md]`.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import statistics
import tempfile
import time
from pathlib import Path

from agent.dialog import profile_store
from agent.records.db import open_database
from benchmarks.report import machine, write_section
from benchmarks.server_process import REPO

START, END = "<!-- profile-check:start -->", "<!-- profile-check:end -->"


async def time_one(url: str, rounds: int) -> tuple[float, float, float]:
    """p50 and p99 ms of the revision query, and the ms of one reload, on the database at `url`."""
    db = open_database(url)
    try:
        await db.upgrade()
        await profile_store.seed(db, REPO / "prompts")
        await profile_store.revision(db)  # the pool's connection is open, as in a running server
        laps = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            await profile_store.revision(db)
            laps.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        await profile_store.load(db, REPO / "prompts", "example")
        reload_ms = (time.perf_counter() - t0) * 1000
    finally:
        await db.dispose()
    laps.sort()
    return statistics.median(laps), laps[int(0.99 * (len(laps) - 1))], reload_ms


async def main_async(rounds: int) -> list[str]:
    work = Path(tempfile.mkdtemp(prefix="profile-check-"))
    urls = {"SQLite (a file)": f"sqlite+aiosqlite:///{work / 'calls.db'}"}
    if os.environ.get("TEST_POSTGRES_URL"):
        urls["PostgreSQL (local)"] = os.environ["TEST_POSTGRES_URL"]
    lines = [
        START,
        "## Profile check at call set-up",
        "",
        f"{dt.date.today()}, {machine()}; `python -m benchmarks.profile_check` ({rounds} queries each).",
        "Each call's webhook asks the database for the newest profile revision before answering; only when",
        "it moved are the profiles reloaded (validated and their phrases embedded, in worker threads).",
        "",
        "| database | revision query p50 ms | p99 ms | reload of 3 profiles ms (validation only) |",
        "|---|---:|---:|---:|",
    ]
    for name, url in urls.items():
        p50, p99, reload_ms = await time_one(url, rounds)
        lines.append(f"| {name} | {p50:.2f} | {p99:.2f} | {reload_ms:.1f} |")
    return [*lines, END]


def main() -> None:
    """Time the query and print (or write) the section."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=500)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    lines = asyncio.run(main_async(args.rounds))
    print("\n".join(lines))
    if args.out:
        write_section(args.out, START, END, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
