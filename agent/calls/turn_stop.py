"""pipecat turn-stop strategy: smart-turn's verdict plus the transcript pick how long silence must last."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

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
from agent.speech.stt import NoWordsFrame

log = structlog.get_logger(__name__)


class AdaptiveTurnStop(BaseUserTurnStopStrategy):  # type: ignore[no-untyped-call]
    """Ends the caller's turn once the silence since their last word reaches the hangover the words call for.

    At each VAD stop smart-turn judges the audio; once the speech-to-text has settled every stretch
    of speech so far, each with its final transcript or a NoWordsFrame (or `stt_timeout_s` passes
    first), the hangover is chosen from the verdict and the words, and the turn ends at end-of-speech
    + hangover unless the caller speaks again first. A cough thus ends the turn empty at once. A
    transcript arriving after such an empty end opens a turn that ends on the same rules, not on
    pipecat's 5 s watchdog.
    """

    def __init__(
        self,
        analyzer: BaseSmartTurn,
        params: HangoverParams | None = None,
        stt_timeout_s: float = 3.0,
        understood: Callable[[str], bool] | None = None,
    ) -> None:
        """Judge turns with `analyzer`; wait per `params`; give up on a transcript after `stt_timeout_s`;
        ask `understood` (blocking, run in a worker thread) whether words smart-turn doubts are a whole
        request."""
        super().__init__()
        self._analyzer = analyzer
        self._understood = understood
        self._params = params or HangoverParams()
        self._stt_timeout_s = stt_timeout_s
        self._speaking = False
        self._text = ""
        self._unsettled = 0  # stretches of speech stopped whose final transcript is still being decoded
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
            await self._cancel_timer()
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            self._speaking = False
            self._unsettled += 1
            self._speech_end = frame.timestamp - frame.stop_secs
            state, metrics = await self._analyzer.analyze_end_of_turn()
            if metrics is not None:
                await self.push_frame(MetricsFrame(data=[metrics]))
            self._complete = state == EndOfTurnState.COMPLETE
            await self._arm()
        elif isinstance(frame, (TranscriptionFrame, NoWordsFrame)):
            self._unsettled = max(0, self._unsettled - 1)
            if isinstance(frame, TranscriptionFrame):
                self._text = f"{self._text} {frame.text}".strip()
                if not self._speaking and self._complete is None:
                    # A late transcript opened this turn after its speech had ended: judge it by the words.
                    self._complete = True
                    self._speech_end = time.time()
            if not self._speaking:
                await self._arm()
        return ProcessFrameResult.CONTINUE

    async def _arm(self) -> None:
        """Schedule the end of turn; while a transcript is still due, first wait for it (up to a timeout)."""
        if self._complete is None:
            return
        await self._cancel_timer()
        wait_for_text_s = self._stt_timeout_s if self._unsettled else None
        self._timer = self.task_manager.create_task(self._wait(wait_for_text_s), f"{self}::end_of_turn")

    async def _wait(self, wait_for_text_s: float | None) -> None:
        if wait_for_text_s is not None:
            await asyncio.sleep(max(0.0, self._speech_end + wait_for_text_s - time.time()))
            self._unsettled = 0  # given up on it: a late transcript opens a turn of its own
        if not self._text:
            # No words came of it (a cough, line noise): end the turn empty, so the agent can go on.
            self._timer = None
            log.info("turn_end", reason="no_words")
            await self.trigger_user_turn_stopped()
            return
        decision = hangover(self._text, bool(self._complete), self._params)
        # Only a turn that would wait out the incomplete hangover asks whether its words are a whole request.
        ask = self._understood if decision.reason == "smart_turn_incomplete" else None
        if ask is not None and await asyncio.to_thread(ask, self._text):
            decision = hangover(self._text, False, self._params, understood=True)
        self.decisions.append(decision)
        await asyncio.sleep(max(0.0, self._speech_end + decision.seconds - time.time()))
        self._timer = None
        log.info("turn_end", reason=decision.reason, hangover_ms=round(decision.seconds * 1000))
        await self.trigger_user_turn_stopped()
