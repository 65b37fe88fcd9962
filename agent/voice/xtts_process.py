"""An XTTS replica in a process of its own, streaming chunks back over a pipe: its Python work takes no
turn on the server's interpreter lock, so replicas (and the calls' event loop) run side by side.

XTTS's generation loop is mostly Python (one GPT step per ~46 ms of audio); in threads, replicas and the
event loop all queue for one interpreter lock, which is what held a GPU to two real-time streams. The
pool (`agent.voice.pool.XttsPool`) drives these workers exactly as it drives in-process models: one pool
thread per worker, waiting on the pipe with the lock released.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from agent.voice.xtts import FloatArray, Latents, XttsLoadError

log = structlog.get_logger(__name__)

LOAD_TIMEOUT_S = 600.0  # a full-size checkpoint on a slow disk; the tiny test model loads in seconds


class XttsWorkerError(RuntimeError):
    """The worker process failed an utterance or died."""


def _serve(
    conn: multiprocessing.connection.Connection, model_dir: str, device: str, threads: int, max_tokens: int
) -> None:
    """The child: load the model, then speak each request, checking for "stop" between chunks."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the server, which ends its workers
    import torch

    from agent.voice.xtts import load_xtts, stream

    try:  # the server's JSON logs; a bare GPU box running benchmarks/xtts_gpu.py may lack their packages
        from agent.logs import configure_logging

        configure_logging(os.environ.get("LOG_LEVEL", "info"))
    except ImportError:
        pass
    if threads:
        torch.set_num_threads(threads)
    try:
        model = load_xtts(Path(model_dir), device=device)
    except Exception as exc:
        conn.send(("error", str(exc)))
        return
    if max_tokens:
        model.gpt.max_gen_mel_tokens = max_tokens
    conn.send(("ready", str(model.device)))
    while True:
        try:
            request = conn.recv()
        except EOFError:  # the server is gone
            return
        if request[0] == "quit":
            return
        if request[0] != "speak":  # a "stop" that arrived after its utterance had ended
            continue
        _, text, language, cond, speaker = request
        latents = Latents(torch.from_numpy(cond), torch.from_numpy(speaker))
        told = ""
        try:
            for chunk in stream(model, text, language, latents):
                conn.send(("chunk", np.ascontiguousarray(chunk, dtype=np.float32).tobytes()))
                if conn.poll() and (told := conn.recv()[0]) in ("stop", "quit"):
                    break
        except Exception as exc:
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
            continue
        conn.send(("end", None))
        if told == "quit":
            return


class XttsWorker:
    """One XTTS replica in a child process: `stream` speaks one utterance at a time, as `xtts.stream` does.

    If the child dies, the utterance in progress fails with `XttsWorkerError` and the next one starts a
    new child.
    """

    def __init__(
        self,
        model_dir: Path,
        device: str = "auto",
        threads: int = 0,
        name: str = "xtts-worker",
        max_tokens: int = 0,
    ) -> None:
        """Start the child and wait until it has loaded `model_dir` (XttsLoadError if it cannot); torch in
        it uses `threads` CPU threads (0: torch's default), and `max_tokens` > 0 caps an utterance's GPT
        tokens below the checkpoint's own cap."""
        self.model_dir, self.device, self.threads, self.name = Path(model_dir), device, threads, name
        self.max_tokens = max_tokens
        self._conn: multiprocessing.connection.Connection | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        self.device_in_use = ""
        self._broken = False
        self._start()

    @property
    def pid(self) -> int | None:
        """The child's process id (None before it starts)."""
        return self._process.pid if self._process is not None else None

    def _start(self) -> None:
        context = multiprocessing.get_context("spawn")  # fork would copy the server's threads and locks
        parent, child = context.Pipe()
        process = context.Process(
            target=_serve,
            args=(child, str(self.model_dir), self.device, self.threads, self.max_tokens),
            name=self.name,
            daemon=True,
        )
        t0 = time.perf_counter()
        process.start()
        child.close()
        self._conn, self._process, self._broken = parent, process, False
        if not parent.poll(LOAD_TIMEOUT_S):
            self.close()
            raise XttsLoadError(f"the XTTS worker did not load {self.model_dir} in {LOAD_TIMEOUT_S:.0f} s")
        try:
            kind, detail = parent.recv()
        except EOFError:
            kind, detail = "error", f"the worker process exited with code {process.exitcode}"
        if kind != "ready":
            self.close()
            raise XttsLoadError(detail)
        self.device_in_use = detail
        log.info(
            "xtts_worker_started",
            worker=self.name,
            pid=process.pid,
            device=detail,
            start_s=round(time.perf_counter() - t0, 2),
        )

    def stream(self, text: str, language: str, latents: Latents) -> Iterator[FloatArray]:
        """Yield 24 kHz float32 chunks of `text` as the child makes them (blocking); closing stops it."""
        if self._broken or self._process is None or not self._process.is_alive():
            log.warning("xtts_worker_restarting", worker=self.name)
            self.close()
            self._start()
        conn = self._conn
        assert conn is not None
        cond = latents.gpt_cond_latent.detach().cpu().numpy()
        speaker = latents.speaker_embedding.detach().cpu().numpy()
        finished = False
        try:
            conn.send(("speak", text, language, cond, speaker))
            while True:
                kind, payload = conn.recv()
                if kind == "chunk":
                    yield np.frombuffer(payload, dtype=np.float32)
                    continue
                finished = True
                if kind == "error":
                    raise XttsWorkerError(payload)
                return
        except (EOFError, OSError) as exc:
            finished = self._broken = True  # the pipe can close before the process shows as exited
            raise XttsWorkerError(f"the XTTS worker process died ({exc or 'pipe closed'})") from exc
        finally:
            if not finished:
                self._stop_early(conn)

    def _stop_early(self, conn: multiprocessing.connection.Connection) -> None:
        """Tell the child to stop and read up to its last message, leaving the pipe clean for the next one."""
        try:
            conn.send(("stop", None))
            while conn.recv()[0] == "chunk":
                pass
        except (EOFError, OSError):
            pass  # it died meanwhile: the next request restarts it

    def close(self) -> None:
        """Ask the child to quit, and end it if it does not within a few seconds."""
        conn, process = self._conn, self._process
        self._conn = self._process = None
        if conn is not None:
            with contextlib.suppress(OSError, ValueError):
                conn.send(("quit", None))
        if process is not None:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join(timeout=5)
        if conn is not None:
            conn.close()


def worker_stream(worker: Any, text: str, language: str, latents: Latents) -> Iterator[FloatArray]:
    """The pool's synth function for `XttsWorker` replicas."""
    return worker.stream(text, language, latents)  # type: ignore[no-any-return]


def threads_per_worker(workers: int) -> int:
    """CPU threads each worker's torch may use: the machine's cores shared out, at least one."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))
