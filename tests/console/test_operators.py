"""Operators: passwords hashed with scrypt, accounts created from the CLI, failed logins limited."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from agent.cli import build_parser
from agent.config import Settings
from agent.console import cli
from agent.console.auth import LoginLimiter, list_operators, log_in, session_login
from agent.console.passwords import hash_password, verify_password
from agent.records.db import open_database

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
