"""The stock Piper voice as a pipecat TTS service: what it says is the speakable form of the reply."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pipecat.frames.frames import (
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    TTSAudioRawFrame,
    TTSTextFrame,
)
from pipecat.pipeline.task import PipelineParams
from pipecat.tests.utils import run_test
from piper import PiperVoice

from agent.config import EMBEDDED
from agent.voice.piper import PiperTTSService, load_piper


class RecordingVoice:
    """The real Piper voice, noting each text it is asked to synthesize."""

    def __init__(self, voice: PiperVoice) -> None:
        self.voice = voice
        self.config = voice.config
        self.texts: list[str] = []

    def synthesize(self, text: str, *args: Any, **kwargs: Any) -> Iterator[Any]:
        self.texts.append(text)
        return self.voice.synthesize(text, *args, **kwargs)


@pytest.mark.models
async def test_piper_service_synthesizes_the_speakable_reply_and_keeps_the_text() -> None:
    """A reply with '617-555-0142' is synthesized digit by digit, while its text frames keep it as written."""
    voice = RecordingVoice(load_piper(EMBEDDED))
    service = PiperTTSService(voice)  # type: ignore[arg-type]
    reply = ["Sure, ", "our number is 617-555-0142."]
    down, _ = await run_test(
        service,
        frames_to_send=[
            LLMFullResponseStartFrame(),
            *(LLMTextFrame(p) for p in reply),
            LLMFullResponseEndFrame(),
        ],
        pipeline_params=PipelineParams(audio_out_sample_rate=16000),
    )
    assert any(isinstance(f, TTSAudioRawFrame) for f in down)
    assert voice.texts == ["Sure, our number is six one seven, five five five, zero one four two."]
    spoken_text = " ".join(f.text for f in down if isinstance(f, TTSTextFrame))
    assert "617-555-0142" in spoken_text, spoken_text
