"""The recorded consent statement: accepted from the speaker reading it, refused with the reason otherwise."""

from __future__ import annotations

import hashlib
import tomllib
from datetime import date
from pathlib import Path

import pytest
import tomli_w

from agent.voice.clips import Clip, read_clip
from agent.voice.consent import (
    MAX_WER,
    MIN_SIMILARITY,
    ConsentCheck,
    consent_record,
    statement,
    verify_consent,
    verify_consent_async,
)
from tests.voice.samples import BUSINESS, SPEAKER, Samples, need, tiny_whisper, voice_samples


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Samples:
    """Speech shared by every voice test."""
    return voice_samples(tmp_path_factory)


@pytest.fixture(scope="module")
def refs(samples: Samples) -> list[Clip]:
    """The reference clips of the speaker giving consent."""
    return [read_clip(p) for p in samples.refs]


def verify(recording: Path, refs: list[Clip]) -> ConsentCheck:
    return verify_consent(recording, SPEAKER, BUSINESS, refs, tiny_whisper())


class TestStatement:
    def test_statement_names_speaker_and_business(self) -> None:
        """The attestation reads as the issue words it, with the names filled in."""
        assert statement(" Jane Doe ", "Acme Dental") == (
            "I, Jane Doe, agree that recordings of my voice will be used by Acme Dental "
            "to create a synthetic voice for its phone line."
        )


class TestConsentCheck:
    def test_speaker_reading_the_statement_is_accepted(self, samples: Samples, refs: list[Clip]) -> None:
        """The reference speaker reading the statement passes both checks."""
        check = verify(samples.consent, refs)
        assert check.passed, check.reasons
        assert check.wer is not None and check.wer <= MAX_WER
        assert check.similarity is not None and check.similarity >= MIN_SIMILARITY
        assert "agree that recordings of my voice" in check.transcript.lower()  # Whisper may capitalise it

    def test_other_words_are_refused(self, samples: Samples, refs: list[Clip]) -> None:
        """The same voice reading something else is refused because the words don't match."""
        check = verify(samples.other_words, refs)
        assert not check.passed
        assert len(check.reasons) == 1 and check.reasons[0].startswith("words didn't match")
        assert check.similarity is not None and check.similarity >= MIN_SIMILARITY

    def test_different_speaker_is_refused(self, samples: Samples, refs: list[Clip]) -> None:
        """Another voice reading the statement is refused as a different speaker."""
        check = verify(need(samples.espeak_consent), refs)
        assert any(r.startswith("different speaker") for r in check.reasons), check.reasons
        assert check.similarity is not None and check.similarity < MIN_SIMILARITY

    def test_too_short_is_refused_without_transcribing(self, samples: Samples, refs: list[Clip]) -> None:
        """'I agree.' is too short to hold the statement, and is refused before Whisper runs."""
        check = verify(samples.short, refs)
        assert len(check.reasons) == 1 and check.reasons[0].startswith("too short")
        assert check.transcript == "" and check.wer is None

    def test_unreadable_recording_is_refused(self, tmp_path: Path, refs: list[Clip]) -> None:
        """A consent recording that is not audio is refused with the reason."""
        bad = tmp_path / "consent.wav"
        bad.write_text("not audio")
        check = verify(bad, refs)
        assert check.reasons[0].startswith("consent recording: unreadable")

    async def test_async_check_matches_the_blocking_one(self, samples: Samples, refs: list[Clip]) -> None:
        """The worker-thread wrapper returns the blocking check's verdict."""
        check = await verify_consent_async(samples.short, SPEAKER, BUSINESS, refs, tiny_whisper())
        assert check == verify(samples.short, refs)


class TestConsentRecord:
    def test_record_hashes_every_clip_and_survives_toml(self, samples: Samples, refs: list[Clip]) -> None:
        """The record holds who, when, the statement and each clip by its given and its stored name with its
        SHA-256, and reads back from TOML."""
        check = verify(samples.consent, refs)
        record = consent_record(
            speaker=SPEAKER,
            recorded_by="Sam Operator",
            business=BUSINESS,
            references=list(samples.refs),
            recording=samples.consent,
            check=check,
            whisper_model="embedded",
            recorded_on=date(2026, 11, 27),
        )
        data = tomllib.loads(tomli_w.dumps(record.to_dict()))
        assert data["speaker"] == SPEAKER and data["recorded_by"] == "Sam Operator"
        assert data["recorded_on"] == date(2026, 11, 27)
        assert data["statement"] == statement(SPEAKER, BUSINESS)
        assert data["references"] == [
            {"file": p.name, "stored": f"ref-{i}.wav", "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
            for i, p in enumerate(samples.refs, 1)
        ]
        assert data["recording"]["sha256"] == hashlib.sha256(samples.consent.read_bytes()).hexdigest()
        assert data["check"]["passed"] is True
        assert data["check"]["similarity"] >= MIN_SIMILARITY
