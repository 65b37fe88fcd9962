"""The load benchmark's readings: py-spy's raw stacks by thread and frame, and loop-lag quantiles."""

from __future__ import annotations

from pathlib import Path

from benchmarks.load_stages import lag_quantile_ms, summarize_profile

# Two stacks as py-spy 0.4 writes them with --format raw --threads (root first, sample count last).
RAW = (
    "thread (10821): MainThread;_run_module_as_main (<frozen runpy>:198);"
    "media_stream (/x/agent/server.py:270);is_echo (/x/agent/telephony/echo.py:165) 30\n"
    "thread (10900): ThreadPoolExecutor-40_0;_worker (/usr/lib/python3.11/concurrent/futures/thread.py:83);"
    "Session.run (/v/lib/python3.11/site-packages/onnxruntime/capi/"
    "onnxruntime_inference_collection.py:406) 10\n"
)


def test_a_profile_is_summed_by_thread_kind_and_innermost_frame(tmp_path: Path) -> None:
    """Samples add up per thread (numbered pool threads counted as one kind) and per innermost frame."""
    raw = tmp_path / "profile.txt"
    raw.write_text(RAW)
    total, threads, frames = summarize_profile(raw)
    assert total == 40
    assert threads == {"MainThread": 30, "ThreadPoolExecutor-N_N": 10}
    assert frames["is_echo (agent/telephony/echo.py)"] == 30
    assert frames["Session.run (onnxruntime/capi/onnxruntime_inference_collection.py)"] == 10


def test_the_lag_quantile_is_the_edge_of_the_bucket_it_falls_in() -> None:
    """With 98 of 100 ticks under 10 ms and 2 under 50 ms, p50 is ≤ 10 ms and p99 ≤ 50 ms."""
    ticks = [(0.005, 90.0), (0.01, 98.0), (0.02, 98.0), (0.05, 100.0), (float("inf"), 100.0)]
    assert lag_quantile_ms(ticks, 0.5) == 5.0
    assert lag_quantile_ms(ticks, 0.99) == 50.0
    assert lag_quantile_ms([], 0.99) is None
