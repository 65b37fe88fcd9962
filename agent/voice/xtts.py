"""The cloned voice: load an XTTS-v2 checkpoint, compute a voice's latents once, stream speech (blocking)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import structlog

from agent.voice.torch_compat import import_torchaudio

if TYPE_CHECKING:
    import torch
    from TTS.tts.models.xtts import Xtts

# torch is imported where it is used: a server whose voices are all Piper never loads it (~1.2 s, and its
# memory) at start, and runs where only the stock voice's packages are installed.

log = structlog.get_logger(__name__)

SAMPLE_RATE = 24000
REQUIRED_FILES = ("config.json", "model.pth", "vocab.json")
FIRST_CHUNK_TOKENS = 4  # GPT tokens (~46 ms of audio each) before the first chunk: audio starts early
CHUNK_TOKENS = 24  # chunks then double up to this: the decoder reruns over the whole utterance for each
OVERLAP_SAMPLES = 1024  # XTTS crossfades consecutive chunks over this many samples
DECODE_CONTEXT_FRAMES = 32  # HiFi-GAN input frames (256 samples each) re-decoded before a chunk's new audio
COND_RATE = 22050  # the rate XTTS computes its GPT conditioning latents at

FloatArray = npt.NDArray[np.float32]


VOICE_EXTRA_MISSING = "cloned voices need the voice extra: pip install 'phone-agent[voice]'"


class XttsLoadError(RuntimeError):
    """The XTTS checkpoint directory is missing a file or does not load."""


@dataclass(frozen=True)
class Latents:
    """A voice's conditioning: the GPT conditioning latent and the decoder's speaker embedding."""

    gpt_cond_latent: torch.Tensor
    speaker_embedding: torch.Tensor

    def save(self, path: str | Path) -> None:
        """Write both tensors (on the CPU) to `path`."""
        import torch

        torch.save(
            {
                "gpt_cond_latent": self.gpt_cond_latent.detach().cpu(),
                "speaker_embedding": self.speaker_embedding.detach().cpu(),
            },
            path,
        )

    @classmethod
    def load(cls, path: str | Path) -> Latents:
        """Read latents written by `save`."""
        import torch

        data = torch.load(path, map_location="cpu", weights_only=True)
        return cls(gpt_cond_latent=data["gpt_cond_latent"], speaker_embedding=data["speaker_embedding"])


def _device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def load_xtts(checkpoint_dir: Path, device: str = "auto") -> Xtts:
    """Load an XTTS-v2 checkpoint dir (config.json, model.pth, vocab.json; speakers_xtts.pth if there)."""
    checkpoint_dir = Path(checkpoint_dir)
    if not checkpoint_dir.is_dir():
        raise XttsLoadError(f"XTTS model directory {checkpoint_dir} does not exist")
    missing = [name for name in REQUIRED_FILES if not (checkpoint_dir / name).is_file()]
    if missing:
        raise XttsLoadError(f"XTTS model directory {checkpoint_dir} lacks {', '.join(missing)}")
    try:
        import_torchaudio()
        from TTS.tts.configs.xtts_config import XttsConfig
        from TTS.tts.models.xtts import Xtts
    except ImportError as exc:
        raise XttsLoadError(f"{VOICE_EXTRA_MISSING} ({exc})") from exc

    t0 = time.perf_counter()
    try:
        config = XttsConfig()
        config.load_json(str(checkpoint_dir / "config.json"))
        model = Xtts(config)
        model.load_checkpoint(config, checkpoint_dir=str(checkpoint_dir), eval=True)
    except Exception as exc:
        raise XttsLoadError(f"XTTS model in {checkpoint_dir} does not load: {exc}") from exc
    model.eval()
    model.to(_device(device))
    log.info("xtts_loaded", device=str(model.device), load_s=round(time.perf_counter() - t0, 2))
    return model


def own_stream(model: Xtts) -> contextlib.AbstractContextManager[Any]:
    """A context running the calling thread's GPU work on its own CUDA stream, so replicas overlap."""
    if model.device.type != "cuda":
        return contextlib.nullcontext()
    import torch

    return torch.cuda.stream(torch.cuda.Stream(model.device))  # type: ignore[no-untyped-call]


def _as_tensor(audio: npt.NDArray[Any], rate: int, to_rate: int) -> torch.Tensor:
    import torch

    torchaudio = import_torchaudio()
    samples = np.asarray(audio, dtype=np.float32)
    if samples.ndim != 1:
        raise ValueError("reference clips must be mono")
    tensor = torch.from_numpy(samples.copy())[None, :]
    return tensor if rate == to_rate else torchaudio.functional.resample(tensor, rate, to_rate)


