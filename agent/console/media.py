"""Recordings for the console: HTTP byte ranges, and clips cut from a stored WAV reading only their bytes."""

from __future__ import annotations

import io
import struct
import wave
from dataclasses import dataclass

HEADER = 44  # our recordings' canonical WAV header (RIFF, fmt, data)


class RangeError(ValueError):
    """A Range header this server cannot satisfy (416)."""


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The [start, end) a `Range: bytes=...` header asks of a `size`-byte file; None for the whole file."""
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip() != "bytes" or "," in spec:
        raise RangeError(header)
    first, _, last = spec.strip().partition("-")
    try:
        if not first:  # the last N bytes
            start, end = max(0, size - int(last)), size
        else:
            start, end = int(first), min(size, int(last) + 1) if last else size
    except ValueError:
        raise RangeError(header) from None
    if start >= size or start >= end:
        raise RangeError(header)
    return start, end


@dataclass(frozen=True)
class WavFormat:
    """The audio format and data size a recording's header gives."""

    channels: int
    sample_width: int
    rate: int
    data_bytes: int

    @property
    def frame_bytes(self) -> int:
        """Bytes per sample frame (all channels)."""
        return self.channels * self.sample_width


def wav_format(header: bytes, size: int) -> WavFormat:
    """Read the format from a recording's 44-byte header (the data runs to the end of its `size` bytes)."""
    if (
        len(header) < HEADER
        or header[:4] != b"RIFF"
        or header[8:16] != b"WAVEfmt "
        or header[36:40] != b"data"
    ):
        raise ValueError("not a recording this server wrote")
    channels, rate = struct.unpack_from("<HI", header, 22)
    (bits,) = struct.unpack_from("<H", header, 34)
    return WavFormat(channels, bits // 8, rate, size - HEADER)


def clip_bytes(fmt: WavFormat, start_s: float, end_s: float) -> tuple[int, int]:
    """The byte range [start, end) of the recording between `start_s` and `end_s` (clamped to it)."""
    frames = fmt.data_bytes // fmt.frame_bytes
    first = min(frames, max(0, round(start_s * fmt.rate)))
    last = min(frames, max(first, round(end_s * fmt.rate)))
    return HEADER + first * fmt.frame_bytes, HEADER + last * fmt.frame_bytes


def wav_bytes(fmt: WavFormat, audio: bytes) -> bytes:
    """A WAV of `audio` in the recording's format."""
    out = io.BytesIO()
    with wave.open(out, "wb") as dst:
        dst.setnchannels(fmt.channels)
        dst.setsampwidth(fmt.sample_width)
        dst.setframerate(fmt.rate)
        dst.writeframes(audio)
    return out.getvalue()
