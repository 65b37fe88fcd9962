"""Audio a browser recorded (WebM/Opus from MediaRecorder, or any container FFmpeg reads) as a WAV file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

READABLE = (".wav", ".flac", ".ogg", ".mp3")  # what the clip reader (libsndfile) opens itself


class TranscodeError(ValueError):
    """A file that holds no audio this server can decode."""


def to_wav(path: Path) -> Path:
    """A WAV next to `path` with its audio (mono, 16-bit, at its own rate); `path` if already readable.

    Decoded with PyAV (FFmpeg) in pieces, so a browser's WebM/Opus recording of the consent statement or a
    reference clip goes through the same checks as an uploaded WAV. Blocking.
    """
    if path.suffix.lower() in READABLE:
        return path
    import av

    out = path.with_suffix(".wav")
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise TranscodeError(f"{path.name}: no audio in it")
            stream = container.streams.audio[0]
            rate = stream.codec_context.sample_rate or 48000
            resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
            with sf.SoundFile(str(out), "w", samplerate=rate, channels=1, subtype="PCM_16") as wav:
                for frame in container.decode(stream):
                    for piece in resampler.resample(frame):
                        wav.write(piece.to_ndarray().reshape(-1).astype(np.int16))
                for piece in resampler.resample(None):
                    wav.write(piece.to_ndarray().reshape(-1).astype(np.int16))
    except av.FFmpegError as exc:
        out.unlink(missing_ok=True)
        raise TranscodeError(f"{path.name}: not audio this server can read ({exc})") from exc
    return out
