"""Reference clip checks: each kind of bad clip is graded with its reason; good clips pass."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from agent.voice.clips import (
    LONG_CLIP_S,
    SILENCE_REJECT,
    Clip,
    ClipError,
    Grade,
    check_clip,
    check_clips,
    read_clip,
    read_clips,
    resample,
)
from agent.voice.speaker import speaker_findings
from tests.voice.samples import Samples, need, voice_samples


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Samples:
    """Speech shared by every voice test."""
    return voice_samples(tmp_path_factory)


@pytest.fixture(scope="module")
def ref(samples: Samples) -> Clip:
    """The first reference clip (~9 s of Piper speech)."""
    return read_clip(samples.refs[0])


def checks(clip: Clip) -> dict[str, Grade]:
    """The grade of each check that found something."""
    return {f.check: f.grade for f in check_clip(clip).findings}


def with_noise(clip: Clip, snr_db: float) -> Clip:
    """The clip with white noise `snr_db` below its mean power."""
    power = float(np.mean(clip.samples**2))
    noise = np.random.default_rng(0).normal(0.0, np.sqrt(power / 10 ** (snr_db / 10)), len(clip.samples))
    return Clip((clip.samples + noise).astype(np.float32), clip.rate, "noisy.wav")


class TestSingleClip:
    def test_clean_speech_passes(self, samples: Samples) -> None:
        """Clean studio-quality speech passes every check."""
        for path in samples.refs:
            report = check_clip(read_clip(path))
            assert report.grade == Grade.PASS, report.findings
            assert report.levels is not None and report.levels.speech_s > 6

    def test_unreadable_file_is_rejected(self, tmp_path: Path, samples: Samples) -> None:
        """A file that is not audio is rejected as unreadable, naming the file."""
        bad = tmp_path / "notes.wav"
        bad.write_bytes(b"RIFF this is not really a wave file")
        report = check_clips(read_clips([samples.refs[0], bad]))
        assert report.grade == Grade.REJECT
        assert report.clips[1].findings[0].check == "file"
        assert any(line.startswith("notes.wav: reject: unreadable or unsupported") for line in report.lines())

    def test_unsupported_format_raises(self, tmp_path: Path) -> None:
        """A file in a format libsndfile can't read raises ClipError with the file's name."""
        text = tmp_path / "voice.m4a"
        text.write_text("not audio")
        with pytest.raises(ClipError, match="unreadable or unsupported") as caught:
            read_clip(text)
        assert caught.value.name == "voice.m4a"

    def test_silence_only_clip_is_rejected(self) -> None:
        """Eight seconds of digital silence has no speech."""
        assert checks(Clip(np.zeros(8 * 22050, np.float32), 22050, "silence.wav")) == {"speech": Grade.REJECT}

    def test_room_hiss_alone_is_rejected(self) -> None:
        """Eight seconds of steady hiss has no speech either."""
        hiss = np.random.default_rng(1).normal(0, 0.01, 8 * 22050).astype(np.float32)
        assert checks(Clip(hiss, 22050, "hiss.wav"))["speech"] == Grade.REJECT

    def test_clipped_clip_is_rejected(self, ref: Clip) -> None:
        """Speech amplified past full scale is rejected for clipping."""
        loud = Clip(np.clip(ref.samples * 8, -1.0, 1.0), ref.rate, "loud.wav")
        assert checks(loud)["clipping"] == Grade.REJECT

    def test_peaks_that_touch_full_scale_are_not_clipping(self, ref: Clip) -> None:
        """Peak-normalised speech touches full scale without being clipped."""
        normalised = Clip(ref.samples / np.abs(ref.samples).max(), ref.rate, "norm.wav")
        assert "clipping" not in checks(normalised)

    def test_noisy_clip_is_rejected(self, ref: Clip) -> None:
        """Speech only 5 dB above white noise is rejected for noise."""
        assert checks(with_noise(ref, 5))["noise"] == Grade.REJECT

    def test_somewhat_noisy_clip_is_a_warning(self, ref: Clip) -> None:
        """Speech 20 dB above white noise is usable but warned about."""
        assert checks(with_noise(ref, 20)).get("noise") == Grade.WARN

    def test_low_sample_rate_is_rejected(self, ref: Clip) -> None:
        """An 8 kHz recording (a phone call) is too low a rate for a reference."""
        phone = Clip(resample(ref.samples, ref.rate, 8000), 8000, "phone.wav")
        assert checks(phone)["sample_rate"] == Grade.REJECT

    def test_16khz_is_a_warning(self, ref: Clip) -> None:
        """16 kHz is usable but below what XTTS conditions on."""
        wideband = Clip(resample(ref.samples, ref.rate, 16000), 16000, "16k.wav")
        assert checks(wideband) == {"sample_rate": Grade.WARN}

    def test_mostly_silence_is_a_warning(self, ref: Clip) -> None:
        """A clip that is two-thirds silence is warned about so it gets trimmed."""
        padded = np.concatenate([np.zeros(15 * ref.rate, np.float32), ref.samples])
        assert checks(Clip(padded, ref.rate, "padded.wav")) == {"silence": Grade.WARN}

    def test_mostly_silence_past_four_fifths_is_rejected(self, ref: Clip) -> None:
        """A clip that is over 80 % silence is rejected, saying how much and to trim the pauses."""
        padded = np.concatenate([np.zeros(40 * ref.rate, np.float32), ref.samples])
        report = check_clip(Clip(padded, ref.rate, "padded.wav"))
        assert {f.check: f.grade for f in report.findings} == {"silence": Grade.REJECT}
        assert report.levels is not None and report.levels.silence_ratio > SILENCE_REJECT
        assert (
            report.findings[0].message
            == f"{report.levels.silence_ratio:.0%} of the clip is silence: trim the pauses"
        )

    def test_a_clip_over_a_minute_is_a_warning(self, ref: Clip) -> None:
        """Clean speech over 60 s long is accepted with a warning that XTTS uses about the first 30 s."""
        long = np.tile(ref.samples, int(LONG_CLIP_S // ref.seconds) + 1)
        report = check_clip(Clip(long, ref.rate, "long.wav"))
        assert len(long) / ref.rate > LONG_CLIP_S
        assert {f.check: f.grade for f in report.findings} == {"length": Grade.WARN}
        assert (
            report.findings[0].message == f"{len(long) / ref.rate:.0f} s long: XTTS uses about the first 30 s"
        )

    def test_stereo_is_read_as_mono(self, tmp_path: Path, ref: Clip) -> None:
        """A stereo file is mixed down to one channel."""
        path = tmp_path / "stereo.flac"
        sf.write(path, np.stack([ref.samples, ref.samples], axis=1), ref.rate)
        clip = read_clip(path)
        assert clip.samples.ndim == 1 and clip.rate == ref.rate
        assert clip.seconds == pytest.approx(ref.seconds)


class TestSet:
    def test_too_little_speech_in_all_is_rejected(self, ref: Clip) -> None:
        """Three seconds of speech is too little for XTTS even when the clip itself is clean."""
        short = Clip(ref.samples[: 3 * ref.rate], ref.rate, "short.wav")
        report = check_clips([short])
        assert report.clips[0].grade == Grade.PASS
        assert [(f.check, f.grade) for f in report.findings] == [("total_speech", Grade.REJECT)]
        assert report.grade == Grade.REJECT

    def test_too_much_speech_is_a_warning(self, samples: Samples) -> None:
        """Over 30 s of speech in all is accepted with a warning that XTTS uses about 30 s."""
        report = check_clips(read_clips(list(samples.refs) * 3))
        assert report.speech_s > 30
        assert [(f.check, f.grade) for f in report.findings] == [("total_speech", Grade.WARN)]

    def test_two_clips_of_one_speaker_pass(self, samples: Samples) -> None:
        """The speaker checks find nothing wrong with two clips of the same voice."""
        clips = [read_clip(p) for p in samples.refs]
        assert check_clips(clips).grade == Grade.PASS
        assert speaker_findings(clips) == []

    def test_clip_of_another_speaker_is_rejected(self, samples: Samples) -> None:
        """A reference clip in a different voice from the others is rejected."""
        clips = [*(read_clip(p) for p in samples.refs), read_clip(need(samples.espeak_ref))]
        findings = speaker_findings(clips)
        assert [(f.grade, f.message.split()[0]) for f in findings if f.grade == Grade.REJECT] == [
            (Grade.REJECT, "espeak-ref.wav")
        ]
        assert "different speaker" in findings[-1].message

    def test_two_clips_of_two_speakers_are_rejected_together(self, samples: Samples) -> None:
        """With only two clips there is no telling which voice is the odd one: both are named."""
        clips = [read_clip(samples.refs[0]), read_clip(need(samples.espeak_ref))]
        [finding] = speaker_findings(clips)
        assert finding.grade == Grade.REJECT
        assert finding.message.startswith("ref-0.wav and espeak-ref.wav sound like different speakers")

    def test_clip_holding_two_speakers_is_a_warning(self, ref: Clip, samples: Samples) -> None:
        """One clip in which a second voice takes over is warned about."""
        other = read_clip(need(samples.espeak_ref))
        both = Clip(np.concatenate([ref.samples, other.samples]), ref.rate, "both.wav")
        findings = speaker_findings([both])
        assert [(f.check, f.grade) for f in findings] == [("speakers", Grade.WARN)]
        assert "more than one speaker" in findings[0].message
