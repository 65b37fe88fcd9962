"""`agent calls list | show CALLSID | export --format json|csv | retention`: the call log from a shell.

`show` is for the operator on this machine and prints a recording's file under RECORDINGS_DIR beside its
console URL; `export` writes files that travel, so it carries only `has_recording` and the console URL.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TextIO

from agent.config import Settings
from agent.logs import mask_phone
from agent.records.db import Database, open_database
from agent.records.models import OUTCOMES
from agent.records.queries import (
    CALL_FIELDS,
    CallRecord,
    all_calls,
    get_call,
    list_calls,
    record_dict,
    recording_url,
)
from agent.records.repo import LATENCY_KEYS
from agent.records.retention import apply_retention
from agent.records.storage import settings_store


def register(sub: Any) -> None:
    """Add the `calls` command and its subcommands to the top-level subparsers."""
    calls = sub.add_parser("calls", help="the call log: list, show, export, retention")
    action = calls.add_subparsers(dest="calls_command", required=True)
    ls = action.add_parser("list", help="recent calls, newest first (numbers masked)")
    ls.add_argument("--limit", type=int, default=50)
    ls.add_argument("--outcome", choices=OUTCOMES)
    ls.add_argument("--business")
    show = action.add_parser("show", help="one call: transcript with offsets, latency, events, messages")
    show.add_argument("call_sid")
    export = action.add_parser(
        "export", help="every call as JSON (with turns and events) or CSV (one row each)"
    )
    export.add_argument("--format", choices=("json", "csv"), default="json")
    export.add_argument("--out", help="file to write (default: standard output)")
    keep = action.add_parser("retention", help="delete calls and recordings older than RETENTION_DAYS now")
    keep.add_argument("--days", type=int, help="override RETENTION_DAYS")


def run(args: argparse.Namespace, settings: Settings, out: TextIO | None = None) -> int:
    """Run a `calls` subcommand against the configured database; return the exit status."""
    commands: dict[str, Callable[[Database, argparse.Namespace, Settings, TextIO], Awaitable[int]]] = {
        "list": _list,
        "show": _show,
        "export": _export,
        "retention": _retention,
    }

    async def main() -> int:
        db = open_database(settings.db_url, settings.database_password)
        try:
            await db.upgrade()
            return await commands[args.calls_command](db, args, settings, out or sys.stdout)
        finally:
            await db.dispose()

    return asyncio.run(main())


def _stamp(call: Any) -> str:
    return str(call.started_at.isoformat(sep=" ", timespec="seconds"))


async def _list(db: Database, args: argparse.Namespace, _: Settings, out: TextIO) -> int:
    rows = await list_calls(db, args.limit, args.outcome, args.business)
    for call, turns in rows:
        duration = "-" if call.duration_s is None else f"{call.duration_s:.1f}s"
        print(
            f"{_stamp(call)}  {call.call_sid}  {call.business:<12} {mask_phone(call.caller) or '-':>6} "
            f"{duration:>8}  {call.outcome or 'in progress':<15} {turns} turns",
            file=out,
        )
    if not rows:
        print("no calls", file=out)
    return 0


def _latency(turn: Any) -> str:
    parts = [
        f"{column.removesuffix('_ms')} {value:.0f}"
        for column in LATENCY_KEYS.values()
        if (value := getattr(turn, column)) is not None
    ]
    return f"   [ms: {', '.join(parts)}]" if parts else ""


def _print_record(record: CallRecord, settings: Settings, out: TextIO) -> None:
    c = record.call
    print(f"call {c.call_sid}  stream {c.stream_sid}  business {c.business}  voice {c.voice}", file=out)
    print(f"  from {c.caller or '-'} to {c.called or '-'}  started {_stamp(c)}", file=out)
    print(
        f"  outcome {c.outcome or 'in progress'} ({c.end_reason or '-'})  duration {c.duration_s}s", file=out
    )
    if c.recording:
        where = settings_store(settings).where(c.recording)
        print(f"  recording {where} (console: {recording_url(c, settings.public_base_url)})", file=out)
    else:
        print("  recording -", file=out)
    for t in record.turns:
        flag = " (interrupted)" if t.interrupted else ""
        print(f"  [{t.start_s:7.2f}-{t.end_s:7.2f}] {t.speaker}: {t.text}{flag}{_latency(t)}", file=out)
        if t.speaker == "agent" and t.heard_text is not None and t.heard_text != t.text:
            print(f"  {'':17} heard: {t.heard_text}", file=out)
    for e in record.events:
        print(f"  event @{e.at_s:.2f}s {e.kind} (turn {e.turn_seq}): {json.dumps(e.detail)}", file=out)
    for m in record.messages:
        print(
            f"  message for {m.recipient} from {m.caller_name} ({m.callback_number}): {m.message}", file=out
        )


async def _show(db: Database, args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    records = await get_call(db, args.call_sid)
    if not records:
        print(f"no call {args.call_sid}", file=sys.stderr)
        return 1
    for record in records:
        _print_record(record, settings, out)
    return 0


async def _export(db: Database, args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    records = await all_calls(db)
    target = open(args.out, "w", newline="", encoding="utf-8") if args.out else out  # noqa: SIM115
    try:
        if args.format == "json":
            json.dump([record_dict(r, settings.public_base_url) for r in records], target, indent=2)
            target.write("\n")
        else:
            writer = csv.DictWriter(target, fieldnames=[*CALL_FIELDS, "turns", "messages", "transcript"])
            writer.writeheader()
            for r in records:
                row = {k: v for k, v in record_dict(r, settings.public_base_url).items() if k in CALL_FIELDS}
                transcript = " | ".join(f"{t.speaker}: {t.heard_text or t.text}" for t in r.turns)
                writer.writerow(
                    {**row, "turns": len(r.turns), "messages": len(r.messages), "transcript": transcript}
                )
    finally:
        if target is not out:
            target.close()
    return 0


async def _retention(db: Database, args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    days = settings.retention_days if args.days is None else args.days
    removed = await apply_retention(db, days, settings_store(settings))
    print(f"deleted {removed.calls} calls and {removed.files} recordings older than {days} days", file=out)
    return 0
