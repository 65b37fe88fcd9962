"""pipecat STT service over a shared faster-whisper model, decoding in a worker thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Callable
from typing import Any

import structlog
from faster_whisper import WhisperModel
from pipecat.frames.frames import ErrorFrame, Frame, TranscriptionFrame
from pipecat.services.settings import STTSettings
from pipecat.services.stt_service import SegmentedSTTService
from pipecat.utils.time import time_now_iso8601
from pipecat.utils.tracing.service_decorators import traced_stt

from agent.speech.whisper import Transcript, transcribe

log = structlog.get_logger(__name__)


class WhisperSTTService(SegmentedSTTService):
    """Transcribes each caller utterance with one process-wide Whisper model, off the event loop."""

    def __init__(
        self,
        model: WhisperModel,
        lock: threading.Lock,
        prompt: str | None = None,
        detail: tuple[WhisperModel, threading.Lock] | None = None,
        wants_detail: Callable[[], bool] | None = None,
        **kwargs: Any,
    ) -> None:
        """Decode with `model` (under `lock`); `prompt` steers spelling of names and terms.

        While `wants_detail()` is true (the caller is giving a name or number), decode with the more
        accurate `detail` model instead: slower, but those words must be right.
        """
        super().__init__(
            sample_rate=16000,
            trailing_silence_secs=0.2,
            settings=STTSettings(model="whisper", language=None),
            ttfs_p99_latency=1.0,
            **kwargs,
        )
        self._model = model
        self._lock = lock
        self._prompt = prompt
        self._detail = detail
        self._wants_detail = wants_detail

    @property
    def wants_wav_segments(self) -> bool:
        """Whisper reads raw 16-bit PCM, not a WAV container."""
        return False

    def can_generate_metrics(self) -> bool:
        """Report processing time and TTFB metrics."""
        return True

    def _decode(self, pcm: bytes, detail: bool) -> Transcript:
        model, lock = self._detail if detail and self._detail else (self._model, self._lock)
        with lock:
            return transcribe(model, pcm, prompt=self._prompt)

    @traced_stt
    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame | None, None]:
        """Transcribe one utterance in a worker thread and yield its transcription frame."""
        await self.start_processing_metrics()
        try:
            detail = bool(self._detail and self._wants_detail and self._wants_detail())
            result = await asyncio.to_thread(self._decode, audio, detail)
        except Exception as exc:
            log.error("stt_failed", error=str(exc))
            yield ErrorFrame(f"speech to text failed: {exc}")
            return
        finally:
            await self.stop_processing_metrics()
        if result.rejected:
            log.info("stt_rejected_segments", rejected=list(result.rejected))
        log.info(
            "stt_final",
            text=result.text,
            language=result.language,
            audio_s=round(result.audio_seconds, 2),
            detail_model=detail,
        )
        if result.text:
            yield TranscriptionFrame(result.text, self._user_id, time_now_iso8601(), None, result=result)
