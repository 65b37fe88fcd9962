"""Reference clip checks graded pass / warn / reject, with the reason an operator can act on.

A clip is read once (`read_clip`) into float32 mono samples; every check after that is a pure function
over the samples. Levels are measured per 30 ms frame: the quiet end of the frame levels is the noise
floor, the loud end is speech, and frames well above the floor count as speech.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf

FloatArray = npt.NDArray[np.float32]

FRAME_S = 0.03
SPEECH_FLOOR_DBFS = -50.0  # nothing quieter than this is speech, however quiet the room
SPEECH_ABOVE_FLOOR_DB = 8.0
MIN_RATE = 16000  # below this the clone sounds muffled: a phone recording is not a reference
GOOD_RATE = 22050  # XTTS conditions on 22.05 kHz audio
MIN_TOTAL_SPEECH_S = 6.0  # XTTS wants roughly 6-30 s of speech in all
MAX_TOTAL_SPEECH_S = 30.0
MIN_CLIP_SPEECH_S = 1.0
LONG_CLIP_S = 60.0
SILENCE_WARN = 0.5
SILENCE_REJECT = 0.8
CLIP_LEVEL = 0.99
CLIPPED_WARN = 1e-4
CLIPPED_REJECT = 1e-3
SNR_WARN_DB = 30.0  # loud speech frames over the quiet ones: ~37 dB for speech 30 dB over white noise
SNR_REJECT_DB = 20.0  # ~17 dB for speech 10 dB over white noise


class ClipError(Exception):
    """An audio file that cannot be read, with the file's name."""

    def __init__(self, message: str, name: str = "") -> None:
        """Say why the file called `name` cannot be read."""
        super().__init__(message)
        self.name = name


class Grade(enum.IntEnum):
    """How a clip fared, in increasing order of trouble."""

    PASS = 0
    WARN = 1
    REJECT = 2

    def __str__(self) -> str:
        """Lower-case name: pass, warn or reject."""
        return self.name.lower()


@dataclass(frozen=True)
class Clip:
    """Mono float32 samples in [-1, 1] at a sample rate, with where they came from."""

    samples: FloatArray
    rate: int
    name: str = ""

    @property
    def seconds(self) -> float:
        """Length in seconds."""
        return len(self.samples) / self.rate


@dataclass(frozen=True)
class Finding:
    """One check's verdict on a clip or on the set."""

    grade: Grade
    check: str
    message: str


@dataclass(frozen=True)
class Levels:
    """What the frame levels of a clip say: how much speech, how much silence, how noisy."""

    speech_s: float
    silence_ratio: float
    snr_db: float
    clipped_ratio: float


@dataclass(frozen=True)
class ClipReport:
    """The checks of one clip (levels are None when it could not be read)."""

    name: str
    findings: tuple[Finding, ...]
    levels: Levels | None = None
    rate: int = 0
    seconds: float = 0.0

    @property
    def grade(self) -> Grade:
        """The worst grade among the findings (pass when there are none)."""
        return max((f.grade for f in self.findings), default=Grade.PASS)


@dataclass(frozen=True)
class SetReport:
    """The checks of every reference clip, plus those of the set as a whole."""

    clips: tuple[ClipReport, ...]
    findings: tuple[Finding, ...]

    @property
    def speech_s(self) -> float:
        """Seconds of speech across every readable clip."""
        return sum(c.levels.speech_s for c in self.clips if c.levels)

    @property
    def grade(self) -> Grade:
        """The worst grade of any clip or set-wide finding."""
        grades = [c.grade for c in self.clips] + [f.grade for f in self.findings]
        return max(grades, default=Grade.PASS)

    def lines(self) -> list[str]:
        """One line per finding that is not a pass, naming its clip: what an operator reads."""
        out = [f"{c.name}: {f.grade}: {f.message}" for c in self.clips for f in c.findings]
        return out + [f"all clips: {f.grade}: {f.message}" for f in self.findings]


def read_clip(path: Path) -> Clip:
    """Read an audio file (WAV, FLAC, OGG … anything libsndfile reads) as mono float32."""
    try:
        samples, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError, TypeError) as exc:
        raise ClipError(f"unreadable or unsupported audio file ({exc})", Path(path).name) from exc
    if samples.shape[0] == 0:
        raise ClipError("the file holds no audio", Path(path).name)
    mono: FloatArray = samples.mean(axis=1).astype(np.float32)
    return Clip(mono, int(rate), Path(path).name)


def resample(samples: FloatArray, rate: int, to_rate: int) -> FloatArray:
    """Resample float32 mono audio (soxr, high quality)."""
    if rate == to_rate:
        return samples
    import soxr

    out: FloatArray = soxr.resample(samples, rate, to_rate).astype(np.float32)
    return out


def frame_levels(samples: FloatArray, rate: int) -> FloatArray:
    """The level of each 30 ms frame in dBFS (digital silence is -100)."""
    size = max(1, int(rate * FRAME_S))
    n = len(samples) // size
    if n == 0:
        return np.array([-100.0], dtype=np.float32)
    frames = samples[: n * size].astype(np.float64).reshape(n, size)
    power = np.mean(frames**2, axis=1)
    levels: FloatArray = (10.0 * np.log10(np.maximum(power, 1e-10))).astype(np.float32)
    return levels


