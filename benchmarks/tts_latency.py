"""Time from a reply's first text token to its first μ-law frame ready to send: Piper vs XTTS on this CPU.

Each reply streams word by word (as an LLM would, one token every `--token-ms`) through the voice's
TTS service and the real Twilio output transport; the clock starts when the first token enters the
pipeline and stops when the transport hands its first `media` message to the socket. XTTS is the tiny
random-weight model the tests build (2-layer GPT, full-size HiFi-GAN decoder and speaker encoder)
unless `--xtts-dir` names a real checkpoint. Then 1 and 2 replicas of that XTTS in an `XttsPool`, as threads
and as worker processes, with 1, 2 and 4 calls each speaking a sentence at once: queue wait, first chunk and
real-time factor (`benchmarks/xtts_pool.py`).
Prints a section of BENCHMARKS.md and, with `--out BENCHMARKS.md` (`make bench-tts`), writes it there.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from pipecat.frames.frames import Frame, LLMFullResponseEndFrame, LLMFullResponseStartFrame, LLMTextFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.services.tts_service import TTSService
from pipecat.tests.utils import SleepFrame, run_test

from agent.telephony.transport import TwilioOutput
from agent.voice.piper import PiperTTSService, load_piper
from agent.voice.pool import XttsPool
from agent.voice.xtts import FIRST_CHUNK_TOKENS, Latents, compute_latents, load_xtts
from agent.voice.xtts_service import ClonedVoice, XttsTTSService
from benchmarks import xtts_pool
from benchmarks.report import machine, pct, write_section

REPLIES = [
    "Sure, we open at nine on Saturdays and close at one.",
    "Of course. Can I take your name and number, please?",
    "We're at 12 Main Street, next to the pharmacy.",
    "Let me check that for you. Dr. Lee is in on Tuesday.",
    "Thanks for calling, have a great day!",
    "I'm sorry, she's with a patient right now. Can I take a message?",
]
SECTION_START = "<!-- tts-latency:start -->"
SECTION_END = "<!-- tts-latency:end -->"


class _FirstToken(FrameProcessor):
    """Notes when the reply's first text token entered the pipeline."""

    def __init__(self) -> None:
        super().__init__(name="first-token")
        self.at: float | None = None

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMTextFrame) and self.at is None:
            self.at = time.perf_counter()
        await self.push_frame(frame, direction)


def tokens(text: str) -> list[str]:
    """The reply as an LLM streams it: one word (with its trailing space) per token."""
    words = text.split(" ")
    return [w + " " for w in words[:-1]] + [words[-1]]


async def one_reply(tts: TTSService, text: str, token_s: float) -> tuple[float, float]:
    """Stream `text` through `tts` and the Twilio output.

    Returns seconds from the first token to the first media message, and from the first clause's
    hand-off to the voice to that message.
    """
    first_media: list[float] = []
    requested: list[float] = []

    @tts.event_handler("on_tts_request")
    async def _requested(_tts: TTSService, _context_id: str, _text: str) -> None:
        requested.append(time.perf_counter())

    async def send(message: str) -> None:
        if not first_media and json.loads(message).get("event") == "media":
            first_media.append(time.perf_counter())

    stamp = _FirstToken()
    frames: list[Frame] = [LLMFullResponseStartFrame()]
    for token in tokens(text):
        frames += [LLMTextFrame(token), SleepFrame(sleep=token_s)]
    frames += [LLMFullResponseEndFrame(), SleepFrame(sleep=0.3)]
    pipeline = Pipeline([stamp, tts, TwilioOutput(send, "MZbench")])
    await run_test(pipeline, frames_to_send=frames)
    if stamp.at is None or not first_media or not requested:
        raise RuntimeError(f"no audio for {text!r}")
    return first_media[0] - stamp.at, first_media[0] - requested[0]


async def measure(make: Any, replies: int, token_s: float) -> list[tuple[float, float]]:
    """Warm up once, then time `replies` replies, each through a fresh service from `make()`."""
    await one_reply(make(), REPLIES[0], token_s)
    return [await one_reply(make(), REPLIES[i % len(REPLIES)], token_s) for i in range(replies)]


def xtts_checkpoint(model_dir: Path | None, work: Path) -> tuple[Path, str]:
    """The checkpoint to time and its label: a real one, or the tests' tiny one built into `work`."""
    if model_dir is not None:
        return model_dir, "XTTS-v2 checkpoint"
    from tests.voice.tiny_xtts import build_tiny_xtts, tiny_args

    label = f"tiny XTTS ({tiny_args().gpt_layers}-layer GPT, full HiFi-GAN)"
    return build_tiny_xtts(work / "tiny-xtts"), label


