"""The console over real HTTP: the login guard, CSRF, roles, the recording handler and the audit log."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import json
import re
import wave
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from agent.config import Settings
from agent.console.models import AuditEntry
from agent.console.queries import inbox
from agent.models import Models
from agent.records import repo
from agent.records.db import Database
from agent.server import STATE, create_app
from agent.simulate import place_call
from tests.conftest import AUTH_TOKEN
from tests.console.conftest import METRICS_TOKEN, RECORDING, RECORDING_S, Seeded, csrf_of, log_in
from tests.records.helpers import T0, seed_call

CALLER = "+15550100001"


async def audit_actions(db: Database) -> list[tuple[str, str, str]]:
    async with db.sessions() as session:
        rows = await session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [(a.operator, a.action, a.target) for a in rows]


class TestLoginGuard:
    async def test_pages_without_a_session_redirect_to_the_login_form(
        self, console: Seeded, http: aiohttp.ClientSession
    ) -> None:
        """A browser asking for any console page without a session is sent to log in, keeping where it was."""
        for path in ("/console/calls", f"/console/calls/{console.call_sid}", "/console/messages", "/nowhere"):
            async with http.get(console.url(path), allow_redirects=False) as r:
                assert r.status == 302, path
                assert r.headers["Location"].startswith("/console/login?next=")

    async def test_data_without_a_session_is_refused_with_401(self, console: Seeded) -> None:
        """Recordings, clips and exports answer 401 to a client with no session."""
        async with aiohttp.ClientSession() as anon:
            for path in (
                f"/console/recordings/{console.call_id}",
                f"/console/recordings/{console.call_id}/clip?start=0&end=1",
                "/console/export.json",
            ):
                async with anon.get(console.url(path), allow_redirects=False) as r:
                    assert r.status == 401, path

    async def test_health_and_readiness_stay_open_and_metrics_need_their_token(self, console: Seeded) -> None:
        """/healthz and /readyz answer without a session; /metrics only with its bearer token."""
        async with aiohttp.ClientSession() as anon:
            for path in ("/healthz", "/readyz"):
                async with anon.get(console.url(path)) as r:
                    assert r.status == 200, path
            async with anon.get(console.url("/readyz")) as r:
                assert set(await r.json()) == {"ready", "reason", "live_calls", "max_calls", "max_calls_from"}
            async with anon.get(console.url("/metrics")) as r:
                assert r.status == 401
            async with anon.get(
                console.url("/metrics"), headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
            ) as r:
                assert r.status == 200 and "agent_live_calls" in await r.text()

    async def test_a_console_session_does_not_open_the_metrics(
        self, console: Seeded, http: aiohttp.ClientSession
    ) -> None:
        """An admin logged in to the console still gets 401 from /metrics without the bearer token."""
        assert await log_in(http, console, "admin") == 200
        async with http.get(console.url("/metrics")) as r:
            assert r.status == 401

    async def test_a_wrong_password_is_refused_and_repeated_failures_are_limited(
        self, console: Seeded, http: aiohttp.ClientSession
    ) -> None:
        """Five wrong passwords for a name earn 401s; the sixth try, even with the right one, gets 429."""
        statuses = [await log_in(http, console, "editor", "wrong password!") for _ in range(5)]
        assert statuses == [401] * 5
        assert await log_in(http, console, "editor") == 429

    async def test_the_session_cookie_is_httponly_and_samesite_lax(
        self, console: Seeded, http: aiohttp.ClientSession
    ) -> None:
        """Logging in sets an HttpOnly, SameSite=Lax session cookie (not Secure on plain http)."""
        async with http.get(console.url("/console/login")) as page:
            form = {"csrf": csrf_of(await page.text()), "name": "admin", "password": "correct horse battery"}
        async with http.post(console.url("/console/login"), data=form, allow_redirects=False) as r:
            assert r.status == 302
            cookie = r.cookies["console_session"]
            assert cookie["httponly"] and cookie["samesite"] == "Lax" and not cookie["secure"]

    async def test_cookies_are_secure_when_the_public_url_is_https(
        self, settings: Settings, models: Models
    ) -> None:
        """Behind an https PUBLIC_BASE_URL the login form's cookie is marked Secure."""
        server = TestServer(
            create_app(replace(settings, public_base_url="https://console.example.com"), models)
        )
        await server.start_server()
        try:
            async with aiohttp.ClientSession() as anon, anon.get(server.make_url("/console/login")) as r:
                cookie = r.cookies["console_login_csrf"]
                assert cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "Lax"
        finally:
            await server.close()


