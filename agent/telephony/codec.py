"""G.711 μ-law (bit-exact with Python 3.11's audioop) and low-delay streaming resampling; pure numpy."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

Int16Array = npt.NDArray[np.int16]
FloatArray = npt.NDArray[np.float32]

_SEG_UEND = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int32)
_ULAW_CLIP = 8159
_ULAW_BIAS = 0x84


def _build_lin2ulaw() -> npt.NDArray[np.uint8]:
    """Return the μ-law code of every int16 value, as audioop's 14-bit encoder computes it."""
    pcm = np.arange(-32768, 32768, dtype=np.int32) >> 2
    negative = pcm < 0
    mask = np.where(negative, 0x7F, 0xFF)
    mag = np.minimum(np.abs(pcm), _ULAW_CLIP) + (_ULAW_BIAS >> 2)
    seg = np.searchsorted(_SEG_UEND, mag, side="left")
    code = np.where(
        seg >= 8,
        0x7F,
        (np.minimum(seg, 7) << 4) | ((mag >> (np.minimum(seg, 7) + 1)) & 0xF),
    )
    return ((code ^ mask) & 0xFF).astype(np.uint8)


def _build_ulaw2lin() -> Int16Array:
    """Return the int16 sample of every μ-law code (classic G.711 decode)."""
    u = (~np.arange(256, dtype=np.int32)) & 0xFF
    t = (((u & 0x0F) << 3) + _ULAW_BIAS) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, _ULAW_BIAS - t, t - _ULAW_BIAS).astype(np.int16)


LIN2ULAW = _build_lin2ulaw()
ULAW2LIN = _build_ulaw2lin()


def ulaw_encode(pcm16: bytes) -> bytes:
    """Encode little-endian 16-bit PCM bytes as μ-law bytes (audioop.lin2ulaw(pcm, 2))."""
    samples = np.frombuffer(pcm16, dtype="<i2").astype(np.int32) + 32768
    return LIN2ULAW[samples].tobytes()


def ulaw_decode(ulaw: bytes) -> bytes:
    """Decode μ-law bytes to little-endian 16-bit PCM bytes (audioop.ulaw2lin(ulaw, 2))."""
    return ULAW2LIN[np.frombuffer(ulaw, dtype=np.uint8)].astype("<i2").tobytes()


def _kaiser_lowpass(taps: int, cutoff: float, beta: float = 6.0) -> FloatArray:
    """Return a Kaiser-windowed sinc low-pass of `taps` taps; cutoff is a fraction of the sample rate."""
    n = np.arange(taps) - (taps - 1) / 2.0
    h = 2.0 * cutoff * np.sinc(2.0 * cutoff * n) * np.kaiser(taps, beta)
    out: FloatArray = (h / h.sum()).astype(np.float32)
    return out


class StreamResampler:
    """Streaming rational-ratio polyphase FIR resampler for 16-bit mono PCM with about 2 ms of delay.

    Feed chunks of any size to `process`; the output is continuous across chunks, as if the whole
    stream had been resampled at once. `flush` returns the samples still held in the filter.
    """

    def __init__(self, rate_in: int, rate_out: int, window_ms: float = 4.0) -> None:
        """Design the filter for `rate_in` → `rate_out`; `window_ms` sets length and thus delay."""
        if rate_in <= 0 or rate_out <= 0:
            raise ValueError("sample rates must be positive")
        self.rate_in = rate_in
        self.rate_out = rate_out
        g = math.gcd(rate_in, rate_out)
        self._up = rate_out // g
        self._down = rate_in // g
        self._taps = max(16, round(rate_in * window_ms / 1000.0))
        cutoff_hz = 0.45 * min(rate_in, rate_out)
        proto = _kaiser_lowpass(self._taps * self._up, cutoff_hz / (rate_in * self._up))
        proto *= self._up
        # phases[p, k] = proto[p + k * up]: the taps applied to x[i - k] for output phase p.
        self._phases = proto.reshape(self._taps, self._up).T.copy()
        self.reset()

    @property
    def delay_seconds(self) -> float:
        """The filter's group delay, in seconds."""
        return (self._taps * self._up - 1) / 2.0 / (self.rate_in * self._up)

    def reset(self) -> None:
        """Forget all history, as after a barge-in."""
        self._history = np.zeros(self._taps - 1, dtype=np.float32)
        self._consumed = 0
        self._produced = 0

    def process(self, pcm16: bytes) -> bytes:
        """Resample a chunk of 16-bit PCM and return all output samples that are now determined."""
        x = np.frombuffer(pcm16, dtype="<i2").astype(np.float32)
        if self.rate_in == self.rate_out:
            return pcm16
        return self._run(x)

    def flush(self) -> bytes:
        """Push the filter's tail out with silence, return it, and reset the stream."""
        if self.rate_in == self.rate_out:
            return b""
        tail = self._run(np.zeros(self._taps // 2, dtype=np.float32))
        self.reset()
        return tail

    def _run(self, x: FloatArray) -> bytes:
        ext = np.concatenate([self._history, x])
        total = self._consumed + len(x)
        # Output n reads input index (n * down) // up; produce every n whose index is < total.
        last = (total * self._up - 1) // self._down if total > 0 else -1
        n = np.arange(self._produced, last + 1, dtype=np.int64)
        if len(n):
            pos = n * self._down
            idx = pos // self._up - (self._consumed - (self._taps - 1))
            phase = pos % self._up
            gather = idx[:, None] - np.arange(self._taps)[None, :]
            y = np.einsum("nk,nk->n", ext[gather], self._phases[phase])
            out = bytes(np.clip(np.rint(y), -32768, 32767).astype("<i2").tobytes())
        else:
            out = b""
        self._produced = last + 1
        self._consumed = total
        self._history = ext[len(ext) - (self._taps - 1) :]
        return out
