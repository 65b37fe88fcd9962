"""Turn-taking from outside: how soon the agent answers a whole request, and how often it cuts in on a pause.

Whole calls against `agent serve` in its own process, callers in two voice families: the stock Piper voice
(the agent's own) and espeak-ng (flat synthetic prosody, four voices taken in turn). Each call is one caller
turn: a whole request (voice-to-voice latency as the caller hears it, and the server's end-of-turn reason),
or a sentence with a 0.7 s pause in the middle (a false cut-in is the server ending the turn in the pause).
Runs the server twice, with the understood-request hangover off (UNDERSTOOD_TURN_SECS equal to
INCOMPLETE_TURN_SECS) and on, and writes both to BENCHMARKS.md. `python -m benchmarks.turn_taking`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import tempfile
import time
import wave
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.report import machine, write_section
from benchmarks.server_process import agent_serve
from benchmarks.soak import brief_prompts

SECTION_START = "<!-- turn-taking:start -->"
SECTION_END = "<!-- turn-taking:end -->"
ESPEAK_VOICES = ("en-us", "en-gb", "en-us+f3", "en-us+m7")
PAUSE_S = 0.7
# Whole requests as callers say them (statements as often as questions: a question already ends fast).
REQUESTS = (
    "I'd like to book a cleaning next week.",
    "I need your hours for Saturday.",
    "I'm trying to find your office.",
    "I want to speak to someone about my bill.",
    "What time do you open on Saturday?",
    "I'd like to leave a message for Doctor Lee.",
    "How much is a teeth whitening?",
    "Put me through to the front desk please.",
)
# A sentence with a pause in it: the agent should wait for the second part.
PAUSED = (
    ("I'd like to book a cleaning for", "next Tuesday morning."),
    ("My name is", "Sam Green."),
    ("Can I speak to", "Doctor Lee please."),
    ("I was wondering about your hours", "on Saturday."),
    ("I need an appointment", "for my daughter, she's seven."),
)


@dataclass
class Tally:
    """One caller family against one server setting."""

    latencies_ms: list[float] = field(default_factory=list)
    end_of_turn_ms: list[float] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)
    unanswered: int = 0
    cut_ins: int = 0  # the turn ended in the pause
    spoke_in_pause: int = 0  # the agent's audio reached the caller in the pause (and was cleared)
    whole: int = 0  # the answer was to the whole sentence: no cut-in, or both parts routed as one
    paused_calls: int = 0


def read_wav(path: Path) -> tuple[bytes, int]:
    """A 16-bit mono WAV's samples and rate."""
    with wave.open(str(path), "rb") as w:
        return w.readframes(w.getnframes()), w.getframerate()


def write_wav(path: Path, pcm: bytes, rate: int) -> Path:
    """Write 16-bit mono PCM as a WAV file."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return path


def say(family: str, n: int, text: str, out: Path) -> Path:
    """`text` in the family's voice (espeak-ng's voices taken in turn by `n`)."""
    if family == "piper":
        from agent.voice.piper import load_piper
        from agent.voice.piper import write_wav as piper_wav

        return piper_wav(load_piper("embedded"), text, out)
    voice = ESPEAK_VOICES[n % len(ESPEAK_VOICES)]
    subprocess.run(["espeak-ng", "-v", voice, "-s", "165", "-w", str(out), text], check=True)
    return out


def paused(family: str, n: int, parts: tuple[str, str], work: Path) -> Path:
    """Both parts in one WAV with PAUSE_S of silence between them."""
    (a, rate), (b, rate_b) = (read_wav(say(family, n, p, work / f"part{i}.wav")) for i, p in enumerate(parts))
    assert rate == rate_b
    silence = b"\0\0" * int(PAUSE_S * rate)
    return write_wav(work / f"{family}-paused-{n}.wav", a + silence + b, rate)


def server_events(log: Path, call_sid: str) -> list[dict[str, object]]:
    """The server's JSON log lines for one call."""
    lines = (json.loads(x) for x in log.read_text().splitlines() if x.startswith("{"))
    return [e for e in lines if e.get("call_sid") == call_sid]