class TestCsrf:
    async def test_a_form_without_its_csrf_token_is_refused(
        self, console: Seeded, http: aiohttp.ClientSession
    ) -> None:
        """Marking a message handled without the token, or with another, is 403; the message stays open."""
        assert await log_in(http, console, "editor") == 200
        path = console.url(f"/console/messages/{console.message_id}/handled")
        for data in ({}, {"csrf": "not-the-token"}):
            async with http.post(path, data=data, allow_redirects=False) as r:
                assert r.status == 403
        (message,) = await inbox(console.db)
        assert message.handled_at is None

    async def test_the_login_form_needs_its_csrf_token(
        self, console: Seeded, http: aiohttp.ClientSession
    ) -> None:
        """A login POST without the form's token is 403 even with the right password."""
        form = {"name": "admin", "password": "correct horse battery"}
        async with http.post(console.url("/console/login"), data=form, allow_redirects=False) as r:
            assert r.status == 403


class TestRoles:
    async def test_a_viewer_sees_masked_numbers(self, console: Seeded, http: aiohttp.ClientSession) -> None:
        """A viewer's calls list, call page and inbox show only a number's last two digits."""
        assert await log_in(http, console, "viewer") == 200
        for path in ("/console/calls", f"/console/calls/{console.call_sid}", "/console/messages"):
            async with http.get(console.url(path)) as r:
                html = await r.text()
            assert CALLER not in html and "6175550100" not in html and "+16175550100" not in html, path
            assert "***01" in html or "***00" in html, path

    async def test_an_editor_sees_full_numbers(self, console: Seeded, http: aiohttp.ClientSession) -> None:
        """An editor's calls list shows the caller's number in full."""
        assert await log_in(http, console, "editor") == 200
        async with http.get(console.url("/console/calls")) as r:
            assert CALLER in await r.text()

    async def test_a_viewer_cannot_mark_a_message_handled(
        self, console: Seeded, http: aiohttp.ClientSession
    ) -> None:
        """The inbox offers a viewer no button, and the POST (with a valid token) is 403."""
        assert await log_in(http, console, "viewer") == 200
        async with http.get(console.url("/console/messages")) as r:
            html = await r.text()
        assert "Mark handled" not in html
        path = console.url(f"/console/messages/{console.message_id}/handled")
        async with http.post(path, data={"csrf": csrf_of(html)}, allow_redirects=False) as r:
            assert r.status == 403
        (message,) = await inbox(console.db)
        assert message.handled_at is None

    async def test_an_editor_marks_a_message_handled_and_it_is_audited(
        self, console: Seeded, http: aiohttp.ClientSession
    ) -> None:
        """The editor's POST marks it handled by them, and the audit log says so."""
        assert await log_in(http, console, "editor") == 200
        async with http.get(console.url("/console/messages")) as r:
            token = csrf_of(await r.text())
        path = console.url(f"/console/messages/{console.message_id}/handled")
        async with http.post(path, data={"csrf": token}) as r:
            assert r.status == 200 and "handled by editor" in await r.text()
        assert ("editor", "mark_handled", f"message:{console.message_id}") in await audit_actions(console.db)

    async def test_only_an_admin_reads_the_audit_log(
        self, console: Seeded, http: aiohttp.ClientSession
    ) -> None:
        """The audit page is 403 for an editor."""
        assert await log_in(http, console, "editor") == 200
        async with http.get(console.url("/console/audit")) as r:
            assert r.status == 403


