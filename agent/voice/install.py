"""Fetch the XTTS-v2 checkpoint once its licence is shown and accepted; record the acceptance beside it."""

from __future__ import annotations

import getpass
import hashlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TextIO

import aiohttp
import structlog
import tomli_w

log = structlog.get_logger(__name__)

DEFAULT_BASE_URL = "https://huggingface.co/coqui/XTTS-v2/resolve/main"
REQUIRED = ("config.json", "model.pth", "vocab.json")
OPTIONAL = ("speakers_xtts.pth",)
LICENCE_FILE = "LICENSE.txt"
ACCEPTANCE_FILE = "LICENSE-ACCEPTANCE.toml"
LICENCE_NAME = "Coqui Public Model License 1.0.0"
LICENCE_URL = "https://coqui.ai/cpml"
LICENCE_SUMMARY = f"""\
XTTS-v2's weights are released under the {LICENCE_NAME} ({LICENCE_URL}).
It allows NON-COMMERCIAL use only. A business answering its own phone line with it is commercial use:
it needs a commercial licence from the rights holder, or another model (the stock Piper voice is CC0).
"""
CHUNK = 1 << 20


class InstallError(Exception):
    """The model could not be fetched, or its licence was not accepted."""


@dataclass(frozen=True)
class Acceptance:
    """Who accepted which licence, when, for which download."""

    licence: str
    licence_url: str
    licence_sha256: str
    accepted_by: str
    accepted_at: datetime
    source: str


def licence_text(fetched: str | None) -> str:
    """What the operator reads before accepting: the summary, then the licence itself if it was fetched."""
    if fetched is None:
        return LICENCE_SUMMARY + f"\nRead the full licence at {LICENCE_URL} before accepting.\n"
    return LICENCE_SUMMARY + "\n" + fetched.strip() + "\n"


def ask_acceptance(text: str, stdin: TextIO | None = None, stdout: TextIO | None = None) -> bool:
    """Show the licence and ask the operator to type 'yes' (no answer, or end of input, declines)."""
    stdout = stdout or sys.stderr
    stdout.write(text + f"\nType 'yes' to accept the {LICENCE_NAME}: ")
    stdout.flush()
    answer = (stdin or sys.stdin).readline()
    return answer.strip().lower() == "yes"


def record_acceptance(model_dir: Path, text: str, source: str, accepted_by: str | None = None) -> Acceptance:
    """Write who accepted the licence, when and which text, to LICENSE-ACCEPTANCE.toml in `model_dir`."""
    acceptance = Acceptance(
        licence=LICENCE_NAME,
        licence_url=LICENCE_URL,
        licence_sha256=hashlib.sha256(text.encode()).hexdigest(),
        accepted_by=accepted_by or getpass.getuser(),
        accepted_at=datetime.now(UTC).replace(microsecond=0),
        source=source,
    )
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / ACCEPTANCE_FILE).write_text(tomli_w.dumps(acceptance.__dict__))
    log.info("model_licence_accepted", licence=LICENCE_NAME, accepted_by=acceptance.accepted_by)
    return acceptance


async def fetch_licence(session: aiohttp.ClientSession, base_url: str) -> str | None:
    """The licence file published beside the weights, or None if it can't be fetched."""
    try:
        async with session.get(f"{base_url.rstrip('/')}/{LICENCE_FILE}") as resp:
            if resp.status != 200:
                return None
            return await resp.text()
    except aiohttp.ClientError:
        return None


class Bar(Protocol):
    """A progress bar for one file (tqdm is one)."""

    def update(self, n: int) -> object:
        """Advance by `n` bytes."""

    def close(self) -> None:
        """Finish the bar."""


ProgressFactory = Callable[[str, int | None], Bar]


def tqdm_progress(name: str, total: int | None) -> Bar:
    """A progress bar on stderr for one file of `total` bytes (None: unknown)."""
    from tqdm import tqdm

    bar: Bar = tqdm(total=total, desc=name, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr)
    return bar


async def download(
    session: aiohttp.ClientSession, url: str, target: Path, progress: ProgressFactory = tqdm_progress
) -> bool:
    """Stream `url` into `target` (via a .part file); False if the server has no such file (404)."""
    async with session.get(url) as resp:
        if resp.status == 404:
            return False
        if resp.status != 200:
            raise InstallError(f"{url}: HTTP {resp.status}")
        bar = progress(target.name, resp.content_length)
        part = target.with_name(target.name + ".part")
        try:
            with part.open("wb") as fh:
                async for block in resp.content.iter_chunked(CHUNK):
                    fh.write(block)
                    bar.update(len(block))
        finally:
            bar.close()
        if resp.content_length is not None and part.stat().st_size != resp.content_length:
            raise InstallError(f"{url}: got {part.stat().st_size} of {resp.content_length} bytes")
        part.replace(target)
    return True


async def install_model(
    model_dir: Path,
    base_url: str = DEFAULT_BASE_URL,
    *,
    accept: Callable[[str], bool],
    accepted_by: str | None = None,
    progress: ProgressFactory = tqdm_progress,
    note: Callable[[str], None] = lambda _msg: None,
) -> list[Path]:
    """Show the licence through `accept`, record the acceptance, then fetch the checkpoint's files.

    Files already present are kept. A required file the server lacks is an error; the optional
    speakers file is skipped with a note.
    """
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=120)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        fetched = await fetch_licence(session, base_url)
        text = licence_text(fetched)
        if not accept(text):
            raise InstallError(f"the {LICENCE_NAME} was not accepted: nothing was downloaded")
        record_acceptance(model_dir, text, base_url, accepted_by)
        if fetched is not None:
            (model_dir / LICENCE_FILE).write_text(fetched)
        written: list[Path] = []
        for name in REQUIRED + OPTIONAL:
            target = model_dir / name
            if target.is_file():
                note(f"{name}: already present")
                written.append(target)
                continue
            try:
                found = await download(session, f"{base_url.rstrip('/')}/{name}", target, progress)
            except aiohttp.ClientError as exc:
                raise InstallError(f"{name}: {exc}") from exc
            if found:
                written.append(target)
            elif name in REQUIRED:
                raise InstallError(f"{base_url}/{name}: not found (404)")
            else:
                note(f"{name}: not published at {base_url}; skipped (it is optional)")
    log.info("model_installed", dir=str(model_dir), files=[p.name for p in written])
    return written
