"""Browser recordings (WebM/Opus, as Chromium's MediaRecorder makes them) become WAVs the checks can read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from agent.voice.transcode import TranscodeError, to_wav


def webm_opus(pcm: np.ndarray, rate: int, out: Path) -> Path:
    """Encode mono float audio as WebM/Opus at 48 kHz, as a browser records it."""
    import av

    with av.open(str(out), "w", format="webm") as container:
        stream = container.add_stream("libopus", rate=48000)
        stream.layout = "mono"
        resampler = av.AudioResampler(format="s16", layout="mono", rate=48000)
        frame = av.AudioFrame.from_ndarray(
            (pcm * 32767).astype(np.int16).reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = rate
        for piece in resampler.resample(frame):
            for packet in stream.encode(piece):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out


def test_a_webm_opus_recording_becomes_a_wav_of_the_same_speech(tmp_path: Path) -> None:
    """Two seconds of a tone-modulated signal survive Opus: the WAV lasts as long and keeps its level."""
    rate = 16000
    t = np.arange(2 * rate) / rate
    pcm = (0.3 * np.sin(2 * np.pi * 220 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 2 * t))).astype(np.float32)
    wav = to_wav(webm_opus(pcm, rate, tmp_path / "consent.webm"))
    audio, got_rate = sf.read(str(wav), dtype="float32")
    assert wav.suffix == ".wav" and got_rate == 48000
    assert abs(len(audio) / got_rate - 2.0) < 0.1
    assert abs(float(np.sqrt(np.mean(audio**2))) - float(np.sqrt(np.mean(pcm**2)))) < 0.05


def test_a_readable_file_is_left_as_it_is_and_a_non_audio_file_is_refused(tmp_path: Path) -> None:
    """A WAV is returned untouched; a file FFmpeg can't read is a TranscodeError naming it."""
    wav = tmp_path / "a.wav"
    sf.write(str(wav), np.zeros(1600, dtype=np.float32), 16000)
    assert to_wav(wav) == wav
    junk = tmp_path / "clip.webm"
    junk.write_bytes(b"not audio at all" * 10)
    with pytest.raises(TranscodeError, match=r"clip\.webm"):
        to_wav(junk)
