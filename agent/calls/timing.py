"""Per-turn latency of a call, split by stage, observed from the frames its pipeline pushes."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import structlog
from pipecat.frames.frames import (
    LLMTextFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSSpeakFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.observers.base_observer import BaseObserver, FramePushed

log = structlog.get_logger(__name__)


@dataclass
class TurnTiming:
    """Seconds from the caller's end of speech to each stage of the agent's reply."""

    turn: int
    speech_end: float
    vad_stop: float | None = None
    turn_end: float | None = None
    transcript: float | None = None
    llm_first_token: float | None = None
    tts_first_audio: float | None = None
    first_audio_sent: float | None = None
    reply_by: str = ""  # "model" (its first token) or "router" (a reply from the profile, no model)

    def split(self) -> dict[str, float | None]:
        """Return each stage's own duration in milliseconds (None where a stage did not happen)."""

        def ms(a: float | None, b: float | None) -> float | None:
            return None if a is None or b is None else round((b - a) * 1000, 1)

        known = [t for t in (self.turn_end, self.transcript) if t is not None]
        stt_ready = max(known) if known else None
        return {
            "end_of_turn_ms": ms(self.speech_end, self.turn_end),
            "stt_ms": ms(self.speech_end, self.transcript),
            "llm_first_token_ms": ms(stt_ready, self.llm_first_token),
            "tts_first_audio_ms": ms(self.llm_first_token, self.tts_first_audio),
            "transport_ms": ms(self.tts_first_audio, self.first_audio_sent),
            "server_total_ms": ms(self.speech_end, self.first_audio_sent),
        }


class TurnTimingObserver(BaseObserver):
    """Records when each stage of each reply happened, and logs the split when audio goes out."""

    def __init__(self, vad_stop_secs: float) -> None:
        """Estimate the caller's end of speech as the VAD stop time minus `vad_stop_secs`."""
        super().__init__(observe_every_push=False)
        self.vad_stop_secs = vad_stop_secs
        self.turns: list[TurnTiming] = []
        self.barge_in_reactions: list[float] = []
        self._open: TurnTiming | None = None
        self._speech_started_at: float | None = None

    async def on_push_frame(self, data: FramePushed) -> None:
        """Note the first frame of each stage after the caller stops speaking."""
        frame = data.frame
        now = time.monotonic()
        if isinstance(frame, VADUserStartedSpeakingFrame):
            self._speech_started_at = now - frame.start_secs
            return
        if isinstance(frame, VADUserStoppedSpeakingFrame):
            self._open = TurnTiming(turn=len(self.turns), speech_end=now - self.vad_stop_secs, vad_stop=now)
            return
        turn = self._open
        if turn is None:
            return
        if isinstance(frame, UserStoppedSpeakingFrame) and turn.turn_end is None:
            turn.turn_end = now
        elif isinstance(frame, TranscriptionFrame) and turn.transcript is None:
            turn.transcript = now
        elif isinstance(frame, (LLMTextFrame, TTSSpeakFrame)) and turn.llm_first_token is None:
            turn.llm_first_token = now  # a model's first token, or a reply routed before the model
            turn.reply_by = "model" if isinstance(frame, LLMTextFrame) else "router"
        elif isinstance(frame, TTSAudioRawFrame) and turn.tts_first_audio is None:
            turn.tts_first_audio = now

    def audio_sent(self) -> None:
        """Mark the moment the first reply audio of the open turn went out to Twilio."""
        turn = self._open
        if turn is None or turn.first_audio_sent is not None or turn.llm_first_token is None:
            return
        turn.first_audio_sent = time.monotonic()
        self.turns.append(turn)
        log.info("turn_latency", turn=turn.turn, reply_by=turn.reply_by, **turn.split())
        self._open = None

    def cleared(self) -> None:
        """A barge-in cleared Twilio's buffer: note how long after the caller's speech began."""
        if self._speech_started_at is not None:
            self.barge_in_reactions.append(time.monotonic() - self._speech_started_at)
            log.info("barge_in", reaction_ms=round(self.barge_in_reactions[-1] * 1000, 1))

    def as_dicts(self) -> list[dict[str, Any]]:
        """Return every turn's raw times and split, for the call record."""
        return [{**asdict(t), **t.split()} for t in self.turns]
