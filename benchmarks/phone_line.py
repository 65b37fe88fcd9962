"""What a phone call does to a caller's voice, for testing recognition on the audio the server really gets.

`phone_line(pcm, rate, line)` takes a clean recording and returns the 16 kHz PCM that Whisper is handed:
resampled to 8 kHz, set to a speech level, optionally narrowed to a handset's band and mixed with line noise,
μ-law encoded as Twilio sends it, then decoded and upsampled in 20 ms media frames exactly as the server's
input does (`agent.telephony.codec`). Pure numpy, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from agent.telephony.codec import StreamResampler, ulaw_decode, ulaw_encode
from agent.telephony.transport import PHONE_RATE, PIPELINE_IN_RATE

FloatArray = npt.NDArray[np.float64]
MEDIA_FRAME_BYTES = PHONE_RATE * 20 // 1000  # one 20 ms Twilio media payload of μ-law


@dataclass(frozen=True)
class LineCondition:
    """One kind of line: optional handset band-limit and line noise at a signal-to-noise ratio."""

    name: str
    noise: Literal["none", "white", "pink"] = "none"
    snr_db: float = 20.0
    band_hz: tuple[float, float] | None = None
    level_dbfs: float = -26.0  # active speech level before μ-law (ITU-T P.56 nominal: -26 dBov)
    pad_s: float = 0.25  # line (silence or noise) before and after the speech


CLEAN = LineCondition("clean")
WHITE_20DB = LineCondition("white noise 20 dB", noise="white", snr_db=20.0)
PINK_15DB = LineCondition("pink noise 15 dB", noise="pink", snr_db=15.0)
BAND_300_3400 = LineCondition("band 300–3400 Hz", band_hz=(300.0, 3400.0))
CONDITIONS = (CLEAN, WHITE_20DB, PINK_15DB, BAND_300_3400)


def active_power(x: FloatArray, rate: int) -> float:
    """Mean power of the 20 ms frames within 30 dB of the loudest: the level of speech, not of pauses."""
    n = max(1, rate // 50)
    frames = x[: len(x) - len(x) % n].reshape(-1, n) if len(x) >= n else x.reshape(1, -1)
    power = (frames**2).mean(axis=1)
    if not len(power) or power.max() <= 0:
        return 0.0
    return float(power[power >= power.max() / 1000.0].mean())


def band_limit(x: FloatArray, rate: int, low_hz: float, high_hz: float, edge_hz: float = 100.0) -> FloatArray:
    """Keep `low_hz`–`high_hz`, with raised-cosine edges `edge_hz` wide (zero-phase, whole clip)."""
    spectrum = np.fft.rfft(x)
    f = np.fft.rfftfreq(len(x), 1.0 / rate)
    rise = np.clip((f - (low_hz - edge_hz / 2)) / edge_hz, 0.0, 1.0)
    fall = np.clip(((high_hz + edge_hz / 2) - f) / edge_hz, 0.0, 1.0)
    mask = np.sin(np.pi / 2 * rise) ** 2 * np.sin(np.pi / 2 * fall) ** 2
    out: FloatArray = np.fft.irfft(spectrum * mask, n=len(x))
    return out


def noise(kind: Literal["white", "pink"], samples: int, rate: int, rng: np.random.Generator) -> FloatArray:
    """Unit-power white noise, or pink noise (power falling 3 dB per octave above 20 Hz)."""
    white = rng.standard_normal(samples)
    if kind == "pink":
        spectrum = np.fft.rfft(white)
        f = np.fft.rfftfreq(samples, 1.0 / rate)
        spectrum /= np.sqrt(np.maximum(f, 20.0))
        white = np.fft.irfft(spectrum, n=samples)
    out: FloatArray = white / np.sqrt(np.mean(white**2))
    return out


def degrade(pcm8k: FloatArray, line: LineCondition, seed: int = 0) -> FloatArray:
    """Apply the line at 8 kHz: level, padding, band-limit, then noise at the line's SNR."""
    power = active_power(pcm8k, PHONE_RATE)
    if power > 0:
        pcm8k = pcm8k * np.sqrt(32768.0**2 * 10 ** (line.level_dbfs / 10) / power)
    pad = np.zeros(round(line.pad_s * PHONE_RATE))
    x = np.concatenate([pad, pcm8k, pad])
    if line.band_hz is not None:
        x = band_limit(x, PHONE_RATE, *line.band_hz)
    if line.noise != "none":
        speech = active_power(x, PHONE_RATE)
        hiss = noise(line.noise, len(x), PHONE_RATE, np.random.default_rng(seed))
        x = x + hiss * np.sqrt(speech / 10 ** (line.snr_db / 10))
    return x


def phone_line(pcm16: bytes, rate: int, line: LineCondition = CLEAN, seed: int = 0) -> bytes:
    """Send 16-bit mono PCM at `rate` through a phone call; return the 16 kHz PCM the server decodes."""
    down = StreamResampler(rate, PHONE_RATE)
    pcm8k = np.frombuffer(down.process(pcm16) + down.flush(), dtype="<i2").astype(np.float64)
    sent = np.clip(np.rint(degrade(pcm8k, line, seed)), -32768, 32767).astype("<i2")
    ulaw = ulaw_encode(sent.tobytes())
    up = StreamResampler(PHONE_RATE, PIPELINE_IN_RATE)
    frames = [
        up.process(ulaw_decode(ulaw[i : i + MEDIA_FRAME_BYTES]))
        for i in range(0, len(ulaw), MEDIA_FRAME_BYTES)
    ]
    return b"".join(frames) + up.flush()