def clipped_ratio(samples: FloatArray) -> float:
    """The share of samples on a flat top at full scale (two in a row), not peaks that merely touch it."""
    at_top = np.abs(samples) >= CLIP_LEVEL
    flat = at_top[1:] & at_top[:-1] & (np.sign(samples[1:]) == np.sign(samples[:-1]))
    return float(np.sum(flat)) / max(1, len(samples))


def measure(clip: Clip) -> Levels:
    """Speech seconds, silence ratio, signal-to-noise ratio and clipped-sample ratio of a clip."""
    levels = frame_levels(clip.samples, clip.rate)
    floor = float(np.percentile(levels, 5))
    peak = float(np.percentile(levels, 95))
    speech = levels > max(SPEECH_FLOOR_DBFS, floor + SPEECH_ABOVE_FLOOR_DB)
    clipped = clipped_ratio(clip.samples)
    return Levels(
        speech_s=float(np.sum(speech)) * FRAME_S,
        silence_ratio=1.0 - float(np.mean(speech)),
        snr_db=peak - floor,
        clipped_ratio=clipped,
    )


def _graded(value: float, warn: float, reject: float, check: str, message: str) -> list[Finding]:
    """A warn or reject finding when `value` passes a threshold (thresholds rising with trouble)."""
    if value > reject:
        return [Finding(Grade.REJECT, check, message)]
    if value > warn:
        return [Finding(Grade.WARN, check, message)]
    return []


def check_clip(clip: Clip) -> ClipReport:
    """Grade one clip: sample rate, speech present, silence, clipping, noise and length."""
    findings: list[Finding] = []
    if clip.rate < MIN_RATE:
        findings.append(
            Finding(Grade.REJECT, "sample_rate", f"{clip.rate} Hz is too low: record at 22.05 kHz or more")
        )
    elif clip.rate < GOOD_RATE:
        findings.append(
            Finding(Grade.WARN, "sample_rate", f"{clip.rate} Hz: 22.05 kHz or more gives a clearer voice")
        )
    levels = measure(clip)
    if levels.speech_s < MIN_CLIP_SPEECH_S:
        findings.append(
            Finding(Grade.REJECT, "speech", f"no speech found ({levels.speech_s:.1f} s above the noise)")
        )
        return ClipReport(clip.name, tuple(findings), levels, clip.rate, clip.seconds)
    findings += _graded(
        levels.silence_ratio,
        SILENCE_WARN,
        SILENCE_REJECT,
        "silence",
        f"{levels.silence_ratio:.0%} of the clip is silence: trim the pauses",
    )
    findings += _graded(
        levels.clipped_ratio,
        CLIPPED_WARN,
        CLIPPED_REJECT,
        "clipping",
        f"{levels.clipped_ratio:.2%} of samples are clipped: record with the input gain lower",
    )
    if levels.snr_db < SNR_WARN_DB:
        grade = Grade.REJECT if levels.snr_db < SNR_REJECT_DB else Grade.WARN
        findings.append(
            Finding(
                grade,
                "noise",
                f"signal-to-noise {levels.snr_db:.0f} dB: record in a quieter room, closer to the microphone",
            )
        )
    if clip.seconds > LONG_CLIP_S:
        findings.append(
            Finding(Grade.WARN, "length", f"{clip.seconds:.0f} s long: XTTS uses about the first 30 s")
        )
    return ClipReport(clip.name, tuple(findings), levels, clip.rate, clip.seconds)


def check_total_speech(speech_s: float) -> list[Finding]:
    """Grade the speech of the whole set against what XTTS wants (roughly 6-30 s)."""
    if speech_s < MIN_TOTAL_SPEECH_S:
        return [
            Finding(
                Grade.REJECT,
                "total_speech",
                f"only {speech_s:.1f} s of speech in all: XTTS needs at least {MIN_TOTAL_SPEECH_S:.0f} s",
            )
        ]
    if speech_s > MAX_TOTAL_SPEECH_S:
        return [
            Finding(
                Grade.WARN,
                "total_speech",
                f"{speech_s:.0f} s of speech: XTTS conditions on about {MAX_TOTAL_SPEECH_S:.0f} s; "
                "the rest is unused",
            )
        ]
    return []


def check_clips(clips: Sequence[Clip | ClipError]) -> SetReport:
    """Grade every clip (a ClipError stands for a file that could not be read) and the set's speech."""
    reports = [
        ClipReport(c.name, (Finding(Grade.REJECT, "file", str(c)),))
        if isinstance(c, ClipError)
        else check_clip(c)
        for c in clips
    ]
    total = sum(r.levels.speech_s for r in reports if r.levels)
    return SetReport(tuple(reports), tuple(check_total_speech(total)))


def read_clips(paths: Sequence[Path]) -> list[Clip | ClipError]:
    """Read every file, keeping the error in place of a file that cannot be read."""
    out: list[Clip | ClipError] = []
    for path in paths:
        try:
            out.append(read_clip(path))
        except ClipError as exc:
            out.append(exc)
    return out
