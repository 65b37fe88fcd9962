"""The stereo recording places each side on the call's clock and leaves out cleared agent audio."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from agent.records.recording import MAX_GAP_S, RATE, StereoRecording
from agent.telephony.codec import ulaw_encode


def tone(seconds: float, amplitude: int = 8000) -> bytes:
    """A μ-law sine tone."""
    t = np.arange(int(seconds * RATE)) / RATE
    pcm = (amplitude * np.sin(2 * np.pi * 440 * t)).astype("<i2")
    return ulaw_encode(pcm.tobytes())


def read(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, RATE)
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)


def loud(samples: np.ndarray) -> np.ndarray:
    """Indices of 10 ms blocks whose RMS is speech-level."""
    blocks = samples[: len(samples) // 80 * 80].astype(np.float64).reshape(-1, 80)
    return np.flatnonzero(np.sqrt((blocks**2).mean(axis=1)) > 1000)


class TestStereoRecording:
    def test_caller_left_agent_right_at_their_offsets_with_silence_between(self, tmp_path: Path) -> None:
        """Caller audio at 1.0 s on the left, agent audio at 2.5 s on the right, silence elsewhere."""
        rec = StereoRecording()
        rec.caller(tone(0.5), 1.0)
        rec.agent(tone(0.5), 2.5)
        rec.write(tmp_path / "a.wav")
        frames = read(tmp_path / "a.wav")
        left, right = loud(frames[:, 0]), loud(frames[:, 1])
        assert (left[0], left[-1]) == (100, 149)
        assert (right[0], right[-1]) == (250, 299)

    def test_agent_chunks_sent_in_a_burst_play_back_to_back(self, tmp_path: Path) -> None:
        """Three 1 s chunks sent within 10 ms play one after another: 0–3 s, not on top of each other."""
        rec = StereoRecording()
        for i in range(3):
            rec.agent(tone(1.0), 0.005 * i)
        rec.write(tmp_path / "b.wav")
        right = loud(read(tmp_path / "b.wav")[:, 1])
        assert len(right) == 300 and right[-1] == 299

    def test_audio_after_a_clear_is_left_out(self, tmp_path: Path) -> None:
        """4 s of agent audio sent at once, cleared at 1.5 s: only 1.5 s of it is in the recording."""
        rec = StereoRecording()
        rec.agent(tone(4.0), 0.0)
        rec.clear(1.5)
        rec.agent(tone(0.5), 3.0)  # the next reply plays when it is sent
        rec.write(tmp_path / "c.wav")
        right = loud(read(tmp_path / "c.wav")[:, 1])
        assert right[0] == 0 and right[right < 300][-1] == 149
        assert set(range(150, 300)).isdisjoint(right)
        assert (right[right >= 300][0], right[-1]) == (300, 349)

    def test_a_timestamp_jump_is_capped_not_padded(self) -> None:
        """Caller audio stamped two hours ahead lands MAX_GAP_S after the audio so far, not 115 MB later."""
        rec = StereoRecording()
        assert rec.caller(tone(0.02), 0.0) == 0.0
        jump = rec.caller(tone(0.02), 7200.0)
        assert jump == pytest.approx(7200.0 - 0.02 - MAX_GAP_S)
        assert rec.seconds == pytest.approx(0.02 + MAX_GAP_S + 0.02)
        assert rec.caller(tone(0.02), 3.0) == 0.0  # within the gap: placed where its timestamp says
