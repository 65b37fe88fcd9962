"""Voices shared through object storage (moto's standalone S3 server): what one server adds, scores or
removes, another pulls; a voice only ever on one disk is left alone."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from agent.config import Settings
from agent.voice.catalog import load_voices
from agent.voice.shared import SHARED_MARK
from agent.voice.store import VoiceStore, voice_store
from tests.conftest import objects
from tests.voice.test_store import add


def two_servers(settings: Settings, tmp_path: Path, bucket: str, endpoint: str) -> tuple[Settings, Settings]:
    """Two servers' settings: the same bucket, each its own voices folder."""
    shared = replace(settings, storage_url=f"s3://{bucket}/agent", s3_endpoint_url=endpoint)
    return replace(shared, voices_dir=tmp_path / "a"), replace(shared, voices_dir=tmp_path / "b")


def files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_a_voice_added_on_one_server_is_pulled_whole_by_another(
    settings: Settings, tmp_path: Path, s3_env: str, s3_endpoint: str, clips: dict[str, Path]
) -> None:
    """Adding writes every file of the voice to the bucket; the other server's sync brings the same files,
    and a second sync changes nothing."""
    a, b = (voice_store(s) for s in two_servers(settings, tmp_path, s3_env, s3_endpoint))
    add(a, clips)
    assert {k.removeprefix("agent/voices/acme/") for k in objects(s3_endpoint, s3_env)} == {
        "voice.toml", "consent.toml", "consent.wav", "latents.pt", "ref-1.wav", "ref-2.wav",
    }  # fmt: skip
    assert b.list() == []
    assert b.sync() == ["acme"]
    assert [v.name for v in b.list()] == ["acme"]
    assert files(b.root / "acme") == files(a.root / "acme")
    assert b.sync() == []


def test_a_new_score_and_a_removal_reach_the_other_server(
    settings: Settings, tmp_path: Path, s3_env: str, s3_endpoint: str, clips: dict[str, Path]
) -> None:
    """set_fidelity rewrites the shared voice.toml (pulled again); removing deletes it from the bucket and
    the other server's next sync removes its copy."""
    a, b = (voice_store(s) for s in two_servers(settings, tmp_path, s3_env, s3_endpoint))
    add(a, clips)
    b.sync()
    a.set_fidelity("acme", 0.8125)
    assert b.sync() == ["acme"] and b.get("acme").fidelity == a.get("acme").fidelity
    a.remove("acme")
    assert objects(s3_endpoint, s3_env) == {}
    assert b.sync() == ["acme"] and b.list() == []


def test_a_voice_only_ever_on_this_disk_is_left_alone(
    settings: Settings, tmp_path: Path, s3_env: str, s3_endpoint: str, clips: dict[str, Path]
) -> None:
    """A voice added before STORAGE_URL was set (no .shared mark) survives a sync with an empty bucket."""
    first, _ = two_servers(settings, tmp_path, s3_env, s3_endpoint)
    add(VoiceStore(first.voices_dir), clips, name="local")
    store = voice_store(first)
    assert store.sync() == [] and [v.name for v in store.list()] == ["local"]
    assert not (store.root / "local" / SHARED_MARK).exists()


def test_a_server_starting_pulls_the_shared_voices_it_speaks_in(
    settings: Settings, tmp_path: Path, s3_env: str, s3_endpoint: str, clips: dict[str, Path]
) -> None:
    """load_voices (at start) syncs first: a voice another server added is there for the calls."""
    first, second = two_servers(settings, tmp_path, s3_env, s3_endpoint)
    voice_store(first).add(
        "front",
        references=[clips["a.wav"]],
        consent={"speaker": "Jane Doe"},
        consent_recording=clips["said.wav"],
        latents=None,
        speaker="Jane Doe",
        engine="piper",
    )
    voices = load_voices(replace(second, voice_default="front"))
    assert voices.choices["front"].fallback_reason is None
    assert (second.voices_dir / "front" / "voice.toml").is_file()


def test_previews_made_on_one_server_are_fetched_by_another(
    settings: Settings, tmp_path: Path, s3_env: str, s3_endpoint: str, clips: dict[str, Path]
) -> None:
    """A preview pushed by one server is fetched by another; removing the voice removes its previews."""
    a, b = (voice_store(s) for s in two_servers(settings, tmp_path, s3_env, s3_endpoint))
    add(a, clips)
    assert a.shared is not None and b.shared is not None
    made = tmp_path / "previews-a" / "acme.phone.wav"
    made.parent.mkdir()
    made.write_bytes(b"RIFF-preview")
    fetched = tmp_path / "previews-b" / "acme.phone.wav"
    assert not b.shared.fetch_preview(fetched)
    a.shared.push_previews([made])
    assert b.shared.fetch_preview(fetched) and fetched.read_bytes() == b"RIFF-preview"
    a.remove("acme")
    assert objects(s3_endpoint, s3_env) == {}