def compute_latents(model: Xtts, clips: Sequence[tuple[npt.NDArray[Any], int]]) -> Latents:
    """Compute a voice's latents from float32 mono reference clips given with their sample rates."""
    if not clips:
        raise ValueError("at least one reference clip is needed")
    import torch

    with torch.inference_mode():
        embeddings = [model.get_speaker_embedding(_as_tensor(a, sr, sr), sr) for a, sr in clips]
        joined = torch.cat([_as_tensor(a, sr, COND_RATE) for a, sr in clips], dim=-1)
        cond = model.get_gpt_cond_latents(
            joined,
            COND_RATE,
            length=model.config.gpt_cond_len,
            chunk_length=model.config.gpt_cond_chunk_len,
        )
        speaker = torch.stack(embeddings).mean(dim=0)
    return Latents(gpt_cond_latent=cond.cpu(), speaker_embedding=speaker.cpu())


def xtts_language(language: str) -> str:
    """XTTS's code for a language tag ("en-US" → "en", "zh" → "zh-cn")."""
    code = language.lower().split("-")[0].split("_")[0]
    return "zh-cn" if code == "zh" else code


def stream(
    model: Xtts,
    text: str,
    language: str,
    latents: Latents,
    chunk_size: int = CHUNK_TOKENS,
    first_chunk_size: int = FIRST_CHUNK_TOKENS,
    decode_context: int | None = DECODE_CONTEXT_FRAMES,
) -> Iterator[FloatArray]:
    """Yield 24 kHz float32 audio chunks of `text` as XTTS produces them (blocking; one stream per model).

    The first two chunks are `first_chunk_size` GPT tokens each, and each later one twice the one before,
    up to `chunk_size`: the first is out early, and each next one is ready before the audio already sent
    has played (XTTS holds back the last 1024 samples of each chunk, so a lone short first chunk followed
    by a double one would leave a gap unless generation ran well over twice real time). Each chunk
    re-decodes only `decode_context` frames before its new audio (None: the whole utterance, as XTTS's
    `inference_stream` does); consecutive chunks are crossfaded over 1024 samples, as XTTS does.
    """
    import torch

    from agent.voice.xtts_decode import ChunkDecoder

    lang = xtts_language(language)
    cfg = model.config
    # No inference-mode context is held across a yield: the grad mode is per thread, and a consumer
    # thread left in it (or a generator closed from another thread) breaks the next utterance.
    with torch.inference_mode():
        tokens = model.tokenizer.encode(text.strip().lower(), lang=lang)
        text_tokens = torch.IntTensor(tokens).unsqueeze(0).to(model.device)
        cond = latents.gpt_cond_latent.to(model.device)
        speaker = latents.speaker_embedding.to(model.device)
        inputs = model.gpt.compute_embeddings(cond, text_tokens)
        generator = model.gpt.get_generator(
            fake_inputs=inputs,
            top_k=cfg.top_k,
            top_p=cfg.top_p,
            temperature=cfg.temperature,
            do_sample=True,
            num_beams=1,
            num_return_sequences=1,
            length_penalty=float(cfg.length_penalty),
            repetition_penalty=float(cfg.repetition_penalty),
            output_attentions=False,
            output_hidden_states=True,
            return_dict_in_generate=True,
        )
    decoder = ChunkDecoder(model, speaker, OVERLAP_SAMPLES, decode_context)
    all_latents: list[torch.Tensor] = []
    pending, target, chunks = 0, first_chunk_size, 0
    try:
        while True:
            with torch.inference_mode():
                step = next(generator, None)
                if step is None:
                    break
                all_latents.append(step[1])
                pending += 1
                if pending < target:
                    continue
                chunk = decoder.chunk(torch.cat(all_latents, dim=0)).float().cpu().numpy()
            chunks += 1
            pending, target = 0, target if chunks == 1 else min(chunk_size, max(target * 2, 1))
            if len(chunk):
                yield chunk
        with torch.inference_mode():
            if pending or not decoder.started:
                tail = decoder.chunk(torch.cat(all_latents, dim=0), final=True) if all_latents else None
            else:
                tail = decoder.rest()
            rest = tail.float().cpu().numpy() if tail is not None and len(tail) else None
        if rest is not None:
            yield rest
    finally:
        with torch.inference_mode():
            generator.close()


def synthesize(model: Xtts, text: str, language: str, latents: Latents) -> FloatArray:
    """Speak `text` whole, as one 24 kHz float32 array (for previews; blocking)."""
    pieces = list(stream(model, text, language, latents))
    return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
