"""Both sides of a call as one stereo WAV (caller left, agent right, 8 kHz PCM16) on the call's clock."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from agent.telephony.codec import ulaw_decode

RATE = 8000
MAX_GAP_S = 5.0  # caller audio timestamped further than this past the audio so far is placed at this gap


def _place(track: bytearray, sample: int, pcm: bytes) -> None:
    """Write `pcm` into `track` at `sample`, padding with silence up to it."""
    at = sample * 2
    if len(track) < at:
        track.extend(bytes(at - len(track)))
    track[at : at + len(pcm)] = pcm


class StereoRecording:
    """Places caller audio where Twilio's clock says it was spoken and agent audio where it played.

    Agent chunks go out faster than real time; Twilio plays them back to back from when each arrives,
    so a chunk starts at the later of its send time and the end of the one before. A clear drops
    everything scheduled after it, so audio a barge-in cut is not in the recording.
    """

    def __init__(self) -> None:
        """Start empty, at time zero."""
        self.left = bytearray()
        self.right = bytearray()
        self._play_at = 0  # sample where the next agent chunk can start playing

    def caller(self, ulaw: bytes, at_s: float) -> float:
        """Caller audio (μ-law) that began `at_s` seconds into the call; returns the seconds of a
        timestamp jump that were not padded with silence (0 for audio in its place)."""
        end_s = len(self.left) / 2 / RATE
        jump = max(0.0, at_s - end_s - MAX_GAP_S)
        _place(self.left, round((at_s - jump) * RATE), ulaw_decode(ulaw))
        return jump

    def agent(self, ulaw: bytes, sent_s: float) -> None:
        """Agent audio (μ-law) sent `sent_s` seconds into the call."""
        pcm = ulaw_decode(ulaw)
        start = max(self._play_at, round(sent_s * RATE))
        _place(self.right, start, pcm)
        self._play_at = start + len(pcm) // 2

    def clear(self, at_s: float) -> None:
        """A barge-in cleared Twilio's buffer `at_s` seconds into the call."""
        cut = round(at_s * RATE)
        del self.right[cut * 2 :]
        self._play_at = min(self._play_at, cut)

    @property
    def seconds(self) -> float:
        """Length of the longer side."""
        return max(len(self.left), len(self.right)) / 2 / RATE

    def write(self, path: Path) -> None:
        """Write the stereo WAV (blocking: call it in a worker thread)."""
        n = max(len(self.left), len(self.right)) // 2
        frames = np.zeros((n, 2), dtype="<i2")
        left = np.frombuffer(bytes(self.left), dtype="<i2")
        right = np.frombuffer(bytes(self.right), dtype="<i2")
        frames[: len(left), 0] = left
        frames[: len(right), 1] = right
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        with wave.open(str(tmp), "wb") as wav:
            wav.setnchannels(2)
            wav.setsampwidth(2)
            wav.setframerate(RATE)
            wav.writeframes(frames.tobytes())
        tmp.replace(path)
