"""The compute gate: one model pass at a time, urgent ones first, background ones never waiting long."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from agent.compute_gate import URGENT, ComputeGate, GatedSession
from agent.speech.scheduler import DecodeScheduler


def _holding(gate: ComputeGate, urgent: bool = True) -> tuple[threading.Event, threading.Thread]:
    """A thread that holds the gate until the returned event is set."""
    release, held = threading.Event(), threading.Event()

    def hold() -> None:
        with gate.hold(urgent):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    assert held.wait(5)
    return release, thread


def _waiting_for(gate: ComputeGate, count: int) -> None:
    """Block until `count` threads wait at the gate (the waits are what the tests order)."""
    for _ in range(500):
        with gate._cond:  # the test reads the gate's own bookkeeping
            if len(gate._cond._waiters) >= count:  # type: ignore[attr-defined]
                return
        time.sleep(0.01)
    raise AssertionError(f"{count} waiters never arrived")


def test_an_urgent_pass_goes_before_a_background_pass_that_waited_longer() -> None:
    """With the lane busy, a background pass queued first still runs after an urgent one queued later."""
    gate = ComputeGate(max_wait_s=10)
    release, holder = _holding(gate)
    order: list[str] = []

    def run(name: str, urgent: bool) -> None:
        with gate.hold(urgent):
            order.append(name)

    background = threading.Thread(target=run, args=("background", False))
    background.start()
    _waiting_for(gate, 1)
    urgent = threading.Thread(target=run, args=("urgent", True))
    urgent.start()
    _waiting_for(gate, 2)
    release.set()
    for thread in (holder, background, urgent):
        thread.join(5)
    assert order == ["urgent", "background"]
    assert gate.overtaken == 0


def test_a_background_pass_stops_waiting_after_its_limit_and_runs_beside_the_holder() -> None:
    """A background pass behind a long holder runs after max_wait_s: no reply sentence waits longer."""
    gate = ComputeGate(max_wait_s=0.05)
    release, holder = _holding(gate)
    with gate.hold(urgent=False) as waited:
        assert gate.holders == 2
    release.set()
    holder.join(5)
    assert waited >= 0.05
    assert gate.overtaken == 1
    assert gate.holders == 0
    stats = gate.stats()
    assert stats.passes == {True: 1, False: 1} and stats.overtaken == 1
    assert stats.waited_s[False] >= 0.05 and stats.waited_s[True] < 0.05


def test_a_pass_that_raises_frees_the_lane() -> None:
    """An exception inside the gate releases it: the next urgent pass does not wait forever."""
    gate = ComputeGate()
    with pytest.raises(RuntimeError), gate.hold(urgent=True):
        raise RuntimeError("model crashed")
    assert gate.holders == 0
    with gate.hold(urgent=True) as waited:
        assert waited < 1


def test_a_final_queued_while_an_interim_waits_at_the_gate_runs_first() -> None:
    """The decode worker takes its job once the lane is free, so a final that arrives meanwhile goes first."""
    gate = ComputeGate(max_wait_s=10)
    scheduler = DecodeScheduler("gated", gate)
    release, holder = _holding(gate)
    order: list[str] = []
    interim = scheduler.submit(lambda: order.append("interim"), final=False)
    _waiting_for(gate, 1)
    final = scheduler.submit(lambda: order.append("final"), final=True)
    release.set()
    interim.result(timeout=5), final.result(timeout=5)
    holder.join(5)
    assert order == ["final", "interim"]


class _Session:
    """An ONNX session's run, noting how many passes held the gate while it ran."""

    def __init__(self, gate: ComputeGate) -> None:
        self.gate = gate
        self.seen: list[int] = []
        self.input_names = ["x"]

    def run(self, output_names: Any, input_feed: Any, run_options: Any = None) -> Any:
        self.seen.append(self.gate.holders)
        return [input_feed["x"]]


def test_a_gated_session_runs_inside_the_gate_as_urgent_as_its_context_says() -> None:
    """Each run holds the gate; URGENT set by the code that started the pass decides which queue it joins."""
    gate = ComputeGate(max_wait_s=10)
    session = GatedSession(_Session(gate), gate)
    assert session.run(None, {"x": 1}) == [1]
    assert session.input_names == ["x"]  # everything else passes through
    release, holder = _holding(gate)
    out: list[Any] = []

    def urgent_run() -> None:
        URGENT.set(True)
        out.append(session.run(None, {"x": 2}))

    thread = threading.Thread(target=urgent_run)
    thread.start()
    _waiting_for(gate, 1)
    with gate._cond:
        assert gate._urgent_waiting == 1
    release.set()
    thread.join(5), holder.join(5)
    assert out == [[2]]
    assert session.inner.seen == [1, 1]
