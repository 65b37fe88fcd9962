"""The call pipeline's small policies: the VAD hears one-word answers and waits longer for phone numbers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams, VADState

from agent.calls.pipeline import NUMBER_PAUSE_S, caller_vad_params, pause_for_numbers
from agent.config import Settings
from agent.dialog.business import load_business
from agent.dialog.router import Router
from agent.models import Models
from agent.simulate import SILENCE, read_wav_as_ulaw
from agent.speech.vad import CallerVAD
from agent.telephony.codec import StreamResampler, ulaw_decode
from agent.voice.piper import write_wav

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Follower:
    """Something that estimates speech ends from the VAD stop time (the timing observer, the recorder)."""

    vad_stop_secs: float


def test_vad_waits_longer_while_a_number_may_be_read_out_then_goes_back() -> None:
    """From a message's name step to its read-back the VAD stop is NUMBER_PAUSE_S; then normal again."""
    router = Router(load_business(REPO / "prompts", "example"))
    vad = SileroVADAnalyzer(params=VADParams(stop_secs=0.2))
    vad.set_sample_rate(16000)
    follower = Follower(0.2)

    def route(text: str) -> float:
        router.handle(text)
        pause_for_numbers(router, vad, 0.2, [follower])
        assert follower.vad_stop_secs == vad.params.stop_secs
        return vad.params.stop_secs

    assert route("What time do you open on Saturday?") == 0.2
    assert route("I'd like to leave a message.") == NUMBER_PAUSE_S  # asks for the name
    assert route("This is Jane Doe.") == NUMBER_PAUSE_S  # asks for the number
    assert route("It's two zero seven, five five five, zero one four three.") == NUMBER_PAUSE_S  # read-back
    assert route("Yes.") == 0.2  # asks for the message itself: ordinary speech again
    assert vad.params.start_secs == VADParams().start_secs  # only the stop time changed


async def heard_at(ulaw: bytes, params: VADParams, lead_frames: int) -> bool:
    """Whether the VAD reports speech for `ulaw` arriving after `lead_frames` 20 ms frames of silence."""
    vad = CallerVAD(params=params)
    vad.set_sample_rate(16000)
    resampler = StreamResampler(8000, 16000)
    audio = SILENCE * lead_frames + ulaw + SILENCE * 40
    heard = False
    for i in range(0, len(audio), len(SILENCE)):
        state = await vad.analyze_audio(resampler.process(ulaw_decode(audio[i : i + len(SILENCE)])))
        heard = heard or state == VADState.SPEAKING
    await vad.cleanup()
    return heard


async def test_one_word_answers_start_a_turn_however_the_frames_fall(models: Models, tmp_path: Path) -> None:
    """ "Yes.", "Yep." and "No." after silence are heard at every alignment of 20 ms frames to VAD windows.

    With pipecat's loudness smoothing, which climbs from silence for about 200 ms, some alignments
    lost them: the caller's answer to a read-back vanished and the agent asked "Are you still there?".
    """
    params = caller_vad_params(Settings())
    missed = []
    for word in ("Yes.", "Yep.", "No."):
        ulaw = read_wav_as_ulaw(write_wav(models.piper, word, tmp_path / "word.wav"))
        missed += [(word, lead) for lead in range(50, 66) if not await heard_at(ulaw, params, lead)]
    assert not missed
