"""End of turn waits for the speech-to-text to settle, however slow, never for pipecat's 5 s watchdog."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3
from pipecat.frames.frames import (
    Frame,
    InputAudioRawFrame,
    LLMContextFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.tests.utils import SleepFrame, run_test
from pipecat.turns.user_turn_strategies import UserTurnStrategies
from structlog.testing import capture_logs

from agent.calls.turn_stop import AdaptiveTurnStop
from agent.speech.stt import NoWordsFrame

STOP_S = 0.2


def speech(seconds: float = 0.6) -> list[Frame]:
    """A stretch of caller audio between VAD edges, as the transport delivers it in 20 ms frames."""
    frames: list[Frame] = [VADUserStartedSpeakingFrame(start_secs=0.2, timestamp=time.time())]
    tone = (3000 * np.sin(np.arange(320) / 3)).astype("<i2").tobytes()
    for _ in range(int(seconds / 0.02)):
        frames.append(InputAudioRawFrame(audio=tone, sample_rate=16000, num_channels=1))
        frames.append(SleepFrame(sleep=0.02))
    frames.append(VADUserStoppedSpeakingFrame(stop_secs=STOP_S, timestamp=time.time() + seconds))
    return frames


def spoken(text: str) -> list[Frame]:
    """`text` said by the stock Piper voice (at 16 kHz) between VAD edges, in 20 ms frames."""
    from piper import SynthesisConfig

    from agent.telephony.codec import StreamResampler
    from agent.voice.piper import load_piper, synthesize_pcm

    voice = load_piper("embedded")
    pcm = b"".join(synthesize_pcm(voice, text, SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)))
    resampler = StreamResampler(voice.config.sample_rate, 16000)
    audio = resampler.process(pcm) + resampler.flush()
    frames: list[Frame] = [VADUserStartedSpeakingFrame(start_secs=0.2, timestamp=time.time())]
    for i in range(0, len(audio), 640):
        frames.append(InputAudioRawFrame(audio=audio[i : i + 640], sample_rate=16000, num_channels=1))
        frames.append(SleepFrame(sleep=0.02))
    frames.append(VADUserStoppedSpeakingFrame(stop_secs=STOP_S, timestamp=time.time()))
    return frames


def transcript(text: str) -> list[Frame]:
    """What the STT sends once the latest stretch settles: its final transcript, or that it had no words."""
    return [TranscriptionFrame(text, "caller", "2026-11-27T00:00:00Z") if text else NoWordsFrame()]


async def turns(
    frames: list[Frame], stt_timeout_s: float = 3.0, understood: Callable[[str], bool] | None = None
) -> tuple[list[str], list[dict[str, object]]]:
    """Run the frames through a user aggregator ending turns with AdaptiveTurnStop: user texts sent, logs."""
    context = LLMContext()
    stop = AdaptiveTurnStop(LocalSmartTurnAnalyzerV3(), stt_timeout_s=stt_timeout_s, understood=understood)
    user, _ = LLMContextAggregatorPair(
        context, user_params=LLMUserAggregatorParams(user_turn_strategies=UserTurnStrategies(stop=[stop]))
    )
    with capture_logs() as logs:
        down, _ = await run_test(user, frames_to_send=frames)
    said = []
    for frame in down:
        if isinstance(frame, LLMContextFrame):
            users = [m for m in frame.context.get_messages() if m.get("role") == "user"]
            said.append(str(users[-1]["content"]) if users else "")
    return said, [e for e in logs if e["event"] == "turn_end"]


async def test_a_transcript_slower_than_a_second_still_ends_the_turn_with_its_words() -> None:
    """A detail-model final that takes 1.5 s (a loaded machine) is waited for: the turn is not ended empty."""
    frames = [*speech(), SleepFrame(sleep=1.5), *transcript("Yes."), SleepFrame(sleep=0.8)]
    said, ends = await turns(frames)
    # The turn ends on the transcript's arrival (before the 3 s timeout could end it), with its words.
    assert [e["reason"] for e in ends] == ["acknowledgement"], ends
    assert said == ["Yes."], said


async def test_a_stretch_that_settles_without_words_ends_the_turn_empty_without_waiting() -> None:
    """A cough settles with no words: the turn ends empty at once, not after the transcript timeout."""
    started = time.monotonic()
    _, ends = await turns([*speech(), SleepFrame(sleep=0.3), *transcript(""), SleepFrame(sleep=0.5)])
    assert [e["reason"] for e in ends] == ["no_words"], ends
    assert time.monotonic() - started < 3.0  # the 3 s transcript timeout never ran out


async def test_a_transcript_later_than_the_timeout_opens_a_turn_that_ends_on_its_words() -> None:
    """Given up on (an empty end), a late transcript reaches the model at once, not after the watchdog."""
    started = time.monotonic()
    frames = [*speech(), SleepFrame(sleep=0.8), *transcript("Yes."), SleepFrame(sleep=1.5)]
    said, ends = await turns(frames, stt_timeout_s=0.3)
    assert ends and ends[0]["reason"] == "no_words", ends
    assert said and said[-1] == "Yes.", said
    assert len(ends) == 2 and time.monotonic() - started < 4.5, ends


async def test_words_that_are_a_whole_request_end_a_doubted_turn_soon() -> None:
    """When smart-turn doubts the voice (here speech that trails off on "and") but the words are a whole
    request, the turn ends after the short understood-request silence (0.25 s); otherwise after the full
    incomplete-turn one (1 s)."""
    asked: list[str] = []

    def understood(text: str) -> bool:
        asked.append(text)
        return text.startswith("I'd like")

    for said_text, reason, ms in [
        ("I'd like to book a cleaning.", "understood_request", 250),
        ("My tooth hurts.", "smart_turn_incomplete", 1000),
    ]:
        frames = [*spoken("I'd like to book a cleaning and"), *transcript(said_text), SleepFrame(sleep=1.3)]
        said, ends = await turns(frames, understood=understood)
        assert [(e["reason"], e["hangover_ms"]) for e in ends] == [(reason, ms)], ends
        assert said == [said_text]
    assert asked == ["I'd like to book a cleaning.", "My tooth hurts."]
