"""Both sides of a call as one stereo WAV (caller left, agent right, 8 kHz PCM16) on the call's clock,
written to disk as the call goes so a crash loses at most the last few seconds."""

from __future__ import annotations

import struct
import wave
from pathlib import Path
from typing import BinaryIO

import numpy as np

from agent.telephony.codec import ulaw_decode

RATE = 8000
MAX_GAP_S = 5.0  # caller audio timestamped further than this past the audio so far is placed at this gap
HEADER = 44  # bytes of the canonical PCM WAV header the `wave` module writes


def _place(track: bytearray, sample: int, pcm: bytes) -> None:
    """Write `pcm` into `track` at `sample` (audio before the track's start is dropped), padding up to it."""
    if sample < 0:
        pcm, sample = pcm[-sample * 2 :], 0
    at = sample * 2
    if len(track) < at:
        track.extend(bytes(at - len(track)))
    track[at : at + len(pcm)] = pcm


class StereoRecording:
    """Places caller audio where Twilio's clock says it was spoken and agent audio where it played.

    Agent chunks go out faster than real time; Twilio plays them back to back from when each arrives,
    so a chunk starts at the later of its send time and the end of the one before. A clear drops
    everything scheduled after it, so audio a barge-in cut is not in the recording. `take` hands over
    the audio up to a time for writing and forgets it, so only the unwritten tail is held in memory.
    """

    def __init__(self) -> None:
        """Start empty, at time zero."""
        self.left = bytearray()  # samples from `_base` on
        self.right = bytearray()
        self._base = 0  # samples already taken
        self._play_at = 0  # sample where the next agent chunk can start playing

    def caller(self, ulaw: bytes, at_s: float, now_s: float | None = None) -> float:
        """Caller audio (μ-law) that began `at_s` seconds into the call (whose clock reads `now_s`);
        returns the seconds of a timestamp jump that were not padded with silence (0 for audio in its
        place). No timestamp places audio more than MAX_GAP_S past both the audio so far and the clock,
        so a stream of jumps can't make a recording (in memory) run ahead of the call."""
        anchor = self.caller_end_s if now_s is None else min(self.caller_end_s, now_s)
        jump = max(0.0, at_s - anchor - MAX_GAP_S)
        _place(self.left, round((at_s - jump) * RATE) - self._base, ulaw_decode(ulaw))
        return jump

    def agent(self, ulaw: bytes, sent_s: float) -> None:
        """Agent audio (μ-law) sent `sent_s` seconds into the call."""
        pcm = ulaw_decode(ulaw)
        start = max(self._play_at, round(sent_s * RATE))
        _place(self.right, start - self._base, pcm)
        self._play_at = start + len(pcm) // 2

    def clear(self, at_s: float) -> None:
        """A barge-in cleared Twilio's buffer `at_s` seconds into the call."""
        cut = max(round(at_s * RATE), self._base)
        del self.right[(cut - self._base) * 2 :]
        self._play_at = min(self._play_at, cut)

    @property
    def caller_end_s(self) -> float:
        """Where the caller's audio so far ends."""
        return (self._base + len(self.left) // 2) / RATE

    @property
    def taken_s(self) -> float:
        """Seconds already handed over by `take`."""
        return self._base / RATE

    @property
    def seconds(self) -> float:
        """Length of the longer side, taken or not."""
        return (self._base + max(len(self.left), len(self.right)) // 2) / RATE

    def take(self, upto_s: float | None = None) -> bytes:
        """Interleaved stereo PCM16 frames from the last take up to `upto_s` (default: the end), forgotten
        here; audio placed before that point later is dropped, so take only what can no longer change."""
        end = max(len(self.left), len(self.right)) // 2
        n = end if upto_s is None else max(0, min(round(upto_s * RATE) - self._base, end))
        frames = np.zeros((n, 2), dtype="<i2")
        left = np.frombuffer(bytes(self.left[: n * 2]), dtype="<i2")
        right = np.frombuffer(bytes(self.right[: n * 2]), dtype="<i2")
        frames[: len(left), 0] = left
        frames[: len(right), 1] = right
        del self.left[: n * 2]
        del self.right[: n * 2]
        self._base += n
        return frames.tobytes()

    def write(self, path: Path) -> None:
        """Write what is not yet taken as a whole stereo WAV (blocking: call it in a worker thread)."""
        out = RecordingFile(path)
        out.append(self.take())
        out.close()


class RecordingFile:
    """A stereo WAV written in appends, its header valid after each one (blocking: use a worker thread)."""

    def __init__(self, path: Path) -> None:
        """Write to `path` (created, with its folders, on the first append)."""
        self.path = path
        self.frames = 0
        self._file: BinaryIO | None = None
        self._wav: wave.Wave_write | None = None

    def append(self, frames: bytes) -> None:
        """Add interleaved stereo PCM16 frames and hand them to the OS, the header updated to cover them."""
        if self._wav is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("wb")
            self._wav = wave.open(self._file, "wb")  # noqa: SIM115 (open across appends; closed in close())
            self._wav.setnchannels(2)
            self._wav.setsampwidth(2)
            self._wav.setframerate(RATE)
        self._wav.writeframes(frames)  # patches the header's sizes after the data
        assert self._file is not None
        self._file.flush()
        self.frames += len(frames) // 4

    def close(self) -> None:
        """Finish the file (a call with no audio leaves none); closing again does nothing."""
        wav, file, self._wav, self._file = self._wav, self._file, None, None
        if wav is not None:
            wav.close()
        if file is not None:
            file.close()


def repair(path: Path) -> float:
    """Make a WAV whose writer died mid-append cover all its whole frames; return its seconds (0 if
    it is missing or not one of ours). Blocking."""
    try:
        with path.open("r+b") as f:
            head = f.read(HEADER)
            ours = head[:4] == b"RIFF" and head[8:16] == b"WAVEfmt " and head[36:40] == b"data"
            if len(head) < HEADER or not ours:
                return 0.0
            size = f.seek(0, 2) - HEADER
            size -= size % 4
            if struct.unpack("<I", head[40:44])[0] != size:
                f.seek(4)
                f.write(struct.pack("<I", 36 + size))
                f.seek(40)
                f.write(struct.pack("<I", size))
            return size / 4 / RATE
    except OSError:
        return 0.0
