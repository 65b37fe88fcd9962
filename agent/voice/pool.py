"""XTTS replicas shared by every call: each streams one utterance at a time; waiting calls take turns."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import structlog

from agent.voice.xtts import SAMPLE_RATE, Latents, own_stream, stream
from agent.voice.xtts_process import XttsWorker, worker_stream

log = structlog.get_logger(__name__)

FloatArray = npt.NDArray[np.float32]
Synth = Callable[[Any, str, str, Latents], Iterator[FloatArray]]
MAX_REMEMBERED_CALLS = 1024  # calls whose last turn the queue remembers

_END = object()


@dataclass(frozen=True)
class _Failed:
    error: BaseException


@dataclass
class _Job:
    call_id: str
    text: str
    language: str
    latents: Latents
    deliver: Callable[[object], None]
    queued_at: float = field(default_factory=time.perf_counter)
    queued_behind: int = 0  # requests running or waiting ahead of this one when it arrived
    stop: threading.Event = field(default_factory=threading.Event)


class XttsPool:
    """N loaded XTTS replicas, one worker thread each, behind one queue shared by all calls.

    A replica streams one utterance at a time. A free replica takes the oldest request of the call
    served least recently (a call not served yet first), so a call with several clauses queued cannot
    hold back another call's first clause.
    """

    def __init__(
        self,
        models: Sequence[Any],
        synth: Synth = stream,
        context: Callable[[Any], contextlib.AbstractContextManager[Any]] = own_stream,
    ) -> None:
        """Serve with `models` (loaded XTTS replicas, in this process or worker processes); `synth` streams
        one utterance on one replica, inside `context(replica)` held by that replica's thread."""
        if not models:
            raise ValueError("the pool needs at least one replica")
        self.models = list(models)
        self._synth = synth
        self._context = context
        self._waiting: dict[str, deque[_Job]] = {}
        self._last_served: OrderedDict[str, int] = OrderedDict()  # call → turn it was last served
        self._turn = 0
        self._busy = 0
        self._cond = threading.Condition()
        self._closed = False
        self._threads: list[threading.Thread] = []
        self.served = 0
        self.waited_s = 0.0

    @classmethod
    def of_workers(cls, workers: Sequence[XttsWorker]) -> XttsPool:
        """A pool whose replicas are worker processes (each thread waits on its worker's pipe)."""
        return cls(workers, synth=worker_stream, context=lambda _worker: contextlib.nullcontext())

    @property
    def replicas(self) -> int:
        """How many utterances can stream at once."""
        return len(self.models)

    @property
    def queued(self) -> int:
        """How many requests are waiting for a free replica."""
        with self._cond:
            return sum(len(q) for q in self._waiting.values())

    async def stream(
        self, call_id: str, text: str, language: str, latents: Latents
    ) -> AsyncIterator[FloatArray]:
        """Yield 24 kHz float32 chunks of `text` as a replica produces them; stopping early frees it."""
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue[object] = asyncio.Queue()

        def deliver(item: object) -> None:
            try:
                loop.call_soon_threadsafe(chunks.put_nowait, item)
            except RuntimeError:  # the call's event loop is gone
                job.stop.set()

        job = _Job(call_id, text, language, latents, deliver)
        self._submit(job)
        try:
            while True:
                item = await chunks.get()
                if item is _END:
                    return
                if isinstance(item, _Failed):
                    raise item.error
                yield item  # type: ignore[misc]
        finally:
            job.stop.set()

    def close(self, end_workers: bool = True) -> None:
        """Stop the worker threads once their current utterance ends, and end replicas that are processes
        (unless `end_workers` is false: another pool will use them)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for model in self.models:
            if end_workers and isinstance(model, XttsWorker):
                model.close()

    def _submit(self, job: _Job) -> None:
        with self._cond:
            if self._closed:
                raise RuntimeError("the XTTS pool is closed")
            ahead = self._busy + sum(len(q) for q in self._waiting.values())
            job.queued_behind = max(0, ahead - len(self.models) + 1)
            self._waiting.setdefault(job.call_id, deque()).append(job)
            if not self._threads:
                for i, model in enumerate(self.models):
                    thread = threading.Thread(target=self._work, args=(model,), name=f"xtts-{i}", daemon=True)
                    self._threads.append(thread)
                    thread.start()
            self._cond.notify()

    def _next(self) -> _Job | None:
        """The oldest request of the call served least recently (None once the pool is closed)."""
        with self._cond:
            while not self._closed:
                while self._waiting:
                    call_id = min(
                        self._waiting,
                        key=lambda c: (self._last_served.get(c, -1), self._waiting[c][0].queued_at),
                    )
                    jobs = self._waiting[call_id]
                    job = jobs.popleft()
                    if not jobs:
                        del self._waiting[call_id]
                    if job.stop.is_set():
                        continue
                    self._turn += 1
                    self._busy += 1
                    self._last_served[call_id] = self._turn
                    self._last_served.move_to_end(call_id)
                    while len(self._last_served) > MAX_REMEMBERED_CALLS:
                        self._last_served.popitem(last=False)
                    return job
                self._cond.wait()
            return None

    def _work(self, model: Any) -> None:
        with self._context(model):
            self._serve(model)

    def _serve(self, model: Any) -> None:
        while (job := self._next()) is not None:
            started = time.perf_counter()
            waited = started - job.queued_at
            if job.queued_behind:
                log.info(
                    "xtts_waited", call=job.call_id, waited_ms=round(waited * 1000), behind=job.queued_behind
                )
            try:
                self._run(model, job, started, waited)
            except Exception as exc:  # handed to the waiting call, which falls back
                log.warning("xtts_stream_failed", call=job.call_id, error=str(exc))
                job.deliver(_Failed(exc))
            finally:
                with self._cond:
                    self._busy -= 1
                    self.served += 1
                    self.waited_s += waited
                job.deliver(_END)

    def _run(self, model: Any, job: _Job, started: float, waited: float) -> None:
        """Stream one utterance to its call, stopping early if the call stops listening."""
        first: float | None = None
        samples = 0
        chunks = self._synth(model, job.text, job.language, job.latents)
        try:
            for chunk in chunks:
                if job.stop.is_set():
                    break
                first = first or time.perf_counter()
                samples += len(chunk)
                job.deliver(chunk)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        ran = time.perf_counter() - started
        log.info(
            "xtts_stream",
            call=job.call_id,
            waited_ms=round(waited * 1000),
            first_chunk_ms=None if first is None else round((first - started) * 1000),
            audio_s=round(samples / SAMPLE_RATE, 2),
            rtf=round(ran / (samples / SAMPLE_RATE), 3) if samples else None,
            stopped=job.stop.is_set(),
        )
