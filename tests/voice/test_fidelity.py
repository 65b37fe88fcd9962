"""Fidelity: the voice's own synthesized speech compared with its reference clips by GE2E embedding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agent.voice.clips import Clip, read_clip
from agent.voice.fidelity import fidelity, score_voice
from agent.voice.speaker import SAME_SPEAKER
from agent.voice.store import VoiceStore
from agent.voice.xtts import SAMPLE_RATE, compute_latents, load_xtts
from tests.voice.samples import Samples, need, voice_samples


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Samples:
    """Speech shared by every voice test."""
    return voice_samples(tmp_path_factory)


@pytest.fixture(scope="module")
def refs(samples: Samples) -> list[Clip]:
    """The reference clips."""
    return [read_clip(p) for p in samples.refs]


class TestFidelity:
    def test_same_voice_scores_higher_than_another(self, samples: Samples, refs: list[Clip]) -> None:
        """Speech in the reference voice scores high; another voice reading the same words scores low."""
        same = fidelity(refs, read_clip(samples.consent))
        other = fidelity(refs, read_clip(need(samples.espeak_consent)))
        assert same is not None and other is not None
        assert same >= SAME_SPEAKER > other

    def test_silent_preview_is_not_scored(self, refs: list[Clip]) -> None:
        """A preview with no voice in it gets no score rather than a meaningless one."""
        assert fidelity(refs, Clip(np.zeros(SAMPLE_RATE * 2, np.float32), SAMPLE_RATE)) is None

    def test_score_voice_synthesizes_from_cached_latents(
        self, tmp_path: Path, samples: Samples, refs: list[Clip], tiny_xtts_dir: Path
    ) -> None:
        """Scoring a stored voice speaks a 24 kHz preview from its latents file and leaves the file alone."""
        model = load_xtts(tiny_xtts_dir, "cpu")
        store = VoiceStore(tmp_path / "voices")
        voice = store.add(
            "acme",
            references=list(samples.refs),
            consent={"speaker": "Jane Doe"},
            consent_recording=samples.consent,
            latents=compute_latents(model, [(c.samples, c.rate) for c in refs]),
            speaker="Jane Doe",
        )
        before = voice.latents_path.stat().st_mtime_ns
        scored = score_voice(model, voice)
        assert scored.preview.rate == SAMPLE_RATE and len(scored.preview.samples) > 0
        assert scored.score is None or -1.0 <= scored.score <= 1.0
        assert voice.latents_path.stat().st_mtime_ns == before
