"""Where the time goes as calls add up: each stage's latency at 1, 2, 3 and 4 simultaneous calls.

Whole calls from this process against `agent serve` in its own, callers alternating between espeak-ng voices
and the stock Piper voice. At each level, 12 two-turn calls in rounds of N, starting 0.7 s apart. Per level it
reports the caller's voice-to-voice latency, the server's own split of each turn (from its `turn_latency`
log lines), the event loop's lag (from /metrics, before and after the level), how busy the shared Whisper
decode thread was, and the server process's CPU use (from /proc). With `--profile`, py-spy samples the
server during the top level and the report lists where its threads spent the time.
`python -m benchmarks.load_stages [--profile]`.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from agent.calibrate import place_rounds
from benchmarks.report import machine, pct, write_section
from benchmarks.server_process import REPO, Served, agent_serve
from benchmarks.soak import METRICS_TOKEN, brief_prompts, settle
from benchmarks.soak import metrics_text as scrape
from benchmarks.turn_taking import ESPEAK_VOICES

SECTION_START = "<!-- load-stages:start -->"
SECTION_END = "<!-- load-stages:end -->"
LINES = (
    "What time do you open on Saturday?",
    "Where are you located?",
    "How much is a teeth whitening?",
    "Can I speak to someone about my bill?",
    "Are you open on Sunday?",
    "I'd like to book a cleaning next week.",
)
STAGES = (
    ("end_of_turn_ms", "end of turn"),
    ("stt_ms", "final transcript"),
    ("llm_first_token_ms", "reply text"),
    ("tts_first_audio_ms", "first TTS audio"),
    ("transport_ms", "transport"),
    ("server_total_ms", "server total"),
)


@dataclass
class Level:
    """Everything measured while N calls ran at once."""

    calls: int
    wall_s: float
    voice_to_voice_ms: list[float] = field(default_factory=list)
    by_family: dict[str, list[float]] = field(default_factory=dict)  # voice-to-voice per caller voice family
    unanswered: int = 0
    stages: dict[str, list[float]] = field(default_factory=dict)
    lag_ticks: list[tuple[float, float]] = field(default_factory=list)  # (bucket edge s, ticks) this level
    whisper_busy_s: float = 0.0
    cpu_s: float = 0.0


def make_speech(out: Path) -> dict[str, list[Path]]:
    """Each line in espeak-ng (voices in turn) and in the stock Piper voice, as WAVs."""
    from piper import SynthesisConfig

    from agent.voice.piper import load_piper, write_wav

    out.mkdir(parents=True, exist_ok=True)
    voice, steady = load_piper("embedded"), SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    speech: dict[str, list[Path]] = {"espeak-ng": [], "piper": []}
    for i, text in enumerate(LINES):
        path = out / f"espeak{i}.wav"
        voice_name = ESPEAK_VOICES[i % len(ESPEAK_VOICES)]
        subprocess.run(["espeak-ng", "-v", voice_name, "-s", "165", "-w", str(path), text], check=True)
        speech["espeak-ng"].append(path)
        speech["piper"].append(write_wav(voice, text, out / f"piper{i}.wav", steady))
    return speech


def lag_buckets(text: str) -> list[tuple[float, float]]:
    """The loop-lag histogram's cumulative buckets (upper edge in seconds, ticks), +Inf last."""
    pattern = r'^agent_event_loop_lag_seconds_bucket\{le="([^"]+)"\} (\S+)'
    return [(float(le), float(n)) for le, n in re.findall(pattern, text, re.M)]


def whisper_busy(text: str) -> float:
    """Seconds the shared Whisper decode thread has run model passes."""
    found = re.search(r'^agent_model_busy_seconds\{model="whisper"\} (\S+)', text, re.M)
    return float(found.group(1)) if found else 0.0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds the process has used, all threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def lag_quantile_ms(ticks: list[tuple[float, float]], q: float) -> float | None:
    """The upper edge (ms) of the bucket holding quantile `q` of the ticks (None without ticks)."""
    total = ticks[-1][1] if ticks else 0.0
    if not total:
        return None
    return next(le * 1000 for le, n in ticks if n >= q * total)


def server_turns(log: Path, call_sids: set[str]) -> list[dict[str, object]]:
    """The server's `turn_latency` lines for these calls."""
    turns = []
    for line in log.read_text().splitlines():
        if line.startswith("{") and '"turn_latency"' in line:
            event = json.loads(line)
            if event.get("call_sid") in call_sids:
                turns.append(event)
    return turns


