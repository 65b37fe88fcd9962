"""`make eval`: score the receptionist on scripted caller requests, as text and as audio through whole calls.

Text: each case's turns go straight to the routing core with a fixed clock.
Audio: each case is a real simulated call (caller turns spoken by Piper, sent as 8 kHz μ-law) against a
live server whose Twilio REST API is a local fake; actions are read from what the fake was asked to do
and from the message store, facts from what the agent said.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from agent.dialog.business import Business, load_business
from agent.dialog.hours import describe_now
from agent.dialog.router import Router
from benchmarks.evaluation import MAX_REACTIONS, Case, Outcome, load_cases, react, score
from benchmarks.report import write_section

REPO = Path(__file__).resolve().parent.parent
CASES = REPO / "benchmarks" / "receptionist_cases.yaml"
FIXED_NOW = (2026, 11, 27, 10, 30)  # a Friday morning
SECTION_START = "<!-- receptionist-eval:start -->"
SECTION_END = "<!-- receptionist-eval:end -->"


def run_text(case: Case, business: Business) -> Outcome:
    """Play one case's turns through the routing core."""
    now = dt.datetime(*FIXED_NOW, tzinfo=business.timezone)
    router = Router(business, clock=lambda: now)
    outcome = Outcome()
    for digit in case.keys:
        reply = router.handle_key(digit)
        if reply is not None:
            outcome.add(reply)
    script = list(case.say)
    reactions = 0
    while script:
        reply = router.handle(script.pop(0))
        outcome.add(reply)
        extra = react(case, reply.text, script[0] if script else None)
        if extra is not None and reactions < MAX_REACTIONS:
            reactions += 1
            script.insert(0, extra)
    return outcome


def evaluate_text(cases: list[Case], business: Business) -> dict[str, list[str]]:
    """Run every case as text; return each case's problems."""
    now = dt.datetime(*FIXED_NOW, tzinfo=business.timezone)
    results = {}
    for case in cases:
        now_facts = (describe_now(business.hours, now).split(",")[0],) if case.now else ()
        results[case.id] = score(case, run_text(case, business), now_facts)
    return results


def table(cases: list[Case], results: dict[str, list[str]], title: str) -> list[str]:
    """Per-task pass rates as a markdown table."""
    by_task: dict[str, list[bool]] = defaultdict(list)
    for case in cases:
        if case.id in results:
            by_task[case.task].append(not results[case.id])
    total = [ok for oks in by_task.values() for ok in oks]
    lines = [f"### {title}", "", "| task | correct | cases |", "|---|---:|---:|"]
    for task, oks in sorted(by_task.items()):
        lines.append(f"| {task} | {100 * sum(oks) / len(oks):.0f} % | {len(oks)} |")
    lines.append(f"| **all** | **{100 * sum(total) / max(1, len(total)):.1f} %** | {len(total)} |")
    failed = [f"- `{cid}`: {'; '.join(p)}" for cid, p in results.items() if p]
    return [*lines, "", *(["Failures:", *failed] if failed else ["No failures."]), ""]


class _ReactiveCaller:
    """The case's caller off its script: reads the agent's replies from the call's log and answers them."""

    def __init__(self, case: Case, voice: Any, logs: list[dict[str, Any]], out: Path) -> None:
        self.case, self.voice, self.logs, self.out = case, voice, logs, out
        self.seen = 0  # agent replies already answered
        self.reactions = 0

    async def respond(self, turns: int) -> str | None:
        """After the agent answered turn `turns`: a WAV of what the caller says off the script, or None."""
        from agent.voice.piper import write_wav
        from agent.voice.speakable import speakable

        replies = [e["text"] for e in self.logs if e["event"] == "agent_reply"]
        new, self.seen = replies[self.seen :], len(replies)
        scripted = turns - self.reactions  # scripted lines said so far
        upcoming = self.case.say[scripted] if scripted < len(self.case.say) else None
        extra = react(self.case, " ".join(new), upcoming)
        if extra is None or self.reactions >= MAX_REACTIONS:
            return None
        self.reactions += 1
        self.out.mkdir(parents=True, exist_ok=True)
        path = self.out / f"{self.case.id}-r{self.reactions}.wav"
        await asyncio.to_thread(write_wav, self.voice, speakable(extra), path)
        print(f"  {self.case.id}: caller off script: {extra!r}", file=sys.stderr)
        return str(path)


def speak_cases(cases: list[Case], out: Path) -> dict[tuple[str, int], Path]:
    """Synthesize every caller line with Piper into 16-bit WAV files, numbers read as people read them."""
    from agent.voice.piper import load_piper, write_wav
    from agent.voice.speakable import speakable

    voice = load_piper("embedded")
    paths = {}
    for case in cases:
        for i, line in enumerate(case.say):
            # Said as a person says it: a phone number digit by digit, not "two hundred and seven".
            paths[(case.id, i)] = write_wav(voice, speakable(line), out / f"{case.id}-{i}.wav")
    return paths


