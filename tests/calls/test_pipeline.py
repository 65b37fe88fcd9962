"""The call pipeline's small policies: the VAD waits longer while a caller reads out a phone number."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams

from agent.calls.pipeline import NUMBER_PAUSE_S, pause_for_numbers
from agent.dialog.business import load_business
from agent.dialog.router import Router

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
