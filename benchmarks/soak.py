"""Memory over a working day: whole calls against one `agent serve` process, placed from outside.

After warm-up calls, places calls one at a time and then several at once, and after each batch samples the
server's resident memory, open file descriptors and threads (from /proc) and its asyncio tasks (from
/metrics). Writes the growth after warm-up to BENCHMARKS.md. Run with `make soak`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from benchmarks.report import machine, write_section
from benchmarks.server_process import REPO, Served, agent_serve

SECTION_START = "<!-- soak:start -->"
SECTION_END = "<!-- soak:end -->"
METRICS_TOKEN = "soak-metrics"
LINES = [
    "Hi, what time do you open on Saturday?",
    "Where are you located?",
    "How much is a teeth whitening?",
    "Do you take insurance?",
]


@dataclass(frozen=True)
class Sample:
    """The server process after `calls` calls had ended."""

    calls: int
    rss_mb: float
    fds: int
    threads: int
    tasks: int
    # resident kB per mapping (a file's path, [heap], or an anonymous one's address)
    mappings: dict[str, int] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class SoakResult:
    """Samples after warm-up and after each batch; growth is measured from the first."""

    samples: list[Sample]
    seconds: float

    @property
    def growth(self) -> float:
        """Resident memory at the end over after warm-up, minus one (0.05 is 5 % growth)."""
        return self.samples[-1].rss_mb / self.samples[0].rss_mb - 1

    @property
    def mb_per_call(self) -> float:
        """The least-squares slope of resident memory over calls after warm-up."""
        xs = [s.calls for s in self.samples]
        if len(set(xs)) < 2:
            return 0.0
        return float(statistics.linear_regression(xs, [s.rss_mb for s in self.samples]).slope)


def metrics_text(served: Served) -> str:
    """The server's /metrics page (it runs with METRICS_TOKEN)."""
    request = urllib.request.Request(
        f"{served.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=5) as r:
        return str(r.read().decode())


def resident_by_mapping(pid: int) -> dict[str, int]:
    """Resident kB of each mapping in /proc/PID/smaps: a file's mappings summed under its path, [heap] and
    the like by name, and an anonymous mapping under its start address."""
    out: dict[str, int] = {}
    key = ""
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split(maxsplit=5)
        if len(head) >= 5 and "-" in head[0] and ":" in head[3]:  # a mapping's header line
            key = head[5] if len(head) == 6 else "anon@" + head[0].split("-")[0]
        elif line.startswith("Rss:"):
            out[key] = out.get(key, 0) + int(line.split()[1])
    return out


def where_it_grew(before: Sample, after: Sample, top: int = 6) -> str:
    """The mappings whose resident memory grew most from `before` to `after`, as one line."""
    grown = {k: v - before.mappings.get(k, 0) for k, v in after.mappings.items()}
    gone = sum(v for k, v in before.mappings.items() if k not in after.mappings)
    biggest = sorted(grown.items(), key=lambda kv: -kv[1])[:top]
    parts = [f"{k} {v / 1024:+.0f} MB" + (" (new)" if k not in before.mappings else "") for k, v in biggest]
    return "; ".join(parts) + f"; mappings gone since: {gone / 1024:.0f} MB"


def sample(served: Served, calls: int) -> Sample:
    """Read the server process's memory, descriptors and threads from /proc, its tasks from /metrics."""
    pid = served.process.pid
    status = Path(f"/proc/{pid}/status").read_text()
    rss = re.search(r"VmRSS:\s+(\d+) kB", status)
    threads = re.search(r"Threads:\s+(\d+)", status)
    tasks = re.search(r"^agent_asyncio_tasks (\d+)", metrics_text(served), re.M)
    return Sample(
        calls=calls,
        rss_mb=int(rss.group(1)) / 1024 if rss else 0.0,
        fds=len(os.listdir(f"/proc/{pid}/fd")),
        threads=int(threads.group(1)) if threads else 0,
        tasks=int(tasks.group(1)) if tasks else -1,
        mappings=resident_by_mapping(pid),
    )


def loop_lag_p99_ms(served: Served) -> float | None:
    """The server's event-loop lag at the 99th percentile since it started (the upper edge of the
    histogram bucket it falls in, in ms), from /metrics; None before any sample."""
    text = metrics_text(served)
    buckets = [
        (float(le), float(n))
        for le, n in re.findall(r'^agent_event_loop_lag_seconds_bucket\{le="([^"]+)"\} (\S+)', text, re.M)
    ]
    total = buckets[-1][1] if buckets else 0.0
    if not total:
        return None
    return next(le * 1000 for le, n in buckets if n >= 0.99 * total)


async def settle(served: Served, timeout_s: float = 30.0) -> None:
    """Wait until the server reports no live calls (each call's cleanup has finished), then a moment."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{served.url}/healthz", timeout=5) as r:
            if b'"live_calls": 0' in r.read():
                break
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)


async def soak(
    served: Served,
    wavs: list[Path],
    calls: int,
    at_once: int,
    warmup: int,
    every: int,
    sequential: bool = True,
    warm_at_once: bool = False,
) -> SoakResult:
    """Place `warmup` calls, then half the rest one at a time (unless not `sequential`) and the others
    `at_once` at a time, sampling after about every `every` calls."""
    from agent.simulate import place_call

    async def one(i: int) -> None:
        await place_call(served.url, served.token, [str(wavs[i % len(wavs)])], reply_timeout_s=60)

    step = at_once if warm_at_once else 1  # warm up the way the calls will come
    for i in range(0, warmup, step):
        await asyncio.gather(*(one(i + k) for k in range(min(step, warmup - i))))
    await settle(served)
    started = time.monotonic()
    samples = [sample(served, warmup)]
    placed, sequential_until = warmup, warmup + ((calls - warmup) // 2 if sequential else 0)
    while placed < calls:
        n = 1 if placed < sequential_until else min(at_once, calls - placed)
        await asyncio.gather(*(one(placed + k) for k in range(n)))
        placed += n
        if placed >= calls or (placed - warmup) // every != (placed - n - warmup) // every:
            await settle(served)
            samples.append(sample(served, placed))
            last = samples[-1]
            print(
                f"after {last.calls} calls: {last.rss_mb:.0f} MB, {last.threads} threads; grew in "
                f"{where_it_grew(samples[-2], last, top=3)}",
                flush=True,
            )
    return SoakResult(samples, time.monotonic() - started)


def brief_prompts(work: Path) -> Path:
    """A copy of prompts/ whose example business greets and closes in a few words: a call still runs
    through every stage (VAD, turn, Whisper, router, Piper, recording) in a few seconds."""
    out = work / "prompts"
    shutil.copytree(REPO / "prompts", out)
    path = out / "businesses" / "example.yaml"
    data = yaml.safe_load(path.read_text())
    data.update(greeting="Harbor Dental, hi.", ai_disclosure="I'm a bot.", closing="Bye.")
    path.write_text(yaml.safe_dump(data))
    return out


def make_speech(out: Path) -> list[Path]:
    """The caller's lines as WAVs in the stock Piper voice, without its random noise."""
    from piper import SynthesisConfig

    from agent.voice.piper import load_piper, write_wav

    voice, steady = load_piper("embedded"), SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    return [write_wav(voice, text, out / f"caller{i}.wav", steady) for i, text in enumerate(LINES)]


def report(
    result: SoakResult, calls: int, at_once: int, warmup: int, only_at_once: bool = False
) -> list[str]:
    """The soak as a BENCHMARKS.md section."""
    first, last = result.samples[0], result.samples[-1]
    placed = (
        f"{warmup} to warm up and all the rest, {at_once} at a time"
        if only_at_once
        else f"{warmup} to warm up, then {(calls - warmup) // 2} one at a time "
        f"and the rest {at_once} at a time"
    )
    lines = [
        SECTION_START,
        "## Memory over a working day (`make soak`)",
        "",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; machine: {machine()}.",
        f"- {calls} one-question calls (Harbor Dental, with a greeting of a few words) against one "
        f"`agent serve` process from a separate one: {placed} ({result.seconds / 60:.0f} min after warm-up).",
        f"- **Resident memory after warm-up {first.rss_mb:.0f} MB, at the end {last.rss_mb:.0f} MB: "
        f"{100 * result.growth:+.1f} %** ({result.mb_per_call:+.2f} MB per call, least squares). "
        "Target: < 5 %.",
        "",
        "| after calls | resident MB | open fds | threads | asyncio tasks |",
        "|---:|---:|---:|---:|---:|",
    ]
    lines += [f"| {s.calls} | {s.rss_mb:.0f} | {s.fds} | {s.threads} | {s.tasks} |" for s in result.samples]
    samples = result.samples
    if len(samples) > 1:
        jump = max(range(1, len(samples)), key=lambda i: samples[i].rss_mb - samples[i - 1].rss_mb)
        lines += [
            "",
            "Where resident memory grew, by mapping (/proc/PID/smaps; anonymous mappings by start address):",
            f"- after warm-up to the end: {where_it_grew(samples[0], samples[-1])}.",
            f"- the biggest step, calls {samples[jump - 1].calls} to {samples[jump].calls} "
            f"({samples[jump].rss_mb - samples[jump - 1].rss_mb:+.0f} MB): "
            f"{where_it_grew(samples[jump - 1], samples[jump])}.",
        ]
    return [*lines, "", SECTION_END]


def main() -> None:
    """Run the soak and print (or write into BENCHMARKS.md) its report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--at-once", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=8)
    parser.add_argument("--every", type=int, default=20, help="sample after about this many calls")
    parser.add_argument(
        "--only-at-once", action="store_true", help="warm up and place every call --at-once at a time"
    )
    parser.add_argument("--out", type=Path, help="write the report into this markdown file's section")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="soak-"))
    wavs = make_speech(work)
    env = {
        "METRICS_TOKEN": METRICS_TOKEN,
        "MAX_CALLS": str(max(4, args.at_once)),
        "PROMPTS_DIR": str(brief_prompts(work)),
    }
    with agent_serve(work, env) as served:
        result = asyncio.run(
            soak(
                served,
                wavs,
                args.calls,
                args.at_once,
                args.warmup,
                args.every,
                sequential=not args.only_at_once,
                warm_at_once=args.only_at_once,
            )
        )
    lines = report(result, args.calls, args.at_once, args.warmup, args.only_at_once)
    print("\n".join(lines))
    if args.out:
        write_section(args.out, SECTION_START, SECTION_END, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
