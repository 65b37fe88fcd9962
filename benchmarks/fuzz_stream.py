"""Fuzzing the media stream: seeded, generated Twilio Media Streams messages across live sessions against
`agent serve` in its own process, then a normal call (`make fuzz`; `tests/telephony/test_fuzz.py` runs
fewer).

Each session is answered the way Twilio opens one (signed webhook, signed stream URL, the call's token in
`start`), then gets a mix of valid audio and messages with wrong types, missing fields, huge, negative
and non-numeric numbers, out-of-order and repeated events, unicode, deep nesting and binary frames,
paced under the server's per-connection rate. A session the server closes (a valid `stop`, a second
call token) is replaced by a new one until every message is sent.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import copy
import datetime as dt
import json
import random
import secrets
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from agent.simulate import SimulationError, place_call, ring
from benchmarks.report import machine, write_section
from benchmarks.server_process import Served, agent_serve
from benchmarks.soak import METRICS_TOKEN, Sample, brief_prompts, loop_lag_p99_ms, sample, settle

SECTION_START = "<!-- fuzz:start -->"
SECTION_END = "<!-- fuzz:end -->"
RATE = 150.0  # messages a second per session: under the server's 200, so the budget never drops them
SILENCE = b"\xff" * 160
# What the server must never write, whatever it is sent: an exception that escaped a handler.
CRASH_MARKS = ("event_failed", "Traceback", "Error handling request", "exception was never retrieved")
WEIRD_VALUES: list[Any] = [
    None, True, False, 0, -1, -(2**63), 2**64, 10**30, 1.5, -0.0, 1e308, "", " ", "-5", "1e9", "0x10",
    "NaN", "9" * 5000, "٣", "\u0000", "\ud800", "🎉" * 50, "../../etc/passwd", [], [1, 2], {}, {"a": {}},
]  # fmt: skip


@dataclass
class Stream:
    """One call's identity, as the fuzzer's messages use it."""

    call_sid: str
    stream_sid: str
    custom: dict[str, str]
    seq: int = 0
    timestamp_ms: int = 0
    marks: list[str] = field(default_factory=list)

    def next_seq(self) -> str:
        self.seq += 1
        return str(self.seq)


def media(stream: Stream, payload: bytes = SILENCE) -> dict[str, Any]:
    """A valid inbound media message, 20 ms after the last."""
    stream.timestamp_ms += 20
    return {
        "event": "media",
        "sequenceNumber": stream.next_seq(),
        "streamSid": stream.stream_sid,
        "media": {
            "track": "inbound",
            "chunk": str(stream.timestamp_ms // 20),
            "timestamp": str(stream.timestamp_ms),
            "payload": base64.b64encode(payload).decode(),
        },
    }


def start(stream: Stream) -> dict[str, Any]:
    """The valid `start` for `stream`."""
    return {
        "event": "start",
        "sequenceNumber": stream.next_seq(),
        "streamSid": stream.stream_sid,
        "start": {
            "accountSid": "AC" + "0" * 32,
            "streamSid": stream.stream_sid,
            "callSid": stream.call_sid,
            "tracks": ["inbound"],
            "customParameters": stream.custom,
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        },
    }


def _valid(rng: random.Random, stream: Stream) -> dict[str, Any]:
    kind = rng.random()
    if kind < 0.8:
        return media(stream, bytes(rng.getrandbits(8) for _ in range(160)) if rng.random() < 0.3 else SILENCE)
    if kind < 0.9:
        return {
            "event": "dtmf",
            "sequenceNumber": stream.next_seq(),
            "streamSid": stream.stream_sid,
            "dtmf": {"track": "inbound_track", "digit": rng.choice("0123456789*#")},
        }
    name = rng.choice(stream.marks) if stream.marks and rng.random() < 0.7 else secrets.token_hex(4)
    return {
        "event": "mark",
        "sequenceNumber": stream.next_seq(),
        "streamSid": stream.stream_sid,
        "mark": {"name": name},
    }


def _paths(msg: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path in a JSON object."""
    out: list[tuple[Any, ...]] = []
    if isinstance(msg, dict):
        for k, v in msg.items():
            out.append((*prefix, k))
            out.extend(_paths(v, (*prefix, k)))
    return out


