"""Keep resident memory at what live calls use: fewer malloc arenas, freed pages returned after a call."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
from collections.abc import Callable


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