def bench_latents(model: Any) -> Latents:
    """Latents of a 6 s voiced-sounding tone (their values don't change the cost)."""
    rate = 16000
    t = np.arange(rate * 6) / rate
    clip = (0.1 * np.sin(2 * np.pi * 150 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    return compute_latents(model, [(clip, rate)])


def ints(text: str) -> list[int]:
    """A comma-separated list of numbers ("1,2,4") as integers."""
    return [int(x) for x in text.split(",") if x]


def render(
    results: dict[str, list[tuple[float, float]]], token_ms: float, replies: int, pool: list[str]
) -> str:
    """Format the section."""
    lines = [
        SECTION_START,
        "## Voice: first text token to first μ-law frame (issue 4)",
        "",
        f"Run {dt.date.today().isoformat()} on {machine()}; `make bench-tts`.",
        f"{replies} replies per voice, streamed one word every {token_ms:.0f} ms through the TTS service",
        "(clause-first chunker) and the Twilio output transport, each after one warm-up reply. XTTS",
        f"first chunk: {FIRST_CHUNK_TOKENS} GPT tokens. The tiny XTTS has random weights: its GPT is tiny,",
        "but its HiFi-GAN decoder is full size, so the decoder's share of the time is the real one.",
        '"First clause" starts when the chunker hands the first clause to the voice (the rest is waiting',
        "for its words).",
        "",
        "| voice | first token → first frame p50 | p95 | mean | first clause → first frame p50 | p95 |",
        "|---|---|---|---|---|---|",
    ]
    for name, pairs in results.items():
        total = [t for t, _ in pairs]
        voice = [v for _, v in pairs]
        lines.append(
            f"| {name} | {pct(total, 0.5) * 1000:.0f} ms | {pct(total, 0.95) * 1000:.0f} ms"
            f" | {statistics.mean(total) * 1000:.0f} ms | {pct(voice, 0.5) * 1000:.0f} ms"
            f" | {pct(voice, 0.95) * 1000:.0f} ms |"
        )
    lines += ["", *pool, "", SECTION_END, ""]
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> str:
    """Time each voice and return the section."""
    token_s = args.token_ms / 1000
    piper = load_piper("embedded")
    results: dict[str, list[tuple[float, float]]] = {}
    results["Piper (embedded Joe)"] = await measure(lambda: PiperTTSService(piper), args.replies, token_s)
    with tempfile.TemporaryDirectory(prefix="bench-tts-") as work:
        model_dir, label = xtts_checkpoint(Path(args.xtts_dir) if args.xtts_dir else None, Path(work))
        model = load_xtts(model_dir)
        latents = bench_latents(model)
        voice = ClonedVoice("bench", ("en",), latents, XttsPool([model]))
        results[f"{label}, CPU"] = await measure(
            lambda: XttsTTSService(voice, piper, call_id="bench", sample_rate=8000), args.replies, token_s
        )
        voice.pool.close()
        replicas = ints(args.pool_replicas)
        models = [model] + [load_xtts(model_dir) for _ in range(max(replicas, default=1) - 1)]
        runs = [
            await xtts_pool.measure(models[:n], calls, latents, args.pool_rounds)
            for n in replicas
            for calls in ints(args.pool_calls)
        ]
        if args.pool_processes:
            for n in replicas:
                workers = xtts_pool.start_workers(model_dir, n)
                try:
                    runs += [
                        await xtts_pool.measure(workers, calls, latents, args.pool_rounds)
                        for calls in ints(args.pool_calls)
                    ]
                finally:
                    for worker in workers:
                        worker.close()
    pool = xtts_pool.render(runs, args.pool_rounds, f"{label}, CPU") if runs else []
    return render(results, args.token_ms, args.replies, pool)


def main() -> int:
    """Run the benchmark, print its section of BENCHMARKS.md and write it to `--out`."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="", help="write the section into this file (BENCHMARKS.md)")
    parser.add_argument("--replies", type=int, default=12)
    parser.add_argument("--token-ms", type=float, default=20.0, help="LLM token interval")
    parser.add_argument("--xtts-dir", default="", help="a real XTTS-v2 checkpoint (default: the tiny one)")
    parser.add_argument("--pool-replicas", default="1,2", help="XttsPool sizes to time ('' skips the pool)")
    parser.add_argument("--pool-calls", default="1,2,4", help="simultaneous calls on each pool")
    parser.add_argument("--pool-rounds", type=int, default=4, help="rounds of simultaneous calls per row")
    parser.add_argument(
        "--no-pool-processes",
        dest="pool_processes",
        action="store_false",
        help="time the pool's replicas in threads only, not also as worker processes",
    )
    args = parser.parse_args()
    section = asyncio.run(run(args))
    if args.out:
        write_section(Path(args.out), SECTION_START, SECTION_END, section)
    print(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
