"""torchaudio imports beside CPU torch and its pure-PyTorch parts give the expected results."""

import numpy as np
import torch

from agent.voice.torch_compat import import_torchaudio


def test_torchaudio_resample_works_beside_cpu_torch() -> None:
    """A 1 kHz tone resampled 24 kHz → 8 kHz keeps its length ratio and its frequency."""
    torchaudio = import_torchaudio()
    t = torch.arange(24000) / 24000
    tone = torch.sin(2 * torch.pi * 1000 * t)
    out = torchaudio.functional.resample(tone, 24000, 8000)
    assert out.shape == (8000,)
    spectrum = np.abs(np.fft.rfft(out.numpy()))
    assert int(np.argmax(spectrum)) == 1000  # 1 Hz bins over 1 s


def test_xtts_module_imports() -> None:
    """coqui-tts's XTTS model module imports once torchaudio is importable."""
    import_torchaudio()
    from TTS.tts.models.xtts import Xtts

    assert callable(Xtts.inference_stream)
