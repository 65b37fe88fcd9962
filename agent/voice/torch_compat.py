"""Import torchaudio beside CPU torch: its PyPI wheels link CUDA, so fall back to its pure-PyTorch parts."""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable
from typing import Any


def _fail_with_message(message: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        def fail(*_args: Any, **_kwargs: Any) -> Any:
            raise RuntimeError(f"{func.__name__}: {message}")

        return fail

    return decorator


def _stand_in_extension() -> types.ModuleType:
    """A `torchaudio._extension` that reports no C++ extension, as torchaudio does when none is built."""
    ext = types.ModuleType("torchaudio._extension")
    ext._IS_TORCHAUDIO_EXT_AVAILABLE = False  # type: ignore[attr-defined]
    ext._IS_ALIGN_AVAILABLE = False  # type: ignore[attr-defined]
    ext._load_lib = lambda _lib: False  # type: ignore[attr-defined]
    ext._check_cuda_version = lambda: None  # type: ignore[attr-defined]
    ext.fail_if_no_align = _fail_with_message("torchaudio was loaded without its C++ extension")  # type: ignore[attr-defined]
    return ext


def import_torchaudio() -> types.ModuleType:
    """Import torchaudio natively when its library loads, else with its pure-Python fallback."""
    if "torchaudio" in sys.modules:
        return sys.modules["torchaudio"]
    try:
        return importlib.import_module("torchaudio")
    except OSError:
        for name in [n for n in sys.modules if n == "torchaudio" or n.startswith("torchaudio.")]:
            del sys.modules[name]
    sys.modules["torchaudio._extension"] = _stand_in_extension()
    return importlib.import_module("torchaudio")
