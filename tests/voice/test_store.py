"""voices/<name>/ on disk: adding, reading back, listing, scoring and removing voices."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from agent.voice.store import (
    LATENTS_FILE,
    XTTS_LANGUAGES,
    VoiceError,
    VoiceStore,
    check_languages,
    reference_names,
)


class BytesLatents:
    """Latents that write fixed bytes, so the store's file handling is checked without a model."""

    def save(self, path: Path) -> None:
        """Write the bytes."""
        path.write_bytes(b"latents")


def add(store: VoiceStore, clips: dict[str, Path], name: str = "acme") -> None:
    store.add(
        name,
        references=[clips["a.wav"], clips["b.WAV"]],
        consent={"speaker": "Jane Doe", "statement": "I, Jane Doe, agree"},
        consent_recording=clips["said.wav"],
        latents=BytesLatents(),
        speaker="Jane Doe",
        display_name="Acme front desk",
        languages=["en", "es"],
        licence="CPML",
    )


class TestVoiceStore:
    def test_added_voice_reads_back_with_its_files(self, tmp_path: Path, clips: dict[str, Path]) -> None:
        """A voice reads back with its settings, copied clips, consent record and latents."""
        store = VoiceStore(tmp_path / "voices")
        add(store, clips)
        voice = store.get("acme")
        assert voice.display_name == "Acme front desk"
        assert voice.languages == ("en", "es")
        assert voice.engine == "xtts"
        assert voice.speaker == "Jane Doe"
        assert [p.name for p in voice.references] == ["ref-1.wav", "ref-2.wav"]
        assert [p.read_bytes() for p in voice.references] == [b"a.wav", b"b.WAV"]
        assert voice.latents_path == voice.dir / LATENTS_FILE
        assert voice.latents_path.read_bytes() == b"latents"
        assert (voice.dir / "consent.wav").read_bytes() == b"said.wav"
        assert store.consent("acme")["speaker"] == "Jane Doe"
        assert voice.fidelity is None
        assert voice.speaks("es-MX") and not voice.speaks("fr")

    def test_list_is_sorted_and_skips_unreadable_voices(self, tmp_path: Path, clips: dict[str, Path]) -> None:
        """Listing shows every readable voice by name and skips a broken voice.toml."""
        store = VoiceStore(tmp_path / "voices")
        assert store.list() == []
        add(store, clips, "zed")
        add(store, clips, "acme")
        broken = tmp_path / "voices" / "broken"
        broken.mkdir()
        (broken / "voice.toml").write_text("engine = ")
        assert [v.name for v in store.list()] == ["acme", "zed"]

    def test_existing_name_is_refused(self, tmp_path: Path, clips: dict[str, Path]) -> None:
        """Adding a second voice of the same name is refused."""
        store = VoiceStore(tmp_path / "voices")
        add(store, clips)
        with pytest.raises(VoiceError, match="already exists"):
            add(store, clips)

    @pytest.mark.parametrize("name", ["", "Acme", "../x", "a b", "-x"])
    def test_invalid_names_are_refused(self, tmp_path: Path, clips: dict[str, Path], name: str) -> None:
        """Names that could escape the directory or confuse the CLI are refused."""
        with pytest.raises(VoiceError, match="invalid voice name"):
            add(VoiceStore(tmp_path / "voices"), clips, name)

    def test_failed_add_leaves_nothing_behind(self, tmp_path: Path, clips: dict[str, Path]) -> None:
        """A clip that can't be copied leaves no voice and no half-built directory."""
        store = VoiceStore(tmp_path / "voices")
        clips["a.wav"].unlink()
        with pytest.raises(FileNotFoundError):
            add(store, clips)
        assert list((tmp_path / "voices").iterdir()) == []

    def test_fidelity_is_recorded(self, tmp_path: Path, clips: dict[str, Path]) -> None:
        """A measured fidelity score is written to voice.toml and read back."""
        store = VoiceStore(tmp_path / "voices")
        add(store, clips)
        store.set_fidelity("acme", 0.812345)
        assert store.get("acme").fidelity == pytest.approx(0.8123)
        data = tomllib.loads((tmp_path / "voices" / "acme" / "voice.toml").read_text())
        assert data["fidelity"] == pytest.approx(0.8123)

    def test_remove_deletes_the_voice(self, tmp_path: Path, clips: dict[str, Path]) -> None:
        """A removed voice is gone from disk and from the list."""
        store = VoiceStore(tmp_path / "voices")
        add(store, clips)
        store.remove("acme")
        assert not (tmp_path / "voices" / "acme").exists()
        with pytest.raises(VoiceError, match="no voice named"):
            store.get("acme")

    async def test_async_reads_match_sync_reads(self, tmp_path: Path, clips: dict[str, Path]) -> None:
        """The worker-thread wrappers return what the blocking calls return."""
        store = VoiceStore(tmp_path / "voices")
        add(store, clips)
        assert await store.aget("acme") == store.get("acme")
        assert await store.alist() == store.list()


class TestLanguages:
    def test_xtts_speaks_seventeen_languages(self) -> None:
        """Every one of XTTS-v2's 17 language codes is accepted as it is."""
        assert len(XTTS_LANGUAGES) == 17
        assert check_languages(XTTS_LANGUAGES) == XTTS_LANGUAGES

    def test_codes_are_lower_cased_once_each(self) -> None:
        """'ES', ' en' and a repeat come back as the codes XTTS uses, each once, in the order given."""
        assert check_languages(["ES", " en", "es", "zh-CN"]) == ("es", "en", "zh-cn")

    @pytest.mark.parametrize("given", [["en", "xx"], ["english"], ["zh"], []])
    def test_a_language_xtts_does_not_speak_is_refused_with_the_list(self, given: list[str]) -> None:
        """An unknown code (or none at all) is refused, naming it and listing the codes XTTS speaks."""
        with pytest.raises(VoiceError, match="use one or more of en es fr de it pt pl tr ru nl cs ar zh-cn"):
            check_languages(given)


def test_stored_clip_names_count_from_one_and_keep_the_format() -> None:
    """Clips are stored as ref-1, ref-2, … with their own (lower-cased) extension, WAV when they have none."""
    names = reference_names([Path("a/intro.wav"), Path("b.FLAC"), Path("take3")])
    assert names == ["ref-1.wav", "ref-2.flac", "ref-3.wav"]
