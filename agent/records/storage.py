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
from typing import Any, Protocol
from urllib.parse import urlsplit

import structlog

from agent.config import Settings

log = structlog.get_logger(__name__)
CHUNK = 256 * 1024  # bytes per read handed to the response
DELETE_BATCH = 1000  # S3's DeleteObjects limit


class StorageError(ValueError):
    """STORAGE_URL names storage this server cannot use."""


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
    """Recordings in an S3-compatible bucket (STORAGE_URL=s3://bucket/prefix), written locally first."""

    def __init__(self, url: str, spool: Path, endpoint_url: str = "", client: Any = None) -> None:
        """Store under `url`'s bucket and prefix, spooling live calls under `spool`; `endpoint_url` names
        a server other than AWS (MinIO, Ceph, R2). Credentials come as boto3 finds them (AWS_* variables,
        a mounted profile, the pod's role)."""
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise StorageError(f"STORAGE_URL: {url!r} is not s3://bucket[/prefix]")
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")
        self.spool = spool
        if client is None:
            try:
                import boto3
            except ImportError as exc:
                raise StorageError(
                    "STORAGE_URL names S3: install the s3 extra (pip install 'phone-agent[s3]')"
                ) from exc
            client = boto3.client("s3", endpoint_url=endpoint_url or None)
        self.client = client

    def key(self, name: str) -> str:
        """The object key a recording name is stored under."""
        return f"{self.prefix}/{name}" if self.prefix else name

    def where(self, name: str) -> str:
        """The object's s3:// URL."""
        return f"s3://{self.bucket}/{self.key(name)}"

    async def publish(self, name: str) -> None:
        """Upload the spooled file (multipart, streamed from disk), then remove it here."""
        path = _inside(self.spool, name)
        if path is None:
            return
        await asyncio.to_thread(self.client.upload_file, str(path), self.bucket, self.key(name))
        await asyncio.to_thread(path.unlink)
        log.info("recording_uploaded", recording=name, bucket=self.bucket)

    async def stat(self, name: str) -> Stored | None:
        """The object's size from a HEAD request, or None if there is none."""
        from botocore.exceptions import ClientError

        if not name or ".." in name.split("/"):
            return None
        try:
            head = await asyncio.to_thread(self.client.head_object, Bucket=self.bucket, Key=self.key(name))
        except ClientError:
            return None
        return Stored(int(head["ContentLength"]))

    async def read(self, name: str, start: int, end: int) -> AsyncIterator[bytes]:
        """A ranged GET, its body read a chunk at a time in a worker thread."""
        if end <= start:
            return
        got = await asyncio.to_thread(
            self.client.get_object, Bucket=self.bucket, Key=self.key(name), Range=f"bytes={start}-{end - 1}"
        )
        body = got["Body"]
        try:
            while chunk := await asyncio.to_thread(body.read, CHUNK):
                yield chunk
        finally:
            body.close()

    async def remove(self, names: Iterable[str], older_than: dt.datetime | None = None) -> int:
        """Delete the named objects, and any under the prefix last modified before `older_than`."""
        return await asyncio.to_thread(self._remove, [self.key(n) for n in names], older_than)

    def _remove(self, keys: list[str], older_than: dt.datetime | None) -> int:
        if older_than is not None:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=f"{self.prefix}/" if self.prefix else ""
            )
            keys += [
                o["Key"] for page in pages for o in page.get("Contents", []) if o["LastModified"] < older_than
            ]
        removed = 0
        keys = sorted(set(keys))
        for i in range(0, len(keys), DELETE_BATCH):
            batch = [{"Key": k} for k in keys[i : i + DELETE_BATCH]]
            done = self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": False})
            removed += len(done.get("Deleted", []))
        return removed


def open_store(storage_url: str, spool: Path, endpoint_url: str = "") -> RecordingStore:
    """The store STORAGE_URL names: empty for the local folder, s3://bucket/prefix for object storage."""
    if not storage_url:
        return LocalStore(spool)
    if storage_url.startswith("s3://"):
        return S3Store(storage_url, spool, endpoint_url)
    raise StorageError(
        f"STORAGE_URL: {storage_url!r} is neither empty (local files) nor s3://bucket[/prefix]"
    )


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
