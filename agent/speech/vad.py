"""The caller's VAD: Silero with pipecat's loudness floor, minus the ramp that swallowed short answers."""

from __future__ import annotations

from collections.abc import Callable

import structlog
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADAnalyzer, VADParams, VADState

from agent.speech.onnx_sessions import CallSilero

log = structlog.get_logger(__name__)


class CallerVAD(SileroVADAnalyzer):
    """Silero VAD whose loudness check reads the last 0.4 s as it is, not smoothed up from silence.

    pipecat smooths the loudness exponentially on top of its 0.4 s window, so after silence it
    climbs for about 200 ms before reaching `min_volume`: a one-word "Yes." or "No." was over
    before the VAD could count enough loud, confident windows, and the caller's answer was lost.
    The window alone steadies the reading; the floor (-50 LUFS at the default 0.6) stays. The Silero
    session is the process's own (`onnx_sessions`); each call keeps only its recurrent state.

    A frame too short to complete a window is buffered on the loop (pipecat hands every frame to the
    analyzer's thread, half of them for nothing), and `quiet_listeners` hear when the caller has been
    quiet for `QUIET_WINDOWS` windows in a row while speaking: before the stop, so the speech-to-text
    can start its final decode early.
    """

    QUIET_WINDOWS = 3  # 512-sample windows: about 96 ms of quiet at 16 kHz

    def __init__(self, *, sample_rate: int | None = None, params: VADParams | None = None) -> None:
        """Like SileroVADAnalyzer, on the shared session instead of loading one for this call."""
        VADAnalyzer.__init__(self, sample_rate=sample_rate, params=params)
        self._model = CallSilero()
        self._windows_since_reset = 0
        self._low_confidence_windows = 0
        self.quiet_listeners: list[Callable[[], None]] = []

    async def analyze_audio(self, buffer: bytes) -> VADState:
        """Return the VAD state after `buffer`; judge windows in the analyzer's thread only when one is
        complete; tell the quiet listeners when the caller has just gone quiet mid-speech."""
        if len(self._vad_buffer) + len(buffer) < self._vad_frames_num_bytes:
            self._vad_buffer += buffer
            return self._vad_state
        quiet_before = self._vad_stopping_count if self._vad_state == VADState.STOPPING else 0
        state = await super().analyze_audio(buffer)
        quiet = self._vad_stopping_count if state == VADState.STOPPING else 0
        if quiet_before < self.QUIET_WINDOWS <= quiet:
            for listener in self.quiet_listeners:
                try:
                    listener()
                except Exception:  # a listener's failure must not stop the VAD hearing the caller
                    log.exception("vad_quiet_listener_failed")
        return state

    def _get_smoothed_volume(self, audio: bytes) -> float:
        """Return the loudness of the rolling window that now ends with `audio` (0 quiet … 1 loud)."""
        self._volume_tracker.update(audio, self.sample_rate)
        return float(self._volume_tracker.volume)
