"""Whisper on phone-band audio: words from speech, nothing from silence or noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from agent.models import Models
from agent.simulate import read_wav_as_ulaw, ulaw_to_pcm16k
from agent.speech.whisper import guard, transcribe


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


def test_embedded_base_model_is_assembled_once(tmp_path: Path) -> None:
    """The two-part base model becomes one loadable folder, and is not rebuilt when present."""
    from agent.speech.whisper import assemble_embedded_base

    out = assemble_embedded_base(tmp_path)
    model = out / "model.bin"
    assert {p.name for p in out.iterdir()} == {"model.bin", "config.json", "tokenizer.json", "vocabulary.txt"}
    stamp = model.stat().st_mtime_ns
    assert assemble_embedded_base(tmp_path) == out
    assert model.stat().st_mtime_ns == stamp


def test_detail_model_hears_a_phone_number_in_full(models: Models, tmp_path: Path) -> None:
    """The detail model (Whisper base) transcribes a spoken number with every digit."""
    from agent.dialog.spoken import extract_digits
    from agent.voice.piper import write_wav

    assert models.whisper_detail is not None
    path = write_wav(models.piper, "My number is 617 555 0100.", tmp_path / "number.wav")
    text = transcribe(models.whisper_detail, ulaw_to_pcm16k(read_wav_as_ulaw(path))).text
    assert extract_digits(text) == "6175550100", text


def test_video_outros_are_never_a_callers_words_but_a_real_bye_is() -> None:
    """ "Thanks for watching." is rejected even when Whisper is sure of it (made of echo); "Bye." is not."""
    assert guard("Thanks for watching.", no_speech_prob=0.01, avg_logprob=-0.2, compression_ratio=1.0)
    assert guard("Please subscribe!", no_speech_prob=0.01, avg_logprob=-0.2, compression_ratio=1.0)
    assert guard("Bye.", no_speech_prob=0.01, avg_logprob=-0.2, compression_ratio=1.0) is None
    assert guard("Bye.", no_speech_prob=0.5, avg_logprob=-0.2, compression_ratio=1.0)


def test_a_short_answer_whisper_doubts_is_kept_unless_it_is_also_improbable() -> None:
    """Digits and "Yes." often score high no-speech odds; they are dropped only below a -1.0 log-prob.

    tiny.en scored Piper's "Yes." at no_speech 0.69 / logprob -0.69, and a caller's "five five five" in
    a message was dropped at the old -0.7 threshold: the number lost its middle.
    """
    assert guard("5 5 5 5", no_speech_prob=0.65, avg_logprob=-0.8, compression_ratio=0.4) is None
    assert guard("Yes?", no_speech_prob=0.69, avg_logprob=-0.75, compression_ratio=0.3) is None
    assert guard("Thank you.", no_speech_prob=0.8, avg_logprob=-1.3, compression_ratio=0.4)


def test_a_decoding_loop_is_rejected_by_its_compression_ratio() -> None:
    """Text that compresses like a loop (ratio > 2.4, faster-whisper's own measure) is no caller's words."""
    from faster_whisper.transcribe import get_compression_ratio

    loop = "I'm sorry, I'm sorry, I'm sorry, I'm sorry, I'm sorry, I'm sorry, I'm sorry, I'm sorry."
    real = "Hi, I'd like to book a cleaning for next Tuesday afternoon, please."
    assert get_compression_ratio(loop) > 2.4 > get_compression_ratio(real)
    why = guard(loop, no_speech_prob=0.01, avg_logprob=-0.2, compression_ratio=get_compression_ratio(loop))
    assert why is not None and why.startswith("repetitive:")
    kept = guard(real, no_speech_prob=0.01, avg_logprob=-0.2, compression_ratio=get_compression_ratio(real))
    assert kept is None
