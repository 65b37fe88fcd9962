"""Operators: scrypt passwords, accounts added, re-roled or removed (CLI or admin form), logins limited."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import aiohttp
from sqlalchemy import select

from agent.cli import build_parser
from agent.config import Settings
from agent.console import cli
from agent.console.auth import LoginLimiter, add_operator, list_operators, log_in, session_login
from agent.console.models import AuditEntry
from agent.console.passwords import hash_password, verify_password
from agent.records.db import Database, open_database
from tests.console.conftest import Seeded, csrf_of
from tests.console.conftest import log_in as log_in_browser

PASSWORD = "correct horse battery"


class TestPasswords:
    def test_a_hash_verifies_only_its_own_password(self) -> None:
        """The right password verifies; another, or a mangled hash, does not."""
        stored = hash_password(PASSWORD)
        assert stored.startswith("scrypt$") and PASSWORD not in stored
        assert verify_password(PASSWORD, stored)
        assert not verify_password("correct horse batterY", stored)
        assert not verify_password(PASSWORD, "scrypt$broken")

    def test_the_same_password_hashes_differently_each_time(self) -> None:
        """Each hash has its own salt."""
        assert hash_password(PASSWORD) != hash_password(PASSWORD)


class TestLimiter:
    def test_failures_past_the_limit_block_that_key_only(self) -> None:
        """Three failures block the address; another address is still let through."""
        limiter = LoginLimiter(attempts=3, window_s=60)
        for _ in range(3):
            assert not limiter.blocked("addr:a")
            limiter.failed("addr:a")
        assert limiter.blocked("addr:a") and not limiter.blocked("addr:b")

    def test_failures_expire_after_the_window_and_are_forgotten(self) -> None:
        """With a zero-length window, old failures never count, and the key is dropped."""
        limiter = LoginLimiter(attempts=1, window_s=0)
        limiter.failed("name:x")
        assert not limiter.blocked("name:x", "name:never-seen")
        assert limiter._failures == {}


def run(settings: Settings, argv: list[str], stdin: str = "") -> tuple[int, str]:
    out = io.StringIO()
    code = cli.run(build_parser().parse_args(argv), settings, out=out, stdin=io.StringIO(stdin))
    return code, out.getvalue()


class TestCli:
    async def test_an_operator_added_from_the_cli_can_log_in(self, tmp_path: Path) -> None:
        """`operators add NAME --role editor --password-stdin` creates an account whose password works."""
        settings = Settings(data_dir=tmp_path)
        code, out = await asyncio.to_thread(
            run,
            settings,
            ["operators", "add", "maria", "--role", "editor", "--password-stdin"],
            PASSWORD + "\n",
        )
        assert code == 0 and "maria" in out
        db = open_database(settings.db_url)
        try:
            (op,) = await list_operators(db)
            assert (op.name, op.role) == ("maria", "editor") and PASSWORD not in op.password_hash
            assert await log_in(db, "maria", "wrong password") is None
            token = await log_in(db, "maria", PASSWORD)
            assert token is not None
            login = await session_login(db, token)
            assert (
                login is not None
                and login.role == "editor"
                and login.can("viewer")
                and not login.can("admin")
            )
        finally:
            await db.dispose()

    async def test_a_short_password_or_a_taken_name_is_refused(self, tmp_path: Path) -> None:
        """Passwords under 8 characters and a second operator of the same name exit with status 2."""
        settings = Settings(data_dir=tmp_path)
        argv = ["operators", "add", "sam", "--role", "viewer", "--password-stdin"]
        assert (await asyncio.to_thread(run, settings, argv, "short\n"))[0] == 2
        assert (await asyncio.to_thread(run, settings, argv, PASSWORD + "\n"))[0] == 0
        assert (await asyncio.to_thread(run, settings, argv, PASSWORD + "\n"))[0] == 2

    async def test_set_role_changes_the_role_and_ends_that_operators_sessions(self, tmp_path: Path) -> None:
        """`operators set-role NAME viewer` makes them a viewer and logs them out everywhere."""
        settings = Settings(data_dir=tmp_path)
        db = open_database(settings.db_url)
        try:
            await db.upgrade()
            await add_operator(db, "maria", "editor", PASSWORD)
            token = await log_in(db, "maria", PASSWORD)
            assert token is not None and await session_login(db, token) is not None
            code, out = await asyncio.to_thread(run, settings, ["operators", "set-role", "maria", "viewer"])
            assert code == 0 and "maria is now viewer (was editor)" in out
            assert [(o.name, o.role) for o in await list_operators(db)] == [("maria", "viewer")]
            assert await session_login(db, token) is None
        finally:
            await db.dispose()

    async def test_remove_deletes_the_operator_and_their_sessions(self, tmp_path: Path) -> None:
        """`operators remove NAME` deletes the account; its session no longer logs anyone in."""
        settings = Settings(data_dir=tmp_path)
        db = open_database(settings.db_url)
        try:
            await db.upgrade()
            await add_operator(db, "ops", "admin", PASSWORD)
            await add_operator(db, "sam", "viewer", PASSWORD)
            token = await log_in(db, "sam", PASSWORD)
            assert token is not None
            code, out = await asyncio.to_thread(run, settings, ["operators", "remove", "sam"])
            assert code == 0 and "sam removed" in out
            assert [o.name for o in await list_operators(db)] == ["ops"]
            assert await session_login(db, token) is None and await log_in(db, "sam", PASSWORD) is None
        finally:
            await db.dispose()

    async def test_an_unknown_name_or_the_last_admin_is_refused(self, tmp_path: Path) -> None:
        """Unknown operators, and removing or demoting the only admin, exit 2 and change nothing."""
        settings = Settings(data_dir=tmp_path)
        db = open_database(settings.db_url)
        try:
            await db.upgrade()
            await add_operator(db, "ops", "admin", PASSWORD)
            for argv in (["remove", "nobody"], ["set-role", "nobody", "viewer"], ["remove", "ops"]):
                assert (await asyncio.to_thread(run, settings, ["operators", *argv]))[0] == 2, argv
            assert (await asyncio.to_thread(run, settings, ["operators", "set-role", "ops", "editor"]))[
                0
            ] == 2
            assert [(o.name, o.role) for o in await list_operators(db)] == [("ops", "admin")]
        finally:
            await db.dispose()


async def audit_rows(db: Database) -> list[tuple[str, str, str, dict[str, object]]]:
    async with db.sessions() as session:
        rows = await session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [(a.operator, a.action, a.target, a.detail) for a in rows]


async def operators_form(http: aiohttp.ClientSession, console: Seeded) -> tuple[int, str]:
    async with http.get(console.url("/console/operators")) as r:
        return r.status, await r.text()


class TestConsoleForms:
    async def test_an_admin_changes_a_role_which_logs_that_operator_out_and_is_audited(
        self, console: Seeded, http: aiohttp.ClientSession
    ) -> None:
        """The role form makes the editor a viewer, ends the editor's session, and is audited."""
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as editor:
            assert await log_in_browser(editor, console, "editor") == 200
            assert await log_in_browser(http, console, "admin") == 200
            status, html = await operators_form(http, console)
            assert status == 200 and 'action="/console/operators/role"' in html
            form = {"csrf": csrf_of(html), "name": "editor", "role": "viewer"}
            async with http.post(console.url("/console/operators/role"), data=form) as r:
                assert r.status == 200 and str(r.url).endswith("/console/operators")
            async with editor.get(console.url("/console/calls"), allow_redirects=False) as r:
                assert r.status == 401  # logged out
        roles = {o.name: o.role for o in await list_operators(console.db)}
        assert roles["editor"] == "viewer"
        assert (
            "admin",
            "set_role",
            "operator:editor",
            {"role": "viewer", "was": "editor"},
        ) in await audit_rows(console.db)

    async def test_an_admin_removes_an_operator_who_is_logged_out_and_it_is_audited(
        self, console: Seeded, http: aiohttp.ClientSession
    ) -> None:
        """The remove form deletes the viewer and their session, and writes an audit row."""
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as viewer:
            assert await log_in_browser(viewer, console, "viewer") == 200
            assert await log_in_browser(http, console, "admin") == 200
            _, html = await operators_form(http, console)
            form = {"csrf": csrf_of(html), "name": "viewer"}
            async with http.post(console.url("/console/operators/remove"), data=form) as r:
                assert r.status == 200 and "<td>viewer</td>" not in await r.text()
            async with viewer.get(console.url("/console/calls"), allow_redirects=False) as r:
                assert r.status == 401
        assert [o.name for o in await list_operators(console.db)] == ["admin", "editor"]
        assert ("admin", "remove_operator", "operator:viewer", {}) in await audit_rows(console.db)

    async def test_only_an_admin_with_the_csrf_token_may_change_operators(
        self, console: Seeded, http: aiohttp.ClientSession
    ) -> None:
        """An editor gets 403 even with their token; an admin's form without its token gets 403."""
        assert await log_in_browser(http, console, "editor") == 200
        async with http.get(console.url("/console/messages")) as r:
            token = csrf_of(await r.text())
        for change, form in (("role", {"name": "admin", "role": "viewer"}), ("remove", {"name": "admin"})):
            async with http.post(
                console.url(f"/console/operators/{change}"), data={"csrf": token, **form}
            ) as r:
                assert r.status == 403, change
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as admin:
            assert await log_in_browser(admin, console, "admin") == 200
            for data in ({"name": "viewer"}, {"csrf": "wrong", "name": "viewer"}):
                async with admin.post(console.url("/console/operators/remove"), data=data) as r:
                    assert r.status == 403
        assert {o.name: o.role for o in await list_operators(console.db)} == {
            "admin": "admin",
            "editor": "editor",
            "viewer": "viewer",
        }
        assert not [a for a in await audit_rows(console.db) if a[1] in ("set_role", "remove_operator")]

    async def test_the_last_admin_cannot_demote_or_remove_themselves(
        self, console: Seeded, http: aiohttp.ClientSession
    ) -> None:
        """The only admin's own demotion or removal is refused with the reason on the page (409)."""
        assert await log_in_browser(http, console, "admin") == 200
        _, html = await operators_form(http, console)
        for change, form in (("role", {"name": "admin", "role": "editor"}), ("remove", {"name": "admin"})):
            data = {"csrf": csrf_of(html), **form}
            async with http.post(console.url(f"/console/operators/{change}"), data=data) as r:
                assert r.status == 409 and "the last admin" in await r.text(), change
        assert {o.name: o.role for o in await list_operators(console.db)}["admin"] == "admin"
