"""`agent businesses`: list the stored business profiles, import YAML files into the database, export them."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any, TextIO

from agent.config import Settings
from agent.dialog import profile_store
from agent.dialog.business import ProfileError
from agent.records.db import open_database


def register(sub: Any) -> None:
    """Add the `businesses` command and its subcommands to the top-level subparsers."""
    cmd = sub.add_parser("businesses", help="business profiles in the database: list, import, export")
    action = cmd.add_subparsers(dest="businesses_command", required=True)
    action.add_parser("list", help="every stored profile, its revision and who last changed it")
    imp = action.add_parser(
        "import", help="store YAML profiles (files, or folders of *.yaml), validated first"
    )
    imp.add_argument("paths", nargs="+", type=Path)
    exp = action.add_parser("export", help="write the stored profiles as YAML files into a folder")
    exp.add_argument("--out", type=Path, required=True, help="folder to write <name>.yaml into")
    exp.add_argument("names", nargs="*", help="only these profiles (default: all)")


def _files(paths: list[Path]) -> dict[str, str]:
    found: dict[str, str] = {}
    for path in paths:
        for file in sorted(path.glob("*.yaml")) if path.is_dir() else [path]:
            found[file.stem] = file.read_text()
    return found


async def _run(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    db = open_database(settings.db_url, settings.database_password)
    try:
        await db.upgrade()
        await profile_store.seed(db, settings.prompts_dir)
        stored = await profile_store.documents(db)
        if args.businesses_command == "list":
            for row in await profile_store.rows(db):
                when = row.updated_at.isoformat(sep=" ", timespec="seconds")
                print(f"{row.name:24} revision {row.revision:<5} {when}  by {row.updated_by}", file=out)
            return 0
        if args.businesses_command == "export":
            wanted = args.names or sorted(stored)
            missing = [n for n in wanted if n not in stored]
            if missing:
                print(f"no stored profile named {', '.join(missing)}", file=sys.stderr)
                return 1
            args.out.mkdir(parents=True, exist_ok=True)
            for name in wanted:
                (args.out / f"{name}.yaml").write_text(stored[name])
                print(f"wrote {args.out / (name + '.yaml')}", file=out)
            return 0
        try:
            changes = _files(args.paths)
        except OSError as exc:
            print(f"cannot read {exc.filename}: {exc.strerror}", file=sys.stderr)
            return 1
        try:
            await asyncio.to_thread(
                profile_store.check, stored, changes, settings.prompts_dir, settings.business
            )
        except ProfileError as exc:
            print(f"not imported, the profiles are invalid:\n{exc}", file=sys.stderr)
            return 1
        revision = await profile_store.save(db, changes, by="agent businesses import")
        print(
            f"imported {', '.join(sorted(changes))} (revision {revision}); the next call uses them", file=out
        )
        return 0
    finally:
        await db.dispose()


def run(args: argparse.Namespace, settings: Settings, out: TextIO | None = None) -> int:
    """Run a `businesses` subcommand against the configured database; return the exit status."""
    return asyncio.run(_run(args, settings, out or sys.stdout))
