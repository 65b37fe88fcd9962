"""Fidelity: how much a voice's own synthesized speech sounds like its reference clips (GE2E cosine)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent.voice.clips import Clip, read_clip
from agent.voice.speaker import NoVoiceError, cosine, embed, embed_speaker
from agent.voice.store import Voice

if TYPE_CHECKING:
    from TTS.tts.models.xtts import Xtts

PREVIEW_TEXT = "Thank you for calling. This is the front desk. How can I help you today?"


@dataclass(frozen=True)
class Fidelity:
    """A fidelity score with the preview it was measured on (score None: the preview held no voice)."""

    score: float | None
    preview: Clip


def fidelity(references: Sequence[Clip], preview: Clip) -> float | None:
    """Cosine similarity of the references' speaker embedding and the preview's (None: no voice heard)."""
    try:
        return cosine(embed_speaker(references), embed(preview))
    except NoVoiceError:
        return None


def synthesize_preview(model: Xtts, voice: Voice, text: str = PREVIEW_TEXT) -> Clip:
    """Speak `text` in the voice from its cached latents, in its first language (blocking)."""
    from agent.voice.xtts import SAMPLE_RATE, Latents, synthesize

    latents = Latents.load(voice.latents_path)
    audio = synthesize(model, text, voice.languages[0] if voice.languages else "en", latents)
    return Clip(audio, SAMPLE_RATE, f"{voice.name}-preview")


def score_voice(model: Xtts, voice: Voice, text: str = PREVIEW_TEXT) -> Fidelity:
    """Synthesize a preview of the voice and score it against the voice's reference clips (blocking)."""
    preview = synthesize_preview(model, voice, text)
    return Fidelity(fidelity([read_clip(p) for p in voice.references], preview), preview)