def _mutate(rng: random.Random, msg: dict[str, Any]) -> dict[str, Any]:
    """The message with one field dropped, retyped, or set to something odd."""
    msg = copy.deepcopy(msg)
    path = rng.choice(_paths(msg))
    parent: Any = msg
    for key in path[:-1]:
        parent = parent[key]
    how = rng.random()
    if how < 0.3:
        del parent[path[-1]]
    else:
        parent[path[-1]] = rng.choice(WEIRD_VALUES)
    return msg


def _odd(rng: random.Random, stream: Stream) -> str | bytes | dict[str, Any]:
    """A message Twilio would never send."""
    kind = rng.randrange(14)
    if kind == 0:
        return rng.randbytes(rng.choice([0, 1, 160, 4000]))  # a binary frame
    if kind == 1:
        return rng.choice(
            ["", "{", "null", "[]", "42", '"media"', "{'event': 'media'}", "\x00\x01", "{}" * 100]
        )
    if kind == 2:  # nested deeper than a parser's recursion limit, well under 64 KiB
        depth = rng.choice([100, 1000, 20000])
        return '{"event": "media", "media": ' + "[" * depth + "]" * depth + "}"
    if kind == 3:  # just over and just under the size cap
        size = rng.choice([60_000, 70_000, 130_000])
        return json.dumps(media(stream) | {"pad": "x" * size})
    if kind == 4:  # audio that isn't 20 ms: empty, odd-sized, big
        return media(stream, rng.randbytes(rng.choice([0, 1, 159, 161, 8000, 40_000])))
    if kind == 5:  # a timestamp out of order, repeated, jumping ahead or far past the call's length
        msg = media(stream)
        msg["media"]["timestamp"] = str(
            rng.choice(
                [
                    0,
                    stream.timestamp_ms - 2000,
                    stream.timestamp_ms,
                    stream.timestamp_ms + 4_000_000,
                    2**31,
                    -20,
                ]
            )
        )
        return msg
    if kind == 6:
        return {
            "event": rng.choice(["clear", "Media", "mediaa", "", None, 7, ["media"], "stop "]),
            "streamSid": stream.stream_sid,
        }
    if kind == 7:  # another start mid-call: the same, another call's, or one without a token
        other = Stream("CA" + secrets.token_hex(16), "MZ" + secrets.token_hex(16), {})
        return start(rng.choice([stream, other]))
    if kind == 8:
        return {"event": "connected", "protocol": "Call", "version": rng.choice(["1.0.0", "9" * 1000, ""])}
    if kind == 9:  # a stop for another stream (one for this stream ends the session: see `session`)
        return {
            "event": "stop",
            "sequenceNumber": stream.next_seq(),
            "streamSid": "MZ" + secrets.token_hex(16),
            "stop": {},
        }
    if kind == 10:  # unicode and control characters wherever a string goes
        msg = _valid(rng, stream)
        text = "".join(
            chr(rng.choice([0x0, 0x7F, 0x202E, 0xFEFF, 0x1F600, 0xD800, 0x10FFFF, 0x41])) for _ in range(40)
        )
        parent = msg.get("mark") or msg.get("dtmf") or msg["media"]
        parent[rng.choice(list(parent))] = text
        return msg
    if kind == 11:  # an extra field, a huge sequence number, a dtmf digit that isn't one
        msg = _valid(rng, stream)
        msg[rng.choice(["extra", "sequenceNumber"])] = rng.choice(["9" * 40, -1, {"x": [1] * 100}])
        if msg["event"] == "dtmf":
            msg["dtmf"]["digit"] = rng.choice(["", "10", "x", "٣", "**"])
        return msg
    return _mutate(rng, _valid(rng, stream) if kind < 13 else start(stream))


def message(rng: random.Random, stream: Stream) -> str | bytes:
    """The next message for a live session: valid audio most of the time, otherwise something odd."""
    msg: str | bytes | dict[str, Any] = _valid(rng, stream) if rng.random() < 0.5 else _odd(rng, stream)
    if isinstance(msg, dict):
        return json.dumps(msg)
    return msg


@dataclass
class FuzzResult:
    """What the fuzzer sent and what the server did."""

    sent: int
    sessions: int
    kinds: Counter[str]
    before: Sample  # after one warm-up call
    halfway: Sample  # after the first half of the messages
    after: Sample  # after the second half and a normal call
    seconds: float
    crash_lines: list[str]
    server_closed: Counter[str]
    normal_call_reply_s: float  # seconds of the agent's reply in the normal call placed afterwards
    loop_lag_p99_ms: float | None = None  # the server's event-loop lag over the whole run


