"""How much one call's Whisper final and another call's Piper sentence slow each other on this machine.

Runs the real embedded models in this process, the way the server does (Whisper on the decode thread, Piper
in a worker thread): each alone, then both at once (the sentence starting 60 ms before the final to 60 ms
after), with and without the compute gate. Reports per setting the final-transcript decode time and the
sentence synthesis time, alone and together, as p50 over the rounds (ms).

    python -m benchmarks.model_contention --rounds 16
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
from onnxruntime import InferenceSession
from piper import PiperVoice

from agent.compute_gate import URGENT, ComputeGate, GatedSession
from agent.config import EMBEDDED
from agent.speech.decoder import decode
from agent.speech.whisper import load_whisper
from agent.voice.piper import load_piper, synthesize_pcm
from benchmarks.report import machine, write_section

SENTENCE = "Thanks for calling, we're open from nine in the morning until five thirty this evening."
SECTION_START = "<!-- model-contention:start -->"
SECTION_END = "<!-- model-contention:end -->"
COLUMNS = ("stt alone", "stt with tts", "tts alone", "tts with stt", "tts with tts")
LEADS_S = (0.06, 0.02, -0.02, -0.06)  # how long before the final the other call's sentence starts
HEARD = "Hi, I'd like to book a cleaning for next Tuesday afternoon if you have anything open."


@dataclass(frozen=True)
class Setting:
    """One way to share the cores: Whisper's threads, and whether passes take turns at a compute gate."""

    name: str
    whisper_threads: int
    gated: bool
    tts_urgent: bool = False  # at the gate: a reply's first sentence (urgent) or a later one (background)


SETTINGS = (
    Setting("at once (no gate; whisper 2 threads)", 2, False),
    Setting("at once, whisper 1 thread", 1, False),
    Setting("gate: final + another reply's first sentence", 2, True, True),
    Setting("gate: final + another reply's later sentence", 2, True, False),
)


def piper_with(setting: Setting, gate: ComputeGate) -> PiperVoice:
    """The embedded voice on a session that takes turns at `gate` (or not)."""
    voice = load_piper(EMBEDDED)
    arena = cast(GatedSession, voice.session).inner
    voice.session = cast(InferenceSession, GatedSession(arena, gate) if setting.gated else arena)
    return voice


def heard_audio(voice: PiperVoice) -> np.ndarray:
    """The caller's request as 16 kHz float32 (Piper's voice, resampled)."""
    pcm = np.frombuffer(b"".join(synthesize_pcm(voice, HEARD)), dtype="<i2").astype(np.float32) / 32768.0
    rate = voice.config.sample_rate
    times = np.arange(0, len(pcm) / rate, 1 / 16000)
    out: np.ndarray = np.interp(times, np.arange(len(pcm)) / rate, pcm).astype(np.float32)
    return out


def timed(fn: Callable[[], object]) -> float:
    """Milliseconds `fn` took."""
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def together(a: Callable[[], object], b: Callable[[], object], b_lead_s: float) -> tuple[float, float]:
    """Start `b` in a thread and `a` `b_lead_s` later (earlier if negative); return both durations (ms)."""
    out: dict[str, float] = {}

    def later(name: str, fn: Callable[[], object], delay: float) -> None:
        time.sleep(delay)
        out[name] = timed(fn)

    threads = [
        threading.Thread(target=later, args=("a", a, max(b_lead_s, 0))),
        threading.Thread(target=later, args=("b", b, max(-b_lead_s, 0))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return out["a"], out["b"]


def measure(setting: Setting, rounds: int) -> dict[str, float]:
    """p50 ms of each model alone and together under one setting."""
    whisper = load_whisper(EMBEDDED, "int8", setting.whisper_threads, Path(".agent/models"))
    gate = ComputeGate()
    voice = piper_with(setting, gate)
    audio = heard_audio(voice)

    def stt() -> object:
        with gate.hold(urgent=True) if setting.gated else contextlib.nullcontext(0.0):
            return decode(whisper, audio, language="en")

    def tts() -> object:
        URGENT.set(setting.tts_urgent)  # each thread has its own context
        return list(synthesize_pcm(voice, SENTENCE))

    stt(), tts()  # warm both
    alone_stt = [timed(stt) for _ in range(rounds)]
    alone_tts = [timed(tts) for _ in range(rounds)]
    leads = [LEADS_S[i % len(LEADS_S)] for i in range(rounds)]
    both = [together(stt, tts, lead) for lead in leads]
    two_tts = [together(tts, tts, lead) for lead in leads]
    p50 = statistics.median
    return {
        "stt alone": p50(alone_stt),
        "tts alone": p50(alone_tts),
        "stt with tts": p50(a for a, _ in both),
        "tts with stt": p50(b for _, b in both),
        "tts with tts": p50(a for a, _ in two_tts),
    }


def render(rows: list[tuple[Setting, dict[str, float]]], rounds: int) -> str:
    """The BENCHMARKS.md section."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        SECTION_START,
        "## Two calls' model passes at once (`python -m benchmarks.model_contention`)",
        "",
        f"- Date: {stamp}; machine: {machine()}",
        "- Models: Whisper tiny.en int8 decoding a 4.4 s request (one final pass), Piper joe-medium"
        " synthesizing a 4.3 s sentence; in this process, in threads, as the server runs them.",
        f'- p50 ms over {rounds} rounds; "with" starts the other pass 60 ms before to 60 ms after.',
        "",
        "| setting | " + " | ".join(COLUMNS) + " |",
        "|---|" + "---:|" * len(COLUMNS),
        *(f"| {s.name} | " + " | ".join(f"{row[c]:.0f}" for c in COLUMNS) + " |" for s, row in rows),
        "",
        SECTION_END,
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    """Measure every setting, print the section and write it to `--out`."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=16)
    parser.add_argument("--out", default="", help="write the section into this file (BENCHMARKS.md)")
    args = parser.parse_args()
    rows = []
    for setting in SETTINGS:
        rows.append((setting, measure(setting, args.rounds)))
        print(setting.name, {k: round(v) for k, v in rows[-1][1].items()}, flush=True)
    section = render(rows, args.rounds)
    if args.out:
        write_section(Path(args.out), SECTION_START, SECTION_END, section)
    print(section)


if __name__ == "__main__":
    main()
