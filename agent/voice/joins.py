"""Join streamed audio chunks and utterances without clicks: smooth the joins, fade the edges (pure)."""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]


def ramp(n: int) -> FloatArray:
    """A raised-cosine ramp rising from near 0 to near 1 over `n` samples."""
    out: FloatArray = (0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 1) / (n + 1))).astype(np.float32)
    return out


def max_jumps(chunks: list[FloatArray]) -> tuple[float, float]:
    """The largest sample-to-sample jump across the joins of `chunks`, and inside them."""
    at_joins = max(
        (abs(float(b[0]) - float(a[-1])) for a, b in itertools.pairwise(chunks) if len(a) and len(b)),
        default=0.0,
    )
    inside = max((float(np.abs(np.diff(c)).max()) for c in chunks if len(c) > 1), default=0.0)
    return at_joins, inside


class Joiner:
    """Turns one utterance's chunks into continuous audio: fade in, smooth every join, fade out.

    >>> j = Joiner(fade=2)
    >>> [round(float(x), 2) for x in j.push(np.ones(4, np.float32))]
    [0.25, 0.75]
    >>> [round(float(x), 2) for x in j.push(np.full(3, 3.0, np.float32))]
    [1.0, 1.0, 1.5]
    >>> [round(float(x), 2) for x in j.end()]
    [1.88, 0.75]

    A join is smooth when the next chunk continues the last one's slope. Whatever step is left (XTTS
    crossfades its own chunks, so usually little) is ramped away over the next `fade` samples, without
    shifting or dropping audio. Each chunk's last `fade` samples are held until the next one arrives, so
    `end` can fade the utterance out: consecutive utterances, or a switch to another voice, start and end
    at zero and join without a click.
    """

    def __init__(self, fade: int = 96) -> None:
        """Smooth and fade over `fade` samples (96 is 4 ms at 24 kHz)."""
        if fade < 1:
            raise ValueError("fade must be at least one sample")
        self.fade = fade
        self._down = ramp(fade)[::-1].copy()
        self._held = np.zeros(0, dtype=np.float32)
        self._started = False

    def push(self, chunk: FloatArray) -> FloatArray:
        """Add the next chunk; return the audio that is now final."""
        x = np.array(chunk, dtype=np.float32)
        if not len(x):
            return x
        if not self._started:
            self._started = True
            n = min(self.fade, len(x))
            x[:n] *= ramp(self.fade)[:n]
        elif len(self._held):
            self._smooth(x)
        x = np.concatenate([self._held, x])
        keep = min(self.fade, len(x))
        self._held = x[len(x) - keep :]
        return x[: len(x) - keep]

    def _smooth(self, x: FloatArray) -> None:
        """Remove the step between the held audio and `x` in place, decaying over `fade` samples."""
        prev = self._held
        slope = float(prev[-1] - prev[-2]) if len(prev) > 1 else 0.0
        step = float(x[0]) - (float(prev[-1]) + slope)
        n = min(self.fade, len(x))
        x[:n] -= step * self._down[:n]

    def end(self) -> FloatArray:
        """Finish the utterance: return the held audio faded out to zero, and start afresh."""
        tail = self._held.copy()
        self.reset()
        if len(tail):
            tail *= self._down[-len(tail) :]
        return tail

    def reset(self) -> None:
        """Drop held audio (after a barge-in) and start a new utterance."""
        self._held = np.zeros(0, dtype=np.float32)
        self._started = False


def join(chunks: list[FloatArray], fade: int = 96) -> FloatArray:
    """Join one utterance's chunks into one array with `Joiner` (for previews and tests)."""
    joiner = Joiner(fade)
    parts = [joiner.push(c) for c in chunks]
    parts.append(joiner.end())
    return np.concatenate(parts)
