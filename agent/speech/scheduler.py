"""A fair decode queue: one worker thread per model serves every call, final passes before interim ones."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Generic, TypeVar

from agent.compute_gate import ComputeGate

T = TypeVar("T")


@dataclass(frozen=True)
class Done(Generic[T]):
    """A job's result with how long it waited in the queue and how long it ran, in seconds."""

    value: T
    waited_s: float
    ran_s: float


@dataclass
class _Job:
    fn: Callable[[], object]
    future: Future[Done[object]]
    queued_at: float


class DecodeScheduler:
    """Runs blocking model passes one at a time on its own thread; finals jump ahead of interim passes.

    Each call keeps at most one interim pass outstanding, so serving interim passes in arrival order is
    round-robin across calls: a busy caller cannot starve a quiet one.
    """

    def __init__(self, name: str, gate: ComputeGate | None = None) -> None:
        """Create an idle scheduler; its worker thread starts with the first job. With a `gate`, each pass
        also waits its turn among the other models' passes (finals as urgent)."""
        self.name = name
        self._gate = gate or ComputeGate()  # its own: nothing else waits at it
        self._finals: deque[_Job] = deque()
        self._interims: deque[_Job] = deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self.busy_s = 0.0

    @property
    def queued(self) -> int:
        """How many jobs are waiting (not counting the one running)."""
        with self._cond:
            return len(self._finals) + len(self._interims)

    def submit(self, fn: Callable[[], T], final: bool) -> Future[Done[T]]:
        """Queue `fn` and return a future of its result."""
        future: Future[Done[T]] = Future()
        job = _Job(fn=fn, future=future, queued_at=time.perf_counter())  # type: ignore[arg-type]
        with self._cond:
            (self._finals if final else self._interims).append(job)
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name=f"decode-{self.name}", daemon=True)
                self._thread.start()
            self._cond.notify()
        return future

    async def run(self, fn: Callable[[], T], final: bool) -> Done[T]:
        """Queue `fn` and wait for it without blocking the event loop."""
        return await asyncio.wrap_future(self.submit(fn, final))

    def _wait_for_work(self) -> bool:
        """Block until a job is queued; return whether a final is among them."""
        with self._cond:
            while not self._finals and not self._interims:
                self._cond.wait()
            return bool(self._finals)

    def _pop(self) -> _Job:
        with self._cond:
            return (self._finals or self._interims).popleft()

    def _work(self) -> None:
        while True:
            urgent = self._wait_for_work()
            # The job is taken once the lane is ours: a final queued while an interim waited goes first.
            with self._gate.hold(urgent):
                job = self._pop()
                if not job.future.set_running_or_notify_cancel():
                    continue
                started = time.perf_counter()
                try:
                    value = job.fn()
                except BaseException as exc:  # handed to the waiting call
                    job.future.set_exception(exc)
                    continue
                ended = time.perf_counter()
            self.busy_s += ended - started
            job.future.set_result(Done(value, waited_s=started - job.queued_at, ran_s=ended - started))
