"""pipecat turn-stop strategy: smart-turn's verdict plus the transcript pick how long silence must last."""

from __future__ import annotations

import asyncio
import time

import structlog
from pipecat.audio.turn.base_turn_analyzer import EndOfTurnState
from pipecat.audio.turn.smart_turn.base_smart_turn import BaseSmartTurn
from pipecat.frames.frames import (
    Frame,
    InputAudioRawFrame,
    MetricsFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameProcessorSetup
from pipecat.turns.types import ProcessFrameResult
from pipecat.turns.user_stop.base_user_turn_stop_strategy import BaseUserTurnStopStrategy

from agent.speech.endpoint import Hangover, HangoverParams, hangover

log = structlog.get_logger(__name__)


class AdaptiveTurnStop(BaseUserTurnStopStrategy):  # type: ignore[no-untyped-call]
    """Ends the caller's turn once the silence since their last word reaches the hangover the words call for.

    At each VAD stop smart-turn judges the audio; when the final transcript of that stretch arrives
    (or `stt_timeout_s` passes without one) the hangover is chosen from both, and the turn ends at
    end-of-speech + hangover unless the caller speaks again first.
    """

    def __init__(
        self, analyzer: BaseSmartTurn, params: HangoverParams | None = None, stt_timeout_s: float = 0.8
    ) -> None:
        """Judge turns with `analyzer`; wait per `params`; give up on a transcript after `stt_timeout_s`."""
        super().__init__()
        self._analyzer = analyzer
        self._params = params or HangoverParams()
        self._stt_timeout_s = stt_timeout_s
        self._speaking = False
        self._text = ""
        self._segment_text = False  # the transcript of the latest stretch of speech has arrived
        self._complete: bool | None = None
        self._speech_end = 0.0
        self._timer: asyncio.Task[None] | None = None
        self.decisions: list[Hangover] = []

    async def setup(self, setup: FrameProcessorSetup) -> None:  # type: ignore[override]
        """Set the analyzer's sample rate from the pipeline."""
        await super().setup(setup)
        self._analyzer.set_sample_rate(setup.audio_in_sample_rate)

    async def cleanup(self) -> None:
        """Stop the timer and release the analyzer."""
        await self._cancel_timer()
        await self._analyzer.cleanup()  # type: ignore[no-untyped-call]
        await super().cleanup()  # type: ignore[no-untyped-call]

    async def handle_user_turn_started(self) -> None:
        """Forget the previous turn's words and verdict."""
        await self._reset()

    async def handle_user_turn_stopped(self) -> None:
        """Forget this turn and drop the analyzer's buffered audio."""
        await self._reset()
        self._analyzer.clear()  # type: ignore[no-untyped-call]

    async def _reset(self) -> None:
        self._text = ""
        self._segment_text = False
        self._complete = None
        await self._cancel_timer()

    async def _cancel_timer(self) -> None:
        if self._timer is not None:
            await self.task_manager.cancel_task(self._timer)
            self._timer = None

    async def process_frame(self, frame: Frame) -> ProcessFrameResult:
        """Feed the analyzer, note VAD edges and transcripts, and (re)arm the end-of-turn timer."""
        await super().process_frame(frame)
        if isinstance(frame, InputAudioRawFrame):
            self._analyzer.append_audio(frame.audio, self._speaking)
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            self._speaking = True
            self._analyzer.update_vad_start_secs(frame.start_secs)
            self._complete = None
            self._segment_text = False
            await self._cancel_timer()
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            self._speaking = False
            self._speech_end = frame.timestamp - frame.stop_secs
            state, metrics = await self._analyzer.analyze_end_of_turn()
            if metrics is not None:
                await self.push_frame(MetricsFrame(data=[metrics]))
            self._complete = state == EndOfTurnState.COMPLETE
            await self._arm(self._stt_timeout_s if not self._segment_text else None)
        elif isinstance(frame, TranscriptionFrame):
            self._text = f"{self._text} {frame.text}".strip()
            self._segment_text = True
            if not self._speaking:
                await self._arm(None)
        return ProcessFrameResult.CONTINUE

    async def _arm(self, wait_for_text_s: float | None) -> None:
        """Schedule the end of turn; while the transcript is still due, first wait up to `wait_for_text_s`."""
        if self._complete is None:
            return
        await self._cancel_timer()
        self._timer = self.task_manager.create_task(self._wait(wait_for_text_s), f"{self}::end_of_turn")

    async def _wait(self, wait_for_text_s: float | None) -> None:
        if wait_for_text_s is not None:
            await asyncio.sleep(max(0.0, self._speech_end + wait_for_text_s - time.time()))
        if not self._text:
            # No words came of it (a cough, line noise): end the turn empty, so the agent can go on.
            self._timer = None
            log.info("turn_end", reason="no_words")
            await self.trigger_user_turn_stopped()
            return
        decision = hangover(self._text, bool(self._complete), self._params)
        self.decisions.append(decision)
        await asyncio.sleep(max(0.0, self._speech_end + decision.seconds - time.time()))
        self._timer = None
        log.info("turn_end", reason=decision.reason, hangover_ms=round(decision.seconds * 1000))
        await self.trigger_user_turn_stopped()
