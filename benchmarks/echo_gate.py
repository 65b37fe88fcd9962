"""Echo gate on recorded speech: echo let through vs caller silenced, learned echo path vs fixed margin.

The agent's reply and a caller's short answers are real Piper speech at 8 kHz μ-law. The line returns
the agent's audio `loss` dB down and `delay` ms late, mixed with the caller, who answers "Yes." and
"Okay, thanks." while the agent is still talking. Both gates see exactly what the transport gives them:
100 ms chunks placed by their marks (with ±20 ms jitter) and the inbound frames on the media clock.
Reported per line: whether the echo alone would start the VAD (0.2 s of consecutive passed voiced frames,
i.e. a self-interruption) and the share of the caller's voiced frames silenced.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agent.telephony.codec import StreamResampler, ulaw_decode, ulaw_encode
from agent.telephony.echo import EchoGate, frame_levels
from benchmarks.report import write_section

REPO = Path(__file__).resolve().parents[1]
SECTION_START = "<!-- echo-gate:start -->"
SECTION_END = "<!-- echo-gate:end -->"
AGENT = (
    "Thanks for calling Bright Smile Dental. We're open Monday to Friday from eight to five, and on "
    "Saturdays from nine to one. Our office is at twelve Main Street, across from the library."
)
ANSWERS = (("Yes.", 2.0), ("Okay, thanks.", 5.0))
FRAME = 160  # samples per 20 ms at 8 kHz
VAD_START_FRAMES = 10  # 0.2 s of speech starts the VAD
VOICED = 300.0


@dataclass(frozen=True)
class Line:
    """One simulated phone line: how far down and how late our voice comes back (None: no echo)."""

    loss_db: float | None
    delay_ms: int


@dataclass(frozen=True)
class Result:
    """What one gate did on one line."""

    self_interrupts: bool
    echo_frames_passed: int
    caller_frames_gated: float


def phone_audio(text: str) -> np.ndarray:
    """Piper speech through 8 kHz μ-law, as 16-bit samples."""
    from agent.config import EMBEDDED
    from agent.voice.piper import load_piper, synthesize_pcm

    voice = load_piper(EMBEDDED)
    resampler = StreamResampler(voice.config.sample_rate, 8000)
    pcm = b"".join(resampler.process(c) for c in synthesize_pcm(voice, text)) + resampler.flush()
    return np.frombuffer(ulaw_decode(ulaw_encode(pcm)), dtype="<i2").astype(np.float64)


def run_gate(gate: EchoGate, agent: np.ndarray, caller: np.ndarray, line: Line, seed: int) -> Result:
    """Play `agent` in 100 ms chunks through `gate` while the line returns echo mixed with `caller`."""
    rng = np.random.default_rng(seed)
    n = max(len(agent), len(caller)) // FRAME * FRAME
    agent = np.pad(agent, (0, n - len(agent) + FRAME * 50))[: n + FRAME * 50]
    caller = np.pad(caller, (0, n - len(caller) + FRAME * 50))[: n + FRAME * 50]
    delay = round(line.delay_ms / 1000 * 8000)
    echo = (
        np.zeros_like(agent) if line.loss_db is None else np.roll(agent, delay) * 10 ** (-line.loss_db / 20)
    )
    inbound = np.clip(echo + caller, -32768, 32767)
    chunk = FRAME * 5
    passed_echo = gated_caller = voiced_caller = run = 0
    self_interrupts = False
    for start in range(0, len(agent), chunk):
        t0 = start / 8000
        levels = frame_levels(agent[start : start + chunk].astype("<i2").tobytes())
        gate.now_playing(t0 + rng.uniform(0, 0.02), levels)
        for k in range(5):
            i = start + k * FRAME
            at = i / 8000
            level = float(np.sqrt(np.mean(inbound[i : i + FRAME] ** 2)))
            caller_level = float(np.sqrt(np.mean(caller[i : i + FRAME] ** 2)))
            gated = gate.is_echo(level, at)
            if caller_level >= VOICED:
                voiced_caller += 1
                gated_caller += gated
            if caller_level == 0 and level > VOICED and not gated:
                passed_echo += 1
                run += 1
                self_interrupts |= run >= VAD_START_FRAMES
            else:
                run = 0
        gate.played(t0 + 0.1 + rng.uniform(0, 0.02), levels)
    return Result(self_interrupts, passed_echo, gated_caller / max(1, voiced_caller))


def fixed_gate() -> EchoGate:
    """The gate without learning: a fixed 10 dB margin under the loudest frame of the last 0.4 s."""
    return EchoGate(margin_db=10.0, learn_every=10**9)


def render(rows: list[tuple[Line, Result, Result]]) -> str:
    """The BENCHMARKS.md section."""
    lines = [
        SECTION_START,
        "## Echo gate on recorded speech (`python -m benchmarks.echo_gate`)",
        "",
        f"- Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; machine: {platform.machine()},"
        f" {platform.python_version()}. Agent reply and caller answers are Piper speech through μ-law;"
        ' the caller says "Yes." and "Okay, thanks." over the agent at its level −6 dB.',
        "- Self-interrupts: with the caller silent, the echo alone passes 0.2 s of consecutive voiced frames"
        " (enough to start the VAD). Caller frames silenced: share of the caller's voiced frames gated in a"
        " second run where they answer.",
        "",
        "| line: echo loss, delay | fixed 10 dB: self-interrupts (echo frames let through)"
        " | fixed: caller frames silenced | learned path: self-interrupts (echo frames let through)"
        " | learned: caller frames silenced |",
        "|---|---|---:|---|---:|",
    ]
    for line, fixed, learned in rows:
        name = "no echo" if line.loss_db is None else f"{line.loss_db:.0f} dB, {line.delay_ms} ms"
        lines.append(
            f"| {name} | {'yes' if fixed.self_interrupts else 'no'} ({fixed.echo_frames_passed})"
            f" | {100 * fixed.caller_frames_gated:.0f} %"
            f" | {'yes' if learned.self_interrupts else 'no'} ({learned.echo_frames_passed})"
            f" | {100 * learned.caller_frames_gated:.0f} % |"
        )
    lines += ["", SECTION_END, ""]
    return "\n".join(lines)


def main() -> int:
    """Run every line through both gates and write the section."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(REPO / "BENCHMARKS.md"))
    args = parser.parse_args()
    agent = phone_audio(AGENT)
    caller = np.zeros(len(agent) + 8000 * 3)
    for text, at in ANSWERS:
        said = phone_audio(text) * 10 ** (-6 / 20)
        start = round(at * 8000)
        caller[start : start + len(said)] += said
    lines = [Line(None, 0)] + [Line(loss, d) for loss in (25.0, 15.0, 10.0) for d in (40, 120, 250)]
    lines.append(Line(6.0, 120))
    rows = []
    silent = np.zeros_like(caller)
    for seed, line in enumerate(lines):
        results = []
        for make in (fixed_gate, lambda: EchoGate(margin_db=10.0)):
            echo_only = run_gate(make(), agent, silent, line, seed)
            answering = run_gate(make(), agent, caller, line, seed)
            results.append(
                Result(echo_only.self_interrupts, echo_only.echo_frames_passed, answering.caller_frames_gated)
            )
        rows.append((line, results[0], results[1]))
        print(line, *results, flush=True)
    section = render(rows)
    write_section(Path(args.out), SECTION_START, SECTION_END, section)
    print(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
