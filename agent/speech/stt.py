"""pipecat STT service: streaming Whisper with LocalAgreement, every pass on a shared decode queue."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import structlog
from faster_whisper import WhisperModel
from pipecat.frames.frames import (
    DataFrame,
    Frame,
    InterimTranscriptionFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.settings import STTSettings
from pipecat.services.stt_service import STTService
from pipecat.transcriptions.language import Language
from pipecat.utils.time import time_now_iso8601
from pipecat.utils.tracing.service_decorators import traced_stt

from agent.speech import decoder
from agent.speech.decoder import SAMPLE_RATE, AlignedWord, Pass
from agent.speech.scheduler import DecodeScheduler, Done
from agent.speech.streaming import Final, PassRequest, StreamParams, UtteranceStream

log = structlog.get_logger(__name__)
BEHIND_S = 0.5  # a pass that waited longer than this in the queue means the decoder is falling behind
LANGUAGE_MIN_S = 1.0  # identify the caller's language from the first utterance at least this long
LANGUAGE_CONFIDENCE = 0.7  # switch away from English only when the model is this sure


@dataclass
class NoWordsFrame(DataFrame):
    """One stretch of the caller's speech settled with no words (a cough, line noise): no transcript comes."""


@dataclass(frozen=True)
class Engine:
    """A loaded Whisper model and the queue every call's passes on it go through."""

    model: WhisperModel
    scheduler: DecodeScheduler


@dataclass(frozen=True)
class PassResult:
    """A pass's decode and, when the buffer is due a trim, where its committed words end."""

    decoded: Pass
    aligned: list[AlignedWord] | None = None


def run_pass(model: WhisperModel, request: PassRequest) -> PassResult:
    """Decode one pass request (blocking): the worker thread's whole job."""
    decoded = decoder.decode(model, request.audio, prompt=request.prompt, language=request.language)
    aligned = decoder.align(model, request.audio, request.committed) if request.align else None
    return PassResult(decoded, aligned)


def _language(code: str) -> Language | None:
    try:
        return Language(code)
    except ValueError:
        return None


