"""Capacity from a calibration: which level the bound picks, and how the saved figure is read back."""

from __future__ import annotations

from pathlib import Path

from agent.capacity import DEFAULT_MAX_CALLS, Capacity, LevelRun, admission_limit, choose, load_capacity


def level(calls: int, p95: float, unanswered: int = 0) -> LevelRun:
    """A level whose turns all took `p95` ms."""
    return LevelRun(calls, [p95] * 4, unanswered)


def test_the_largest_level_within_the_bound_counting_up_is_chosen() -> None:
    """p95 600 ms alone; 2 and 3 at once within 900 ms pass; 4 at 950 ms breaks 1.5x: capacity 3."""
    assert choose([level(1, 600), level(2, 700), level(3, 880), level(4, 950)]) == 3


def test_a_level_past_a_broken_one_does_not_count() -> None:
    """Once a level breaks the bound, a lucky larger level after it is not taken."""
    assert choose([level(1, 600), level(2, 1000), level(3, 700)]) == 1


def test_an_unanswered_turn_breaks_the_level() -> None:
    """A level with a turn left unanswered fails however fast its answered turns were."""
    assert choose([level(1, 600), level(2, 610, unanswered=1)]) == 1
    assert choose([level(1, 600, unanswered=1), level(2, 610)]) == 1  # no sound single-call base


def test_the_bound_is_a_parameter() -> None:
    """A stricter bound keeps fewer calls."""
    runs = [level(1, 600), level(2, 700), level(3, 880)]
    assert choose(runs, bound=1.2) == 2


def test_a_saved_calibration_is_read_back_and_used_unless_max_calls_is_set(tmp_path: Path) -> None:
    """save → load gives the same figure; MAX_CALLS > 0 wins; without either the default applies."""
    limit, source = admission_limit(0, tmp_path)
    assert limit == DEFAULT_MAX_CALLS and "run `agent calibrate`" in source
    capacity = Capacity(3, 1.5, "2026-12-03T17:40Z", "test box", [level(1, 600), level(3, 880)])
    capacity.save(tmp_path)
    loaded = load_capacity(tmp_path)
    assert loaded == capacity
    assert admission_limit(0, tmp_path) == (3, "calibration 2026-12-03T17:40Z")
    assert admission_limit(5, tmp_path) == (5, "MAX_CALLS")


def test_an_unreadable_calibration_is_ignored(tmp_path: Path) -> None:
    """A truncated or foreign capacity.json falls back to the default instead of stopping the server."""
    (tmp_path / "capacity.json").write_text('{"calls": 3, "lev')
    assert load_capacity(tmp_path) is None
    zero = '{"calls": 0, "bound": 1.5, "measured_at": "x", "machine": "y", "levels": []}'
    (tmp_path / "capacity.json").write_text(zero)
    assert load_capacity(tmp_path) is None
    assert admission_limit(0, tmp_path)[0] == DEFAULT_MAX_CALLS
