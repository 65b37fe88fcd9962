"""Generated Media Streams messages across live sessions crash nothing, leave memory bounded, and a normal
call works afterwards (`make fuzz` sends 10,000; this sends 600)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.fuzz_stream import run

# A coarse guard against runaway memory: fuzzed sessions are busy calls (noise for Whisper, a reply for
# every keypress), and the first of them raise the allocator's high-water mark by 100-200 MB two at a
# time. The wire-driven allocations themselves (a timestamp jump, an oversized message) have exact unit
# tests; `make fuzz` reports memory over 10,000 messages.
MAX_MB_GROWTH = 500.0


def test_fuzzed_sessions_crash_nothing_and_a_normal_call_works_after(tmp_path: Path) -> None:
    """600 seeded messages (wrong types, missing fields, odd numbers, out-of-order and repeated events,
    unicode, deep nesting, binary frames) over live sessions: no handler exception in the server's log,
    the server stays up, memory stays within a coarse bound against runaway growth, threads stay
    within the pools' growth, the tasks come back, and the next normal call gets its answer."""
    result = run(messages=600, at_once=2, per_session=150, seed=7, work=tmp_path)
    assert result.sent >= 600, result.kinds
    assert result.crash_lines == [], "\n".join(result.crash_lines[:10])
    assert len(result.kinds) >= 8, result.kinds  # the mix really was mixed
    assert result.normal_call_reply_s > 0.5, "the normal call afterwards got no answer"
    samples = (result.before, result.halfway, result.after)
    assert result.after.rss_mb - result.before.rss_mb < MAX_MB_GROWTH, samples
    # The server starts its worker threads up front (agent.runner.start_worker_threads): a fuzzed run on a
    # loaded machine once grew asyncio's on-demand pool 17 -> 21 threads. Past the first round, more than
    # two more would be threads left behind.
    assert result.after.threads <= max(result.before.threads, result.halfway.threads) + 2, samples
    assert result.after.tasks <= result.before.tasks + 1, samples
