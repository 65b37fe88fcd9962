"""Voice fixtures: a tiny random-weight XTTS checkpoint directory, built once per test run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.voice.tiny_xtts import build_tiny_xtts


@pytest.fixture(scope="session")
def tiny_xtts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A loadable XTTS-v2 checkpoint dir (config.json, vocab.json, model.pth) with tiny random weights."""
    return build_tiny_xtts(tmp_path_factory.mktemp("tiny-xtts"))


@pytest.fixture(scope="session")
def tiny_xtts(tiny_xtts_dir: Path) -> Any:
    """The tiny XTTS model loaded through `load_xtts`, shared by the tests that only read it."""
    from agent.voice.xtts import load_xtts

    return load_xtts(tiny_xtts_dir, device="cpu")


def reference_clip(rate: int = 16000, seconds: float = 4.0, pitch: float = 180.0) -> np.ndarray:
    """A voiced-sounding reference clip: a harmonic tone with a little noise (float32 mono)."""
    t = np.arange(int(rate * seconds)) / rate
    tone = sum(np.sin(2 * np.pi * pitch * k * t) / k for k in range(1, 6))
    noise = np.random.default_rng(0).standard_normal(len(t))
    return (0.1 * tone + 0.005 * noise).astype(np.float32)


@pytest.fixture(scope="session")
def tiny_latents(tiny_xtts: Any) -> Any:
    """Latents of one reference clip, computed once."""
    from agent.voice.xtts import compute_latents

    return compute_latents(tiny_xtts, [(reference_clip(), 16000)])