class TestRecording:
    async def test_the_recording_honours_range_requests(
        self, console: Seeded, http: aiohttp.ClientSession
    ) -> None:
        """A Range request gets 206 with exactly those bytes; the whole file is the stereo WAV."""
        assert await log_in(http, console, "viewer") == 200
        url = console.url(f"/console/recordings/{console.call_id}")
        async with http.get(url) as r:
            assert r.status == 200 and r.headers["Content-Type"] == "audio/wav"
            whole = await r.read()
        with wave.open(io.BytesIO(whole)) as wav:
            assert wav.getnchannels() == 2 and wav.getnframes() == int(RECORDING_S * 8000)
        async with http.get(url, headers={"Range": "bytes=100-199"}) as r:
            assert r.status == 206
            assert r.headers["Content-Range"] == f"bytes 100-199/{len(whole)}"
            assert await r.read() == whole[100:200]

    async def test_a_clip_is_cut_around_a_moment(self, console: Seeded, http: aiohttp.ClientSession) -> None:
        """The clip handler returns a stereo WAV of just the asked span."""
        assert await log_in(http, console, "viewer") == 200
        url = console.url(f"/console/recordings/{console.call_id}/clip?start=2.4&end=5.4")
        async with http.get(url) as r:
            assert r.status == 200
            with wave.open(io.BytesIO(await r.read())) as wav:
                assert wav.getnchannels() == 2 and wav.getnframes() == 3 * 8000

    async def test_play_download_clip_and_export_are_audited(
        self, console: Seeded, http: aiohttp.ClientSession
    ) -> None:
        """Each of play, download, clip and export writes an audit row naming the operator."""
        assert await log_in(http, console, "admin") == 200
        base = f"/console/recordings/{console.call_id}"
        for path in (base, f"{base}?download=1", f"{base}/clip?start=0&end=2", "/console/export.csv"):
            async with http.get(console.url(path)) as r:
                assert r.status == 200, path
                await r.read()
        target = f"recording:{console.call_sid}"
        assert await audit_actions(console.db) == [
            ("admin", "play", target),
            ("admin", "download", target),
            ("admin", "play_clip", target),
            ("admin", "export", "calls:csv"),
        ]
        async with http.get(console.url("/console/audit")) as r:
            assert "download" in await r.text()


async def seed_more(db: Database) -> None:
    """Thirty more calls a day apart from 2026-10-01, one of which asked about parking."""
    for i in range(30):
        call_id = await seed_call(
            db, f"CA{i:032d}", started_at=T0.replace(month=10, day=1) + dt.timedelta(days=i)
        )
        if i == 12:
            async with db.sessions.begin() as session:
                turn = repo.TurnRecord(5, "caller", "Is there parking behind the building?", 6.0, 7.0)
                await repo.insert_turn(session, call_id, turn)


def listed(html: str) -> list[str]:
    return re.findall(r'class="call-link" href="/console/calls/(CA\w+)"', html)


class TestCallsList:
    async def test_calls_are_paged_newest_first(self, console: Seeded, http: aiohttp.ClientSession) -> None:
        """31 calls make two pages of 25 and 6, newest first, with a link to the older page."""
        await seed_more(console.db)
        assert await log_in(http, console, "viewer") == 200
        async with http.get(console.url("/console/calls")) as r:
            first = await r.text()
        async with http.get(console.url("/console/calls?page=2")) as r:
            second = await r.text()
        assert "31 call(s)" in first and len(listed(first)) == 25 and len(listed(second)) == 6
        assert listed(first)[0] == console.call_sid  # seeded on 2026-11-01, the newest
        assert listed(second)[-1] == f"CA{0:032d}" and "older →" in first and "older →" not in second

    async def test_filters_narrow_by_text_date_outcome_and_number(
        self, console: Seeded, http: aiohttp.ClientSession
    ) -> None:
        """Each filter keeps just the calls it describes."""
        await seed_more(console.db)
        assert await log_in(http, console, "editor") == 200

        async def sids(query: str) -> list[str]:
            async with http.get(console.url(f"/console/calls?{query}")) as r:
                assert r.status == 200, query
                return listed(await r.text())

        assert await sids("q=PARKING") == [f"CA{12:032d}"]
        assert await sids("since=2026-10-05&until=2026-10-06") == [f"CA{5:032d}", f"CA{4:032d}"]
        assert len(await sids("outcome=completed")) == 25 and await sids("outcome=error") == []
        assert len(await sids("number=0100001&business=example")) == 25 and await sids("number=999") == []


async def seed_other_caller(db: Database) -> str:
    """A call from +16175550123 whose caller says that number; return its CallSid."""
    sid = "CA" + "9" * 32
    info = repo.CallInfo(sid, "MZ" + "9" * 32, "example", T0, T0, "+15550100002", "+16175550123")
    async with db.sessions.begin() as session:
        call_id = await repo.insert_call(session, info)
        turn = repo.TurnRecord(0, "caller", "Call me back on 617 555 0123 please.", 0.5, 2.0)
        await repo.insert_turn(session, call_id, turn)
    return sid


