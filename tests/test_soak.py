"""Whole calls against `agent serve` in its own process leave nothing behind (`make soak` runs 200)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from agent.voice.piper import load_piper, write_wav
from benchmarks.server_process import agent_serve
from benchmarks.soak import METRICS_TOKEN, brief_prompts, soak

# What a call may leave behind, at most, averaged over the calls after warm-up. Each call used to keep
# about 35 MB (its own VAD and smart-turn ONNX sessions); now the first calls after warm-up, three at a
# time, add 4-7 MB each while the allocator settles, and less later (`make soak` runs 200).
MAX_MB_PER_CALL = 15.0


def goodbye(tmp_path: Path) -> list[Path]:
    """A caller who says goodbye: the agent closes and hangs up, so each call takes a few seconds."""
    return [write_wav(load_piper("embedded"), "Thanks, bye!", tmp_path / "bye.wav")]


def test_calls_leave_no_memory_threads_descriptors_or_tasks_behind(tmp_path: Path) -> None:
    """Over 9 calls after 6 to warm up (three at a time) resident memory grows less than MAX_MB_PER_CALL
    a call, and threads, open files and asyncio tasks come back to where they were after warm-up."""
    env = {"METRICS_TOKEN": METRICS_TOKEN, "MAX_CALLS": "4", "PROMPTS_DIR": str(brief_prompts(tmp_path))}
    wavs = goodbye(tmp_path)
    with agent_serve(tmp_path, env) as served:
        result = asyncio.run(
            soak(served, wavs, calls=15, at_once=3, warmup=6, every=3, sequential=False, warm_at_once=True)
        )
    first, last = result.samples[0], result.samples[-1]
    table = "\n".join(str(s) for s in result.samples)
    assert len(result.samples) == 4, table
    assert result.mb_per_call < MAX_MB_PER_CALL, table
    assert last.threads <= first.threads + 2 and last.fds <= first.fds + 4, table
    assert 0 <= last.tasks <= first.tasks + 2, table