async def run_level(served: Served, speech: dict[str, list[Path]], calls: int, total: int) -> Level:
    """`total` two-turn calls in rounds of `calls` starting 0.7 s apart; measure the level from both sides."""
    await settle(served)
    before, cpu0, t0 = scrape(served), cpu_seconds(served.process.pid), time.monotonic()
    level = Level(calls=calls, wall_s=0.0)

    def family(r: int, i: int) -> str:
        return ("espeak-ng", "piper")[(r + i) % 2]

    def pick(r: int, i: int) -> list[str]:
        wavs = speech[family(r, i)]
        return [str(wavs[(r * calls + i + k) % len(wavs)]) for k in range(2)]

    placed = await place_rounds(served, calls, total, pick)
    sids = {result.call_sid for _, _, result in placed}
    for r, i, result in placed:
        for heard in result.turns:
            if heard.latency_s is None:
                level.unanswered += 1
            else:
                level.voice_to_voice_ms.append(heard.latency_s * 1000)
                level.by_family.setdefault(family(r, i), []).append(heard.latency_s * 1000)

    await settle(served)
    after = scrape(served)
    level.wall_s = time.monotonic() - t0
    level.cpu_s = cpu_seconds(served.process.pid) - cpu0
    level.whisper_busy_s = whisper_busy(after) - whisper_busy(before)
    level.lag_ticks = [
        (le, n - m) for (le, n), (_, m) in zip(lag_buckets(after), lag_buckets(before), strict=True)
    ]
    for turn in server_turns(served.log, sids):
        for key, _label in STAGES:
            value = turn.get(key)
            if isinstance(value, int | float):
                level.stages.setdefault(key, []).append(float(value))
    return level


def start_profile(pid: int, seconds: int, out: Path, gil: bool) -> subprocess.Popen[bytes]:
    """py-spy sampling every active thread of `pid` (or only the one holding the GIL) for `seconds`."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    command = [py_spy, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "100"]
    command += ["--format", "raw", "--threads", "--nonblocking", "--output", str(out)]
    return subprocess.Popen(command + (["--gil"] if gil else []), stdout=subprocess.DEVNULL)


def summarize_profile(raw: Path, top: int = 10) -> tuple[int, Counter[str], Counter[str]]:
    """Samples in all, samples per thread, and samples per innermost frame of our code or a library's."""
    threads: Counter[str] = Counter()
    frames: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        parts = stack.split(";")
        named = re.match(r"thread \(\w+\): (.+)", parts[0])  # py-spy's "thread (TID): NAME" root
        name = named.group(1) if named else "?"
        threads[re.sub(r"\d+", "N", name)] += n
        frames[innermost(parts)] += n
    return total, threads, frames


def innermost(parts: list[str]) -> str:
    """The last frame of a stack that is a named function in a file (py-spy's `fn (file:line)`), shortened."""
    for part in reversed(parts):
        found = re.match(r"(.+) \((.+?)(?::\d+)?\)$", part)
        if found and not part.startswith(("thread ", "process ")):
            fn, path = found.groups()
            short = re.sub(r".*/(site-packages|lib/python3\.\d+)/", "", path)
            short = re.sub(r".*/(agent|benchmarks)/", r"\1/", short)
            return f"{fn} ({short})"
    return "?"


