"""Speech for the voice tests, made once per test run: Piper's Joe as the speaker, espeak-ng as another."""

from __future__ import annotations

import functools
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from faster_whisper import WhisperModel

from agent.config import EMBEDDED
from agent.speech.whisper import load_whisper
from agent.voice.consent import statement
from agent.voice.piper import load_piper, write_wav

SPEAKER = "Jane Doe"
BUSINESS = "Acme Dental"
REFERENCE_LINES = (
    "Good morning, and thank you for calling Acme Dental. Our office is open from eight until five on "
    "weekdays. If you need to change an appointment, I can help you with that today.",
    "We are located on Main Street, right next to the public library. Parking is free behind the "
    "building. Please remember to bring your insurance card to your first visit.",
)
OTHER_WORDS = (
    "The weather was cold and grey all week, so we stayed inside and read books about sailing across "
    "the ocean."
)


@dataclass(frozen=True)
class Samples:
    """WAV files (22.05 kHz, 16-bit) of one speaker, plus espeak-ng's voice where it is installed."""

    refs: tuple[Path, ...]  # two clips of ~9 s, ~15 s of speech in all
    consent: Path  # the speaker reading the statement
    other_words: Path  # the speaker reading something else
    short: Path  # the speaker saying "I agree."
    espeak_consent: Path | None  # another voice reading the statement
    espeak_ref: Path | None  # another voice reading a reference line


_made: dict[str, Samples] = {}


def voice_samples(factory: pytest.TempPathFactory) -> Samples:
    """Synthesize every sample the first time a test asks (one set per test run)."""
    if "samples" not in _made:
        out = factory.mktemp("voice-samples")
        voice = load_piper(EMBEDDED)
        refs = tuple(write_wav(voice, line, out / f"ref-{i}.wav") for i, line in enumerate(REFERENCE_LINES))
        espeak = shutil.which("espeak-ng")
        if espeak:
            subprocess.run(
                [espeak, "-v", "en-us", "-w", str(out / "espeak-consent.wav"), statement(SPEAKER, BUSINESS)],
                check=True,
            )
            subprocess.run(
                [espeak, "-v", "en-us", "-w", str(out / "espeak-ref.wav"), REFERENCE_LINES[1]], check=True
            )
        _made["samples"] = Samples(
            refs=refs,
            consent=write_wav(voice, statement(SPEAKER, BUSINESS), out / "consent.wav"),
            other_words=write_wav(voice, OTHER_WORDS, out / "other-words.wav"),
            short=write_wav(voice, "I agree.", out / "short.wav"),
            espeak_consent=out / "espeak-consent.wav" if espeak else None,
            espeak_ref=out / "espeak-ref.wav" if espeak else None,
        )
    return _made["samples"]


def need(path: Path | None) -> Path:
    """The espeak-ng sample, or skip the test where espeak-ng is not installed."""
    if path is None:
        pytest.skip("espeak-ng is not installed (make setup installs it with apt-get when run as root)")
    return path


@functools.cache
def tiny_whisper() -> WhisperModel:
    """The embedded Whisper tiny.en, loaded once per test run."""
    return load_whisper(EMBEDDED)
