"""Keep resident memory at what live calls use: fewer malloc arenas, freed pages returned after a call."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
from collections.abc import Callable
from typing import Any


@functools.cache
def _trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):
        return None  # not glibc (musl, macOS): nothing to trim


def release_freed_memory() -> bool:
    """Return free heap pages to the OS (blocking, a few ms: run it off the event loop); False if unsupported.

    A call's audio buffers, decoder inputs and frames are freed when it ends, but glibc keeps the pages in
    its arenas (one per thread that allocated them), so resident memory only ever rose with the busiest
    moment. Trimming after each call keeps it at what the live calls use.
    """
    trim = _trim()
    return bool(trim is not None and trim(0) >= 0)


M_ARENA_MAX = -8  # glibc's mallopt parameter number


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """Cap glibc's per-thread malloc arenas (as MALLOC_ARENA_MAX does) unless the environment already does.

    Each thread that allocates gets an arena of its own (up to 8 per core), and freed memory stays in
    the arena it came from: with model threads per call, resident memory crept up call after call.
    Measured with 36 calls two at a time (BENCHMARKS.md, soak): about 90 MB less at the end.
    """
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    name = ctypes.util.find_library("c")
    try:
        return bool(ctypes.CDLL(name or "libc.so.6").mallopt(M_ARENA_MAX, arenas))
    except (OSError, AttributeError):
        return False


class ArenaReturningSession:
    """An ONNX Runtime session whose every run hands the memory it grew its CPU arena by back afterwards.

    ONNX Runtime's CPU arena keeps every block a run asked for; one session shared by calls that synthesize
    at the same time grows it to the longest sentences that ever overlapped, and never gives it back
    (Piper, three at a time: 280 -> 837 MB resident over 12 rounds, 190 MB flat with shrinkage, ~7 % slower
    per sentence; BENCHMARKS.md, soak). Everything else passes through to the wrapped session.
    """

    def __init__(self, session: Any) -> None:
        """Wrap `session` (an onnxruntime.InferenceSession)."""
        import onnxruntime as ort

        self._session = session
        self._options = ort.RunOptions()
        self._options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")

    def run(self, output_names: Any, input_feed: Any, run_options: Any = None) -> Any:
        """Run the session with arena shrinkage (a caller's own run options are not supported)."""
        if run_options is not None:
            raise ValueError("ArenaReturningSession sets its own run options")
        return self._session.run(output_names, input_feed, self._options)

    def __getattr__(self, name: str) -> Any:
        """Everything but run is the wrapped session's."""
        return getattr(self._session, name)
