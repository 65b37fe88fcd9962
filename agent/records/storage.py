"""Where finished call recordings live: a local folder (the default) or S3-compatible object storage.

A call always writes its recording to a local file as it goes (crash-safe appends); when the call ends the
store publishes it. The local store leaves it where it is; the S3 store uploads it in parts from the disk
and removes the local copy, so every pod's console can play every call. Reads are in ranges and stream:
no recording is ever held whole in memory.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import structlog

from agent.config import Settings
from agent.objects import Bucket, StorageError

__all__ = ["LocalStore", "RecordingStore", "S3Store", "StorageError", "Stored", "open_store"]

log = structlog.get_logger(__name__)
CHUNK = 256 * 1024  # bytes per read handed to the response


@dataclass(frozen=True)
class Stored:
    """A recording as stored: its size in bytes."""

    size: int


class RecordingStore(Protocol):
    """Finished recordings by name (`2026/12/03/<hex>.wav`), wherever they are kept."""

    spool: Path  # where a live call writes its file before it is published

    def where(self, name: str) -> str:
        """Where the recording is kept, for people: a path or an s3:// URL."""

    async def publish(self, name: str) -> None:
        """The call has ended and its file under `spool` is complete: make it readable by every server."""

    async def stat(self, name: str) -> Stored | None:
        """The stored recording's size, or None if there is none by that name."""

    def read(self, name: str, start: int, end: int) -> AsyncIterator[bytes]:
        """Bytes [start, end) of the recording, in chunks."""

    async def remove(self, names: Iterable[str], older_than: dt.datetime | None = None) -> int:
        """Delete the named recordings and any stored before `older_than`; return how many went."""


def _inside(root: Path, name: str) -> Path | None:
    """`root/name` if it lies under `root` (a stored name never climbs out of the folder), else None."""
    base = root.resolve()
    path = (base / name).resolve()
    return path if name and path.is_relative_to(base) else None


class LocalStore:
    """Recordings in a folder on this server's disk (RECORDINGS_DIR): published where they were written."""

    def __init__(self, root: Path) -> None:
        """Keep recordings under `root`."""
        self.spool = root

    def where(self, name: str) -> str:
        """The file's path."""
        return str(self.spool / name)

    async def publish(self, name: str) -> None:
        """Nothing to do: the file is already where it is read from."""

    async def stat(self, name: str) -> Stored | None:
        """The file's size, or None if it is missing or outside the folder."""
        path = _inside(self.spool, name)
        if path is None:
            return None
        try:
            st = await asyncio.to_thread(path.stat)
        except OSError:
            return None
        return Stored(st.st_size) if path.is_file() else None

    async def read(self, name: str, start: int, end: int) -> AsyncIterator[bytes]:
        """Read the byte range in a worker thread, a chunk at a time."""
        path = _inside(self.spool, name)
        if path is None:
            return
        f = await asyncio.to_thread(path.open, "rb")
        try:
            await asyncio.to_thread(f.seek, start)
            left = end - start
            while left > 0:
                chunk = await asyncio.to_thread(f.read, min(CHUNK, left))
                if not chunk:
                    break
                left -= len(chunk)
                yield chunk
        finally:
            await asyncio.to_thread(f.close)

    async def remove(self, names: Iterable[str], older_than: dt.datetime | None = None) -> int:
        """Delete the named files and any recording last written before `older_than` (a worker thread)."""
        return await asyncio.to_thread(_remove_files, self.spool, list(names), older_than)


def _remove_files(root: Path, names: list[str], older_than: dt.datetime | None) -> int:
    removed = 0
    for name in names:
        path = _inside(root, name)
        if path is not None and path.is_file():
            path.unlink()
            removed += 1
    if older_than is not None and root.is_dir():
        for path in root.rglob("*.wav"):
            if dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC) < older_than:
                path.unlink()
                removed += 1
    return removed


class S3Store:
    """Recordings in S3-compatible storage under `<prefix>/recordings/`, written locally first."""

    def __init__(self, bucket: Bucket, spool: Path) -> None:
        """Store in `bucket`, spooling live calls under `spool`."""
        self.bucket = bucket
        self.spool = spool

    def key(self, name: str) -> str:
        """The object key a recording name is stored under."""
        return self.bucket.key("recordings", name)

    def where(self, name: str) -> str:
        """The object's s3:// URL."""
        return self.bucket.url(self.key(name))

    async def publish(self, name: str) -> None:
        """Upload the spooled file (multipart, streamed from disk), then remove it here."""
        path = _inside(self.spool, name)
        if path is None:
            return
        await asyncio.to_thread(self.bucket.upload, path, self.key(name))
        await asyncio.to_thread(path.unlink)
        log.info("recording_uploaded", recording=name, bucket=self.bucket.name)

    async def stat(self, name: str) -> Stored | None:
        """The object's size from a HEAD request, or None if there is none."""
        if not name or ".." in name.split("/"):
            return None
        size = await asyncio.to_thread(self.bucket.size, self.key(name))
        return None if size is None else Stored(size)

    async def read(self, name: str, start: int, end: int) -> AsyncIterator[bytes]:
        """A ranged GET, its body read a chunk at a time in a worker thread."""
        if end <= start:
            return
        body = await asyncio.to_thread(self.bucket.open_range, self.key(name), start, end)
        try:
            while chunk := await asyncio.to_thread(body.read, CHUNK):
                yield chunk
        finally:
            body.close()

    async def remove(self, names: Iterable[str], older_than: dt.datetime | None = None) -> int:
        """Delete the named objects, and any recording last written before `older_than`."""
        return await asyncio.to_thread(self._remove, [self.key(n) for n in names], older_than)

    def _remove(self, keys: list[str], older_than: dt.datetime | None) -> int:
        if older_than is not None:
            listed = self.bucket.keys_under(self.bucket.key("recordings") + "/")
            keys += [key for key, written, _ in listed if written < older_than]
        return self.bucket.delete(keys)


def open_store(storage_url: str, spool: Path, endpoint_url: str = "") -> RecordingStore:
    """The store STORAGE_URL names: empty for the local folder, s3://bucket/prefix for object storage."""
    if not storage_url:
        return LocalStore(spool)
    return S3Store(Bucket(storage_url, endpoint_url), spool)


def settings_store(settings: Settings) -> RecordingStore:
    """The store the settings name (STORAGE_URL, S3_ENDPOINT_URL; live calls spool to RECORDINGS_DIR)."""
    return open_store(settings.storage_url, settings.recordings_path, settings.s3_endpoint_url)


async def publish_spooled(store: RecordingStore) -> int:
    """Publish every recording left in the spool by a crash or a failed upload (object storage only)."""
    if isinstance(store, LocalStore) or not store.spool.is_dir():
        return 0
    names = await asyncio.to_thread(
        lambda: [p.relative_to(store.spool).as_posix() for p in store.spool.rglob("*.wav")]
    )
    published = 0
    for name in names:
        try:
            await store.publish(name)
            published += 1
        except Exception:
            log.exception("recording_publish_failed", recording=name)
    return published
