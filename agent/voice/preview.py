"""Write a voice preview twice: full band, and as a caller hears it (8 kHz μ-law through the call codec)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf

from agent.telephony.codec import StreamResampler, ulaw_decode, ulaw_encode
from agent.voice.clips import Clip

PHONE_RATE = 8000


def to_pcm16(samples: npt.NDArray[np.float32]) -> bytes:
    """Float samples in [-1, 1] as little-endian 16-bit PCM bytes."""
    return bytes((np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes())


def phone_band(clip: Clip) -> bytes:
    """The clip as the phone line carries it: resampled to 8 kHz by the call codec, μ-law coded."""
    resampler = StreamResampler(clip.rate, PHONE_RATE)
    pcm = resampler.process(to_pcm16(clip.samples)) + resampler.flush()
    return ulaw_encode(pcm)


def phone_path(out: Path) -> Path:
    """Where the phone-band copy of `out` goes: out.wav → out.phone.wav."""
    return out.with_name(f"{out.stem}.phone{out.suffix or '.wav'}")


def write_preview(clip: Clip, out: Path) -> tuple[Path, Path]:
    """Write `out` (16-bit, the clip's own rate) and its phone-band copy (8 kHz μ-law WAV); return both."""
    out = Path(out)
    sf.write(out, np.clip(clip.samples, -1.0, 1.0), clip.rate, subtype="PCM_16")
    phone = phone_path(out)
    heard = np.frombuffer(ulaw_decode(phone_band(clip)), dtype="<i2")
    sf.write(phone, heard, PHONE_RATE, format="WAV", subtype="ULAW")
    return out, phone
