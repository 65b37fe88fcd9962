"""The audio eval's callers: voice families taken in turn, each family's voices speaking a line to a WAV."""

from __future__ import annotations

import shutil
import wave
from pathlib import Path

import pytest

from benchmarks.understanding_audio import ESPEAK, FESTIVAL, caller_voices, speak


def test_families_alternate_call_by_call_and_every_voice_of_each_is_used() -> None:
    """With both families, consecutive calls switch family, and each family's voices all come round."""
    voices = caller_voices(["espeak-ng", "festival"])
    families = [family for family, _ in voices]
    assert families == ["espeak-ng", "festival"] * (len(voices) // 2)
    assert {v for f, v in voices if f == "espeak-ng"} == set(ESPEAK)
    assert {v for f, v in voices if f == "festival"} == set(FESTIVAL)
    assert caller_voices(["espeak-ng"]) == [("espeak-ng", v) for v in ESPEAK]


@pytest.mark.skipif(shutil.which("text2wave") is None, reason="festival is not installed (make festival)")
@pytest.mark.parametrize("voice", FESTIVAL)
def test_each_festival_voice_speaks_a_caller_line(voice: str, tmp_path: Path) -> None:
    """Every festival voice the eval names is installed and writes over a second of speech for a line."""
    out = speak("Are you open on Saturday morning?", "festival", voice, tmp_path / "line.wav")
    with wave.open(str(out)) as wav:
        assert wav.getnframes() / wav.getframerate() > 1.0
