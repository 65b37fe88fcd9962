"""One lane for the model passes that fill every core (Whisper decodes, Piper sentences): a caller who is
waiting goes first.

Whisper and Piper each use both cores of a small machine, so two passes at once run no faster together than
one after the other (a final transcript and another call's sentence: 112 + 129 ms alone, ~240 ms each at
once; `benchmarks.model_contention`). Taking them in turn lets the first finish in its own time; taking the
urgent ones first (a final transcript, a reply's first sentence) puts the waiting on work a caller is not
waiting for (interim passes, the later sentences of a reply that is already playing). A background pass
waits at most `max_wait_s` and then runs anyway, so no sentence waits long enough to leave a gap.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

# Whether the pass running in this context is one a caller is waiting for (set by the code that starts it).
URGENT: ContextVar[bool] = ContextVar("compute_urgent", default=False)


@dataclass(frozen=True)
class GateStats:
    """Totals since the gate was made: passes and seconds waited by urgency, background passes run early."""

    passes: dict[bool, int]
    waited_s: dict[bool, float]
    overtaken: int


class ComputeGate:
    """A lock with two queues: urgent holders before background ones, background ones waiting at most
    `max_wait_s` before running beside whoever holds it."""

    def __init__(self, max_wait_s: float = 0.3) -> None:
        """Create an open gate."""
        self.max_wait_s = max_wait_s
        self._cond = threading.Condition()
        self._holders = 0
        self._urgent_waiting = 0
        self.overtaken = 0  # background passes that stopped waiting and ran beside another
        self.passes = {True: 0, False: 0}  # passes let through, by urgency
        self.waited_s = {True: 0.0, False: 0.0}  # seconds they spent waiting, by urgency

    @property
    def holders(self) -> int:
        """How many passes are running under the gate now."""
        with self._cond:
            return self._holders

    def stats(self) -> GateStats:
        """The gate's running totals, read together."""
        with self._cond:
            return GateStats(dict(self.passes), dict(self.waited_s), self.overtaken)

    @contextmanager
    def hold(self, urgent: bool) -> Iterator[float]:
        """Wait for the lane (blocking: call from a worker thread) and yield the seconds waited."""
        start = time.perf_counter()
        with self._cond:
            if urgent:
                self._urgent_waiting += 1
                try:
                    while self._holders:
                        self._cond.wait()
                finally:
                    self._urgent_waiting -= 1
            else:
                deadline = start + self.max_wait_s
                while self._holders or self._urgent_waiting:
                    left = deadline - time.perf_counter()
                    if left <= 0:
                        self.overtaken += 1
                        break
                    self._cond.wait(left)
            self._holders += 1
            waited = time.perf_counter() - start
            self.passes[urgent] += 1
            self.waited_s[urgent] += waited
        try:
            yield waited
        finally:
            with self._cond:
                self._holders -= 1
                self._cond.notify_all()


@functools.cache
def process_gate() -> ComputeGate:
    """The gate every call's Whisper and Piper passes in this process share."""
    return ComputeGate()


class GatedSession:
    """An ONNX Runtime session whose every run takes its turn at a gate, as urgent as `URGENT` says."""

    def __init__(self, session: Any, gate: ComputeGate) -> None:
        """Wrap `session` (an InferenceSession or a wrapper with its `run`)."""
        self.inner = session
        self.gate = gate

    def run(self, output_names: Any, input_feed: Any, run_options: Any = None) -> Any:
        """Wait for the gate, then run the session."""
        with self.gate.hold(URGENT.get()):
            return self.inner.run(output_names, input_feed, run_options)

    def __getattr__(self, name: str) -> Any:
        """Everything but run is the wrapped session's."""
        return getattr(self.inner, name)
