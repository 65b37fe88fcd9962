"""One Whisper pass over a short audio window, with a forced prefix (blocking; run it in a worker thread)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import ctranslate2
import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import get_compression_ratio, get_suppressed_tokens

SAMPLE_RATE = 16000
FRAMES_PER_SECOND = 100  # log-mel frames
FULL_WINDOW_FRAMES = 3000  # what Whisper was trained on: 30 s
MIN_WINDOW_FRAMES = 1000  # never encode less than 10 s: shorter windows loop and invent endings
MAX_NEW_TOKENS = 120
TOKENS_PER_SECOND = 8  # faster than anyone speaks: a longer output for the audio is a decoding loop


@dataclass(frozen=True)
class Pass:
    """What one decode produced: the text after the forced prefix, and the scores the guards read."""

    text: str
    language: str
    language_probability: float
    no_speech_prob: float
    avg_logprob: float
    compression_ratio: float
    window_frames: int


@dataclass(frozen=True)
class AlignedWord:
    """A word of a transcript with where it ends in the audio, in seconds."""

    text: str
    end: float


def collapse_repeats(text: str) -> str:
    """Drop the repeats of a decoding loop: a sentence said again at once, or a 3+ word run repeated.

    >>> collapse_repeats("Hi. Hi. Hi. What time do you open? What time do you open?")
    'Hi. What time do you open?'
    >>> collapse_repeats("five five five one two")
    'five five five one two'
    """
    sentences = [x for x in re.split(r"(?<=[.?!])\s+", text.strip()) if x]
    kept: list[str] = []
    for sentence in sentences:
        if not kept or _plain(sentence) != _plain(kept[-1]):
            kept.append(sentence)
    if len(kept) > 1 and kept[-1][-1] not in ".?!" and _plain(kept[-2]).startswith(_plain(kept[-1])):
        kept.pop()  # the loop's unfinished next repeat, cut by the token cap
    words = " ".join(kept).split()
    size = 3
    while size <= len(words) // 2:
        i = 0
        while i + 2 * size <= len(words):
            if [_plain(w) for w in words[i : i + size]] == [
                _plain(w) for w in words[i + size : i + 2 * size]
            ]:
                del words[i + size : i + 2 * size]
            else:
                i += 1
        size += 1
    return " ".join(words)


def _plain(text: str) -> str:
    return re.sub(r"[^\w']", "", text.lower())


def window_frames(n_frames: int, full_window: bool = False) -> int:
    """Return the encoder window for `n_frames`: the content plus 1 s, at least 10 s, at most 30 s."""
    if full_window:
        return FULL_WINDOW_FRAMES
    padded = -(-(n_frames + FRAMES_PER_SECOND) // 100) * 100
    return max(MIN_WINDOW_FRAMES, min(FULL_WINDOW_FRAMES, padded))


def max_new_tokens(seconds: float) -> int:
    """Cap a pass's output by its audio's length, so a decoding loop stops early."""
    return min(MAX_NEW_TOKENS, 6 + int(TOKENS_PER_SECOND * seconds))


def features(model: WhisperModel, audio: np.ndarray, full_window: bool = False) -> np.ndarray:
    """Log-mel features of `audio` (16 kHz float32) padded with silence to the encoder window."""
    feats = model.feature_extractor(audio)[..., :-1]
    n = window_frames(feats.shape[-1], full_window)
    if feats.shape[-1] >= n:
        return np.ascontiguousarray(feats[..., :n])
    return np.pad(feats, ((0, 0), (0, n - feats.shape[-1])))


def decode(
    model: WhisperModel,
    audio: np.ndarray,
    prompt: str | None = None,
    prefix: str = "",
    language: str | None = None,
    full_window: bool = False,
) -> Pass:
    """Decode `audio` once, forcing `prefix` as the start of the transcript and returning what follows it.

    The encoder sees only the audio plus a second of padding (not Whisper's fixed 30 s), which makes a
    pass over a few seconds of speech ~10x cheaper on CPU; `full_window=True` restores the 30 s window.
    """
    feats = features(model, audio, full_window)
    encoded = model.model.encode(ctranslate2.StorageView.from_array(feats[None]), to_cpu=False)
    lang, lang_prob = "en", 1.0
    if model.model.is_multilingual:
        if language is None:
            token, lang_prob = model.model.detect_language(encoded)[0][0]
            lang = token[2:-2]
        else:
            lang = language
    tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=lang)
    previous = tokenizer.encode(" " + prompt.strip()) if prompt else []
    tokens = model.get_prompt(tokenizer, previous, without_timestamps=True, prefix=prefix or None)
    result = model.model.generate(
        encoded,
        [tokens],
        beam_size=1,
        max_length=min(model.max_length, len(tokens) + max_new_tokens(len(audio) / SAMPLE_RATE)),
        return_scores=True,
        return_no_speech_prob=True,
        suppress_blank=not prefix,
        suppress_tokens=get_suppressed_tokens(tokenizer, [-1]),
    )[0]
    out = [t for t in result.sequences_ids[0] if t < tokenizer.eot]
    forced = tokenizer.encode(" " + prefix.strip()) if prefix else []
    if out[: len(forced)] == forced:
        out = out[len(forced) :]
    text = collapse_repeats(tokenizer.decode(out))
    whole = f"{prefix} {text}".strip()
    return Pass(
        text=text.strip(),
        language=lang,
        language_probability=float(lang_prob),
        no_speech_prob=float(result.no_speech_prob),
        avg_logprob=float(result.scores[0]) / (len(out) + 1) * max(len(out), 1),
        compression_ratio=get_compression_ratio(whole) if whole else 0.0,
        window_frames=feats.shape[-1],
    )


def detect_language(model: WhisperModel, audio: np.ndarray) -> tuple[str, float]:
    """Return the language a multilingual model hears in `audio`, with its probability ("en", 1.0 if not)."""
    if not model.model.is_multilingual:
        return "en", 1.0
    feats = features(model, audio)
    encoded = model.model.encode(ctranslate2.StorageView.from_array(feats[None]), to_cpu=False)
    token, probability = model.model.detect_language(encoded)[0][0]
    return str(token[2:-2]), float(probability)


def align(model: WhisperModel, audio: np.ndarray, text: str) -> list[AlignedWord]:
    """Find where each word of `text` ends in `audio` (cross-attention alignment), for trimming the buffer."""
    if not text.strip():
        return []
    feats = features(model, audio)
    content_frames = min(feats.shape[-1], len(audio) * FRAMES_PER_SECOND // SAMPLE_RATE)
    encoded = model.model.encode(ctranslate2.StorageView.from_array(feats[None]), to_cpu=False)
    tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language="en")
    tokens = tokenizer.encode(" " + text.strip())
    words = model.find_alignment(tokenizer, [tokens], encoded, num_frames=content_frames)[0]
    return [AlignedWord(text=str(w["word"]).strip(), end=float(w["end"])) for w in words]
