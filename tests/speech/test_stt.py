"""The streaming STT service in a pipecat pipeline: partials while the caller speaks, a final soon after."""

from __future__ import annotations

import itertools
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pipecat.frames.frames import (
    Frame,
    InputAudioRawFrame,
    InterimTranscriptionFrame,
    SystemFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.tests.utils import SleepFrame, run_test
from pipecat.transcriptions.language import Language
from piper import SynthesisConfig
from structlog.testing import capture_logs

from agent.models import Models
from agent.simulate import read_wav_as_ulaw, ulaw_to_pcm16k
from agent.speech.scheduler import DecodeScheduler
from agent.speech.streaming import Final, StreamParams
from agent.speech.stt import Engine, NoWordsFrame, WhisperSTTService
from agent.voice.piper import write_wav

FRAME = 320  # 20 ms at 16 kHz


def caller_frames(pcm: bytes, stop_secs: float = 0.2) -> list[Frame]:
    """A caller's utterance as the pipeline delivers it: VAD start, 20 ms audio in real time, VAD stop."""
    frames: list[Frame] = [VADUserStartedSpeakingFrame(start_secs=0.2, timestamp=time.time())]
    silence = bytes(int(16000 * stop_secs) * 2)
    audio = pcm + silence
    for i in range(0, len(audio), FRAME * 2):
        frames.append(InputAudioRawFrame(audio=audio[i : i + FRAME * 2], sample_rate=16000, num_channels=1))
        frames.append(SleepFrame(sleep=0.02))
    frames.append(VADUserStoppedSpeakingFrame(stop_secs=stop_secs, timestamp=time.time()))
    frames.append(SleepFrame(sleep=1.5))
    return frames


async def test_partials_arrive_while_speaking_and_the_final_after(models: Models, speech_dir: Path) -> None:
    """A 4 s utterance yields interim transcripts during speech, then one finalized transcript."""
    pcm = ulaw_to_pcm16k(read_wav_as_ulaw(speech_dir / "long.wav"))
    stt = WhisperSTTService(models.stt, vocabulary="Harbor Dental.", params=StreamParams(step_s=0.5))
    down, _ = await run_test(stt, frames_to_send=caller_frames(pcm))
    interims = [f for f in down if isinstance(f, InterimTranscriptionFrame)]
    finals = [f for f in down if isinstance(f, TranscriptionFrame)]
    assert len(interims) >= 2
    assert len(finals) == 1 and finals[0].finalized
    assert not [f for f in down if isinstance(f, NoWordsFrame)]  # the transcript itself settles the stretch
    assert "cleaning" in finals[0].text.lower()
    assert down.index(interims[0]) < down.index(finals[0])
    result = finals[0].result
    assert isinstance(result, Final) and result.partials and result.language == "en"
    assert np.all([len(p) > 0 for p in result.partials])


async def test_silence_between_vad_edges_gives_no_transcript(models: Models) -> None:
    """Line noise the VAD mistook for speech produces no transcription frame, only a NoWordsFrame."""
    noise = (np.random.default_rng(3).normal(0, 200, 16000)).astype("<i2").tobytes()
    stt = WhisperSTTService(models.stt)
    down, _ = await run_test(stt, frames_to_send=caller_frames(noise))
    assert not [f for f in down if isinstance(f, TranscriptionFrame)]
    assert len([f for f in down if isinstance(f, NoWordsFrame)]) == 1
    assert stt.finals and stt.finals[-1].text == ""


def espeak_pcm(tmp_path: Path, voice: str, text: str) -> bytes:
    """Speech from espeak-ng in `voice`, through the 8 kHz μ-law phone path, as the server hears it."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (make setup installs it with apt-get when run as root)")
    path = tmp_path / f"{voice}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True)
    return ulaw_to_pcm16k(read_wav_as_ulaw(path))


async def test_a_spanish_caller_is_identified_and_transcribed_in_spanish(
    models: Models, tmp_path: Path
) -> None:
    """After the first utterance the call's language is Spanish; later finals are Spanish, tagged es."""
    first = espeak_pcm(tmp_path, "es", "Hola, buenos días. Quisiera hacer una cita, por favor.")
    second = espeak_pcm(tmp_path, "es", "Necesito cambiar mi cita para el martes.")
    stt = WhisperSTTService(models.stt, detail=models.stt_detail)
    down, _ = await run_test(stt, frames_to_send=caller_frames(first) + caller_frames(second))
    finals = [f for f in down if isinstance(f, TranscriptionFrame)]
    assert stt.language == "es"
    assert finals[-1].language == Language.ES
    assert {"cita", "martes"} & set(finals[-1].text.lower().replace(".", "").split()), finals[-1].text


async def test_a_multilingual_main_model_identifies_the_language_without_a_detail_model(
    models: Models, tmp_path: Path
) -> None:
    """With only a multilingual model configured (no detail model), a Spanish caller is still tagged es."""
    assert models.stt_detail is not None
    first = espeak_pcm(tmp_path, "es", "Hola, buenos días. Quisiera hacer una cita, por favor.")
    second = espeak_pcm(tmp_path, "es", "Necesito cambiar mi cita para el martes.")
    stt = WhisperSTTService(models.stt_detail)
    down, _ = await run_test(stt, frames_to_send=caller_frames(first) + caller_frames(second))
    finals = [f for f in down if isinstance(f, TranscriptionFrame)]
    assert stt.language == "es"
    assert finals[-1].language == Language.ES


async def test_an_english_caller_stays_english(models: Models, speech_dir: Path) -> None:
    """An English caller's language is identified as English and every final is tagged en."""
    pcm = ulaw_to_pcm16k(read_wav_as_ulaw(speech_dir / "long.wav"))
    stt = WhisperSTTService(models.stt, detail=models.stt_detail)
    down, _ = await run_test(stt, frames_to_send=caller_frames(pcm) + caller_frames(pcm))
    finals = [f for f in down if isinstance(f, TranscriptionFrame)]
    assert stt.language == "en"
    assert [f.language for f in finals] == [Language.EN, Language.EN]


async def test_a_backed_up_decoder_slows_the_call_but_it_still_works_and_says_so(
    models: Models, speech_dir: Path
) -> None:
    """With the shared decoder busy elsewhere, passes wait, `stt_behind` is logged, the final still comes."""
    scheduler = DecodeScheduler("busy")
    # Another call's work holds the model for 3 s: the first pass, due 0.5 s into the utterance, waits for
    # it even when this machine is slow to start the pipeline (with 1.5 s a fresh-clone CI run saw no wait).
    scheduler.submit(lambda: time.sleep(3.0), final=True)
    stt = WhisperSTTService(Engine(models.whisper, scheduler))
    pcm = ulaw_to_pcm16k(read_wav_as_ulaw(speech_dir / "long.wav"))
    with capture_logs() as logs:
        down, _ = await run_test(stt, frames_to_send=caller_frames(pcm))
    behind = [e for e in logs if e["event"] == "stt_behind"]
    assert behind and behind[0]["waited_ms"] > 500
    finals = [f for f in down if isinstance(f, TranscriptionFrame)]
    assert len(finals) == 1 and "cleaning" in finals[0].text.lower()


def hold_music(seconds: float = 3.0) -> bytes:
    """A few bars of a synthetic melody with harmonics, as 16 kHz 16-bit PCM."""
    notes = [262, 330, 392, 523, 392, 330]
    per = int(16000 * seconds / len(notes))
    t = np.arange(per) / 16000
    bars = [sum(np.sin(2 * np.pi * f * k * t) / k for k in (1, 2, 3)) * np.exp(-3 * t) * 6000 for f in notes]
    return np.concatenate(bars).astype("<i2").tobytes()


async def test_hold_music_the_vad_let_through_gives_no_words(models: Models) -> None:
    """Music mistaken for speech by the VAD produces no transcription frame."""
    stt = WhisperSTTService(models.stt, vocabulary="Harbor Dental.")
    down, _ = await run_test(stt, frames_to_send=caller_frames(hold_music()))
    assert not [f for f in down if isinstance(f, TranscriptionFrame)], stt.finals
    assert stt.finals and stt.finals[-1].text == ""


async def test_a_long_utterance_is_trimmed_and_still_transcribed_in_full(
    models: Models, tmp_path: Path
) -> None:
    """Past `trim_s` the buffer is cut at committed words; the final still has the first and last words."""
    text = (
        "Hi, this is Daniel Brooks. I had a cleaning last month and I still have some pain on the left side, "
        "so I would like to come in again next Thursday afternoon if the doctor has any time available."
    )
    # The same audio every run (Piper's noise off): with its usual noise, tiny.en heard the tail as
    # "okay, thank you." in 1 of 11 runs here, which says nothing about trimming.
    steady = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    pcm = ulaw_to_pcm16k(read_wav_as_ulaw(write_wav(models.piper, text, tmp_path / "long.wav", steady)))
    assert len(pcm) / 32000 > 9
    stt = WhisperSTTService(models.stt, params=StreamParams(step_s=0.5, trim_s=5.0))
    down, _ = await run_test(stt, frames_to_send=caller_frames(pcm))
    finals = [f for f in down if isinstance(f, TranscriptionFrame)]
    assert len(finals) == 1
    result = finals[0].result
    assert isinstance(result, Final) and result.trimmed_words > 0
    words = finals[0].text.lower()
    assert "daniel" in words and "thursday" in words, words


class _Tagged(DecodeScheduler):
    """One call's view of a shared scheduler: submits there, noting which call each pass came from."""

    def __init__(self, shared: DecodeScheduler, tag: str, order: list[str]) -> None:
        super().__init__(f"view-{tag}")
        self.shared, self.tag, self.order = shared, tag, order

    def submit(self, fn: Any, final: bool) -> Any:
        def tagged() -> object:
            self.order.append(self.tag if not final else self.tag.upper())
            time.sleep(0.25)  # saturated: two calls' passes cost more than a 0.5 s step
            return fn()

        return self.shared.submit(tagged, final)


async def test_a_talkative_caller_cannot_starve_a_quiet_one_on_a_shared_model(
    models: Models, speech_dir: Path
) -> None:
    """Two calls on one saturated decoder take interim passes in turn, and the quiet one's final still comes.

    Caller A talks for 12 s without a break; caller B says one short sentence while A talks. Each call
    keeps at most one interim pass queued, so B's passes are interleaved with A's, not queued behind them.
    """
    import asyncio

    shared = DecodeScheduler("shared")
    order: list[str] = []
    long = ulaw_to_pcm16k(read_wav_as_ulaw(speech_dir / "long.wav"))
    short = ulaw_to_pcm16k(read_wav_as_ulaw(speech_dir / "where.wav"))
    talkative = WhisperSTTService(Engine(models.whisper, _Tagged(shared, "a", order)))
    quiet = WhisperSTTService(Engine(models.whisper, _Tagged(shared, "b", order)))
    lead_in = [SleepFrame(sleep=2.0)]
    (down_a, _), (down_b, _) = await asyncio.gather(
        run_test(talkative, frames_to_send=caller_frames(long + long + long)),
        run_test(quiet, frames_to_send=lead_in + caller_frames(short)),
    )
    finals_b = [f for f in down_b if isinstance(f, TranscriptionFrame)]
    assert len(finals_b) == 1 and "located" in finals_b[0].text.lower(), finals_b
    assert [f for f in down_a if isinstance(f, TranscriptionFrame)]
    # While both were speaking, B's interim passes alternate with A's: never two of B's waiting behind
    # a run of A's (at most one of A's passes between B's consecutive ones, plus the one running).
    b_at = [i for i, tag in enumerate(order) if tag == "b"]
    assert len(b_at) >= 2, order
    assert all(later - earlier <= 3 for earlier, later in itertools.pairwise(b_at)), order


@dataclass
class QuietMark(SystemFrame):
    """Where the caller's VAD would report them quiet (the test's stand-in for the VAD's listener call)."""


class QuietHearingSTT(WhisperSTTService):
    """The STT service told `caller_quiet` at each QuietMark, as the pipeline's VAD tells it."""

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if isinstance(frame, QuietMark):
            self.caller_quiet()
            return
        await super().process_frame(frame, direction)


def quiet_at(frames: list[Frame], seconds: float) -> list[Frame]:
    """`frames` (from caller_frames) with a QuietMark after `seconds` of the caller's audio."""
    at = 1 + 2 * int(seconds / 0.02)  # VAD start, then an audio frame and a sleep per 20 ms
    return [*frames[:at], QuietMark(), *frames[at:]]


async def test_the_pass_started_when_the_caller_went_quiet_is_the_final(
    models: Models, speech_dir: Path
) -> None:
    """Quiet 0.1 s after the last word: that pass's transcript is the final, with no decode after the
    VAD's stop (0.55 s into the silence: before the next interim pass is due, and late enough that a slow
    machine's interim pass can't hold the quiet one past it); quiet in mid-sentence: the final still
    covers the whole utterance."""
    pcm = ulaw_to_pcm16k(read_wav_as_ulaw(speech_dir / "long.wav"))
    spoken = len(pcm) / 2 / 16000
    for quiet_s, used in ((spoken + 0.1, "quiet"), (spoken / 2, None)):
        stt = QuietHearingSTT(models.stt, vocabulary="Harbor Dental.")
        frames = quiet_at(caller_frames(pcm, stop_secs=0.55), quiet_s)
        with capture_logs() as logs:
            down, _ = await run_test(stt, frames_to_send=frames)
        finals = [f for f in down if isinstance(f, TranscriptionFrame)]
        assert len(finals) == 1 and "cleaning" in finals[0].text.lower(), finals
        (settled,) = [e for e in logs if e["event"] == "stt_final"]
        assert settled["pass_used"] == used if used else settled["pass_used"] != "quiet", (quiet_s, settled)


class BusyLineSTT(QuietHearingSTT):
    """As QuietHearingSTT, but other calls queue three slow interim passes just as this caller goes quiet."""

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if isinstance(frame, QuietMark):
            for _ in range(3):
                self._engine.scheduler.submit(lambda: time.sleep(0.5), final=False)
        await super().process_frame(frame, direction)


async def test_the_quiet_pass_goes_ahead_of_other_calls_interim_passes(
    models: Models, speech_dir: Path
) -> None:
    """It is usually the final, so it queues with the finals: it waits at most for the pass running
    (0.5 s), not behind the three other calls' interim passes queued before it (1.5 s)."""
    pcm = ulaw_to_pcm16k(read_wav_as_ulaw(speech_dir / "long.wav"))
    stt = BusyLineSTT(Engine(models.whisper, DecodeScheduler("busy")), vocabulary="Harbor Dental.")
    frames = quiet_at(caller_frames(pcm, stop_secs=0.55), len(pcm) / 2 / 16000 + 0.1)
    with capture_logs() as logs:
        await run_test(stt, frames_to_send=frames)
    (settled,) = [e for e in logs if e["event"] == "stt_final"]
    assert settled["pass_used"] == "quiet" and "cleaning" in settled["text"].lower(), settled
    waits = [e["waited_ms"] for e in logs if e["event"] == "stt_behind"]
    assert all(w < 1200 for w in waits), waits
