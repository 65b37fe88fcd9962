"""Echo gate: the caller's audio that is quieter than what we just played is our own voice leaking back.

Phone calls have no echo cancellation on our side. A speakerphone or a poor handset returns the agent's
own voice, a little later and some decibels down; counted as the caller, it would interrupt the agent.
This keeps the level of what was playing (known from Twilio's returned marks) over the last
`window_s`, and treats an inbound frame more than `margin_db` below it as echo (a Geigel-style
double-talk test on frame energies); once a frame is louder than that, the caller is talking over us
and everything passes for `hold_s`, so their quieter syllables reach the VAD too. Pure: the
transport feeds it times and levels.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

AUDIBLE = 50.0  # a 16-bit level below this is line hiss, not worth counting as echo


def rms(pcm16: bytes) -> float:
    """Root-mean-square level of little-endian 16-bit PCM."""
    samples = np.frombuffer(pcm16, dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(np.square(samples)))) if len(samples) else 0.0


def peak_level(pcm16: bytes, frame_bytes: int = 320) -> float:
    """The loudest 20 ms (at 8 kHz) RMS in a chunk: what its echo can reach frame by frame."""
    return max((rms(pcm16[i : i + frame_bytes]) for i in range(0, len(pcm16), frame_bytes)), default=0.0)


@dataclass
class EchoGate:
    """Remembers how loud our playback was and judges inbound frames against it (`margin_db` 0: off)."""

    margin_db: float = 10.0
    window_s: float = 0.5
    hold_s: float = 0.4  # once the caller is heard over us, let everything through this long
    _played: deque[tuple[float, float]] = field(default_factory=deque)  # (when it finished playing, level)
    _playing: float = 0.0  # level of the chunk Twilio is playing now (0 when none)
    gated_frames: int = 0
    _caller_until: float = -1.0

    def played(self, at: float, level: float) -> None:
        """A chunk of our audio at `level` finished playing at time `at` (its mark came back)."""
        self._played.append((at, level))

    def now_playing(self, level: float) -> None:
        """Set the level of the chunk being played now (0 when nothing is)."""
        self._playing = level

    def reference(self, at: float) -> float:
        """The loudest of our audio that could be echoing back at time `at`."""
        while self._played and self._played[0][0] < at - self.window_s:
            self._played.popleft()
        return max([self._playing, *(level for _, level in self._played)])

    def is_echo(self, level: float, at: float) -> bool:
        """Whether an inbound frame at `level` is likely our own voice coming back, not the caller."""
        if self.margin_db <= 0:
            return False
        reference = self.reference(at)
        if reference <= 0 or level >= reference * 10 ** (-self.margin_db / 20):
            self._caller_until = at + self.hold_s  # double talk: the caller is louder than any echo
            return False
        if at < self._caller_until:
            return False
        if level > AUDIBLE:
            self.gated_frames += 1
        return True