async def _drain(ws: aiohttp.ClientWebSocketResponse, stream: Stream) -> None:
    """Read the server's messages (its greeting), keeping the mark names to echo some back."""
    async for msg in ws:
        if msg.type == aiohttp.WSMsgType.TEXT and '"mark"' in msg.data:
            name = json.loads(msg.data).get("mark", {}).get("name")
            if isinstance(name, str):
                stream.marks = [*stream.marks[-20:], name]


async def session(
    http: aiohttp.ClientSession, served: Served, rng: random.Random, budget: list[int], kinds: Counter[str]
) -> str:
    """One call: answer it as Twilio would, then send fuzz until `budget` runs out or the server closes it."""
    call_sid = "CA" + secrets.token_hex(16)
    params = {
        "CallSid": call_sid,
        "AccountSid": "AC" + "0" * 32,
        "From": "+15550100001",
        "To": "+15550100002",
    }
    for _ in range(60):  # a session the server closed before its start holds its slot a few seconds
        try:
            invite = await ring(http, served.url, served.token, params, served.url)
            break
        except SimulationError as e:
            if "busy" not in str(e):
                raise
            kinds["(busy, retried)"] += 1
            await asyncio.sleep(1.0)
    else:
        raise SimulationError("every line stayed busy for a minute")
    stream = Stream(call_sid, "MZ" + secrets.token_hex(16), invite.custom)
    async with http.ws_connect(invite.connect_url, headers={"x-twilio-signature": invite.signature}) as ws:
        drain = asyncio.create_task(_drain(ws, stream))
        if rng.random() < 0.3:  # some garbage before the start, as a confused client would send
            for _ in range(rng.randrange(1, 20)):
                await _send(ws, message(rng, stream), kinds)
        await ws.send_str(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        await ws.send_str(json.dumps(start(stream)))
        t0 = time.monotonic()
        sent = 0
        while budget[0] > 0 and not ws.closed:
            budget[0] -= 1
            try:
                await _send(ws, message(rng, stream), kinds)
            except (aiohttp.ClientError, ConnectionError, RuntimeError):
                break
            sent += 1
            await asyncio.sleep(max(0.0, t0 + sent / RATE - time.monotonic()))
        drain.cancel()
        await asyncio.gather(drain, return_exceptions=True)
        return f"closed by server ({ws.close_code})" if ws.closed and budget[0] > 0 else "fuzz sent"


async def _send(ws: aiohttp.ClientWebSocketResponse, msg: str | bytes, kinds: Counter[str]) -> None:
    if isinstance(msg, bytes):
        kinds["binary"] += 1
        await ws.send_bytes(msg)
        return
    try:
        label = str(json.loads(msg).get("event"))[:12] if msg.startswith("{") else "not json"
    except (ValueError, RecursionError, AttributeError):
        label = "not json"
    kinds[label if label.isascii() and label.isprintable() else "odd name"] += 1
    await ws.send_str(msg)


async def quiet(served: Served, tasks: int | None = None, timeout_s: float = 30.0) -> Sample:
    """Wait until no call is live and (given `tasks`) the server's asyncio tasks are back to that many (or
    `timeout_s` has passed), then sample it."""
    await settle(served)
    deadline = time.monotonic() + timeout_s
    now = sample(served, 0)
    while tasks is not None and now.tasks > tasks and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        now = sample(served, 0)
    return now


async def fuzz(
    served: Served, messages: int, at_once: int, per_session: int, seed: int, wav: Path, warm: Path
) -> FuzzResult:
    """Send `messages` fuzz messages in two rounds, `per_session` a call, `at_once` calls at a time; then a
    normal call saying `wav`. Memory is sampled after a warm-up call (saying `warm`) and after each round."""
    rng = random.Random(seed)
    await place_call(served.url, served.token, [str(warm)], reply_timeout_s=60)  # warm up
    before = await quiet(served)
    kinds: Counter[str] = Counter()
    closed: Counter[str] = Counter()
    sessions = 0
    t0 = time.monotonic()
    async with aiohttp.ClientSession() as http:

        async def worker(k: int, budget: list[int]) -> None:
            nonlocal sessions
            mine = random.Random(rng.random() + k)
            while budget[0] > 0:
                share = [min(per_session, budget[0])]
                budget[0] -= share[0]
                sessions += 1
                closed[await session(http, served, mine, share, kinds)] += 1
                budget[0] += share[0]  # what a closed session didn't send goes to the next one

        rounds = []
        for half in (messages // 2, messages - messages // 2):
            budget = [half]
            await asyncio.gather(*(worker(k, budget) for k in range(at_once)))
            rounds.append(await quiet(served, before.tasks))
    seconds = time.monotonic() - t0
    result = await place_call(served.url, served.token, [str(wav)], reply_timeout_s=60)
    after = await quiet(served, before.tasks)
    log = served.log.read_text(errors="replace").splitlines()
    crashes = [line[:300] for line in log if any(m in line for m in CRASH_MARKS)]
    reply = len(result.turns[0].reply_ulaw) / 8000 if result.turns else 0.0
    sent = sum(n for k, n in kinds.items() if not k.startswith("("))
    lag = loop_lag_p99_ms(served)
    return FuzzResult(sent, sessions, kinds, before, rounds[0], after, seconds, crashes, closed, reply, lag)


def report(result: FuzzResult, seed: int) -> list[str]:
    """The fuzz run as a BENCHMARKS.md section."""
    b, h, a = result.before, result.halfway, result.after
    kinds = ", ".join(f"{k} {n}" for k, n in result.kinds.most_common())
    return [
        SECTION_START,
        f"### Fuzzing the media stream ({dt.date.today().isoformat()}, {machine()})",
        "",
        f"`make fuzz` (seed {seed}): **{result.sent:,} generated messages** over {result.sessions} live "
        f"sessions in {result.seconds:.0f} s against `agent serve` in its own process, then a normal call.",
        "",
        "| | after one warm-up call | after half the messages | after all and a normal call |",
        "|---|---:|---:|---:|",
        f"| resident memory | {b.rss_mb:,.0f} MB | {h.rss_mb:,.0f} MB | {a.rss_mb:,.0f} MB |",
        f"| threads / open fds / asyncio tasks | {b.threads} / {b.fds} / {b.tasks} "
        f"| {h.threads} / {h.fds} / {h.tasks} | {a.threads} / {a.fds} / {a.tasks} |",
        "",
        f"- Unhandled exceptions in the server log: **{len(result.crash_lines)}**.",
        f"- The normal call afterwards: the agent answered with {result.normal_call_reply_s:.1f} s of audio.",
        f"- The server's event loop, p99 lag over the run: ≤ {result.loop_lag_p99_ms:g} ms "
        "(`agent_event_loop_lag_seconds`, the upper edge of its bucket).",
        f"- Sessions: {', '.join(f'{k}: {n}' for k, n in result.server_closed.items())}.",
        f"- Messages by event: {kinds}.",
        SECTION_END,
    ]


def run(
    messages: int,
    at_once: int,
    per_session: int,
    seed: int,
    work: Path,
    on: Callable[[Served], None] | None = None,
) -> FuzzResult:
    """Start a server in `work`, fuzz it, stop it."""
    from agent.voice.piper import load_piper, write_wav

    piper = load_piper("embedded")
    wav = write_wav(piper, "What time do you open on Saturday?", work / "saturday.wav")
    warm = write_wav(piper, "Thanks, bye!", work / "bye.wav")
    env = {
        "METRICS_TOKEN": METRICS_TOKEN,
        "MAX_CALLS": str(3 * at_once + 1),
        "PROMPTS_DIR": str(brief_prompts(work)),
    }
    with agent_serve(work, env) as served:
        if on is not None:
            on(served)
        result = asyncio.run(fuzz(served, messages, at_once, per_session, seed, wav, warm))
        assert served.process.poll() is None, "the server died"
    return result


def main() -> None:
    """Run the fuzz and print (or write into BENCHMARKS.md) its report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--at-once", type=int, default=4)
    parser.add_argument("--per-session", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, help="write the report into this markdown file's section")
    args = parser.parse_args()
    result = run(
        args.messages, args.at_once, args.per_session, args.seed, Path(tempfile.mkdtemp(prefix="fuzz-"))
    )
    lines = report(result, args.seed)
    print("\n".join(lines))
    for line in result.crash_lines[:20]:
        print(line)
    if args.out:
        write_section(args.out, SECTION_START, SECTION_END, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
