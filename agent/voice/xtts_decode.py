"""Decode an utterance's GPT latents chunk by chunk: re-decode only a short left context, crossfade joins."""

from __future__ import annotations

from typing import Any

import torch

HOP = 256  # HiFi-GAN output samples per decoder input frame


def decoder_input(model: Any, latents: torch.Tensor) -> torch.Tensor:
    """The HiFi-GAN input for `latents` ([T, C]), interpolated exactly as XTTS's HifiDecoder does."""
    dec = model.hifigan_decoder
    z = torch.nn.functional.interpolate(
        latents[None, :].transpose(1, 2),
        scale_factor=[dec.ar_mel_length_compression / dec.output_hop_length],
        mode="linear",
    ).squeeze(1)
    if dec.output_sample_rate != dec.input_sample_rate:
        z = torch.nn.functional.interpolate(
            z, scale_factor=[dec.output_sample_rate / dec.input_sample_rate], mode="linear"
        ).squeeze(0)
    return z


class ChunkDecoder:
    """Turns a growing list of GPT latents into audio chunks, as XTTS's `inference_stream` does.

    XTTS decodes the whole utterance again for every chunk, so a sentence costs several times its length.
    Here each chunk decodes only the new frames plus `context` frames before them (HiFi-GAN sees a few
    frames either side, so the overlap region matches a whole decode), then crossfades the first `overlap`
    samples with the tail held back from the previous chunk, exactly as XTTS does. `context=None` decodes
    the whole utterance each time, as XTTS does.
    """

    def __init__(
        self, model: Any, speaker: torch.Tensor, overlap: int = 1024, context: int | None = 32
    ) -> None:
        """Decode with `model`'s HiFi-GAN for the speaker embedding `speaker`."""
        self._model = model
        self._speaker = speaker
        self._overlap = overlap
        self._context = context
        self._decoded = 0  # samples in the utterance decoded so far (the last `overlap` are held back)
        self._held: torch.Tensor | None = None

    @property
    def started(self) -> bool:
        """Whether any chunk has been decoded."""
        return self._held is not None

    def chunk(self, latents: torch.Tensor, final: bool = False) -> torch.Tensor:
        """The next chunk of audio for all `latents` so far ([T, C]); `final` also releases the held tail."""
        z = decoder_input(self._model, latents)
        total = z.shape[-1] * HOP
        start = max(0, self._decoded - self._overlap)  # first sample this chunk covers
        first_frame = 0 if self._context is None else max(0, start // HOP - self._context)
        decoder = self._model.hifigan_decoder.waveform_decoder
        wav = decoder(z[..., first_frame:], g=self._speaker).squeeze()
        offset = first_frame * HOP  # wav[i] is sample offset + i of the utterance
        end = total if final else total - self._overlap
        out: torch.Tensor = wav[start - offset : end - offset].clone()
        if self._held is not None:
            n = min(self._overlap, len(out), len(self._held))
            fade = torch.linspace(0.0, 1.0, n, device=out.device)
            out[:n] = self._held[:n] * (1.0 - fade) + out[:n] * fade
        self._held = None if final else wav[end - offset :].clone()
        self._decoded = total
        return out

    def rest(self) -> torch.Tensor | None:
        """The held tail, when the utterance ended right after a chunk."""
        held, self._held = self._held, None
        return held
