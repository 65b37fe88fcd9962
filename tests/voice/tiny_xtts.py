"""Build a tiny random-weight XTTS-v2 checkpoint directory (config.json, vocab.json, model.pth) for tests."""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

from agent.voice.torch_compat import import_torchaudio

LANGUAGES = ("en", "es", "fr", "de")
MAX_GEN_TOKENS = 32  # every utterance is exactly this many GPT tokens (~1.5 s of audio): see build_tiny_xtts


def write_vocab(path: Path, size: int = 0) -> Path:
    """Write a character-level BPE vocab.json with XTTS's special and language tokens, padded to `size`."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    specials = ["[STOP]", "[UNK]", "[SPACE]", "[START]"] + [f"[{lang}]" for lang in LANGUAGES]
    chars = string.ascii_lowercase + string.digits + ".,;:!?'\"-áéíóúñüçàèâêôöäß"
    tokens = specials + list(dict.fromkeys(chars))
    tokens += [f"~{i}" for i in range(max(0, size - len(tokens)))]
    vocab = {tok: i for i, tok in enumerate(tokens)}
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.add_special_tokens(specials)
    tokenizer.save(str(path))
    return path


def tiny_args() -> Any:
    """XttsArgs for a 2-layer, 64-channel GPT with the perceiver resampler (the HiFi-GAN stays full size)."""
    import_torchaudio()
    from TTS.tts.configs.xtts_config import XttsArgs

    return XttsArgs(
        gpt_layers=2,
        gpt_n_model_channels=64,
        gpt_n_heads=4,
        decoder_input_dim=64,
        gpt_num_audio_tokens=258,
        gpt_start_audio_token=256,
        gpt_stop_audio_token=257,
        gpt_use_perceiver_resampler=True,
        gpt_max_audio_tokens=MAX_GEN_TOKENS + 3,  # GPT.max_gen_mel_tokens = this - 3
    )


def build_tiny_xtts(out: Path, seed: int = 0) -> Path:
    """Write a loadable tiny XTTS checkpoint into `out` and return it."""
    import torch

    import_torchaudio()
    from TTS.tts.configs.xtts_config import XttsConfig
    from TTS.tts.models.xtts import Xtts

    out.mkdir(parents=True, exist_ok=True)
    vocab = write_vocab(out / "vocab.json")
    config = XttsConfig(model_args=tiny_args(), languages=list(LANGUAGES))  # type: ignore[arg-type]
    config.model_args.tokenizer_file = str(vocab)
    torch.manual_seed(seed)
    model = Xtts(config)
    model.tokenizer.__init__(vocab_file=vocab)  # type: ignore[misc]
    model.init_models()
    config.model_args.gpt_number_text_tokens = model.args.gpt_number_text_tokens
    # Random weights emit the stop token now and then (3 utterances in 40): make it unreachable, so each
    # utterance runs to the cap and tests can count chunks.
    with torch.no_grad():
        model.gpt.mel_head.weight[model.args.gpt_stop_audio_token].zero_()
        model.gpt.mel_head.bias[model.args.gpt_stop_audio_token] = -1e4
    model.gpt.init_gpt_for_inference(kv_cache=True)
    torch.save({"model": model.state_dict(), "config": config.to_dict()}, out / "model.pth")
    config.save_json(str(out / "config.json"))
    return out


def store_voice(root: Path, latents: Any, languages: list[str], name: str = "acme") -> Path:
    """Add a cloned voice `name` with placeholder clips and the given latents under `root`/voices."""
    from agent.voice.store import VoiceStore

    for clip in ("ref.wav", "consent.wav"):
        (root / clip).write_bytes(b"RIFF")
    VoiceStore(root / "voices").add(
        name,
        references=[root / "ref.wav"],
        consent={"speaker": "Jane Doe"},
        consent_recording=root / "consent.wav",
        latents=latents,
        speaker="Jane Doe",
        languages=languages,
    )
    return root / "voices"
