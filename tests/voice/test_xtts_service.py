"""The cloned-voice TTS service inside a real pipecat pipeline: streaming, rates, language, Piper fallback."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from pipecat.frames.frames import (
    Frame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    TTSAudioRawFrame,
)
from pipecat.pipeline.worker import PipelineParams
from pipecat.tests.utils import run_test
from piper import PiperVoice
from structlog.testing import capture_logs

from agent.voice.piper import load_piper
from agent.voice.pool import XttsPool
from agent.voice.xtts import SAMPLE_RATE, Latents, stream
from agent.voice.xtts_service import ClonedVoice, XttsTTSService

REPLY = ["Sure, ", "we open at nine. ", "See you then."]


@pytest.fixture(scope="module")
def piper() -> PiperVoice:
    """The embedded stock voice."""
    return load_piper("embedded")


def reply_frames(pieces: Sequence[str] = REPLY) -> list[Frame]:
    return [LLMFullResponseStartFrame(), *(LLMTextFrame(p) for p in pieces), LLMFullResponseEndFrame()]


async def speak(
    service: XttsTTSService, rate: int = 8000, pieces: Sequence[str] = REPLY
) -> list[TTSAudioRawFrame]:
    """Run the service in a pipeline on one streamed reply; return its audio frames."""
    down, _ = await run_test(
        service,
        frames_to_send=reply_frames(pieces),
        pipeline_params=PipelineParams(audio_out_sample_rate=rate),
    )
    return [f for f in down if isinstance(f, TTSAudioRawFrame)]


def seconds(frames: list[TTSAudioRawFrame]) -> float:
    return sum(len(f.audio) // 2 for f in frames) / frames[0].sample_rate


def recording(calls: list[str], texts: list[str] | None = None) -> Any:
    """The real XTTS stream, noting the language (and text) each utterance was asked for."""

    def synth(model: Any, text: str, language: str, latents: Latents) -> Iterator[np.ndarray]:
        calls.append(language)
        if texts is not None:
            texts.append(text)
        yield from stream(model, text, language, latents)

    return synth


class TestStreaming:
    @pytest.mark.parametrize("rate", [8000, 16000])
    async def test_speaks_each_clause_at_the_pipeline_rate(
        self, tiny_xtts: Any, tiny_latents: Latents, piper: PiperVoice, rate: int
    ) -> None:
        """A streamed reply becomes audio frames at the output rate, as long as the XTTS audio."""
        pool = XttsPool([tiny_xtts])
        voice = ClonedVoice("acme", ("en",), tiny_latents, pool)
        service = XttsTTSService(voice, piper, call_id="CA1")
        with capture_logs() as logs:
            frames = await speak(service, rate)
        streams = [e for e in logs if e["event"] == "xtts_stream"]
        assert len(streams) == 2  # "Sure, we open at nine." and "See you then."
        assert {f.sample_rate for f in frames} == {rate}
        assert len(frames) >= 4  # streamed chunk by chunk, not one frame per clause
        assert seconds(frames) == pytest.approx(sum(e["audio_s"] for e in streams), abs=0.05)
        assert service.fallback_reason is None and service.speaking_cloned
        pool.close()

    async def test_speaks_the_callers_language_when_the_voice_has_it(
        self, tiny_xtts: Any, tiny_latents: Latents, piper: PiperVoice
    ) -> None:
        """A Spanish caller hears Spanish from a voice that lists it; a French caller hears English."""
        asked: list[str] = []
        pool = XttsPool([tiny_xtts], synth=recording(asked))
        voice = ClonedVoice("acme", ("en", "es"), tiny_latents, pool)
        await speak(XttsTTSService(voice, piper, call_id="CA1", language=lambda: "es"))
        await speak(XttsTTSService(voice, piper, call_id="CA2", language=lambda: "fr"))
        assert asked == ["es", "es", "en", "en"]
        pool.close()

    def test_a_callers_chinese_is_spoken_in_xtts_code(self, tiny_xtts: Any, tiny_latents: Latents) -> None:
        """Whisper's "zh" (or "zh-TW") finds a voice stored with XTTS's "zh-cn"; "en-US" finds "en"."""
        voice = ClonedVoice("acme", ("en", "zh-cn"), tiny_latents, XttsPool([tiny_xtts]))
        assert [voice.language_for(lang) for lang in ("zh", "zh-TW", "en-US", "ja")] == [
            "zh-cn",
            "zh-cn",
            "en",
            "en",
        ]

    async def test_english_is_spoken_in_words_other_languages_left_to_xtts(
        self, tiny_xtts: Any, tiny_latents: Latents, piper: PiperVoice
    ) -> None:
        """Times become words in English; in Spanish XTTS gets the digits and reads them in Spanish."""
        asked: list[str] = []
        texts: list[str] = []
        pool = XttsPool([tiny_xtts], synth=recording(asked, texts))
        voice = ClonedVoice("acme", ("en", "es"), tiny_latents, pool)
        reply = ["We open at 9:30 ", "on Saturday."]
        await speak(XttsTTSService(voice, piper, call_id="CA1"), pieces=reply)
        await speak(XttsTTSService(voice, piper, call_id="CA2", language=lambda: "es"), pieces=reply)
        assert texts == ["We open at nine thirty on Saturday.", "We open at 9:30 on Saturday."]
        pool.close()


class TestFallback:
    async def test_no_cloned_voice_speaks_piper_and_says_why(self, piper: PiperVoice) -> None:
        """A call whose cloned voice did not load speaks the stock voice, with the reason logged and kept."""
        with capture_logs() as logs:
            service = XttsTTSService(None, piper, fallback_reason="XTTS model did not load: boom")
            frames = await speak(service)
        assert service.fallback_reason == "XTTS model did not load: boom"
        assert [e["reason"] for e in logs if e["event"] == "voice_fallback"] == [service.fallback_reason]
        assert frames and seconds(frames) > 1.0
        assert {f.sample_rate for f in frames} == {8000}

    async def test_synthesis_failure_mid_call_switches_to_piper(
        self, tiny_xtts: Any, piper: PiperVoice
    ) -> None:
        """Latents the model cannot use make XTTS fail on the first clause; the call goes on in Piper."""
        bad = Latents(gpt_cond_latent=torch.zeros(1, 5, 3), speaker_embedding=torch.zeros(1, 7, 1))
        pool = XttsPool([tiny_xtts])
        service = XttsTTSService(ClonedVoice("acme", ("en",), bad, pool), piper, call_id="CA1")
        with capture_logs() as logs:
            frames = await speak(service)
        assert service.fallback_reason is not None and "synthesis failed" in service.fallback_reason
        assert not service.speaking_cloned
        assert len([e for e in logs if e["event"] == "voice_fallback"]) == 1
        assert [e["event"] for e in logs].count("xtts_stream_failed") == 1  # the second clause skips XTTS
        assert seconds(frames) > 1.0  # both clauses spoken by Piper
        pool.close()

    async def test_failure_after_audio_fades_out_and_repeats_in_piper(
        self, tiny_xtts: Any, tiny_latents: Latents, piper: PiperVoice
    ) -> None:
        """XTTS failing after its first chunk (a replica lost mid-utterance, injected here) is faded out
        and the clause is said again in Piper."""

        def dies_after_one_chunk(
            model: Any, text: str, language: str, latents: Latents
        ) -> Iterator[np.ndarray]:
            chunks = stream(model, text, language, latents)
            yield next(chunks)
            raise RuntimeError("replica lost")

        pool = XttsPool([tiny_xtts], synth=dies_after_one_chunk)
        service = XttsTTSService(ClonedVoice("acme", ("en",), tiny_latents, pool), piper, call_id="CA1")
        with capture_logs() as logs:
            frames = await speak(service, 8000)
        retry = [e for e in logs if e["event"] == "voice_fallback_retry"]
        assert retry and retry[0]["spoken_partially"] is True
        assert service.fallback_reason == "synthesis failed: replica lost"
        assert len([e for e in logs if e["event"] == "voice_fallback"]) == 1
        assert seconds(frames) > 1.0
        pool.close()


def test_xtts_rate_is_24k() -> None:
    """XTTS-v2 decodes at 24 kHz; the service resamples from that."""
    assert SAMPLE_RATE == 24000


def test_tiny_dir_fixture_is_a_checkpoint(tiny_xtts_dir: Path) -> None:
    """The shared fixture holds the three files a real checkpoint has."""
    assert {p.name for p in tiny_xtts_dir.iterdir()} >= {"config.json", "model.pth", "vocab.json"}
