"""The caller's VAD: pipecat's states from fewer thread hand-offs, and a signal when the caller goes quiet."""

from __future__ import annotations

from pathlib import Path

from pipecat.audio.vad.vad_analyzer import VADAnalyzer, VADState

from agent.calls.pipeline import caller_vad_params
from agent.config import Settings
from agent.simulate import read_wav_as_ulaw, ulaw_to_pcm16k
from agent.speech.vad import CallerVAD

FRAME = 640  # bytes: 20 ms at 16 kHz, as the pipeline delivers the caller's audio


def two_utterances(speech_dir: Path) -> bytes:
    """Silence, a request, a 0.6 s pause, another request, silence: 16 kHz PCM."""
    quiet = bytes(int(0.6 * 16000) * 2)
    hours = ulaw_to_pcm16k(read_wav_as_ulaw(speech_dir / "hours.wav"))
    where = ulaw_to_pcm16k(read_wav_as_ulaw(speech_dir / "where.wav"))
    return quiet + hours + quiet + where + quiet


async def test_the_states_are_pipecats_and_the_quiet_signal_comes_before_each_stop(speech_dir: Path) -> None:
    """Frame by frame the VAD reports the same states as pipecat's own path (every frame handed to the
    analyzer's thread); the quiet listeners hear once per stretch of speech, QUIET_WINDOWS windows into
    the silence and before the VAD stops, a failing listener stopping neither the others nor the VAD."""
    params = caller_vad_params(Settings())
    ours, theirs = CallerVAD(params=params), CallerVAD(params=params)
    for vad in (ours, theirs):
        vad.set_sample_rate(16000)
    heard: list[int] = []

    def broken() -> None:
        raise RuntimeError("a listener that fails")

    ours.quiet_listeners += [broken, lambda: heard.append(len(states))]  # the failure stops neither
    audio = two_utterances(speech_dir)
    states: list[VADState] = []
    reference: list[VADState] = []
    try:
        for i in range(0, len(audio), FRAME):
            frame = audio[i : i + FRAME]
            states.append(await ours.analyze_audio(frame))
            reference.append(await VADAnalyzer.analyze_audio(theirs, frame))
    finally:
        await ours.cleanup()
        await theirs.cleanup()
    assert states == reference
    stops = [
        i for i in range(1, len(states)) if (states[i - 1], states[i]) == (VADState.STOPPING, VADState.QUIET)
    ]
    assert len(stops) >= 2, stops
    assert len(heard) == len(stops), (heard, stops)
    for signal, stop in zip(heard, stops, strict=True):
        spoke = max(i for i in range(signal) if states[i] == VADState.SPEAKING)
        quiet_ms = (signal - spoke) * 20
        assert 3 * 32 - 20 <= quiet_ms <= 3 * 32 + 40, (signal, spoke)  # three 32 ms windows, 20 ms frames
        assert signal < stop
