"""Whisper on phone-band audio: words from speech, nothing from silence or noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from agent.models import Models
from agent.simulate import read_wav_as_ulaw, ulaw_to_pcm16k
from agent.speech.whisper import transcribe


def test_phone_band_speech_is_transcribed(models: Models, speech_dir: Path) -> None:
    """Speech sent through 8 kHz μ-law comes back as the words spoken."""
    result = transcribe(models.whisper, ulaw_to_pcm16k(read_wav_as_ulaw(speech_dir / "where.wav")))
    assert "located" in result.text.lower()
    assert result.language == "en"


def test_silence_and_line_noise_give_no_words(models: Models) -> None:
    """Digital silence and low white noise produce an empty transcript."""
    silence = np.zeros(16000 * 2, dtype="<i2").tobytes()
    noise = (np.random.default_rng(1).normal(0, 300, 16000 * 2)).astype("<i2").tobytes()
    assert transcribe(models.whisper, silence).text == ""
    assert transcribe(models.whisper, noise).text == ""