KEYED = "4012888888881881"  # a card number keyed in; as separate keypresses, no text redaction sees it
WEBHOOK_URL = "https://hooks.example.com/T01/s3cret?token=abc"


async def seed_sensitive_events(db: Database, call_id: int) -> None:
    """A card number keyed in, a webhook attempt (its URL is a secret) and an error naming a number."""
    async with db.sessions.begin() as session:
        for i, digit in enumerate(KEYED):
            await repo.insert_event(session, call_id, "dtmf", 3.0 + i / 10, {"digit": digit}, 0)
        detail = {"url": WEBHOOK_URL, "attempt": 1, "status": 200, "delivered": True, "final": True}
        await repo.insert_event(session, call_id, "webhook", 7.0, detail, None)
        error = {"error": "transfer to 617 555 0100 failed", "fatal": False}
        await repo.insert_event(session, call_id, "error", 5.0, error, 0)


class TestViewerFilters:
    async def test_a_viewers_number_filter_matches_only_the_last_four_digits(
        self, console: Seeded, http: aiohttp.ClientSession
    ) -> None:
        """A viewer cannot confirm a full number: a wrong number with the same last 4 digits matches too."""
        other = await seed_other_caller(console.db)
        assert await log_in(http, console, "viewer") == 200

        async def sids(query: str) -> tuple[list[str], str]:
            async with http.get(console.url(f"/console/calls?{query}")) as r:
                html = await r.text()
            return listed(html), html

        assert (await sids("number=%2B16175550123"))[0] == [other]
        assert (await sids("number=%2B19995550123"))[0] == [other]  # same last 4, another number
        assert (await sids("number=617555"))[0] == []  # no match in the middle of a number
        found, html = await sids("number=0123")
        assert found == [other] and "matches only the last 4 digits" in html and "(here …0123)" in html
        async with http.get(console.url("/console/export.json?number=%2B19995550123")) as r:
            assert [c["call_sid"] for c in json.loads(await r.text())] == [other]

    async def test_a_viewers_transcript_search_for_a_phone_number_is_ignored(
        self, console: Seeded, http: aiohttp.ClientSession
    ) -> None:
        """A viewer's search for a number said in a call lists every call and says the search was ignored."""
        other = await seed_other_caller(console.db)
        assert await log_in(http, console, "viewer") == 200
        async with http.get(console.url("/console/calls?q=617+555+0123")) as r:
            html = await r.text()
        assert sorted(listed(html)) == sorted([console.call_sid, other]) and "(as it was now)" in html
        async with http.get(console.url("/console/calls?q=call+me+back")) as r:
            assert listed(await r.text()) == [other]

    async def test_like_wildcards_in_a_viewers_search_match_only_themselves(
        self, console: Seeded, http: aiohttp.ClientSession
    ) -> None:
        """'_' and '%' in a search are literal: q=555_0123 can't find a call where '555 0123' was said."""
        await seed_other_caller(console.db)
        assert await log_in(http, console, "viewer") == 200
        for q in ("555_0123", "55%250123", "me_back", "%25"):
            async with http.get(console.url(f"/console/calls?q={q}")) as r:
                assert listed(await r.text()) == [], q

    async def test_an_editor_filters_by_any_part_of_a_number_and_by_numbers_said(
        self, console: Seeded, http: aiohttp.ClientSession
    ) -> None:
        """An editor, who sees numbers in full, matches anywhere in a number and searches for numbers said."""
        other = await seed_other_caller(console.db)
        assert await log_in(http, console, "editor") == 200
        for query, expected in (
            ("number=%2B19995550123", []),
            ("number=617555", [other]),
            ("q=617+555+0123", [other]),
        ):
            async with http.get(console.url(f"/console/calls?{query}")) as r:
                html = await r.text()
            assert listed(html) == expected, query
            assert "viewer-filter" not in html


