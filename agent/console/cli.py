"""`agent operators add NAME --role admin|editor|viewer` and `agent operators list`: console accounts."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import Any, TextIO

from agent.config import Settings
from agent.console.auth import OperatorError, add_operator, list_operators
from agent.console.models import ROLES
from agent.records.db import open_database


def register(sub: Any) -> None:
    """Add the `operators` command and its subcommands to the top-level subparsers."""
    ops = sub.add_parser("operators", help="console accounts: add, list")
    action = ops.add_subparsers(dest="operators_command", required=True)
    add = action.add_parser("add", help="create an operator (the password is prompted for)")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    action.add_parser("list", help="every operator and their role")


def _password(args: argparse.Namespace, stdin: TextIO) -> str:
    if args.password_stdin:
        return stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Again: "):
        raise OperatorError("the passwords differ")
    return first


def run(
    args: argparse.Namespace, settings: Settings, out: TextIO | None = None, stdin: TextIO | None = None
) -> int:
    """Run an `operators` subcommand against the configured database; return the exit status."""
    out = out or sys.stdout

    async def main() -> int:
        db = open_database(settings.db_url, settings.database_password)
        try:
            await db.upgrade()
            if args.operators_command == "list":
                for op in await list_operators(db):
                    print(f"{op.name}\t{op.role}", file=out)
                return 0
            await add_operator(db, args.name, args.role, _password(args, stdin or sys.stdin))
            print(f"operator {args.name.strip()} added ({args.role})", file=out)
            return 0
        finally:
            await db.dispose()

    try:
        return asyncio.run(main())
    except OperatorError as exc:
        print(f"operators: {exc}", file=sys.stderr)
        return 2
