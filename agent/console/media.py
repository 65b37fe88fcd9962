"""Recording files for the console: a stored name checked to lie under the recordings folder; clips."""

from __future__ import annotations

import io
import wave
from pathlib import Path


def recording_file(root: Path, name: str | None) -> Path | None:
    """The recording `name` under `root`, or None if it is missing or would lie outside it."""
    if not name:
        return None
    base = root.resolve()
    path = (base / name).resolve()
    if not path.is_relative_to(base) or not path.is_file():
        return None
    return path


def cut_clip(path: Path, start_s: float, end_s: float) -> bytes:
    """A WAV of the recording between `start_s` and `end_s` (clamped to its length; blocking)."""
    with wave.open(str(path), "rb") as src:
        rate, frames = src.getframerate(), src.getnframes()
        first = min(frames, max(0, round(start_s * rate)))
        last = min(frames, max(first, round(end_s * rate)))
        src.setpos(first)
        audio = src.readframes(last - first)
        out = io.BytesIO()
        with wave.open(out, "wb") as dst:
            dst.setnchannels(src.getnchannels())
            dst.setsampwidth(src.getsampwidth())
            dst.setframerate(rate)
            dst.writeframes(audio)
    return out.getvalue()