async def run_family(url: str, token: str, log: Path, family: str, work: Path) -> Tally:
    """Place every request and every paused sentence as a call of its own; tally what happened."""
    from agent.simulate import place_call

    tally = Tally()
    wavs = [(say(family, n, text, work / f"{family}-{n}.wav"), False) for n, text in enumerate(REQUESTS)]
    wavs += [(paused(family, n, parts, work), True) for n, parts in enumerate(PAUSED)]
    for wav, is_paused in wavs:
        result = await place_call(url, token, [str(wav)], quiet_s=1.5, reply_timeout_s=20)
        await asyncio.sleep(0.5)  # the server's last log lines for the call
        events = server_events(log, result.call_sid)
        ends = [e for e in events if e.get("event") == "turn_end"]
        if is_paused:
            tally.paused_calls += 1
            cut = len(ends) > 1
            tally.cut_ins += cut
            tally.spoke_in_pause += result.turns[0].cleared_at is not None
            tally.whole += not cut or any(e.get("event") == "turn_continued" for e in events)
            continue
        turn = result.turns[0]
        if turn.latency_s is None:
            tally.unanswered += 1
            continue
        tally.latencies_ms.append(turn.latency_s * 1000)
        tally.reasons.update(str(e.get("reason")) for e in ends)
        eot = [e.get("end_of_turn_ms") for e in events if e.get("event") == "turn_latency"]
        tally.end_of_turn_ms += [float(v) for v in eot[:1] if isinstance(v, int | float)]
    return tally


def p50(values: list[float]) -> str:
    """The median, rounded, or a dash."""
    return f"{statistics.median(values):.0f}" if values else "–"


def report(results: dict[tuple[str, str], Tally], understood_s: float, incomplete_s: float) -> list[str]:
    """The runs as a BENCHMARKS.md section."""
    lines = [
        SECTION_START,
        "## Turn-taking: whole requests and pauses, two caller voice families",
        "",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; machine: {machine()}.",
        "- `python -m benchmarks.turn_taking`: whole calls against `agent serve` in its own process, one "
        f"caller turn each: {len(REQUESTS)} whole requests and {len(PAUSED)} sentences with a "
        f"{PAUSE_S} s pause in the middle, per caller family (Piper: the agent's own stock voice; "
        f"espeak-ng: {', '.join(ESPEAK_VOICES)} in turn). Stack: Whisper tiny.en, Silero VAD, smart-turn v3, "
        "the router with WordLlama (no model turns), Piper.",
        f"- Hangover off: `UNDERSTOOD_TURN_SECS={incomplete_s}` (the incomplete-turn wait); on: "
        f"`{understood_s}`. Voice-to-voice: the caller's last voiced frame sent → the first reply audio "
        "received. End of turn: the server's speech end → turn decided (includes the 0.2 s VAD stop). "
        "Paused sentences: the turn ended in the pause (a cut-in), the agent's audio reached the caller in "
        "it (then cleared when they went on), and the reply answered the whole sentence (no cut-in, or the "
        "server joined both parts: `turn_continued`).",
        "",
        "| callers | understood hangover | voice-to-voice p50 ms | end of turn p50 ms | how turns ended "
        "| unanswered | turn ended in the pause | agent audio in the pause | answered the whole sentence |",
        "|---|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    for (family, setting), t in results.items():
        reasons = ", ".join(f"{k} {v}" for k, v in t.reasons.most_common())
        lines.append(
            f"| {family} | {setting} | {p50(t.latencies_ms)} | {p50(t.end_of_turn_ms)} | {reasons} "
            f"| {t.unanswered} | {t.cut_ins} of {t.paused_calls} | {t.spoke_in_pause} of {t.paused_calls} "
            f"| {t.whole} of {t.paused_calls} |"
        )
    return [*lines, "", SECTION_END]


def main() -> None:
    """Run both settings for both families and print (or write) the report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, help="write the report into this markdown file's section")
    parser.add_argument("--families", default="piper,espeak-ng")
    parser.add_argument(
        "--hangover",
        choices=("both", "on"),
        default="both",
        help="run the understood hangover off too, or only on",
    )
    args = parser.parse_args()
    from agent.config import Settings

    understood_s, incomplete_s = Settings().understood_turn_secs, Settings().incomplete_turn_secs
    work = Path(tempfile.mkdtemp(prefix="turns-"))
    prompts = brief_prompts(work)
    results: dict[tuple[str, str], Tally] = {}
    settings = (("off", incomplete_s), ("on", understood_s))
    for setting, seconds in settings if args.hangover == "both" else settings[1:]:
        env = {"PROMPTS_DIR": str(prompts), "UNDERSTOOD_TURN_SECS": str(seconds)}
        run_dir = work / setting
        run_dir.mkdir()
        with agent_serve(run_dir, env) as served:
            for family in args.families.split(","):
                results[(family, setting)] = asyncio.run(
                    run_family(served.url, served.token, served.log, family, run_dir)
                )
    lines = report(dict(sorted(results.items())), understood_s, incomplete_s)
    print("\n".join(lines))
    if args.out:
        write_section(args.out, SECTION_START, SECTION_END, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
