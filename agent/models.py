"""The models one process loads once and shares across every call."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import structlog
from faster_whisper import WhisperModel
from piper import PiperVoice

from agent.compute_gate import process_gate
from agent.config import Settings
from agent.dialog.embed import Encoder, load_encoder
from agent.dialog.llm import LocalChatEngine, load_local_engine
from agent.speech.onnx_sessions import silero_session, smart_turn_session
from agent.speech.scheduler import DecodeScheduler
from agent.speech.stt import Engine
from agent.speech.whisper import load_whisper
from agent.voice.catalog import Voices, load_voices
from agent.voice.piper import load_piper

log = structlog.get_logger(__name__)


@dataclass
class Models:
    """Speech-to-text, the voices and (unless an endpoint is configured) the reply model."""

    whisper: WhisperModel
    piper: PiperVoice
    llm: LocalChatEngine | None
    whisper_detail: WhisperModel | None = None
    whisper_queue: DecodeScheduler = field(default_factory=lambda: DecodeScheduler("whisper", process_gate()))
    detail_queue: DecodeScheduler = field(
        default_factory=lambda: DecodeScheduler("whisper-detail", process_gate())
    )
    voices: Voices = field(default_factory=Voices)  # cloned voices and the XTTS pool (none: Piper only)
    encoder: Encoder | None = None  # reads callers by meaning (none: the default one, loaded on first use)

    @property
    def stt(self) -> Engine:
        """The streaming model with the decode queue every call shares."""
        return Engine(self.whisper, self.whisper_queue)

    @property
    def stt_detail(self) -> Engine | None:
        """The more accurate model for names and numbers, with its own queue (None if not configured)."""
        return Engine(self.whisper_detail, self.detail_queue) if self.whisper_detail else None


def load_models(settings: Settings) -> Models:
    """Load every model the settings call for (blocking: run it in a worker thread)."""
    t0 = time.perf_counter()
    cache = settings.data_dir / "models"
    whisper = load_whisper(
        settings.whisper_model, settings.whisper_compute_type, settings.whisper_threads, cache
    )
    detail = None
    if settings.whisper_detail_model:
        detail = load_whisper(
            settings.whisper_detail_model, settings.whisper_compute_type, settings.whisper_threads, cache
        )
    t1 = time.perf_counter()
    piper = load_piper(settings.tts_voice)
    voices = load_voices(settings)
    t2 = time.perf_counter()
    llm = None if settings.uses_endpoint else load_local_engine(settings)
    encoder = load_encoder(settings.understanding_model)
    silero_session(), smart_turn_session()  # every call's VAD and turn model share these
    t3 = time.perf_counter()
    log.info(
        "models_loaded",
        whisper_s=round(t1 - t0, 2),
        voices_s=round(t2 - t1, 2),
        llm_s=round(t3 - t2, 2),
        llm="endpoint" if llm is None else "embedded",
        torch="torch" in sys.modules,  # only cloned voices need it
    )
    return Models(
        whisper=whisper, piper=piper, llm=llm, whisper_detail=detail, voices=voices, encoder=encoder
    )
