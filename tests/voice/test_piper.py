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
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.pipeline.task import PipelineParams
from pipecat.tests.utils import run_test
from piper import PiperVoice

from agent.compute_gate import URGENT
from agent.config import EMBEDDED
from agent.voice.piper import PiperTTSService, load_piper


class RecordingVoice:
    """The real Piper voice, noting each text it is asked to synthesize and whether each sentence was
    synthesized as urgent at the compute gate."""

    def __init__(self, voice: PiperVoice) -> None:
        self.voice = voice
        self.config = voice.config
        self.texts: list[str] = []
        self.urgent: list[bool] = []

    def synthesize(self, text: str, *args: Any, **kwargs: Any) -> Iterator[Any]:
        self.texts.append(text)
        for chunk in self.voice.synthesize(text, *args, **kwargs):
            self.urgent.append(URGENT.get())
            yield chunk


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


@pytest.mark.models
async def test_a_replys_first_sentence_is_synthesized_as_urgent_and_the_rest_in_the_background() -> None:
    """The caller waits for a reply's first sentence (urgent at the compute gate); the sentences after it
    synthesize while it plays (background); the next reply's first sentence is urgent again."""
    voice = RecordingVoice(load_piper(EMBEDDED))
    service = PiperTTSService(voice)  # type: ignore[arg-type]

    def reply(*parts: str) -> list[Any]:
        return [LLMFullResponseStartFrame(), *(LLMTextFrame(p) for p in parts), LLMFullResponseEndFrame()]

    await run_test(
        service,
        frames_to_send=[
            *reply("We open at nine. ", "Parking is behind the building. ", "See you then."),
            UserStartedSpeakingFrame(),
            UserStoppedSpeakingFrame(),
            *reply("Of course. ", "Goodbye."),
        ],
        pipeline_params=PipelineParams(audio_out_sample_rate=16000),
    )
    assert len(voice.texts) == 4, voice.texts  # "Of course. Goodbye." is one text, two Piper sentences
    assert voice.urgent == [True, False, False, True, False]


def _resident_mb() -> float:
    """This process's resident memory, in MB, after returning freed heap pages."""
    import re
    from pathlib import Path

    from agent.memory import release_freed_memory

    release_freed_memory()
    found = re.search(r"VmRSS:\s+(\d+) kB", Path("/proc/self/status").read_text())
    assert found
    return int(found.group(1)) / 1024


@pytest.mark.models
def test_a_long_sentence_leaves_the_shared_voice_no_bigger() -> None:
    """Synthesizing a long sentence gives its working memory back afterwards: ONNX Runtime's arena alone
    kept about 400 MB of it for the life of the process (and calls share this voice)."""
    from piper import SynthesisConfig

    from agent.compute_gate import GatedSession
    from agent.memory import ArenaReturningSession
    from agent.voice.piper import synthesize_pcm

    voice = load_piper(EMBEDDED)
    assert isinstance(voice.session, GatedSession)
    assert isinstance(voice.session.inner, ArenaReturningSession)
    steady = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    list(synthesize_pcm(voice, "Hi.", steady))
    before = _resident_mb()
    long = " ".join(["the quick brown fox jumps over the lazy dog"] * 8)
    audio = b"".join(synthesize_pcm(voice, long, steady))
    assert len(audio) > 2 * voice.config.sample_rate * 10  # more than ten seconds of speech
    assert _resident_mb() - before < 100


def test_the_arena_returning_session_refuses_run_options_of_its_own() -> None:
    """A caller's run options would drop the shrinkage, so they are refused rather than silently replaced."""
    from agent.memory import ArenaReturningSession

    class Session:
        def run(self, *args: Any) -> Any:
            return args

    session = ArenaReturningSession(Session())
    assert session.run(None, {"x": 1})[:2] == (None, {"x": 1})
    with pytest.raises(ValueError, match="own run options"):
        session.run(None, {}, object())
