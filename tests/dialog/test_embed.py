"""The sentence encoders load offline from their wheels, and the numpy MiniLM matches the reference BERT."""

from __future__ import annotations

import numpy as np
import pytest

from agent.dialog.embed import EmbeddingError, load_bert, load_encoder, packaged_minilm_path

SENTENCES = ["Do you take debit cards?", "What street are you on?", "I'd like to book a cleaning next week."]


def test_packaged_minilm_in_numpy_matches_transformers_bert() -> None:
    """Mean-pooled embeddings from our numpy forward pass equal transformers' BertModel (cosine > 0.999)."""
    import json
    import zipfile

    import torch
    import transformers

    from agent.voice.torch_compat import import_torchaudio

    import_torchaudio()  # transformers' model classes import torchaudio: its CPU fallback must be in place

    from safetensors.torch import load as load_torch
    from tokenizers import Tokenizer

    with zipfile.ZipFile(packaged_minilm_path()) as zf:
        config = transformers.BertConfig(**json.loads(zf.read("config.json")))
        state = load_torch(zf.read("model.safetensors"))
        tokenizer = Tokenizer.from_str(zf.read("tokenizer.json").decode())
    tokenizer.no_padding()  # the file pads to 128 tokens; the reference must see the same ids as ours
    model = transformers.BertModel(config, add_pooling_layer=False).eval()
    model.load_state_dict({k: v for k, v in state.items() if "position_ids" not in k}, strict=False)
    ours = load_encoder("minilm").encode(SENTENCES)
    for row, sentence in zip(ours, SENTENCES, strict=True):
        ids = torch.tensor([tokenizer.encode(sentence).ids])
        with torch.no_grad():
            hidden = model(input_ids=ids).last_hidden_state[0].mean(0).numpy()
        reference = hidden / np.linalg.norm(hidden)
        assert float(row @ reference) > 0.999, sentence


def test_embeddings_are_unit_length_and_rank_paraphrases_first() -> None:
    """Each row has norm 1; 'pay with plastic' is nearer card payment than directions, for both encoders."""
    for spec in ("minilm", "wordllama"):
        encoder = load_encoder(spec)
        vectors = encoder.encode(
            ["Can I pay by debit card?", "How do I get to your office?", "do you take cards"]
        )
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4), spec
        assert vectors[2] @ vectors[0] > vectors[2] @ vectors[1], spec


def test_a_missing_model_folder_is_a_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A folder without the model files names what it needs."""
    with pytest.raises(EmbeddingError, match=r"model\.safetensors"):
        load_bert(tmp_path)
    with pytest.raises(EmbeddingError, match="no such model folder"):
        load_encoder(str(tmp_path / "absent"))
