"""`agent calibrate` end to end: whole calls against its own server process, the figure saved and used."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from agent.capacity import load_capacity
from agent.config import Settings
from agent.server import STATE, create_app
from benchmarks.soak import brief_prompts
from tests.conftest import REPO


def test_calibrate_measures_levels_saves_the_capacity_and_the_server_takes_it(tmp_path: Path) -> None:
    """Two levels (one call, then two at once), two turns a call: every turn answered, the levels and the
    chosen figure saved to DATA_DIR/capacity.json, and a server without MAX_CALLS takes it as its limit."""
    data, prompts_dir = tmp_path / "data", brief_prompts(tmp_path)  # a greeting of a few words
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLM_", "TWILIO_", "MAX_CALLS"))}
    env.update(DATA_DIR=str(data), PROMPTS_DIR=str(prompts_dir))
    done = subprocess.run(
        [sys.executable, "-m", "agent", "calibrate", "--up-to", "2", "--calls", "1"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 at once:" in done.stdout and "2 at once:" in done.stdout
    saved = json.loads((data / "capacity.json").read_text())
    assert [level["calls"] for level in saved["levels"]] == [1, 2]
    assert [len(level["latencies_ms"]) for level in saved["levels"]] == [2, 4]
    assert not any(level["unanswered"] for level in saved["levels"])
    assert all(100 < ms < 5000 for level in saved["levels"] for ms in level["latencies_ms"])
    capacity = load_capacity(data)
    assert capacity is not None and capacity.calls in (1, 2)
    assert f"capacity: {capacity.calls} calls at once" in done.stdout
    app = create_app(Settings(data_dir=data, prompts_dir=prompts_dir))
    assert app[STATE].settings.max_calls == capacity.calls
    assert app[STATE].max_calls_from.startswith("calibration ")
    assert not list(data.glob("*.db"))  # the calibration's own calls went to a scratch log


def test_calibrate_refuses_nonsense_arguments() -> None:
    """--calls 0 is refused with a message and exit code 2, before anything starts."""
    done = subprocess.run(
        [sys.executable, "-m", "agent", "calibrate", "--calls", "0"], capture_output=True, text=True, cwd=REPO
    )
    assert done.returncode == 2 and "at least 1" in done.stderr
