"""The stereo recording places each side on the call's clock and leaves out cleared agent audio."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from agent.records.recording import MAX_GAP_S, RATE, RecordingFile, StereoRecording, repair
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

    def test_jumps_one_after_another_stay_within_the_gap_of_the_calls_clock(self) -> None:
        """A message every 20 ms each 5 s ahead of the last (a hostile stream) keeps the recording within
        MAX_GAP_S of the call's clock instead of hours ahead in memory."""
        rec = StereoRecording()
        for i in range(1000):
            rec.caller(tone(0.02), i * MAX_GAP_S, now_s=i * 0.02)
        assert rec.seconds <= 1000 * 0.02 + MAX_GAP_S + 0.02


class TestWrittenAsTheCallGoes:
    def test_taking_in_pieces_writes_the_same_file_as_writing_at_the_end(self, tmp_path: Path) -> None:
        """Audio taken up to 1 s, then 2.2 s, then the rest, lands sample for sample where a single write
        puts it, and the memory holds only what is not yet taken."""
        whole, pieces = StereoRecording(), StereoRecording()
        out = RecordingFile(tmp_path / "pieces.wav")
        for rec in (whole, pieces):
            rec.caller(tone(0.8), 0.5)
        out.append(pieces.take(1.0))
        for rec in (whole, pieces):
            rec.agent(tone(1.5), 1.2)
            rec.caller(tone(0.4), 2.0)
        out.append(pieces.take(2.2))
        assert len(pieces.left) == len(whole.left) - 2 * round(2.2 * RATE)
        for rec in (whole, pieces):
            rec.clear(2.5)
        out.append(pieces.take())
        out.close()
        whole.write(tmp_path / "whole.wav")
        assert np.array_equal(read(tmp_path / "pieces.wav"), read(tmp_path / "whole.wav"))

    def test_audio_placed_before_what_was_taken_is_dropped(self) -> None:
        """Caller audio stamped before the taken point keeps only its part after it; a clear there cuts
        nothing already written."""
        rec = StereoRecording()
        rec.caller(tone(1.0), 0.0)
        rec.agent(tone(1.0), 0.0)
        assert len(rec.take(0.5)) == 4 * RATE // 2
        rec.caller(tone(0.2), 0.4)  # 0.1 s of it falls after the taken point
        rec.clear(0.2)
        assert rec.taken_s == 0.5 and rec.seconds == 1.0 and len(rec.right) == 0

    def test_the_file_is_a_whole_wav_after_every_append(self, tmp_path: Path) -> None:
        """Read while still open (as after a kill -9), the file holds every frame appended so far."""
        out = RecordingFile(tmp_path / "growing.wav")
        rec = StereoRecording()
        for i in range(3):
            rec.caller(tone(1.0), float(i))
            out.append(rec.take())
            assert len(read(tmp_path / "growing.wav")) == (i + 1) * RATE

    def test_repair_covers_frames_written_after_the_last_header_update(self, tmp_path: Path) -> None:
        """A writer killed between writing data and updating the header: repair makes the header cover
        every whole frame, and says how long the recording is."""
        path = tmp_path / "torn.wav"
        out = RecordingFile(path)
        rec = StereoRecording()
        rec.caller(tone(1.0), 0.0)
        out.append(rec.take())
        out.close()
        with path.open("ab") as f:
            f.write(bytes(4 * RATE // 2 + 3))  # half a second more and a torn frame, not in the header
        assert len(read(path)) == RATE
        assert repair(path) == 1.5
        assert len(read(path)) == RATE * 3 // 2

    def test_repair_of_a_missing_or_foreign_file_is_zero_seconds(self, tmp_path: Path) -> None:
        """No file, or one that isn't our WAV, is reported as no recording and left as it is."""
        assert repair(tmp_path / "missing.wav") == 0.0
        (tmp_path / "junk.wav").write_bytes(b"not a wav at all" * 10)
        assert repair(tmp_path / "junk.wav") == 0.0
        assert (tmp_path / "junk.wav").read_bytes() == b"not a wav at all" * 10
