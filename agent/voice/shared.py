"""Voices shared through object storage: every voice under `<prefix>/voices/<name>/`, mirrored to disk.

With STORAGE_URL set, a voice added (or re-scored, or removed) on one server is written to the bucket, and
every server pulls the bucket's voices into its own voices folder at start and when the console lists them,
so all of them speak and show the same voices. The bucket is the truth for the voices that came from it or
went to it (marked by a `.shared` file in their folder); a voice only ever on this disk is left alone.
Blocking: run in a worker thread.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import structlog

from agent.objects import Bucket

log = structlog.get_logger(__name__)
SHARED_MARK = ".shared"


class SharedVoices:
    """The voices in a bucket, mirrored into a local voices folder."""

    def __init__(self, bucket: Bucket, root: Path) -> None:
        """Mirror `bucket`'s voices into `root`."""
        self.bucket = bucket
        self.root = root

    def _prefix(self, name: str = "") -> str:
        return self.bucket.key("voices", name) + "/"

    def push(self, name: str) -> int:
        """Upload every file of the voice `name` (the folder as it is now); return how many."""
        folder = self.root / name
        files = [p for p in sorted(folder.rglob("*")) if p.is_file() and p.name != SHARED_MARK]
        for path in files:
            self.bucket.upload(path, self._prefix(name) + path.relative_to(folder).as_posix())
        stale = {k for k, _, _ in self.bucket.keys_under(self._prefix(name))} - {
            self._prefix(name) + p.relative_to(folder).as_posix() for p in files
        }
        self.bucket.delete(sorted(stale))
        (folder / SHARED_MARK).touch()
        log.info("voice_shared", voice=name, files=len(files))
        return len(files)

    def delete(self, name: str) -> int:
        """Remove the voice `name` and its previews from the bucket; return how many objects went."""
        keys = [k for k, _, _ in self.bucket.keys_under(self._prefix(name))]
        keys += [k for k, _, _ in self.bucket.keys_under(self.bucket.key("previews", name) + ".")]
        return self.bucket.delete(keys)

    def push_previews(self, paths: list[Path]) -> None:
        """Upload a voice's preview files (its full-band and phone-band WAVs) for the other servers."""
        for path in paths:
            self.bucket.upload(path, self.bucket.key("previews", path.name))

    def fetch_preview(self, path: Path) -> bool:
        """Download the preview file `path` names from the bucket, if another server made it."""
        key = self.bucket.key("previews", path.name)
        if self.bucket.size(key) is None:
            return False
        self.bucket.download(key, path)
        return True

    def pull(self) -> list[str]:
        """Bring this folder in line with the bucket: voices new or changed there are downloaded (each
        appears whole, built aside and renamed in), and shared voices gone from it are removed here."""
        remote: dict[str, dict[str, int]] = {}
        start = len(self._prefix())
        for key, _, size in self.bucket.keys_under(self._prefix()):
            name, _, rel = key[start:].partition("/")
            if rel:
                remote.setdefault(name, {})[rel] = size
        changed: list[str] = []
        for name, files in sorted(remote.items()):
            if self._same(self.root / name, files):
                continue
            self._download(name, sorted(files))
            changed.append(name)
        if self.root.is_dir():
            for folder in sorted(self.root.iterdir()):
                if (folder / SHARED_MARK).is_file() and folder.name not in remote:
                    shutil.rmtree(folder)
                    log.info("voice_unshared_removed", voice=folder.name)
                    changed.append(folder.name)
        return changed

    @staticmethod
    def _same(folder: Path, files: dict[str, int]) -> bool:
        """Whether `folder` holds exactly the bucket's files for a voice, each of the same size."""
        if not folder.is_dir():
            return False
        local = {p.relative_to(folder).as_posix(): p.stat().st_size for p in folder.rglob("*") if p.is_file()}
        local.pop(SHARED_MARK, None)
        return local == files

    def _download(self, name: str, files: list[str]) -> None:
        work = self.root / f".pulling-{name}"
        shutil.rmtree(work, ignore_errors=True)
        for rel in files:
            self.bucket.download(self._prefix(name) + rel, work / rel)
        (work / SHARED_MARK).touch()
        final = self.root / name
        if final.exists():
            shutil.rmtree(final)
        work.rename(final)
        log.info("voice_pulled", voice=name, files=len(files))
