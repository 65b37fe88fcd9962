"""Voice fixtures: a tiny random-weight XTTS checkpoint directory, built once per test run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.voice.tiny_xtts import build_tiny_xtts


@pytest.fixture(scope="session")
def tiny_xtts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A loadable XTTS-v2 checkpoint dir (config.json, vocab.json, model.pth) with tiny random weights."""
    return build_tiny_xtts(tmp_path_factory.mktemp("tiny-xtts"))