class TestExport:
    async def test_a_viewer_exports_json_with_turns_and_masked_numbers(
        self, console: Seeded, http: aiohttp.ClientSession
    ) -> None:
        """The JSON export carries each call's turns, events and messages, numbers masked for a viewer."""
        assert await log_in(http, console, "viewer") == 200
        async with http.get(console.url("/console/export.json")) as r:
            assert r.status == 200 and "attachment" in r.headers["Content-Disposition"]
            (call,) = json.loads(await r.text())
        assert call["call_sid"] == console.call_sid and call["caller"] == "***01"
        assert [t["speaker"] for t in call["turns"]] == ["caller", "agent"]
        assert call["messages"][0]["callback_number"] == "***00"
        assert ("viewer", "export", "calls:json") in await audit_actions(console.db)

    async def test_a_viewer_gets_events_masked_in_the_export_as_on_the_call_page(
        self, console: Seeded, http: aiohttp.ClientSession
    ) -> None:
        """Keys pressed, a webhook's URL and a number in an error reach a viewer masked in both; an editor's
        export keeps them, as the editor's call page shows them."""
        await seed_sensitive_events(console.db, console.call_id)
        assert await log_in(http, console, "viewer") == 200
        async with http.get(console.url("/console/export.json")) as r:
            exported = await r.text()
        async with http.get(console.url(f"/console/calls/{console.call_sid}")) as r:
            page = await r.text()
        (call,) = json.loads(exported)
        keys = [e["detail"]["digit"] for e in call["events"] if e["kind"] == "dtmf"]
        assert keys == ["•"] * len(KEYED) and "digit=•" in page
        for shown in (json.dumps(call, ensure_ascii=False), page):
            assert "digit=4" not in shown and "s3cret" not in shown and "token=" not in shown
            assert "617 555 0100" not in shown and "6175550100" not in shown
            assert "hooks.example.com/…" in shown and "***00" in shown
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as editor:
            assert await log_in(editor, console, "editor") == 200
            async with editor.get(console.url("/console/export.json")) as r:
                (full,) = json.loads(await r.text())
        assert "".join(e["detail"]["digit"] for e in full["events"] if e["kind"] == "dtmf") == KEYED
        assert any(e["detail"].get("url") == WEBHOOK_URL for e in full["events"])

    async def test_exports_link_the_recording_by_its_console_url_never_its_file(
        self, console: Seeded, http: aiohttp.ClientSession
    ) -> None:
        """JSON and CSV exports say `has_recording` and give the console URL, which serves the audio."""
        assert await log_in(http, console, "editor") == 200
        texts = {}
        for fmt in ("json", "csv"):
            async with http.get(console.url(f"/console/export.{fmt}")) as r:
                texts[fmt] = await r.text()
            assert RECORDING not in texts[fmt] and "seeded.wav" not in texts[fmt], fmt
        (call,) = json.loads(texts["json"])
        assert call["has_recording"] is True and "recording" not in call
        assert call["recording_url"] == console.url(f"/console/recordings/{console.call_id}")
        assert call["recording_url"] in texts["csv"]
        async with http.get(call["recording_url"]) as r:
            assert r.status == 200 and r.content_type == "audio/wav"


class TestRetention:
    async def test_only_an_admin_applies_retention_and_old_calls_go(
        self, console: Seeded, http: aiohttp.ClientSession
    ) -> None:
        """An editor's POST is 403; the admin's deletes only the call older than 90 days, and is audited."""
        await seed_call(console.db, "CA" + "8" * 32, started_at=T0.replace(year=2025))
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as editor:
            assert await log_in(editor, console, "editor") == 200
            async with editor.get(console.url("/console/messages")) as r:
                token = csrf_of(await r.text())
            async with editor.post(console.url("/console/retention"), data={"csrf": token}) as r:
                assert r.status == 403
        assert await log_in(http, console, "admin") == 200
        async with http.get(console.url("/console/operators")) as r:
            token = csrf_of(await r.text())
        async with http.post(console.url("/console/retention"), data={"csrf": token}) as r:
            assert r.status == 200 and "Removed 1 call(s)" in await r.text()
        async with http.get(console.url("/console/calls")) as r:
            assert listed(await r.text()) == [console.call_sid]
        assert ("admin", "retention", "days:90") in await audit_actions(console.db)


class TestWebhooks:
    async def test_webhook_attempts_are_listed_with_their_outcome(
        self, console: Seeded, http: aiohttp.ClientSession
    ) -> None:
        """A failed try and the delivery after it both show, newest first, linked to their call."""
        async with console.db.sessions.begin() as session:
            for detail in (
                {"attempt": 1, "status": 503, "error": "HTTP 503", "delivered": False, "final": False},
                {"attempt": 2, "status": 200, "error": "", "delivered": True, "final": True},
            ):
                await repo.insert_event(session, console.call_id, "webhook", 7.0, {"at": "t", **detail}, None)
        assert await log_in(http, console, "viewer") == 200
        async with http.get(console.url("/console/webhooks")) as r:
            html = await r.text()
        rows = re.findall(r'<tr class="delivery">(.*?)</tr>', html, re.S)
        assert len(rows) == 2 and "delivered" in rows[0] and "will retry" in rows[1] and "HTTP 503" in rows[1]
        assert f"/console/calls/{console.call_sid}" in rows[0]


