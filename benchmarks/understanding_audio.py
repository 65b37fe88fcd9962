"""The understanding eval as audio: callers spoken by espeak-ng and festival (not the agent's own voice)
through whole calls against `agent serve` in a separate process, Twilio's REST API a local fake.

What the agent said comes from the server's JSON log (its `agent_reply` events for the call), transfers and
hang-ups from what the fake REST API was asked to do. Cases that need a fixed clock (`at:`, or "today",
"tomorrow", "right now"), a message (a caller who answers back) or an interruption are left to the text run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aiohttp.test_utils import TestServer, unused_port

from agent.dialog.actions import EndCall, Reply, Transfer
from agent.dialog.business import load_business
from agent.simulate import place_call, wait_until_ready
from agent.voice.speakable import speakable
from benchmarks.caller_eval import CallerCase, Played, score_case
from benchmarks.report import machine, write_section
from benchmarks.understanding_eval import REPO, load_split, run_split
from tests.fake_twilio import FakeTwilio

SECTION_START = "<!-- understanding-audio:start -->"
SECTION_END = "<!-- understanding-audio:end -->"
ESPEAK = ("en-us", "en-us+f3", "en-gb", "en-us+m7")
FESTIVAL = ("cmu_us_slt_arctic_hts", "kal_diphone", "ked_diphone")  # Debian's festvox packages
_CLOCK_WORDS = re.compile(
    r"\b(today|tonight|tomorrow|now|this (morning|afternoon|evening|week|weekend))\b", re.I
)


def speakable_cases(cases: list[CallerCase]) -> list[CallerCase]:
    """The cases a scripted audio call can play and score without a fixed clock or a caller who answers."""
    return [
        c
        for c in cases
        if c.at == "2026-12-02T10:30"
        and not c.caller
        and not c.interrupt
        and not any(_CLOCK_WORDS.search(line) for line in (*c.say, *c.after))
    ]


def caller_voices(families: list[str]) -> list[tuple[str, str]]:
    """The (family, voice) pairs the calls take in turn, families interleaved so each trade hears each."""
    pools = [[(f, v) for v in {"espeak-ng": ESPEAK, "festival": FESTIVAL}[f]] for f in families]
    longest = max(len(p) for p in pools)
    return [p[i % len(p)] for i in range(longest) for p in pools]


def speak(text: str, family: str, voice: str, out: Path) -> Path:
    """Speak one caller line with espeak-ng or festival into a WAV file."""
    words = speakable(text)
    if family == "espeak-ng":
        subprocess.run(["espeak-ng", "-v", voice, "-s", "165", "-w", str(out), words], check=True)
    else:
        subprocess.run(
            ["text2wave", "-eval", f"(voice_{voice})", "-o", str(out)], input=words.encode(), check=True
        )
    return out


async def run(
    cases: list[CallerCase], voices: list[tuple[str, str]], work: Path
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Play each case as a whole call; return each case's problems and the intents the agent logged."""
    fake = FakeTwilio()
    twilio = TestServer(fake.app(), host="127.0.0.1", port=unused_port())
    await twilio.start_server()
    port = unused_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "LLM_"))}
    env.update(
        PORT=str(port),
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        DATA_DIR=str(work / "data"),
        PROMPTS_DIR=str(REPO / "prompts"),
        TWILIO_API_BASE_URL=f"http://127.0.0.1:{twilio.port}",
    )
    log_path = work / "server.log"
    log = log_path.open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "agent", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    problems: dict[str, list[str]] = {}
    read_as: dict[str, str] = {}
    try:
        url = f"http://127.0.0.1:{port}"
        if not wait_until_ready(url, 120, lambda: server.poll() is None):
            raise RuntimeError(f"agent serve did not start: {log_path.read_text()[-2000:]}")
        token = (work / "data" / "dev-auth-token").read_text().strip()
        for n, case in enumerate(cases):
            business = load_business(REPO / "prompts", case.business)
            family, voice = voices[n % len(voices)]
            lines = [*case.say, *case.after]
            wavs = [
                str(speak(line, family, voice, work / f"{case.id}-{i}.wav")) for i, line in enumerate(lines)
            ]
            result = await place_call(url, token, wavs, to_number=business.numbers[0], quiet_s=1.5)
            await asyncio.sleep(0.5)  # let the server write the call's last log lines
            events = [json.loads(x) for x in log_path.read_text().splitlines() if x.startswith("{")]
            mine = [e for e in events if e.get("call_sid") == result.call_sid]
            played = Played()
            for e in (e for e in mine if e.get("event") == "agent_reply"):
                played.add("", Reply(str(e.get("text", "")), str(e.get("intent", ""))))
            for req in fake.updates_for(result.call_sid):
                if "Twiml" in req and "<Number>" in req["Twiml"]:
                    number = req["Twiml"].split("<Number>")[1].split("</Number>")[0]
                    staff = next((s for s in business.staff if s.number == number), None)
                    if staff is not None:
                        played.add("", Reply("", "transfer", Transfer(staff)))
                if req.get("Status") == "completed":
                    played.add("", Reply("", "goodbye", EndCall()))
            problems[case.id] = score_case(case, played)
            heard = [e.get("text") for e in mine if e.get("event") == "stt_final"]
            read_as[case.id] = next((i for i in played.intents if i not in ("hello", "chat")), "")
            print(
                f"{case.id} [{family} {voice}]: {problems[case.id] or 'ok'}  heard={heard}", file=sys.stderr
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
        await twilio.close()
    return problems, read_as


def main() -> None:
    """Run the audio eval on a split and print (or write into BENCHMARKS.md) per-trade results."""
    from benchmarks.caller_eval import SplitReport

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--split", default="test", choices=["dev", "test"])
    parser.add_argument(
        "--limit", type=int, default=0, help="at most this many cases per trade, spread (0: all)"
    )
    parser.add_argument(
        "--voices",
        default="espeak-ng,festival",
        help="caller voice families taken in turn: espeak-ng, festival (comma-separated)",
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    families = [f.strip() for f in args.voices.split(",") if f.strip()]
    for family, program in (("espeak-ng", "espeak-ng"), ("festival", "text2wave")):
        if family in families and shutil.which(program) is None:
            sys.exit(f"{family} is not installed (`make {family}` installs it)")
    if not families or set(families) - {"espeak-ng", "festival"}:
        sys.exit("--voices takes espeak-ng and/or festival")
    voices = caller_voices(families)
    cases = speakable_cases(load_split(args.split))
    if args.limit:  # spread evenly over each trade's cases, so every intent is heard
        trades = {c.trade: [d for d in cases if d.trade == c.trade] for c in cases}
        cases = [
            c for group in trades.values() for c in group[:: max(1, len(group) // args.limit)][: args.limit]
        ]
    work = Path(tempfile.mkdtemp(prefix="understanding-audio-"))
    started = time.time()
    problems, read_as = asyncio.run(run(cases, voices, work))
    report = SplitReport(cases, problems, read_as)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    title = (
        f"Understanding, {args.split} split, as audio ({stamp}; {len(cases)} calls in "
        f"{time.time() - started:.0f} s; callers {', '.join(f'{f} {v}' for f, v in voices)}; "
        "`agent serve` in its own process)"
    )
    as_text = run_split(cases).accuracy()  # the same cases as text: what speech recognition costs
    lines = report.lines(title)
    by_family = {
        family: [c for n, c in enumerate(cases) if voices[n % len(voices)][0] == family]
        for family in families
    }
    heard = "; ".join(
        f"{family} callers {sum(not problems[c.id] for c in group)}/{len(group)}"
        for family, group in by_family.items()
    )
    lines.insert(
        2,
        f"Machine: {machine()}. The same {len(cases)} cases as text: {100 * as_text:.1f} %. "
        f"By caller voice: {heard}.\n",
    )
    print("\n".join(lines))
    if args.out:
        write_section(
            args.out, SECTION_START, SECTION_END, "\n".join([SECTION_START, *lines, SECTION_END]) + "\n"
        )


if __name__ == "__main__":
    main()
