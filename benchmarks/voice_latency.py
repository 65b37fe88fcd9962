"""Voice-to-voice latency of the embedded stack: simulated calls against a live `agent serve` process.

Writes p50/p95 per stage to BENCHMARKS.md. Run with `make bench`.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from agent.simulate import wait_until_ready
from benchmarks.report import machine, pct, write_section

REPO = Path(__file__).resolve().parent.parent
UTTERANCES = [
    "Hi, what time do you open on Saturday?",
    "Where are you located?",
    "How much is a teeth whitening?",
    "Can I speak to someone about my bill?",
    "Are you open on Sunday?",
    "I'd like to book a cleaning next week.",
]
SECTION_START = "<!-- voice-latency:start -->"
SECTION_END = "<!-- voice-latency:end -->"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_speech(out: Path) -> list[Path]:
    from agent.voice.piper import load_piper, write_wav

    voice = load_piper("embedded")
    return [write_wav(voice, text, out / f"caller{i}.wav") for i, text in enumerate(UTTERANCES)]


async def run_calls(url: str, token: str, wavs: list[Path], turns: int) -> list[dict[str, Any]]:
    from agent.simulate import place_call

    results = []
    done = 0
    call = 0
    while done < turns:
        chosen = [str(wavs[(call * 3 + i) % len(wavs)]) for i in range(3)]
        result = await place_call(url, token, chosen)
        for t in result.turns:
            results.append({"call_sid": result.call_sid, "latency_s": t.latency_s})
        done += len(result.turns)
        call += 1
    return results


async def run_concurrent(url: str, token: str, wavs: list[Path], calls: int) -> list[float]:
    """Place `calls` simultaneous two-turn calls; return every turn's voice-to-voice latency in ms."""
    from agent.simulate import place_call

    async def one(i: int) -> list[float]:
        await asyncio.sleep(i * 0.7)  # callers don't all speak on the same frame
        chosen = [str(wavs[(i + k) % len(wavs)]) for k in range(2)]
        result = await place_call(url, token, chosen, reply_timeout_s=60)
        return [t.latency_s * 1000 for t in result.turns if t.latency_s is not None]

    results = await asyncio.gather(*(one(i) for i in range(calls)))
    return [v for r in results for v in r]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=12)
    parser.add_argument("--out", default=str(REPO / "BENCHMARKS.md"))
    parser.add_argument(
        "--concurrency",
        default="1,2,3,4,6",
        help="simultaneous-call levels to measure (comma-separated; empty to skip)",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    wavs = make_speech(work)
    port = free_port()
    token = "bench-token"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLM_", "TWILIO_"))}
    env.update(
        PORT=str(port),
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        MAX_CALLS="32",
        TWILIO_AUTH_TOKEN=token,
        DATA_DIR=str(work / "data"),
        PROMPTS_DIR=str(REPO / "prompts"),
    )
    log_path = work / "server.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "agent", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        if not wait_until_ready(f"http://127.0.0.1:{port}", 90, lambda: server.poll() is None):
            print(log_path.read_text(), file=sys.stderr)
            return 1
            time.sleep(0.2)
        client = asyncio.run(run_calls(f"http://127.0.0.1:{port}", token, wavs, args.turns))
        levels = [int(x) for x in args.concurrency.split(",") if x.strip()]
        concurrent = {
            n: asyncio.run(run_concurrent(f"http://127.0.0.1:{port}", token, wavs, n)) for n in levels
        }
    finally:
        server.terminate()
        server.wait(timeout=30)
    sequential = {t["call_sid"] for t in client}
    server_turns = [
        turn
        for turn in (
            json.loads(line)
            for line in log_path.read_text().splitlines()
            if line.startswith("{") and '"turn_latency"' in line
        )
        if turn.get("call_sid") in sequential
    ]
    v2v = [t["latency_s"] * 1000 for t in client if t["latency_s"] is not None]
    rows = [("voice-to-voice, as the caller hears it", v2v)]
    for key, label in [
        ("end_of_turn_ms", "end of turn (speech end → turn decided; includes VAD stop 0.2 s)"),
        ("stt_ms", "speech to text (speech end → final transcript)"),
        ("router", "reply decided by the router from the profile, no model (after turn and transcript)"),
        ("model", "first LLM token, turns the model answered (after turn and transcript)"),
        ("tts_first_audio_ms", "first TTS audio (after the reply's first text)"),
        ("transport_ms", "server overhead (TTS audio → μ-law media sent)"),
        ("server_total_ms", "server total (speech end → first media sent)"),
    ]:
        if key in ("router", "model"):
            by = [t for t in server_turns if t.get("reply_by") == key]
            rows.append((label, [float(t["llm_first_token_ms"]) for t in by if t.get("llm_first_token_ms")]))
            continue
        rows.append((label, [float(t[key]) for t in server_turns if t.get(key) is not None]))
    model_turns = sum(1 for t in server_turns if t.get("reply_by") == "model")
    missing = sum(1 for t in client if t["latency_s"] is None)
    calls = len({t["call_sid"] for t in client})
    git = ["git", "rev-parse", "--short", "HEAD"]
    commit = subprocess.run(git, cwd=REPO, capture_output=True, text=True).stdout.strip()
    lines = [
        SECTION_START,
        "## Voice-to-voice latency, embedded stack",
        "",
        f"- Date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Machine: {machine()}",
        f"- Commit: {commit}",
        "- Stack: Whisper tiny.en int8 (streaming, LocalAgreement), Silero VAD + smart-turn v3 with the "
        "adaptive hangover, the router with WordLlama"
        + (f", SmolLM2-135M Q4_1 (llama.cpp) for {model_turns} turns" if model_turns else " (no model turns)")
        + ", Piper joe-medium; `agent serve` in its own process, `simulate-call` client.",
        f"- Turns: {len(v2v)} answered, {missing} unanswered, over {calls} calls.",
        "- Voice-to-voice: caller's last voiced 20 ms frame sent → first reply media received.",
        "",
        "| stage | p50 ms | p95 ms | n |",
        "|---|---:|---:|---:|",
    ]
    for label, values in rows:
        if values:
            p50, p95 = statistics.median(values), pct(values, 0.95)
            lines.append(f"| {label} | {p50:.0f} | {p95:.0f} | {len(values)} |")
    lines += ["", "Targets (issue 2): voice-to-voice p50 ≤ 1000 ms; server overhead p95 ≤ 20 ms.", ""]
    if concurrent:
        lines += [
            "### Simultaneous calls on this machine",
            "",
            "Each level places N two-turn calls at once (starts 0.7 s apart) against the same process.",
            "",
            "| calls | voice-to-voice p50 ms | p95 ms | turns answered |",
            "|---:|---:|---:|---:|",
        ]
        for n, values in concurrent.items():
            if values:
                lines.append(
                    f"| {n} | {statistics.median(values):.0f} | {pct(values, 0.95):.0f} | "
                    f"{len(values)}/{2 * n} |"
                )
            else:
                lines.append(f"| {n} | – | – | 0/{2 * n} |")
        lines.append("")
    lines.append(SECTION_END)
    section = "\n".join(lines) + "\n"
    write_section(Path(args.out), SECTION_START, SECTION_END, section)
    print(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