class TestLive:
    async def test_a_call_in_progress_is_listed_live_with_its_number_masked_for_a_viewer(
        self, console: Seeded, http: aiohttp.ClientSession
    ) -> None:
        """While a simulated call holds the line it is on the live page; once it hangs up it is gone."""
        assert await log_in(http, console, "viewer") == 200
        call = asyncio.create_task(
            place_call(console.url("/"), AUTH_TOKEN, [], public_base_url=console.url("/"), hold_s=30)
        )
        try:
            html = ""
            async with asyncio.timeout(30):
                while "/console/calls/CA" not in html:
                    await asyncio.sleep(0.2)
                    async with http.get(console.url("/console/live")) as r:
                        html = await r.text()
            assert "***01" in html and CALLER not in html and "1 of at most" in html
        finally:
            call.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await call
        async with asyncio.timeout(15):
            while "No calls right now" not in html:
                await asyncio.sleep(0.2)
                async with http.get(console.url("/console/live")) as r:
                    html = await r.text()

    async def test_calls_open_on_other_servers_are_listed_live_with_their_server(
        self, console: Seeded, http: aiohttp.ClientSession
    ) -> None:
        """Another pod's open call (from the call log) is listed with its pod; stale or ended ones are not."""
        now = dt.datetime.now(dt.UTC)
        elsewhere, stale, ended = ("CA" + c * 32 for c in "abc")
        await seed_call(
            console.db, elsewhere, started_at=now - dt.timedelta(minutes=2), ended=False, server="pod-2"
        )
        await seed_call(
            console.db, stale, started_at=now - dt.timedelta(hours=2), ended=False, server="pod-3"
        )
        await seed_call(console.db, ended, started_at=now - dt.timedelta(minutes=1), server="pod-2")
        assert await log_in(http, console, "viewer") == 200
        async with http.get(console.url("/console/live")) as r:
            html = await r.text()
        row = re.search(rf'<tr class="elsewhere">.*?{elsewhere}.*?</tr>', html, re.S)
        assert row is not None, html
        assert '<td class="server">pod-2</td>' in row.group(0) and "***01" in row.group(0)
        assert CALLER not in html and stale not in html and ended not in html
        assert (
            "0 of at most" in html
            and "1 on other servers" in html
            and "started in the last 15 minutes" in html
        )


class TestForensicsOnARealCall:
    @pytest.mark.models
    async def test_a_backchannel_over_the_greeting_is_shown_with_its_trigger_and_a_clip(
        self, console: Seeded, http: aiohttp.ClientSession, speech_dir: Path
    ) -> None:
        """'Okay.' said over the greeting: the call page lists a backchannel barge-in whose clip plays."""
        if "postgresql" in str(console.server.app[STATE].settings.db_url):
            pytest.skip("one simulated call is enough: SQLite only")
        result = await place_call(
            console.url("/"), AUTH_TOKEN, [str(speech_dir / "okay.wav")], public_base_url=console.url("/"),
            barge_in_after_s=1.5,
        )  # fmt: skip
        async with asyncio.timeout(15):
            while console.server.app[STATE].calls:
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        assert await log_in(http, console, "viewer") == 200
        async with http.get(console.url(f"/console/calls/{result.call_sid}")) as r:
            html = await r.text()
        forensics = html.split('class="forensics"')[1].split("</table>")[0]
        assert "backchannel" in forensics and "real interruption" not in forensics
        assert "okay" in forensics.lower() and 'class="mark backchannel"' in html
        clip = re.search(r'src="(/console/recordings/\d+/clip\?start=[\d.]+&amp;end=[\d.]+)"', forensics)
        assert clip is not None
        async with http.get(console.url(clip.group(1).replace("&amp;", "&"))) as r:
            assert r.status == 200
            with wave.open(io.BytesIO(await r.read())) as wav:
                assert wav.getnchannels() == 2 and 3.0 <= wav.getnframes() / 8000 <= 5.0
