"""Streaming vs segmented Whisper on the same phone-band caller audio, plus concurrency and barge-in.

Measures, in one run on this machine: the delay from the VAD's stop to the final transcript for the
streaming service and for a segmented decode of the same utterance; the per-decode CPU floor with
Whisper's 30 s window and with our short window; how many callers one process keeps up with; and
how fast a barge-in clears the agent. Writes a section of BENCHMARKS.md. Run with `make bench-stt`.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from pipecat.frames.frames import (
    Frame,
    InputAudioRawFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.tests.utils import SleepFrame, run_test

from agent.models import Models
from agent.speech import decoder
from agent.speech.stt import WhisperSTTService
from agent.speech.whisper import transcribe
from agent.voice.piper import write_wav
from benchmarks.report import write_section
from benchmarks.voice_latency import REPO, machine, pct

UTTERANCES = [
    "Hi, what time do you open on Saturday?",
    "Where are you located?",
    "Can I speak to someone about my bill?",
    "I'd like to book a cleaning for next Tuesday afternoon.",
    "My number is six one seven, five five five, zero one four two.",
    "This is Maria Gonzalez, I'm calling about my appointment on March third.",
    "Do you take Cigna insurance?",
    "Please tell Doctor Lee that I need to reschedule.",
]
SECTION_START = "<!-- stt-streaming:start -->"
SECTION_END = "<!-- stt-streaming:end -->"
STOP_SECS = 0.2
FRAME_BYTES = 640  # 20 ms of 16 kHz 16-bit


class _Clock(FrameProcessor):
    """Notes when the VAD stop passed and when each final transcript came out of the STT service."""

    def __init__(self) -> None:
        super().__init__(name="clock")
        self.stops: list[float] = []
        self.finals: list[tuple[float, str]] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, VADUserStoppedSpeakingFrame):
            self.stops.append(time.monotonic())
        elif isinstance(frame, TranscriptionFrame):
            self.finals.append((time.monotonic(), frame.text))
        await self.push_frame(frame, direction)


def phone_pcm(models: Models, text: str) -> bytes:
    """Piper speech sent through the 8 kHz μ-law phone path, as the server receives it (16 kHz PCM)."""
    from agent.simulate import read_wav_as_ulaw, ulaw_to_pcm16k

    with tempfile.NamedTemporaryFile(suffix=".wav") as f:
        return ulaw_to_pcm16k(read_wav_as_ulaw(write_wav(models.piper, text, f.name)))


def caller_frames(pcms: list[bytes]) -> list[Frame]:
    """Utterances as the pipeline delivers them: VAD start, 20 ms audio in real time, VAD stop, a pause."""
    frames: list[Frame] = []
    for pcm in pcms:
        frames.append(VADUserStartedSpeakingFrame(start_secs=0.2, timestamp=time.time()))
        audio = pcm + bytes(int(16000 * STOP_SECS) * 2)
        for i in range(0, len(audio), FRAME_BYTES):
            frames.append(
                InputAudioRawFrame(audio=audio[i : i + FRAME_BYTES], sample_rate=16000, num_channels=1)
            )
            frames.append(SleepFrame(sleep=0.02))
        frames.append(VADUserStoppedSpeakingFrame(stop_secs=STOP_SECS, timestamp=time.time()))
        frames.append(SleepFrame(sleep=1.2))
    return frames


async def stream_caller(models: Models, pcms: list[bytes], vocabulary: str) -> list[tuple[float, str]]:
    """Run utterances through the streaming service in real time; return (seconds after VAD stop, text)."""
    clock = _Clock()
    stt = WhisperSTTService(models.stt, vocabulary=vocabulary)
    await run_test(Pipeline([stt, clock]), frames_to_send=caller_frames(pcms))
    out = []
    for stop in clock.stops:
        after = [(t - stop, text) for t, text in clock.finals if t >= stop]
        if after:
            out.append(after[0])
    return out


def segmented_delay(models: Models, pcm: bytes, vocabulary: str) -> tuple[float, str]:
    """What a segmented service adds after the VAD stop: one faster-whisper decode of the whole utterance."""
    t0 = time.perf_counter()
    text = transcribe(models.whisper, pcm + bytes(int(16000 * STOP_SECS) * 2), prompt=vocabulary).text
    return time.perf_counter() - t0, text


def floors(models: Models, pcms: list[bytes]) -> dict[str, float]:
    """Median single-decode cost with Whisper's 30 s window and with the short window, no contention."""
    full, short = [], []
    for pcm in pcms:
        audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        for _ in range(2):
            t0 = time.perf_counter()
            decoder.decode(models.whisper, audio, full_window=True)
            full.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            decoder.decode(models.whisper, audio)
            short.append(time.perf_counter() - t0)
    return {"full": statistics.median(full), "short": statistics.median(short)}


async def concurrency(
    models: Models, pcms: list[bytes], vocabulary: str, levels: list[int]
) -> list[dict[str, Any]]:
    """For each number of simultaneous callers, the final-transcript delays and the decoder's busy share."""
    rows = []
    for n in levels:
        queue = models.whisper_queue
        busy0, t0 = queue.busy_s, time.monotonic()
        rotated = [pcms[i % len(pcms) :] + pcms[: i % len(pcms)] for i in range(n)]
        results = await asyncio.gather(*(stream_caller(models, r[:4], vocabulary) for r in rotated))
        wall = time.monotonic() - t0
        delays = [d for caller in results for d, _ in caller]
        rows.append(
            {
                "callers": n,
                "finals": len(delays),
                "expected": 4 * n,
                "p50": pct(delays, 0.5) if delays else float("nan"),
                "p95": pct(delays, 0.95) if delays else float("nan"),
                "busy": (queue.busy_s - busy0) / wall,
            }
        )
        print(rows[-1], flush=True)
    return rows


