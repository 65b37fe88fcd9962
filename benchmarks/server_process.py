"""`agent serve` in a process of its own for benchmarks, with this checkout's prompts unless told."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agent import serve_process
from agent.serve_process import AUTH_TOKEN, Served, free_port

REPO = Path(__file__).resolve().parent.parent

__all__ = ["AUTH_TOKEN", "REPO", "Served", "agent_serve", "free_port"]


@contextmanager
def agent_serve(
    work: Path, env: dict[str, str] | None = None, ready_s: float = 120, cwd: Path | None = None
) -> Iterator[Served]:
    """`agent.serve_process.agent_serve` from `cwd` (else this checkout), PROMPTS_DIR this checkout's."""
    with serve_process.agent_serve(
        work, {"PROMPTS_DIR": str(REPO / "prompts"), **(env or {})}, ready_s, cwd or REPO
    ) as served:
        yield served
