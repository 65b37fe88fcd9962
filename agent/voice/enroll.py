"""Adding a cloned voice: check the clips, check the consent recording, compute latents once, store, score.

Every step is blocking (Whisper, the speaker encoder, XTTS); async callers await `enroll_async`.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
from faster_whisper import WhisperModel

from agent.voice.clips import Clip, Grade, SetReport, check_clips, read_clips
from agent.voice.consent import ConsentCheck, consent_record, verify_consent
from agent.voice.fidelity import Fidelity, score_voice
from agent.voice.speaker import speaker_findings
from agent.voice.store import Voice, VoiceStore, check_languages, check_name

if TYPE_CHECKING:
    from TTS.tts.models.xtts import Xtts

log = structlog.get_logger(__name__)

XTTS_LICENCE = "Coqui Public Model License 1.0.0 (non-commercial)"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Enrollment:
    """What an operator gives to add a voice."""

    name: str
    references: tuple[Path, ...]
    speaker: str
    recorded_by: str
    business: str
    consent_recording: Path
    languages: tuple[str, ...] = ("en",)
    display_name: str = ""


@dataclass(frozen=True)
class Enrolled:
    """The added voice, with the clip report (warnings included), the consent check and its fidelity."""

    voice: Voice
    clips: SetReport
    consent: ConsentCheck
    fidelity: Fidelity


class EnrollError(Exception):
    """The voice was refused: the reasons, and whatever was checked before the refusal."""

    def __init__(
        self, reasons: list[str], clips: SetReport | None = None, consent: ConsentCheck | None = None
    ) -> None:
        """Refuse for `reasons` (one line each)."""
        super().__init__("\n".join(reasons))
        self.reasons = reasons
        self.clips = clips
        self.consent = consent


def check_references(paths: Sequence[Path]) -> tuple[SetReport, list[Clip]]:
    """Grade the reference clips, speakers included, and return the readable ones (blocking)."""
    read = read_clips(paths)
    report = check_clips(read)
    clips = [c for c in read if isinstance(c, Clip)]
    usable = [
        c for c, r in zip(read, report.clips, strict=True) if isinstance(c, Clip) and r.grade < Grade.REJECT
    ]
    return replace(report, findings=report.findings + tuple(speaker_findings(usable))), clips


def enroll(
    store: VoiceStore,
    request: Enrollment,
    *,
    whisper: WhisperModel,
    whisper_name: str,
    load_model: Callable[[], Xtts],
    progress: Progress = lambda _step: None,
) -> Enrolled:
    """Add the voice if its clips and consent recording pass; raise EnrollError with the reasons if not."""
    from agent.voice.xtts import compute_latents

    check_name(request.name)
    languages = check_languages(request.languages)
    progress(f"checking {len(request.references)} reference clip(s)")
    report, clips = check_references(request.references)
    if report.grade == Grade.REJECT:
        raise EnrollError([line for line in report.lines() if ": reject: " in line], clips=report)
    progress("checking the consent recording (Whisper transcript and speaker match)")
    consent = verify_consent(request.consent_recording, request.speaker, request.business, clips, whisper)
    if not consent.passed:
        raise EnrollError([f"consent refused: {r}" for r in consent.reasons], clips=report, consent=consent)
    progress("loading XTTS")
    model = load_model()
    progress("computing conditioning latents (once; every call reuses them)")
    latents = compute_latents(model, [(c.samples, c.rate) for c in clips])
    record = consent_record(
        speaker=request.speaker,
        recorded_by=request.recorded_by,
        business=request.business,
        references=list(request.references),
        recording=request.consent_recording,
        check=consent,
        whisper_model=whisper_name,
    )
    voice = store.add(
        request.name,
        references=request.references,
        consent=record.to_dict(),
        consent_recording=request.consent_recording,
        latents=latents,
        speaker=request.speaker,
        display_name=request.display_name or request.name,
        languages=languages,
        licence=XTTS_LICENCE,
    )
    progress("scoring fidelity (a synthesized preview against the reference clips)")
    scored = score_voice(model, voice)
    if scored.score is not None:
        voice = store.set_fidelity(voice.name, scored.score)
    log.info("voice_enrolled", voice=voice.name, fidelity=scored.score, wer=consent.wer)
    return Enrolled(voice, report, consent, scored)


async def enroll_async(store: VoiceStore, request: Enrollment, **options: Any) -> Enrolled:
    """`enroll` (same keyword options) in a worker thread, for async callers such as a web console."""
    return await asyncio.to_thread(functools.partial(enroll, store, request, **options))