def report(
    levels: list[Level], profile: dict[str, tuple[int, Counter[str], Counter[str]]], calls: int
) -> str:
    """The section for BENCHMARKS.md."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    cores = os.cpu_count() or 1
    lines = [
        SECTION_START,
        "## Where the time goes as calls add up (`python -m benchmarks.load_stages`)",
        "",
        f"- Date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}; commit {commit}",
        f"- Machine: {machine()}",
        "- Stack: Whisper tiny.en int8 (streaming), Silero VAD + smart-turn v3, the router with WordLlama "
        "(no model turns), Piper joe-medium; `agent serve` in its own process.",
        f"- Each level: {calls} two-turn calls in rounds of N starting 0.7 s apart; callers alternate: "
        "espeak-ng voices and the stock Piper voice. Voice-to-voice is the caller's clock (last voiced frame "
        "sent → first reply audio received); the stages are the server's own split of each turn (ms).",
        "",
        "| calls | voice-to-voice p50 | p95 | × 1 call (p50) | "
        + " | ".join(f"{label} p50 / p95" for _k, label in STAGES)
        + " | espeak-ng callers p50 | Piper callers p50 | turns answered |",
        "|---:|---:|---:|---:|" + "---:|" * len(STAGES) + "---:|---:|---:|",
    ]
    base = statistics.median(levels[0].voice_to_voice_ms) if levels and levels[0].voice_to_voice_ms else None
    for lv in levels:
        v2v = lv.voice_to_voice_ms
        cells = [str(lv.calls)]
        if v2v:
            p50 = statistics.median(v2v)
            cells += [f"{p50:.0f}", f"{pct(v2v, 0.95):.0f}", f"{p50 / base:.2f}" if base else "–"]
        else:
            cells += ["–", "–", "–"]
        for key, _label in STAGES:
            values = lv.stages.get(key, [])
            cells.append(f"{statistics.median(values):.0f} / {pct(values, 0.95):.0f}" if values else "–")
        for family in ("espeak-ng", "piper"):
            heard = lv.by_family.get(family, [])
            cells.append(f"{statistics.median(heard):.0f} ({len(heard)})" if heard else "–")
        answered = len(v2v)
        cells.append(f"{answered}/{answered + lv.unanswered}")
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "| calls | wall s | server CPU (of the machine's cores) | Whisper decode thread busy | "
        "loop lag p99 (bucket edge) | ticks later than 20 ms |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for lv in levels:
        ticks = lv.lag_ticks[-1][1] if lv.lag_ticks else 0.0
        over = ticks - next((n for le, n in lv.lag_ticks if le >= 0.02), ticks)
        p99 = lag_quantile_ms(lv.lag_ticks, 0.99)
        lines.append(
            f"| {lv.calls} | {lv.wall_s:.0f} | {100 * lv.cpu_s / lv.wall_s / cores:.0f} % | "
            f"{100 * lv.whisper_busy_s / lv.wall_s:.0f} % | "
            f"{'–' if p99 is None else f'≤ {p99:.0f} ms'} | {over:.0f} of {ticks:.0f} |"
        )
    for kind, (total, threads, frames) in profile.items():
        lines += [
            "",
            f"### py-spy during the {levels[-1].calls}-call level: {kind} ({total} samples at 100 Hz)",
            "",
            "| thread | share |",
            "|---|---:|",
        ]
        lines += [f"| {name} | {100 * n / total:.0f} % |" for name, n in threads.most_common(8)]
        lines += ["", "| innermost frame | share |", "|---|---:|"]
        lines += [f"| `{name}` | {100 * n / total:.0f} % |" for name, n in frames.most_common(12)]
    lines += ["", SECTION_END]
    return "\n".join(lines) + "\n"


async def measure(
    served: Served, speech: dict[str, list[Path]], levels: list[int], calls: int
) -> list[Level]:
    """Warm the server with one call, then run each level in turn."""
    from agent.simulate import place_call

    await place_call(served.url, served.token, [str(speech["piper"][0])], reply_timeout_s=60)
    return [await run_level(served, speech, n, calls) for n in levels]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--levels", default="1,2,3,4", help="simultaneous calls per level, comma-separated")
    parser.add_argument(
        "--calls", type=int, default=12, help="calls placed at each level (in rounds of N at once)"
    )
    parser.add_argument("--profile", action="store_true", help="py-spy the server during the top level")
    parser.add_argument("--out", default=str(REPO / "BENCHMARKS.md"))
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    work = Path(tempfile.mkdtemp(prefix="load-stages-"))
    speech = make_speech(work / "speech")
    env = {"METRICS_TOKEN": METRICS_TOKEN, "MAX_CALLS": "32", "PROMPTS_DIR": str(brief_prompts(work))}
    profile: dict[str, tuple[int, Counter[str], Counter[str]]] = {}
    with agent_serve(work, env) as served:
        measured = asyncio.run(measure(served, speech, levels[:-1], args.calls))
        spies: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
        if args.profile:
            seconds = 12 * math.ceil(args.calls / levels[-1])
            for kind, gil in (("every active thread", False), ("the thread holding the GIL", True)):
                out = work / f"profile-{gil}.txt"
                spies[kind] = (start_profile(served.process.pid, seconds, out, gil), out)
        measured.append(asyncio.run(run_level(served, speech, levels[-1], args.calls)))
        for kind, (spy, out) in spies.items():
            spy.wait(timeout=120)
            if out.exists():
                profile[kind] = summarize_profile(out)
    section = report(measured, profile, args.calls)
    write_section(Path(args.out), SECTION_START, SECTION_END, section)
    print(section)


if __name__ == "__main__":
    main()
