"""`agent operators add NAME --role ROLE | list | set-role NAME ROLE | remove NAME`: console accounts."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import Any, TextIO

from agent.config import Settings
from agent.console.auth import OperatorError, add_operator, list_operators, remove_operator, set_role
from agent.console.models import ROLES
from agent.records.db import open_database


def register(sub: Any) -> None:
    """Add the `operators` command and its subcommands to the top-level subparsers."""
    ops = sub.add_parser("operators", help="console accounts: add, list, set-role, remove")
    action = ops.add_subparsers(dest="operators_command", required=True)
    add = action.add_parser("add", help="create an operator (the password is prompted for)")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    action.add_parser("list", help="every operator and their role")
    role = action.add_parser("set-role", help="change an operator's role (their sessions end)")
    role.add_argument("name")
    role.add_argument("role", choices=ROLES)
    remove = action.add_parser("remove", help="delete an operator (their sessions end)")
    remove.add_argument("name")


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
            command = args.operators_command
            if command == "list":
                for op in await list_operators(db):
                    print(f"{op.name}\t{op.role}", file=out)
            elif command == "set-role":
                was = await set_role(db, args.name, args.role)
                print(f"operator {args.name.strip()} is now {args.role} (was {was}); logged out", file=out)
            elif command == "remove":
                await remove_operator(db, args.name)
                print(f"operator {args.name.strip()} removed; logged out", file=out)
            else:
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
