"""Which voice a call speaks in: per called number with a default, loaded once, Piper when XTTS can't load."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from piper import PiperVoice
from structlog.testing import capture_logs

from agent.config import EMBEDDED, ConfigError, Settings, load_settings
from agent.voice.catalog import load_voices, make_tts
from agent.voice.piper import PiperTTSService, load_piper
from agent.voice.xtts import Latents
from agent.voice.xtts_process import XttsWorker
from agent.voice.xtts_service import XttsTTSService
from tests.voice.tiny_xtts import store_voice

NUMBER = "+15550100"


@pytest.fixture(scope="module")
def piper() -> PiperVoice:
    """The embedded stock voice."""
    return load_piper("embedded")


@pytest.fixture
def voices_dir(tmp_path: Path, tiny_latents: Latents) -> Path:
    """A voices/ directory holding one XTTS voice, "acme", that speaks English and Spanish."""
    return store_voice(tmp_path, tiny_latents, ["en", "es"])


def settings(voices_dir: Path, model_dir: Path | str, **kw: str) -> Settings:
    """Settings with these voices and model; replicas in threads unless `xtts_workers` says otherwise (which
    voice a call gets does not depend on it, and a worker process takes seconds to start)."""
    kw.setdefault("xtts_workers", "thread")
    return Settings(voices_dir=voices_dir, xtts_model_dir=str(model_dir), **kw)  # type: ignore[arg-type]


class TestChoice:
    def test_voice_per_called_number_with_default(self, voices_dir: Path, tiny_xtts_dir: Path) -> None:
        """The number in VOICES_BY_NUMBER gets its cloned voice; any other number gets the default (Piper)."""
        voices = load_voices(settings(voices_dir, tiny_xtts_dir, voices_by_number=f'{{"{NUMBER}": "acme"}}'))
        chosen = voices.for_called(NUMBER)
        assert chosen.cloned is not None and chosen.cloned.languages == ("en", "es")
        assert voices.for_called("+15559999").stock
        assert voices.pool is not None and voices.pool.replicas == 1
        voices.pool.close()

    def test_latents_loaded_once_and_shared_by_calls(
        self, voices_dir: Path, tiny_xtts_dir: Path, tiny_latents: Latents
    ) -> None:
        """Every call gets the same latents object, read from latents.pt at startup, not recomputed."""
        voices = load_voices(settings(voices_dir, tiny_xtts_dir, voice_default="acme"))
        first, second = voices.for_called("+1"), voices.for_called("+2")
        assert first.cloned is not None and second.cloned is not None
        assert first.cloned.latents is second.cloned.latents
        assert torch.equal(first.cloned.latents.gpt_cond_latent, tiny_latents.gpt_cond_latent)
        assert voices.pool is not None
        voices.pool.close()

    def test_replicas_from_settings(self, voices_dir: Path, tiny_xtts_dir: Path) -> None:
        """XTTS_REPLICAS sets how many models the pool loads; by default each in a worker process."""
        voices = load_voices(
            Settings(
                voices_dir=voices_dir,
                xtts_model_dir=str(tiny_xtts_dir),
                voice_default="acme",
                xtts_replicas=2,
            )
        )
        assert voices.pool is not None and voices.pool.replicas == 2
        assert all(isinstance(m, XttsWorker) for m in voices.pool.models)
        voices.pool.close()

    def test_replicas_in_threads_when_asked(self, voices_dir: Path, tiny_xtts_dir: Path) -> None:
        """XTTS_WORKERS=thread loads the replicas into the server's own process."""
        voices = load_voices(settings(voices_dir, tiny_xtts_dir, voice_default="acme", xtts_workers="thread"))
        assert voices.pool is not None and not isinstance(voices.pool.models[0], XttsWorker)
        voices.pool.close()

    def test_embedded_default_loads_no_model(self, tmp_path: Path) -> None:
        """With the default settings (no cloned voice) no XTTS model is loaded and calls speak Piper."""
        voices = load_voices(Settings(voices_dir=tmp_path))
        assert voices.pool is None and voices.for_called(NUMBER).stock


class TestUnavailable:
    def test_broken_model_dir_falls_back_with_reason(
        self, voices_dir: Path, tiny_xtts_dir: Path, tmp_path: Path, piper: PiperVoice
    ) -> None:
        """A checkpoint dir without model.pth leaves the voice on Piper, saying which file is missing."""
        broken = tmp_path / "broken"
        shutil.copytree(tiny_xtts_dir, broken, ignore=shutil.ignore_patterns("model.pth"))
        with capture_logs() as logs:
            voices = load_voices(settings(voices_dir, broken, voice_default="acme"))
            tts = make_tts(voices.for_called(NUMBER), piper, call_id="CA1", language=lambda: "en")
        assert isinstance(tts, XttsTTSService)
        assert tts.fallback_reason is not None and "model.pth" in tts.fallback_reason
        assert not tts.speaking_cloned
        assert {e["event"] for e in logs} >= {"voice_unavailable", "voice_fallback"}
        assert [e["voice"] for e in logs if e["event"] == "voice_fallback"] == ["acme"]

    def test_no_model_dir_configured(self, voices_dir: Path) -> None:
        """A cloned voice with XTTS_MODEL_DIR unset says so."""
        voices = load_voices(settings(voices_dir, "", voice_default="acme"))
        assert voices.for_called(NUMBER).fallback_reason == "XTTS_MODEL_DIR is not set"

    def test_unknown_voice(self, voices_dir: Path, tiny_xtts_dir: Path) -> None:
        """A configured voice that is not in voices/ falls back, naming the problem; no model is loaded."""
        voices = load_voices(settings(voices_dir, tiny_xtts_dir, voice_default="ghost"))
        reason = voices.for_called(NUMBER).fallback_reason
        assert reason is not None and "ghost" in reason
        assert voices.pool is None

    def test_stock_choice_is_plain_piper(self, piper: PiperVoice) -> None:
        """The embedded default builds the plain Piper service, as before cloned voices existed."""
        voices = load_voices(Settings(voice_default=EMBEDDED))
        assert isinstance(
            make_tts(voices.for_called(NUMBER), piper, call_id="CA1", language=str), PiperTTSService
        )


class TestSettings:
    def test_voices_by_number_from_env_json(self) -> None:
        """VOICES_BY_NUMBER is JSON in the environment."""
        s = load_settings({"VOICES_BY_NUMBER": f'{{"{NUMBER}": "acme"}}', "TWILIO_AUTH_TOKEN": "x"})
        assert s.voice_for(NUMBER) == "acme" and s.voice_for("+1") == EMBEDDED

    def test_voices_by_number_from_toml_table(self, tmp_path: Path) -> None:
        """In the TOML file it is a table."""
        toml = tmp_path / "agent.toml"
        toml.write_text(f'voice_default = "front"\n[voices_by_number]\n"{NUMBER}" = "acme"\n')
        s = load_settings({"TWILIO_AUTH_TOKEN": "x"}, toml_path=toml)
        assert s.voice_for(NUMBER) == "acme" and s.voice_for("+1") == "front"

    def test_malformed_mapping_is_refused(self) -> None:
        """A VOICES_BY_NUMBER that is not a JSON object is a configuration error at startup."""
        with pytest.raises(ConfigError, match="VOICES_BY_NUMBER"):
            load_settings({"VOICES_BY_NUMBER": '["acme"]', "TWILIO_AUTH_TOKEN": "x"})
        with pytest.raises(ConfigError, match="VOICES_BY_NUMBER"):
            load_settings({"VOICES_BY_NUMBER": "{acme", "TWILIO_AUTH_TOKEN": "x"})
