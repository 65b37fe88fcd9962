"""Recordings kept in a local folder or in S3-compatible storage (moto's standalone server, over HTTP)."""

from __future__ import annotations

import datetime as dt
import os
import wave
from dataclasses import replace
from pathlib import Path

import pytest

from agent.config import ConfigError, Settings, load_settings
from agent.models import Models
from agent.objects import Bucket
from agent.records.db import Database
from agent.records.storage import LocalStore, RecordingStore, S3Store, StorageError, open_store
from agent.simulate import place_call
from tests.calls.test_receptionist_calls import serve, wait_idle
from tests.conftest import AUTH_TOKEN, objects
from tests.records.test_calls_recorded import SQLITE_ONLY, one_call, reader  # noqa: F401 (a fixture)


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> RecordingStore:
    """Each kind of store, spooling under tmp_path."""
    if request.param == "local":
        return LocalStore(tmp_path / "recordings")
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = request.getfixturevalue("s3_env")
    return S3Store(Bucket(f"s3://{bucket}/agent", endpoint), tmp_path / "spool")


def spool(store: RecordingStore, name: str, data: bytes) -> None:
    path = store.spool / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


async def read_all(store: RecordingStore, name: str, start: int, end: int) -> bytes:
    return b"".join([chunk async for chunk in store.read(name, start, end)])


async def test_a_published_recording_is_read_back_whole_and_in_ranges(store: RecordingStore) -> None:
    """After publish, stat gives its size and any byte range reads back exactly, across read chunks."""
    data = os.urandom(600_000)  # more than two of the store's read chunks
    spool(store, "2026/12/03/a.wav", data)
    await store.publish("2026/12/03/a.wav")
    stored = await store.stat("2026/12/03/a.wav")
    assert stored is not None and stored.size == len(data)
    assert await read_all(store, "2026/12/03/a.wav", 0, len(data)) == data
    assert await read_all(store, "2026/12/03/a.wav", 300_000, 300_044) == data[300_000:300_044]
    assert await store.stat("2026/12/03/missing.wav") is None
    assert await store.stat("../outside.wav") is None


async def test_object_storage_uploads_the_spooled_file_and_removes_it_here(
    s3_endpoint: str, s3_env: str, tmp_path: Path
) -> None:
    """With S3 the spooled copy goes once uploaded, and the object sits under the URL's prefix."""
    store = S3Store(Bucket(f"s3://{s3_env}/agent", s3_endpoint), tmp_path)
    spool(store, "2026/12/03/b.wav", b"RIFF" + bytes(100))
    await store.publish("2026/12/03/b.wav")
    assert not (tmp_path / "2026/12/03/b.wav").exists()
    assert objects(s3_endpoint, s3_env) == {"agent/recordings/2026/12/03/b.wav": 104}
    assert store.where("2026/12/03/b.wav") == f"s3://{s3_env}/agent/recordings/2026/12/03/b.wav"


async def test_remove_deletes_the_named_recordings_and_any_older_than_the_cutoff(
    store: RecordingStore,
) -> None:
    """Retention's part: named recordings go; with a cutoff, every recording stored before it goes too."""
    for name in ("old.wav", "keep.wav", "stray.wav"):
        spool(store, name, b"RIFF")
        await store.publish(name)
    assert await store.remove(["old.wav"]) == 1
    assert await store.stat("old.wav") is None and await store.stat("keep.wav") is not None
    future = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    assert await store.remove([], older_than=future) == 2
    assert await store.stat("keep.wav") is None and await store.stat("stray.wav") is None


def test_storage_url_must_name_s3_or_nothing(tmp_path: Path) -> None:
    """STORAGE_URL is empty (local files) or s3://bucket[/prefix]; anything else is refused at start."""
    assert isinstance(open_store("", tmp_path), LocalStore)
    with pytest.raises(StorageError, match="s3://bucket"):
        open_store("s3://", tmp_path)
    with pytest.raises(ConfigError, match="STORAGE_URL: 'gs://b' must start with s3://"):
        load_settings({"STORAGE_URL": "gs://b", "TWILIO_AUTH_TOKEN": "t"})


@SQLITE_ONLY
async def test_a_call_with_object_storage_leaves_its_recording_in_the_bucket_only(
    settings: Settings,
    db_url: str,
    models: Models,
    speech_dir: Path,
    reader: Database,  # noqa: F811
    s3_endpoint: str,
    s3_env: str,
) -> None:
    """STORAGE_URL=s3://...: the call spools its audio locally and, once it ends, the recording is a stereo
    WAV in the bucket under the call row's name, with nothing left in the spool."""
    cfg = replace(
        settings, database_url=db_url, storage_url=f"s3://{s3_env}/agent", s3_endpoint_url=s3_endpoint
    )
    srv = await serve(cfg, models)
    try:
        result = await place_call(cfg.public_base_url, AUTH_TOKEN, [str(speech_dir / "hours.wav")])
        await wait_idle(srv)
    finally:
        await srv.close()
    record = await one_call(reader, result.call_sid)
    name = record.call.recording
    assert name is not None
    assert objects(s3_endpoint, s3_env).keys() == {f"agent/recordings/{name}"}
    assert list(cfg.recordings_path.rglob("*.wav")) == []
    store = S3Store(Bucket(cfg.storage_url, s3_endpoint), cfg.recordings_path)
    stored = await store.stat(name)
    assert stored is not None
    wav_path = cfg.data_dir / "fetched.wav"
    wav_path.write_bytes(await read_all(store, name, 0, stored.size))
    with wave.open(str(wav_path), "rb") as wav:
        assert (wav.getnchannels(), wav.getframerate()) == (2, 8000) and wav.getnframes() > 8000


async def test_recordings_left_in_the_spool_are_published_at_the_next_start(
    s3_endpoint: str, s3_env: str, tmp_path: Path
) -> None:
    """A crash or a failed upload leaves the file spooled; publish_spooled (run at start) uploads it."""
    from agent.records.storage import publish_spooled

    store = S3Store(Bucket(f"s3://{s3_env}", s3_endpoint), tmp_path)
    spool(store, "2026/12/03/left.wav", b"RIFF")
    assert await publish_spooled(store) == 1
    assert objects(s3_endpoint, s3_env) == {"recordings/2026/12/03/left.wav": 4}
    assert await publish_spooled(LocalStore(tmp_path)) == 0