async def evaluate_audio(
    cases: list[Case], business: Business, events_dir: Path | None = None
) -> dict[str, list[str]]:
    """Run every spoken case as a whole simulated call against an in-process server (logs to `events_dir`)."""
    from aiohttp.test_utils import TestServer, unused_port

    from agent.config import Settings
    from agent.models import load_models
    from agent.server import create_app
    from agent.simulate import place_call
    from tests.fake_twilio import FakeTwilio

    spoken = [c for c in cases if c.say]
    work = Path(tempfile.mkdtemp(prefix="eval-"))
    wavs = speak_cases(spoken, work)
    fake = FakeTwilio()
    twilio = TestServer(fake.app(), host="127.0.0.1", port=unused_port())
    await twilio.start_server()
    port = unused_port()
    settings = Settings(
        port=port,
        public_base_url=f"http://127.0.0.1:{port}",
        twilio_auth_token="eval",
        data_dir=work / "data",
        prompts_dir=REPO / "prompts",
        twilio_api_base_url=f"http://127.0.0.1:{twilio.port}",
        twilio_stop_grace_secs=0.2,
    )
    models = await asyncio.to_thread(load_models, settings)
    server = TestServer(create_app(settings, models), host="127.0.0.1", port=port)
    await server.start_server()
    from agent.calls.messages import MessageStore
    from agent.records.db import open_database

    store = MessageStore(open_database(settings.db_url))
    results = {}
    try:
        for case in spoken:
            before = len(await store.all())
            files = [str(wavs[(case.id, i)]) for i in range(len(case.say))]
            import structlog.testing

            with structlog.testing.capture_logs() as logs:
                caller = _ReactiveCaller(case, models.piper, logs, work / "reactions")
                result = await place_call(
                    settings.public_base_url, "eval", files, quiet_s=1.5, respond=caller.respond
                )
            outcome = Outcome(
                replies=[
                    e["text"]
                    for e in logs
                    if e["event"] == "agent_reply" and e.get("call_sid", result.call_sid) == result.call_sid
                ]
            )
            for req in fake.updates_for(result.call_sid):
                if "Twiml" in req:
                    number = req["Twiml"].split("<Number>")[1].split("</Number>")[0]
                    outcome.transfers += [s.name for s in business.staff if s.number == number]
                if req.get("Status") == "completed":
                    outcome.ended = True
            outcome.messages = [vars(m) for m in (await store.all())[before:]]
            now_facts = (describe_now(business.hours, business.now()).split(",")[0],) if case.now else ()
            results[case.id] = score(case, outcome, now_facts)
            heard = [e.get("text") for e in logs if e["event"] == "stt_final"]
            if events_dir is not None:
                events_dir.mkdir(parents=True, exist_ok=True)
                lines = (json.dumps(e, default=str) for e in logs)
                (events_dir / f"{case.id}.jsonl").write_text("\n".join(lines) + "\n")
            print(
                f"{case.id}: {'ok' if not results[case.id] else results[case.id]}  heard={heard}",
                file=sys.stderr,
            )
    finally:
        await server.close()
        await twilio.close()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=["text", "audio", "both"], default="both")
    parser.add_argument("--out", default=str(REPO / "BENCHMARKS.md"))
    parser.add_argument("--only", default="", help="run only cases whose id starts with this (no write)")
    parser.add_argument("--events", default="", help="write each audio case's log events to DIR/<id>.jsonl")
    args = parser.parse_args()
    business = load_business(REPO / "prompts", "example")
    cases = [c for c in load_cases(CASES) if c.id.startswith(args.only)]
    lines = [
        SECTION_START,
        "## Receptionist evaluation (`make eval`)",
        "",
        f"- Date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}; {len(cases)} cases in "
        "`benchmarks/receptionist_cases.yaml`; embedded default (intents routed before SmolLM2).",
        "- Correct = right action (transfer target, every message field, hang-up) and every "
        "expected fact in what the agent said.",
        "",
    ]
    if args.mode in ("text", "both"):
        lines += table(cases, evaluate_text(cases, business), "As text (routing core, fixed clock)")
    if args.mode in ("audio", "both"):
        results = asyncio.run(evaluate_audio(cases, business, Path(args.events) if args.events else None))
        lines += table(cases, results, "As audio (Piper caller → μ-law → whole call → fake Twilio REST)")
    lines.append(SECTION_END)
    section = "\n".join(lines) + "\n"
    if not args.only:
        write_section(Path(args.out), SECTION_START, SECTION_END, section)
    print(section)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
