"""Joining streamed chunks and utterances: no clicks at joins, nothing shifted or lost."""

from __future__ import annotations

import numpy as np
import pytest

from agent.voice.joins import FloatArray, Joiner, join, max_jumps

RATE = 24000


def sine(n: int, freq: float = 220.0, start: int = 0) -> FloatArray:
    t = (np.arange(n) + start) / RATE
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def split(x: FloatArray, sizes: list[int]) -> list[FloatArray]:
    return np.split(x, np.cumsum(sizes)[:-1])


def jumps_after_join(chunks: list[FloatArray], fade: int) -> tuple[float, float]:
    """Max jump at the joins of the joined output, and inside its chunks (same boundaries)."""
    out = join(chunks, fade)
    sizes = [len(c) for c in chunks]
    return max_jumps(split(out, sizes))


class TestJoiner:
    def test_steps_between_chunks_become_no_click(self) -> None:
        """Chunks offset from each other (DC steps) join with no jump bigger than those inside a chunk."""
        chunks = [
            c + off for c, off in zip(split(sine(4800), [1200] * 4), [0.0, 0.4, -0.3, 0.2], strict=True)
        ]
        naive_joins, naive_inside = max_jumps(chunks)
        assert naive_joins > 5 * naive_inside  # concatenated as they are, the joins click
        at_joins, inside = jumps_after_join(chunks, fade=96)
        assert at_joins <= inside

    def test_continuous_audio_passes_unchanged(self) -> None:
        """A continuous signal cut into chunks comes out the same, length kept, except its faded edges."""
        x = sine(4800)
        out = join(split(x, [700, 1300, 900, 1900]), fade=96)
        assert len(out) == len(x)
        np.testing.assert_allclose(out[96:-96], x[96:-96], atol=2e-3)

    def test_utterances_start_and_end_at_zero(self) -> None:
        """Each utterance fades in from and out to zero, so the next one (or another voice) joins cleanly."""
        joiner = Joiner(fade=96)
        first = np.concatenate([joiner.push(np.full(500, 0.5, np.float32)), joiner.end()])
        second = np.concatenate([joiner.push(np.full(500, -0.5, np.float32)), joiner.end()])
        both = np.concatenate([first, second])
        assert abs(first[0]) < 0.01 and abs(first[-1]) < 0.01 and abs(second[0]) < 0.01
        assert np.abs(np.diff(both)).max() < 0.02

    def test_tiny_chunks_are_held_not_lost(self) -> None:
        """Chunks shorter than the fade are held and come out later; no sample is lost."""
        joiner = Joiner(fade=96)
        x = sine(1000)
        out = [joiner.push(c) for c in split(x, [10, 20, 5, 965])] + [joiner.end()]
        assert sum(len(o) for o in out) == len(x)
        assert len(out[0]) == 0

    def test_reset_drops_held_audio(self) -> None:
        """After a barge-in, nothing held from the cut utterance comes out."""
        joiner = Joiner(fade=96)
        joiner.push(sine(500))
        joiner.reset()
        assert len(joiner.end()) == 0

    def test_fade_must_be_positive(self) -> None:
        """A zero fade is refused."""
        with pytest.raises(ValueError):
            Joiner(fade=0)
