"""S3-compatible object storage (STORAGE_URL=s3://bucket/prefix): one bucket and key prefix, blocking calls.

Recordings, voices and previews keep their objects under `<prefix>/recordings/`, `<prefix>/voices/` and
`<prefix>/previews/`. Every method blocks on the network: async callers run them in a worker thread.
Files move between disk and the bucket in parts (boto3's transfer manager), never whole in memory.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DELETE_BATCH = 1000  # S3's DeleteObjects limit


class StorageError(ValueError):
    """STORAGE_URL names storage this server cannot use."""


class Bucket:
    """A bucket and a key prefix under it, reached with boto3 (credentials as boto3 finds them)."""

    def __init__(self, url: str, endpoint_url: str = "", client: Any = None) -> None:
        """Use `url` (s3://bucket[/prefix]) on AWS, or on the S3-compatible server at `endpoint_url`."""
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise StorageError(f"STORAGE_URL: {url!r} is not s3://bucket[/prefix]")
        self.name = parts.netloc
        self.prefix = parts.path.strip("/")
        if client is None:
            try:
                import boto3
            except ImportError as exc:
                raise StorageError("STORAGE_URL names S3: install the s3 extra ('phone-agent[s3]')") from exc
            client = boto3.client("s3", endpoint_url=endpoint_url or None)
        self.client = client

    def key(self, *parts: str) -> str:
        """The full key of `parts` joined under the prefix."""
        return "/".join(p.strip("/") for p in (self.prefix, *parts) if p)

    def url(self, key: str) -> str:
        """The s3:// URL of a key."""
        return f"s3://{self.name}/{key}"

    def upload(self, path: Path, key: str) -> None:
        """Upload a file (in parts, from disk)."""
        self.client.upload_file(str(path), self.name, key)

    def download(self, key: str, path: Path) -> None:
        """Download an object to a file (in parts, to disk), its folder created."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.client.download_file(self.name, key, str(path))

    def size(self, key: str) -> int | None:
        """The object's size, or None if there is none."""
        from botocore.exceptions import ClientError

        try:
            return int(self.client.head_object(Bucket=self.name, Key=key)["ContentLength"])
        except ClientError:
            return None

    def open_range(self, key: str, start: int, end: int) -> Any:
        """A streaming body of bytes [start, end) of the object (read it in chunks, then close it)."""
        got = self.client.get_object(Bucket=self.name, Key=key, Range=f"bytes={start}-{end - 1}")
        return got["Body"]

    def keys_under(self, prefix: str) -> Iterator[tuple[str, dt.datetime, int]]:
        """Every key under `prefix` (a full key prefix) with when it was last written and its size."""
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix)
        for page in pages:
            for obj in page.get("Contents", []):
                yield obj["Key"], obj["LastModified"], int(obj["Size"])

    def delete(self, keys: list[str]) -> int:
        """Delete the keys (in batches); return how many the server reports deleted."""
        removed = 0
        keys = sorted(set(keys))
        for i in range(0, len(keys), DELETE_BATCH):
            batch = [{"Key": k} for k in keys[i : i + DELETE_BATCH]]
            done = self.client.delete_objects(Bucket=self.name, Delete={"Objects": batch, "Quiet": False})
            removed += len(done.get("Deleted", []))
        return removed
