"""The cloned voice as a pipecat TTS service: XTTS chunks streamed as they exist, Piper if XTTS fails."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import structlog
from pipecat.frames.frames import ErrorFrame, Frame
from pipecat.services.settings import TTSSettings
from pipecat.services.tts_service import TTSService
from pipecat.utils.tracing.service_decorators import traced_tts
from piper import PiperVoice

from agent.telephony.codec import StreamResampler
from agent.voice.chunker import ChunkAggregator
from agent.voice.joins import FloatArray, Joiner
from agent.voice.piper import synthesize_pcm
from agent.voice.pool import XttsPool
from agent.voice.speakable import speakable
from agent.voice.xtts import SAMPLE_RATE, Latents, xtts_language

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ClonedVoice:
    """A cloned voice ready to speak: its name, languages and cached latents, and the pool that voices it."""

    name: str
    languages: tuple[str, ...]
    latents: Latents
    pool: XttsPool

    def language_for(self, language: str) -> str:
        """The caller's language if this voice speaks it, else the voice's first language."""
        code = xtts_language(language)
        return code if code in self.languages else (self.languages[0] if self.languages else "en")


def to_pcm16(audio: FloatArray) -> bytes:
    """Float samples in [-1, 1] as little-endian 16-bit PCM bytes (clipped)."""
    return bytes((np.clip(audio, -1.0, 1.0) * 32767.0).round().astype("<i2").tobytes())


class XttsTTSService(TTSService):
    """Speaks each clause in the cloned voice, sending every XTTS chunk the moment it exists.

    If the voice could not load (`voice` is None with a `fallback_reason`) or fails mid-call, the call
    goes on in the stock Piper voice; `fallback_reason` then says why and `voice_fallback` is logged.
    """

    def __init__(
        self,
        voice: ClonedVoice | None,
        fallback: PiperVoice,
        *,
        call_id: str = "",
        language: Callable[[], str] = lambda: "en",
        fallback_reason: str | None = None,
        voice_name: str | None = None,
        sample_rate: int | None = None,
        **kwargs: Any,
    ) -> None:
        """Speak with `voice` (None: `fallback` from the start, in place of `voice_name`), or `fallback`."""
        super().__init__(
            sample_rate=sample_rate,
            push_start_frame=True,
            push_stop_frames=True,
            settings=TTSSettings(model="xtts", voice=voice.name if voice else "embedded", language=None),
            text_transforms=[("*", self._speakable)],
            **kwargs,
        )
        self._voice = voice
        self._piper = fallback
        self._call_id = call_id
        self._voice_name = voice.name if voice else voice_name
        self._language = language
        self.fallback_reason: str | None = None
        self.on_fallback: Callable[[str], object] | None = None  # told the reason if it falls back mid-call
        self._text_aggregator = ChunkAggregator()  # type: ignore[assignment]
        if voice is None:
            self._fall_back(fallback_reason or "no cloned voice")

    @property
    def speaking_cloned(self) -> bool:
        """Whether the cloned voice is still in use (no fallback so far)."""
        return self._voice is not None

    def can_generate_metrics(self) -> bool:
        """Report time to first audio."""
        return True

    async def _speakable(self, text: str, _text_type: str) -> str:
        """Numbers, times and abbreviations spelled out in English (XTTS does it for other languages)."""
        if self._voice is not None and self._voice.language_for(self._language()) != "en":
            return text
        return speakable(text)

    def _fall_back(self, reason: str) -> None:
        self.fallback_reason = reason
        self._voice = None
        log.warning("voice_fallback", voice=self._voice_name, reason=reason, to="piper")
        if self.on_fallback is not None:
            self.on_fallback(reason)

    @traced_tts
    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame, None]:
        """Synthesize `text` off the event loop and yield its audio frames as they exist."""
        try:
            await self.start_tts_usage_metrics(text)
            async for frame in self._stream_audio_frames_from_iterator(
                self._speak(text), in_sample_rate=self.sample_rate, context_id=context_id
            ):
                await self.stop_ttfb_metrics()
                yield frame
        except Exception as exc:
            log.error("tts_failed", error=str(exc))
            yield ErrorFrame(error=f"speech synthesis failed: {exc}")

    async def _speak(self, text: str) -> AsyncIterator[bytes]:
        """PCM16 at the output rate: the cloned voice, or Piper if it is unavailable or fails."""
        voice = self._voice
        if voice is None:
            async for pcm in self._speak_piper(text):
                yield pcm
            return
        resampler = StreamResampler(SAMPLE_RATE, self.sample_rate)
        joiner = Joiner()
        sent = False
        try:
            chunks = voice.pool.stream(
                self._call_id, text, voice.language_for(self._language()), voice.latents
            )
            async for chunk in chunks:
                pcm = resampler.process(to_pcm16(joiner.push(chunk)))
                if pcm:
                    sent = True
                    yield pcm
        except Exception as exc:
            self._fall_back(f"synthesis failed: {exc}")
            # Fade out what was said and say the whole clause again in the stock voice: repeating a few
            # words beats losing them.
            yield resampler.process(to_pcm16(joiner.end())) + resampler.flush()
            log.info("voice_fallback_retry", spoken_partially=sent, characters=len(text))
            async for pcm in self._speak_piper(text):
                yield pcm
            return
        yield resampler.process(to_pcm16(joiner.end())) + resampler.flush()

    async def _speak_piper(self, text: str) -> AsyncIterator[bytes]:
        rate = self._piper.config.sample_rate
        resampler = StreamResampler(rate, self.sample_rate)
        for pcm in await asyncio.to_thread(lambda: list(synthesize_pcm(self._piper, text))):
            yield resampler.process(pcm)
        yield resampler.flush()