async def barge_in_reactions(models: Models, calls: int) -> list[float]:
    """Talk over the greeting at different moments; return ms from speech onset to `clear` sent."""
    from aiohttp.test_utils import TestServer, unused_port
    from structlog.testing import capture_logs

    from agent.config import Settings
    from agent.server import create_app
    from agent.simulate import place_call

    token = "bench-token-0123456789abcdef0123"
    port = unused_port()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            host="127.0.0.1",
            port=port,
            public_base_url=f"http://127.0.0.1:{port}",
            twilio_auth_token=token,
            data_dir=Path(tmp),
            prompts_dir=REPO / "prompts",
        )
        wav = write_wav(models.piper, "Sorry, can I just ask where you are located?", Path(tmp) / "talk.wav")
        server = TestServer(create_app(settings, models), host="127.0.0.1", port=port)
        await server.start_server()
        reactions: list[float] = []
        try:
            for i in range(calls):
                with capture_logs() as logs:
                    await place_call(
                        settings.public_base_url,
                        token,
                        [str(wav)],
                        barge_in_after_s=0.6 + 0.5 * i,
                        quiet_s=0.8,
                    )
                reactions += [float(e["reaction_ms"]) for e in logs if e["event"] == "barge_in"][:1]
        finally:
            await server.close()
    return reactions


def render(
    single: list[tuple[float, float, str, str, str]],
    floor: dict[str, float],
    rows: list[dict[str, Any]],
    reactions: list[float],
) -> str:
    """Format the section."""
    streaming = [s for s, _, _, _, _ in single]
    segmented = [g for _, g, _, _, _ in single]
    lines = [
        SECTION_START,
        "## Streaming speech recognition (issue 3)",
        "",
        f"Run {dt.date.today().isoformat()} on {machine()}; `make bench-stt`.",
        f"Embedded Whisper tiny.en (int8), {len(single)} Piper utterances through 8 kHz μ-law, fed in",
        f"real time; the VAD stops {STOP_SECS} s after speech ends.",
        "",
        "**Final transcript after the VAD's stop** (add 0.2 s for after the end of speech), same audio,",
        "same run:",
        "",
        "| | p50 | p95 |",
        "|---|---|---|",
        f"| streaming (LocalAgreement, short window) | {pct(streaming, 0.5) * 1000:.0f} ms"
        f" | {pct(streaming, 0.95) * 1000:.0f} ms |",
        f"| segmented (one faster-whisper decode at VAD stop) | {pct(segmented, 0.5) * 1000:.0f} ms"
        f" | {pct(segmented, 0.95) * 1000:.0f} ms |",
        "",
        "Decode floor, median of one decode per utterance: Whisper's 30 s window"
        f" {floor['full'] * 1000:.0f} ms; our window (audio + 1 s, at least 10 s)"
        f" {floor['short'] * 1000:.0f} ms.",
        "",
        "| utterance | streaming | segmented | streaming final | segmented final |",
        "|---|---|---|---|---|",
    ]
    for s, g, ref, text_s, text_g in single:
        lines.append(f"| {ref} | {s * 1000:.0f} ms | {g * 1000:.0f} ms | {text_s} | {text_g} |")
    lines += [
        "",
        "**Simultaneous callers on one shared model** (each speaks 4 utterances in real time; finals",
        "first, interim passes round-robin): final-transcript delay after VAD stop and decoder busy share.",
        "",
        "| callers | finals | p50 | p95 | decoder busy |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['callers']} | {r['finals']}/{r['expected']} | {r['p50'] * 1000:.0f} ms"
            f" | {r['p95'] * 1000:.0f} ms | {r['busy'] * 100:.0f} % |"
        )
    if reactions:
        lines += [
            "",
            f"**Barge-in**: speech onset to `clear` sent, {len(reactions)} calls:"
            f" p50 {pct(reactions, 0.5):.0f} ms, max {max(reactions):.0f} ms"
            " (the VAD needs 0.2 s of speech to start).",
        ]
    lines += ["", SECTION_END, ""]
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> str:
    """Load the models, run every part, and return the section."""
    from agent.config import Settings
    from agent.dialog.business import load_business
    from agent.models import load_models

    models = await asyncio.to_thread(load_models, Settings())
    vocabulary = load_business(REPO / "prompts", "example").vocabulary
    pcms = [phone_pcm(models, t) for t in UTTERANCES]
    single = []
    streamed = await stream_caller(models, pcms, vocabulary)
    for (delay, text), pcm, ref in zip(streamed, pcms, UTTERANCES, strict=False):
        seg, seg_text = await asyncio.to_thread(segmented_delay, models, pcm, vocabulary)
        single.append((delay, seg, ref, text, seg_text))
        print(f"{delay * 1000:6.0f} ms  {seg * 1000:6.0f} ms  {text}", flush=True)
    floor = await asyncio.to_thread(floors, models, pcms)
    rows = await concurrency(models, pcms, vocabulary, args.callers)
    reactions = await barge_in_reactions(models, args.barge_ins)
    return render(single, floor, rows, reactions)


def main() -> int:
    """Run the benchmark and write its section of BENCHMARKS.md."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(REPO / "BENCHMARKS.md"))
    parser.add_argument("--callers", type=int, nargs="+", default=[1, 2, 4, 6, 8])
    parser.add_argument("--barge-ins", type=int, default=6)
    args = parser.parse_args()
    section = asyncio.run(run(args))
    write_section(Path(args.out), SECTION_START, SECTION_END, section)
    print(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
