"""Console pages for calls: the filtered list, one call in full, its recording and clips, and export."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from typing import Any

import structlog
from aiohttp import web

from agent.console import queries, views
from agent.console.app import CONSOLE, PREFIX, login_of, render, require
from agent.console.media import HEADER, RangeError, byte_range, clip_bytes, wav_bytes, wav_format
from agent.records.models import OUTCOMES, Call
from agent.records.queries import CALL_FIELDS, RECORDING_PATH, get_call, record_dict
from agent.records.storage import RecordingStore, Stored

log = structlog.get_logger(__name__)
VIEWER_NUMBER_DIGITS = 4


def _date(raw: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(raw) if raw else None
    except ValueError:
        raise web.HTTPBadRequest(text=f"not a date (YYYY-MM-DD): {raw!r}") from None


def call_filter(request: web.Request) -> queries.CallFilter:
    """The calls filter from a request's query string, narrowed for a viewer (who sees numbers masked).

    A viewer's number filter keeps only the last VIEWER_NUMBER_DIGITS digits and matches them at the end of a
    number, and a transcript search of theirs that holds a phone number is ignored: neither confirms a number.
    """
    q = request.query
    outcome = q.get("outcome", "")
    number, text = q.get("number", "").strip(), q.get("q", "").strip()
    viewer = not login_of(request).can("editor")
    if viewer:
        number = re.sub(r"\D", "", number)[-VIEWER_NUMBER_DIGITS:]
        text = "" if views.has_phone_number(text) else text
    return queries.CallFilter(
        since=_date(q.get("since", "")),
        until=_date(q.get("until", "")),
        outcome=outcome if outcome in OUTCOMES else "",
        business=q.get("business", "").strip(),
        number=number,
        text=text,
        number_tail=viewer,
    )


async def calls_list(request: web.Request) -> web.StreamResponse:
    """Calls, newest first, filtered and paged."""
    db = request.app[CONSOLE].db
    where = call_filter(request)
    try:
        page = int(request.query.get("page", "1"))
    except ValueError:
        page = 1
    result = await queries.search_calls(db, where, page)
    params = {k: v for k, v in request.query.items() if k != "page" and v}
    return render(
        request,
        "calls.html",
        result=result,
        f=request.query,
        where=where,
        viewer_digits=VIEWER_NUMBER_DIGITS,
        params=params,
        outcomes=OUTCOMES,
        businesses=await queries.businesses(db),
    )


async def call_page(request: web.Request) -> web.StreamResponse:
    """One call: transcript, recording, messages, events, heard vs generated, waterfall, forensics."""
    console = request.app[CONSOLE]
    records = await get_call(console.db, request.match_info["call_sid"])
    if not records:
        raise web.HTTPNotFound(text="no such call")
    stages = views.governing_settings(console.state.settings)
    recorded = [
        bool(r.call.recording) and await console.store.stat(r.call.recording or "") is not None
        for r in records
    ]
    streams = [
        {
            "record": r,
            "tools": views.tools_by_turn(r.events),
            "heard": {
                t.seq: views.heard_split(t.text, t.heard_text) for t in r.turns if t.speaker == "agent"
            },
            "partials": {t.seq: views.partial_steps(t.partials) for t in r.turns if t.speaker == "caller"},
            "latency": views.latency_summary(r.turns, stages),
            "barge_ins": views.forensics(r.turns, r.events),
            "length_s": max([r.call.duration_s or 0.0] + [t.end_s for t in r.turns] + [1.0]),
            "has_recording": has_recording,
        }
        for r, has_recording in zip(records, recorded, strict=True)
    ]
    return render(request, "call.html", call_sid=records[0].call.call_sid, streams=streams)


async def _recording(request: web.Request) -> tuple[Call, Stored]:
    console = request.app[CONSOLE]
    try:
        call = await queries.call_by_id(console.db, int(request.match_info["call_id"]))
    except ValueError:
        raise web.HTTPNotFound() from None
    stored = await console.store.stat(call.recording) if call is not None and call.recording else None
    if call is None or stored is None:
        raise web.HTTPNotFound(text="no recording for this call")
    return call, stored


async def _read(store: RecordingStore, name: str, start: int, end: int) -> bytes:
    return b"".join([chunk async for chunk in store.read(name, start, end)])


async def recording(request: web.Request) -> web.StreamResponse:
    """The call's stereo recording, streamed from the store (HTTP Range honoured); playing or downloading
    it is audited."""
    login = require(request, "viewer")
    call, stored = await _recording(request)
    try:
        wanted = byte_range(request.headers.get("Range"), stored.size)
    except RangeError:
        raise web.HTTPRequestRangeNotSatisfiable(
            headers={"Content-Range": f"bytes */{stored.size}"}
        ) from None
    start, end = wanted or (0, stored.size)
    response = web.StreamResponse(
        status=206 if wanted else 200,
        headers={"Content-Type": "audio/wav", "Cache-Control": "private", "Accept-Ranges": "bytes"},
    )
    if wanted:
        response.headers["Content-Range"] = f"bytes {start}-{end - 1}/{stored.size}"
    response.content_length = end - start
    download = request.query.get("download") == "1"
    if download:
        response.headers["Content-Disposition"] = f'attachment; filename="{call.call_sid}.wav"'
    # A player fetches the file in ranges as it seeks: audit the first request, not every range.
    if download or start == 0:
        action = "download" if download else "play"
        await queries.audit(request.app[CONSOLE].db, login.name, action, f"recording:{call.call_sid}")
    await response.prepare(request)
    assert call.recording is not None
    async for chunk in request.app[CONSOLE].store.read(call.recording, start, end):
        await response.write(chunk)
    await response.write_eof()
    return response


async def clip(request: web.Request) -> web.StreamResponse:
    """A short WAV cut from the recording around a moment (`start`, `end` in seconds), reading only its
    bytes from the store; audited as played."""
    login = require(request, "viewer")
    call, stored = await _recording(request)
    try:
        start, end = float(request.query["start"]), float(request.query["end"])
    except (KeyError, ValueError):
        raise web.HTTPBadRequest(text="start and end (seconds) are required") from None
    if not 0 <= start < end or end - start > 30:
        raise web.HTTPBadRequest(text="a clip is 0 to 30 seconds of the call")
    store, name = request.app[CONSOLE].store, call.recording
    assert name is not None
    try:
        fmt = wav_format(await _read(store, name, 0, HEADER), stored.size)
    except ValueError:
        raise web.HTTPNotFound(text="the recording cannot be read") from None
    first, last = clip_bytes(fmt, start, end)
    body = wav_bytes(fmt, await _read(store, name, first, last))
    await queries.audit(
        request.app[CONSOLE].db, login.name, "play_clip", f"recording:{call.call_sid}", start=start, end=end
    )
    return web.Response(body=body, content_type="audio/wav", headers={"Cache-Control": "private"})


def _mask_row(row: dict[str, Any]) -> None:
    """Mask an exported call for a viewer as the call page does: numbers, transcripts, events, messages."""
    row["caller"], row["called"] = views.mask_number(row["caller"]), views.mask_number(row["called"])
    for turn in row["turns"]:
        turn["text"] = views.mask_text(turn["text"])
        turn["heard_text"] = turn["heard_text"] and views.mask_text(turn["heard_text"])
        turn["partials"] = [
            {**p, "text": views.mask_text(str(p.get("text", "")))} for p in turn["partials"] or []
        ]
    for event in row["events"]:
        event["detail"] = views.mask_detail(event["kind"], event["detail"])
    for m in row["messages"]:
        m["callback_number"] = views.mask_number(m["callback_number"])
        m["caller_name"] = views.mask_text(m["caller_name"])
        m["message"] = views.mask_text(m["message"])


async def export(request: web.Request) -> web.StreamResponse:
    """The filtered calls as CSV (one row each) or JSON (with turns, events, messages); audited."""
    login = require(request, "viewer")
    console = request.app[CONSOLE]
    fmt = request.match_info["fmt"]
    where = call_filter(request)
    records = [
        r for sid in await queries.matching_sids(console.db, where) for r in await get_call(console.db, sid)
    ]
    masked = not login.can("editor")
    rows = [record_dict(r, console.state.settings.public_base_url) for r in records]
    if masked:
        for row in rows:
            _mask_row(row)
    await queries.audit(
        console.db, login.name, "export", f"calls:{fmt}", count=len(rows), filters=dict(request.query)
    )
    log.info("console_export", operator=login.name, format=fmt, calls=len(rows))
    name = f"calls-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if fmt == "json":
        return web.Response(text=json.dumps(rows, indent=1), content_type="application/json", headers=headers)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*CALL_FIELDS, "turns"], extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "turns": len(row["turns"])})
    return web.Response(text=out.getvalue(), content_type="text/csv", headers=headers)


def add_routes(router: web.UrlDispatcher) -> None:
    """Register the call pages."""
    router.add_get(f"{PREFIX}/calls", calls_list)
    router.add_get(f"{PREFIX}/calls/{{call_sid}}", call_page)
    router.add_get(RECORDING_PATH, recording)
    router.add_get(f"{RECORDING_PATH}/clip", clip)
    router.add_get(f"{PREFIX}/export.{{fmt:csv|json}}", export)
