"""The consent record, and the automatic check of the recorded consent statement.

The speaker reads the attestation aloud. The recording passes when it is long enough, Whisper's
transcript of it matches the statement (normalised word error rate at most `MAX_WER`), and its speaker
embedding matches the reference clips' (cosine at least `MIN_SIMILARITY`). Otherwise it is refused with
every reason that applies.

The check is blocking (Whisper, the speaker encoder): the CLI calls `verify_consent`; async callers
await `verify_consent_async`, which runs it in a worker thread.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
from faster_whisper import WhisperModel

from agent.speech.wer import word_error_rate
from agent.speech.whisper import SAMPLE_RATE as WHISPER_RATE
from agent.speech.whisper import transcribe
from agent.voice.clips import Clip, ClipError, measure, read_clip, resample
from agent.voice.speaker import Embedding, NoVoiceError, cosine, embed, embed_speaker
from agent.voice.store import reference_names

STATEMENT = (
    "I, {speaker}, agree that recordings of my voice will be used by {business} "
    "to create a synthetic voice for its phone line."
)
# Whisper tiny.en on Piper speech: 0.04 reading the statement, 0.33 for espeak-ng reading it, 1.0 for
# other words; names are the usual misses.
MAX_WER = 0.25
# GE2E cosine against the reference clips: the same Piper voice 0.96, espeak-ng reading it 0.54.
MIN_SIMILARITY = 0.75
MIN_SPEECH_S = 3.0
MIN_SPEECH_S_PER_WORD = 0.15  # a statement read in full takes ~0.25 s a word

Transcriber = Callable[[Clip], str]


def statement(speaker: str, business: str) -> str:
    """The attestation the speaker reads aloud."""
    return STATEMENT.format(speaker=speaker.strip(), business=business.strip())


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file's bytes, in hex."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class ConsentCheck:
    """The verdict on a recorded statement, with what was measured."""

    reasons: tuple[str, ...]
    speech_s: float
    transcript: str = ""
    wer: float | None = None
    similarity: float | None = None

    @property
    def passed(self) -> bool:
        """Whether the recording is accepted (no reasons to refuse it)."""
        return not self.reasons


def min_speech_s(text: str) -> float:
    """The least speech that could hold the whole statement."""
    return max(MIN_SPEECH_S, MIN_SPEECH_S_PER_WORD * len(text.split()))


def check_statement(
    recording: Clip, text: str, reference: Embedding, transcriber: Transcriber
) -> ConsentCheck:
    """Check a recorded statement against its text and the reference speaker (blocking)."""
    speech_s = measure(recording).speech_s
    needed = min_speech_s(text)
    if speech_s < needed:
        return ConsentCheck(
            (f"too short: {speech_s:.1f} s of speech, the statement needs at least {needed:.1f} s",),
            speech_s,
        )
    reasons: list[str] = []
    heard = transcriber(recording)
    wer = word_error_rate(text, heard).wer
    if wer > MAX_WER:
        reasons.append(f"words didn't match the statement (word error rate {wer:.2f}): heard {heard!r}")
    try:
        similarity: float | None = cosine(reference, embed(recording))
    except NoVoiceError:
        similarity = None
        reasons.append("too short: too little voiced audio to tell who is speaking")
    if similarity is not None and similarity < MIN_SIMILARITY:
        reasons.append(
            f"different speaker: the voice matches the reference clips at {similarity:.2f} "
            f"(needs {MIN_SIMILARITY:.2f})"
        )
    return ConsentCheck(tuple(reasons), speech_s, heard, wer, similarity)


def whisper_transcriber(model: WhisperModel, names: Sequence[str] = ()) -> Transcriber:
    """Transcribe a clip with Whisper, prompted with the names only (never the statement's words)."""
    prompt = ", ".join(n.strip() for n in names if n.strip()) + "." if names else None

    def run(clip: Clip) -> str:
        audio = resample(clip.samples, clip.rate, WHISPER_RATE)
        pcm = (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
        return transcribe(model, pcm, prompt=prompt, language="en").text

    return run


def verify_consent(
    recording: Path, speaker: str, business: str, references: Sequence[Clip], model: WhisperModel
) -> ConsentCheck:
    """Read and check a consent recording against the statement and the reference clips (blocking)."""
    try:
        clip = read_clip(recording)
    except ClipError as exc:
        return ConsentCheck((f"consent recording: {exc}",), 0.0)
    try:
        reference = embed_speaker(references)
    except NoVoiceError as exc:
        return ConsentCheck((f"reference clips: {exc}",), 0.0)
    return check_statement(
        clip, statement(speaker, business), reference, whisper_transcriber(model, (speaker, business))
    )


async def verify_consent_async(
    recording: Path, speaker: str, business: str, references: Sequence[Clip], model: WhisperModel
) -> ConsentCheck:
    """`verify_consent` in a worker thread, for async callers such as a web console."""
    return await asyncio.to_thread(verify_consent, recording, speaker, business, references, model)


@dataclass(frozen=True)
class ConsentRecord:
    """Who agreed, who recorded them, when, to what, over which clips, and how the recording checked."""

    speaker: str
    recorded_by: str
    business: str
    recorded_on: date
    statement: str
    references: tuple[tuple[str, str, str], ...]  # (file name given, name stored under, SHA-256), in order
    recording: tuple[str, str]
    check: ConsentCheck
    checked_at: datetime
    whisper_model: str

    def to_dict(self) -> dict[str, Any]:
        """The record as TOML-ready data."""
        check: dict[str, Any] = {
            "passed": self.check.passed,
            "speech_seconds": round(self.check.speech_s, 2),
            "transcript": self.check.transcript,
            "max_wer": MAX_WER,
            "min_similarity": MIN_SIMILARITY,
            "whisper_model": self.whisper_model,
            "checked_at": self.checked_at,
        }
        if self.check.wer is not None:
            check["wer"] = round(self.check.wer, 4)
        if self.check.similarity is not None:
            check["similarity"] = round(self.check.similarity, 4)
        return {
            "speaker": self.speaker,
            "recorded_by": self.recorded_by,
            "business": self.business,
            "recorded_on": self.recorded_on,
            "statement": self.statement,
            "references": [
                {"file": name, "stored": stored, "sha256": sha} for name, stored, sha in self.references
            ],
            "recording": {"file": self.recording[0], "sha256": self.recording[1]},
            "check": check,
        }


def consent_record(
    *,
    speaker: str,
    recorded_by: str,
    business: str,
    references: Sequence[Path],
    recording: Path,
    check: ConsentCheck,
    whisper_model: str,
    recorded_on: date | None = None,
) -> ConsentRecord:
    """Build the record for a checked recording, hashing every clip and naming where the voice keeps it."""
    now = datetime.now(UTC).replace(microsecond=0)
    return ConsentRecord(
        speaker=speaker,
        recorded_by=recorded_by,
        business=business,
        recorded_on=recorded_on or now.date(),
        statement=statement(speaker, business),
        references=tuple(
            (p.name, stored, sha256_file(p))
            for p, stored in zip(references, reference_names(references), strict=True)
        ),
        recording=(recording.name, sha256_file(recording)),
        check=check,
        checked_at=now,
        whisper_model=whisper_model,
    )
