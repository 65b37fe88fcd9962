"""The XTTS model API on a real (tiny, random-weight) checkpoint: loading, latents, streaming."""

from __future__ import annotations

import gc
import shutil
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from agent.voice.joins import max_jumps
from agent.voice.xtts import (
    SAMPLE_RATE,
    Latents,
    XttsLoadError,
    compute_latents,
    load_xtts,
    stream,
    synthesize,
    xtts_language,
)
from tests.voice.conftest import reference_clip
from tests.voice.tiny_xtts import MAX_GEN_TOKENS

TEXT = "Sure, we open at nine on Saturday."


def copy_without(src: Path, dst: Path, missing: str) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(missing))
    return dst


class TestLoad:
    def test_loads_a_checkpoint_directory(self, tiny_xtts: Any) -> None:
        """A directory with config.json, model.pth and vocab.json loads, in eval mode, with its tokenizer."""
        assert not tiny_xtts.training
        assert tiny_xtts.gpt.max_gen_mel_tokens == MAX_GEN_TOKENS
        assert tiny_xtts.tokenizer.tokenizer.token_to_id("[en]") is not None

    @pytest.mark.parametrize("missing", ["config.json", "model.pth", "vocab.json"])
    def test_missing_file_is_named(self, tiny_xtts_dir: Path, tmp_path: Path, missing: str) -> None:
        """A checkpoint directory without one of its files is refused with that file's name."""
        broken = copy_without(tiny_xtts_dir, tmp_path / "ckpt", missing)
        with pytest.raises(XttsLoadError, match=missing.replace(".", r"\.")):
            load_xtts(broken, device="cpu")

    def test_corrupt_weights_are_a_load_error(self, tiny_xtts_dir: Path, tmp_path: Path) -> None:
        """A truncated model.pth fails to load with an XttsLoadError, not a crash deeper in."""
        broken = copy_without(tiny_xtts_dir, tmp_path / "ckpt", "model.pth")
        (broken / "model.pth").write_bytes((tiny_xtts_dir / "model.pth").read_bytes()[:4096])
        with pytest.raises(XttsLoadError, match="does not load"):
            load_xtts(broken, device="cpu")

    def test_optional_speakers_file_is_loaded_and_a_cloned_voice_still_speaks(
        self, tiny_xtts_dir: Path, tmp_path: Path, tiny_latents: Latents
    ) -> None:
        """A checkpoint with speakers_xtts.pth (XTTS-v2's built-in speakers) loads them beside our latents."""
        ckpt = copy_without(tiny_xtts_dir, tmp_path / "ckpt", "speakers_xtts.pth")
        speaker = {
            "gpt_cond_latent": tiny_latents.gpt_cond_latent,
            "speaker_embedding": tiny_latents.speaker_embedding,
        }
        torch.save({"Ana Florence": speaker}, ckpt / "speakers_xtts.pth")
        model = load_xtts(ckpt, device="cpu")
        assert model.speaker_manager is not None and model.speaker_manager.speaker_names == ["Ana Florence"]
        audio = synthesize(model, TEXT, "en", tiny_latents)
        assert len(audio) / SAMPLE_RATE > 1.0

    def test_without_the_voice_extra_the_error_says_what_to_install(
        self, tiny_xtts_dir: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Where coqui-tts is not installed (a Piper-only install), loading a model says to add the extra."""
        monkeypatch.setitem(sys.modules, "TTS.tts.models.xtts", None)  # import raises ImportError
        with pytest.raises(XttsLoadError, match=r"pip install 'phone-agent\[voice\]'"):
            load_xtts(tiny_xtts_dir, device="cpu")

    def test_missing_directory(self, tmp_path: Path) -> None:
        """A directory that does not exist is named in the error."""
        with pytest.raises(XttsLoadError, match="does not exist"):
            load_xtts(tmp_path / "nowhere")


class TestLatents:
    def test_shapes(self, tiny_latents: Latents) -> None:
        """The GPT latent has the model's width; the speaker embedding is XTTS's 512-d vector."""
        assert tiny_latents.gpt_cond_latent.shape[0] == 1
        assert tiny_latents.gpt_cond_latent.shape[-1] == 64
        assert tiny_latents.speaker_embedding.shape == (1, 512, 1)

    def test_same_clips_same_latents_at_any_rate(self, tiny_xtts: Any) -> None:
        """Latents depend on the clips, not their sample rate or the run; other clips give others."""
        clip16 = reference_clip(16000)
        clip48 = reference_clip(48000)
        a = compute_latents(tiny_xtts, [(clip16, 16000)])
        b = compute_latents(tiny_xtts, [(clip16, 16000)])
        c = compute_latents(tiny_xtts, [(clip48, 48000)])
        other = compute_latents(tiny_xtts, [(reference_clip(16000, pitch=300.0), 16000)])
        assert torch.equal(a.gpt_cond_latent, b.gpt_cond_latent)
        assert torch.allclose(a.speaker_embedding, c.speaker_embedding, atol=0.05)
        assert not torch.allclose(a.speaker_embedding, other.speaker_embedding, atol=1e-3)

    def test_several_clips(self, tiny_xtts: Any) -> None:
        """Several clips give one set of latents of the same shapes."""
        latents = compute_latents(tiny_xtts, [(reference_clip(16000), 16000), (reference_clip(22050), 22050)])
        assert latents.speaker_embedding.shape == (1, 512, 1)

    def test_refuses_no_clips_and_stereo(self, tiny_xtts: Any) -> None:
        """No clips, or a two-channel array, is a ValueError."""
        with pytest.raises(ValueError):
            compute_latents(tiny_xtts, [])
        with pytest.raises(ValueError, match="mono"):
            compute_latents(tiny_xtts, [(np.zeros((2, 16000), np.float32), 16000)])

    def test_save_and_load_round_trip(self, tiny_latents: Latents, tmp_path: Path) -> None:
        """Saved latents load back equal, on the CPU."""
        tiny_latents.save(tmp_path / "latents.pt")
        back = Latents.load(tmp_path / "latents.pt")
        assert torch.equal(back.gpt_cond_latent, tiny_latents.gpt_cond_latent)
        assert torch.equal(back.speaker_embedding, tiny_latents.speaker_embedding)


class TestStream:
    def test_chunks_in_order_and_continuous(self, tiny_xtts: Any, tiny_latents: Latents) -> None:
        """Streamed chunks, laid end to end, are the whole utterance: same length, same samples, in order."""
        torch.manual_seed(1)
        chunks = list(stream(tiny_xtts, TEXT, "en", tiny_latents, chunk_size=16, first_chunk_size=8))
        torch.manual_seed(1)
        whole = np.concatenate(list(stream(tiny_xtts, TEXT, "en", tiny_latents, 10_000, 10_000)))
        assert len(chunks) >= 3
        assert sum(len(c) for c in chunks) == len(whole)
        pos = 0
        for chunk in chunks:
            assert chunk.dtype == np.float32
            assert np.corrcoef(chunk, whole[pos : pos + len(chunk)])[0, 1] > 0.99
            pos += len(chunk)

    @pytest.mark.parametrize("context", [8, 32])
    def test_decoding_a_window_matches_decoding_everything(
        self, tiny_xtts: Any, tiny_latents: Latents, context: int
    ) -> None:
        """Re-decoding only a short context before each chunk gives the samples a whole-utterance decode
        gives (XTTS's way), without its cost growing with the square of the utterance."""
        torch.manual_seed(2)
        whole = list(stream(tiny_xtts, TEXT, "en", tiny_latents, 8, 2, decode_context=None))
        torch.manual_seed(2)
        window = list(stream(tiny_xtts, TEXT, "en", tiny_latents, 8, 2, decode_context=context))
        assert [len(c) for c in window] == [len(c) for c in whole]
        np.testing.assert_allclose(np.concatenate(window), np.concatenate(whole), atol=1e-5)

    def test_first_chunk_is_short_and_chunks_grow(self, tiny_xtts: Any, tiny_latents: Latents) -> None:
        """The first two chunks hold `first_chunk_size` tokens of audio, each next one twice as many, up
        to `chunk_size`, so the next is ready before the audio sent so far has played."""
        chunks = list(stream(tiny_xtts, TEXT, "en", tiny_latents, chunk_size=24, first_chunk_size=4))
        per_token = SAMPLE_RATE * 1024 / 22050  # samples of audio per GPT token
        tokens = [round(len(c) / per_token) for c in chunks]
        assert tokens == [3, 4, 8, 16, 1]  # 4, 4, 8, 16 (all 32), then the 1024 samples held back

    def test_no_clicks_at_joins(self, tiny_xtts: Any, tiny_latents: Latents) -> None:
        """The biggest jump where two chunks meet is no bigger than the biggest jump inside a chunk."""
        chunks = list(stream(tiny_xtts, TEXT, "en", tiny_latents, chunk_size=8, first_chunk_size=8))
        at_joins, inside = max_jumps(chunks)
        assert len(chunks) >= 4
        assert at_joins <= inside

    def test_an_abandoned_utterance_cleaned_up_elsewhere_changes_no_grad_mode(
        self, tiny_xtts: Any, tiny_latents: Latents
    ) -> None:
        """A stream abandoned mid-way (a replica failing) and collected in another thread's no-grad work
        leaves that thread's grad mode alone.

        Torch's grad and inference modes are per thread. A stream that held inference mode across its
        yields restored the mode it had saved, grad on, into whichever thread finally collected it: a
        replica in the middle of generating then failed ("inference tensors cannot be saved for backward").
        """
        abandoned = [stream(tiny_xtts, TEXT, "en", tiny_latents)]
        worker = threading.Thread(target=lambda: next(abandoned[0]))
        worker.start()
        worker.join()
        with torch.no_grad():
            abandoned.clear()
            gc.collect()
            assert not torch.is_grad_enabled()
        assert torch.is_grad_enabled() and not torch.is_inference_mode_enabled()

    def test_synthesize_other_language(self, tiny_xtts: Any, tiny_latents: Latents) -> None:
        """A whole utterance in Spanish comes back as one float array of capped length."""
        audio = synthesize(tiny_xtts, "Abrimos a las nueve.", "es-MX", tiny_latents)
        assert audio.dtype == np.float32
        assert 0 < len(audio) <= (MAX_GEN_TOKENS + 1) * 1024 * SAMPLE_RATE / 22050 + 1024


def test_language_codes() -> None:
    """Region tags are dropped; Chinese is XTTS's zh-cn."""
    assert xtts_language("en-US") == "en"
    assert xtts_language("ES") == "es"
    assert xtts_language("zh") == "zh-cn"
