"""The ONNX sessions every call shares: Silero VAD and smart-turn, loaded once per process.

A call used to build its own session of each: two ONNX Runtime sessions (each with its own memory arena)
per call, loaded while the call was set up. A session's `run` is thread-safe; what a call must not share
(Silero's recurrent state, smart-turn's audio buffer) stays in the call's own objects.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import onnxruntime as ort
from pipecat.audio.turn.smart_turn.base_smart_turn import BaseSmartTurn
from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3
from pipecat.audio.vad.silero import SileroOnnxModel


@functools.cache
def silero_session() -> ort.InferenceSession:
    """The process's Silero VAD session (the model pipecat ships), one thread per run."""
    path = resources.files("pipecat.audio.vad.data").joinpath("silero_vad.onnx")
    opts = ort.SessionOptions()
    opts.inter_op_num_threads = opts.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"], sess_options=opts)


@functools.cache
def smart_turn_session() -> ort.InferenceSession:
    """The process's smart-turn v3 session (the model pipecat ships), with pipecat's options."""
    path = resources.files("pipecat.audio.turn.smart_turn.data").joinpath("smart-turn-v3.2-cpu.onnx")
    opts = ort.SessionOptions()
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.inter_op_num_threads = opts.intra_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"], sess_options=opts)


class CallSilero(SileroOnnxModel):
    """One call's Silero state (recurrent state, context, sample rate) over the process's session."""

    def __init__(self) -> None:  # not super().__init__(): that loads a session of its own
        """Start from a reset state on the shared session."""
        self.session = silero_session()
        self.reset_states()  # type: ignore[no-untyped-call]
        self.sample_rates = [8000, 16000]


class SharedSmartTurn(LocalSmartTurnAnalyzerV3):
    """pipecat's smart-turn v3 analyzer (one per call: it buffers the call's audio) on the shared session."""

    def __init__(self, **kwargs: Any) -> None:  # not super().__init__(): that loads a session of its own
        """Take BaseSmartTurn's arguments (params, sample rate)."""
        BaseSmartTurn.__init__(self, **kwargs)
        self._log_data = False
        self._session = smart_turn_session()