class WhisperSTTService(STTService):
    """Re-decodes the caller's growing utterance as they speak; the final is ready soon after they stop."""

    def __init__(
        self,
        engine: Engine,
        vocabulary: str | None = None,
        detail: Engine | None = None,
        wants_detail: Callable[[], bool] | None = None,
        params: StreamParams | None = None,
        **kwargs: Any,
    ) -> None:
        """Stream with `engine`; `vocabulary` prompts every pass with the business's names and terms.

        While `wants_detail()` is true (the caller is giving a name or number), each final is decoded
        again by the more accurate `detail` engine: slower, but those words must be right.
        """
        super().__init__(
            sample_rate=SAMPLE_RATE,
            settings=STTSettings(model="whisper-streaming", language=None),
            ttfs_p99_latency=0.6,
            **kwargs,
        )
        self._engine = engine
        self._detail = detail
        self._wants_detail = wants_detail
        self._stream = UtteranceStream(params or StreamParams(), vocabulary)
        self._in_flight: tuple[PassRequest, asyncio.Task[Done[PassResult] | None]] | None = None
        self._final_task: asyncio.Task[None] | None = None
        self._quiet_due = False  # the caller went quiet while a pass ran: decode again when it is done
        self._language_task: asyncio.Task[None] | None = None
        self.language = "en"  # the caller's language, once identified
        self.finals: list[Final] = []

    def can_generate_metrics(self) -> bool:
        """Report TTFB metrics."""
        return True

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame | None, None]:
        """Buffer the audio and start an interim pass when one is due and none is running."""
        self._stream.feed(np.frombuffer(audio, dtype="<i2").astype(np.float32) / 32768.0)
        if self._in_flight is None or self._in_flight[1].done():
            request = self._stream.next_pass()
            if request is not None:
                self._in_flight = (request, self.create_task(self._interim(request), "stt_interim"))
        yield None

    def caller_quiet(self) -> None:
        """The caller went quiet mid-utterance (the VAD's stop is still to come): decode what they said
        now, so the final can reuse the pass if they don't go on. Not when the final needs another model."""
        detail = self._detail is not None and self._wants_detail is not None and self._wants_detail()
        if self.language != "en" or detail:
            return
        if self._in_flight is not None and not self._in_flight[1].done():
            self._quiet_due = True
            return
        self._start_quiet_pass()

    def _start_quiet_pass(self) -> None:
        self._quiet_due = False
        request = self._stream.quiet_pass()
        if request is not None:
            self._in_flight = (request, self.create_task(self._interim(request), "stt_quiet"))

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Open an utterance when the VAD hears speech; settle it when the VAD says the caller stopped."""
        await super().process_frame(frame, direction)
        if isinstance(frame, VADUserStartedSpeakingFrame):
            self._quiet_due = False
            self._stream.open()
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            self._quiet_due = False
            speech_end = self._stream.total_samples - int(frame.stop_secs * SAMPLE_RATE)
            request = self._stream.close()
            previous = self._final_task
            self._final_task = self.create_task(self._settle(request, speech_end, previous), "stt_final")

    async def _decode(self, engine: Engine, request: PassRequest) -> Done[PassResult] | None:
        try:
            # A pass started when the caller went quiet is usually the final: it queues with the finals.
            urgent = request.final or request.quiet
            done = await engine.scheduler.run(lambda: run_pass(engine.model, request), final=urgent)
        except Exception as exc:
            log.error("stt_failed", error=str(exc), final=request.final)
            await self.push_error(f"speech to text failed: {exc}", exception=exc)
            return None
        if done.waited_s > BEHIND_S:
            log.warning(
                "stt_behind",
                waited_ms=round(done.waited_s * 1000),
                queued=engine.scheduler.queued,
                final=request.final,
            )
        return done

    async def _interim(self, request: PassRequest) -> Done[PassResult] | None:
        done = await self._decode(self._engine, request)
        if self._quiet_due and self._in_flight is not None and self._in_flight[0] is request:
            self._start_quiet_pass()  # the caller went quiet during this pass: cover the audio since
        if done is None:
            return None
        partial = self._stream.apply(request, done.value.decoded, done.value.aligned)
        if partial is not None and partial.text:
            await self.push_frame(
                InterimTranscriptionFrame(
                    partial.text, self._user_id, time_now_iso8601(), _language(self.language)
                )
            )
        return done

    async def _settle(
        self, request: PassRequest | None, speech_end: int, previous: asyncio.Task[None] | None
    ) -> None:
        """Finalize one stretch of speech after the one before it: its transcript, or a NoWordsFrame."""
        if previous is not None:
            await previous
        text = "" if request is None else await self._finalize(request, speech_end)
        if not text:
            await self.push_frame(NoWordsFrame())

    async def _finalize(self, request: PassRequest, speech_end: int) -> str:
        in_flight, self._in_flight = self._in_flight, None
        multilingual = self._multilingual()
        foreign = self.language != "en" and multilingual is not None
        detail = foreign or (
            self._detail is not None and self._wants_detail is not None and self._wants_detail()
        )
        done: Done[PassResult] | None = None
        if in_flight is not None:
            early, task = in_flight
            done = await task
            reuse = not detail and early.utterance == request.utterance and early.end_sample >= speech_end
            if reuse and done is not None:
                request = early
            else:
                done = None
        if done is None:
            engine = self._engine
            if foreign and multilingual is not None:
                engine, request = multilingual, replace(request, language=self.language)
            elif detail and self._detail is not None:
                engine, request = self._detail, replace(request, language=None)
            done = await self._decode(engine, request)
        if done is None:
            return ""
        final = self._stream.finish(request, done.value.decoded)
        self.finals.append(final)
        if final.text and self._language_task is None and final.audio_seconds >= LANGUAGE_MIN_S:
            self._language_task = self.create_task(self._identify_language(request), "stt_language")
        log.info(
            "stt_final",
            text=final.text,
            language=final.language,
            audio_s=round(final.audio_seconds, 2),
            partials=len(final.partials),
            detail_model=detail,
            pass_used="final" if request.final else ("quiet" if request.quiet else "interim"),
            decode_ms=round(done.ran_s * 1000),
            rejected=final.rejected,
        )
        if final.text:
            language = _language(self.language)
            await self._trace_transcription(final.text, True, language)
            frame = TranscriptionFrame(final.text, self._user_id, time_now_iso8601(), language, result=final)
            frame.finalized = True
            await self.push_frame(frame)
        return final.text

    def _multilingual(self) -> Engine | None:
        """The engine that can hear other languages: the detail model, else a multilingual main model."""
        for engine in (self._detail, self._engine):
            if engine is not None and engine.model.model.is_multilingual:
                return engine
        return None

    async def _identify_language(self, request: PassRequest) -> None:
        """Identify the caller's language once, with the multilingual model, off the critical path."""
        engine = self._multilingual()
        if engine is None:
            return
        model = engine.model
        try:
            done = await engine.scheduler.run(
                lambda: decoder.detect_language(model, request.audio), final=False
            )
        except Exception as exc:
            log.warning("language_id_failed", error=str(exc))
            return
        language, probability = done.value
        if probability >= LANGUAGE_CONFIDENCE:
            self.language = language
        log.info("caller_language", language=self.language, heard=language, probability=round(probability, 2))

    @traced_stt
    async def _trace_transcription(
        self, transcript: str, is_final: bool, language: Language | None = None
    ) -> None:
        """Record a final transcript on the call's trace (the decorator makes the span)."""
