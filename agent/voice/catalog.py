"""Which voice each call speaks in: the configured voices and the XTTS pool, loaded once at startup."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import structlog
from pipecat.services.tts_service import TTSService
from piper import PiperVoice

from agent.config import EMBEDDED, Settings
from agent.voice.piper import PiperTTSService
from agent.voice.pool import XttsPool
from agent.voice.store import VoiceError, VoiceStore, voice_store
from agent.voice.xtts import Latents, load_xtts
from agent.voice.xtts_process import XttsWorker, threads_per_worker
from agent.voice.xtts_service import ClonedVoice, XttsTTSService

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class VoiceChoice:
    """The voice a call speaks in: a cloned voice, or the stock one (with the reason if it replaces one)."""

    name: str
    cloned: ClonedVoice | None = None
    fallback_reason: str | None = None

    @property
    def stock(self) -> bool:
        """Whether the stock Piper voice was chosen on purpose (not as a fallback)."""
        return self.cloned is None and self.fallback_reason is None


@dataclass
class Voices:
    """Every configured voice, loaded: the default and one per called number."""

    default: str = EMBEDDED
    by_number: dict[str, str] = field(default_factory=dict)
    choices: dict[str, VoiceChoice] = field(default_factory=dict)
    pool: XttsPool | None = None

    def for_called(self, called: str) -> VoiceChoice:
        """The voice for a call to `called`."""
        name = self.by_number.get(called, self.default)
        return self.choices.get(name, VoiceChoice(name))


def load_pool(model_dir: Path, replicas: int, workers: str = "process") -> XttsPool:
    """Load `replicas` copies of the XTTS model into one pool (blocking): each in a worker process of its
    own (`workers="process"`), or all in this process, one thread each (`"thread"`)."""
    count = max(1, replicas)
    if workers == "thread":
        return XttsPool([load_xtts(model_dir) for _ in range(count)])
    started: list[XttsWorker] = []
    try:
        for i in range(count):
            started.append(XttsWorker(model_dir, threads=threads_per_worker(count), name=f"xtts-worker-{i}"))
    except Exception:
        for worker in started:
            worker.close()
        raise
    return XttsPool.of_workers(started)


def add_choices(voices: Voices, names: list[str], settings: Settings, store: VoiceStore) -> None:
    """Load each named voice into `voices.choices` (the XTTS pool too, the first time a cloned voice needs
    it); one that cannot be used is kept with the reason, and its calls speak in the stock voice. Blocking."""
    pool_error: str | None = None
    for name in names:
        if name == EMBEDDED or name in voices.choices:
            continue
        try:
            voice = store.get(name)
        except VoiceError as exc:
            voices.choices[name] = VoiceChoice(name, fallback_reason=f"voice unavailable: {exc}")
            continue
        if voice.engine != "xtts":
            voices.choices[name] = VoiceChoice(name)
            continue
        if voices.pool is None and pool_error is None:
            if not settings.xtts_model_dir:
                pool_error = "XTTS_MODEL_DIR is not set"
            else:
                try:
                    voices.pool = load_pool(
                        Path(settings.xtts_model_dir), settings.xtts_replicas, settings.xtts_workers
                    )
                except Exception as exc:
                    pool_error = f"XTTS model did not load: {exc}"
        if voices.pool is None:
            voices.choices[name] = VoiceChoice(name, fallback_reason=pool_error)
            continue
        try:
            latents = Latents.load(voice.latents_path)
        except Exception as exc:
            voices.choices[name] = VoiceChoice(name, fallback_reason=f"latents unreadable: {exc}")
            continue
        voices.choices[name] = VoiceChoice(name, ClonedVoice(name, voice.languages, latents, voices.pool))


def load_voices(settings: Settings) -> Voices:
    """Load the XTTS pool and the latents of every configured cloned voice (blocking).

    A voice that cannot be used (missing, no latents, no model, model fails to load) is kept with the
    reason, and its calls speak in the stock voice.
    """
    voices = Voices(default=settings.voice_default, by_number=settings.voice_map)
    names = sorted({settings.voice_default, *voices.by_number.values()} - {EMBEDDED})
    store = voice_store(settings)
    try:
        store.sync()  # the voices other servers added to shared storage
    except Exception as exc:
        log.warning("voices_not_synced", error=str(exc))
    t0 = time.perf_counter()
    add_choices(voices, names, settings, store)
    for choice in voices.choices.values():
        if choice.fallback_reason:
            log.warning("voice_unavailable", voice=choice.name, reason=choice.fallback_reason)
    log.info(
        "voices_loaded",
        default=voices.default,
        cloned=sorted(n for n, c in voices.choices.items() if c.cloned),
        replicas=voices.pool.replicas if voices.pool else 0,
        load_s=round(time.perf_counter() - t0, 2),
    )
    return voices


def make_tts(
    choice: VoiceChoice,
    piper: PiperVoice,
    *,
    call_id: str,
    language: Callable[[], str],
    sample_rate: int | None = None,
) -> TTSService:
    """The TTS service for one call: Piper for the stock voice, else the cloned voice with Piper behind it."""
    if choice.stock:
        return PiperTTSService(piper)
    return XttsTTSService(
        choice.cloned,
        piper,
        call_id=call_id,
        language=language,
        fallback_reason=choice.fallback_reason,
        voice_name=choice.name,
        sample_rate=sample_rate,
    )
