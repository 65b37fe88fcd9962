"""Who is speaking: GE2E speaker embeddings from resemblyzer's encoder, compared by cosine (blocking)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from agent.voice.clips import Clip, Finding, Grade

if TYPE_CHECKING:
    from resemblyzer import VoiceEncoder

Embedding = npt.NDArray[np.float32]
ENCODER_RATE = 16000
MIN_VOICED_S = 0.5  # what is left after resemblyzer trims the pauses: less is no voice to embed
# Measured on Piper and espeak-ng voices: one voice 0.89-0.97 within a clip, 0.99 across clips;
# two voices in one clip 0.57-0.62, different voices across clips ~0.55.
SAME_SPEAKER = 0.75


class NoVoiceError(ValueError):
    """A clip with too little voiced audio to embed."""


@functools.cache
def load_encoder() -> VoiceEncoder:
    """Load the GE2E encoder resemblyzer ships (17 MB, CPU) once per process."""
    from resemblyzer import VoiceEncoder

    return VoiceEncoder("cpu", verbose=False)


def _voiced(clip: Clip) -> npt.NDArray[np.float32]:
    from resemblyzer import preprocess_wav

    with np.errstate(divide="ignore", invalid="ignore"):  # silence has no level to normalise
        wav: npt.NDArray[np.float32] = preprocess_wav(clip.samples, source_sr=clip.rate)
    if len(wav) < MIN_VOICED_S * ENCODER_RATE:
        raise NoVoiceError(f"{clip.name or 'clip'}: too little voiced audio to tell who is speaking")
    return wav


def embed(clip: Clip) -> Embedding:
    """The unit-length speaker embedding of one clip."""
    out: Embedding = load_encoder().embed_utterance(_voiced(clip)).astype(np.float32)
    return out


def embed_speaker(clips: Sequence[Clip]) -> Embedding:
    """The unit-length embedding of one speaker heard across several clips."""
    total = np.sum([embed(c) for c in clips], axis=0)
    out: Embedding = (total / np.linalg.norm(total)).astype(np.float32)
    return out


def cosine(a: Embedding, b: Embedding) -> float:
    """Cosine similarity of two embeddings (1.0: the same direction)."""
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def split_similarity(clip: Clip) -> float:
    """How alike the two most different groups of a clip's 1.6 s windows sound (low: two speakers).

    The windows' embeddings are split around the two least alike windows; the cosine of the two
    groups' mean embeddings is returned, or 1.0 when the clip is too short to split.
    """
    _, partials, _ = load_encoder().embed_utterance(_voiced(clip), return_partials=True)
    if len(partials) < 4:
        return 1.0
    sims = partials @ partials.T
    i, j = np.unravel_index(np.argmin(sims), sims.shape)
    near_i = sims[:, i] >= sims[:, j]
    groups = partials[near_i], partials[~near_i]
    if min(len(g) for g in groups) < 2:
        return 1.0
    return cosine(groups[0].mean(axis=0), groups[1].mean(axis=0))


def speaker_findings(clips: Sequence[Clip]) -> list[Finding]:
    """Warn about a clip that seems to hold two speakers; reject one that is not the others' speaker."""
    findings: list[Finding] = []
    embedded: list[tuple[Clip, Embedding]] = []
    for clip in clips:
        try:
            embedded.append((clip, embed(clip)))
            split = split_similarity(clip)
        except NoVoiceError:
            continue
        if split < SAME_SPEAKER:
            findings.append(
                Finding(
                    Grade.WARN,
                    "speakers",
                    f"{clip.name} may hold more than one speaker (its parts match at {split:.2f})",
                )
            )
    if len(embedded) == 2:
        (first, a), (second, b) = embedded
        if (similarity := cosine(a, b)) < SAME_SPEAKER:
            findings.append(
                Finding(
                    Grade.REJECT,
                    "speakers",
                    f"{first.name} and {second.name} sound like different speakers "
                    f"(similarity {similarity:.2f}, needs {SAME_SPEAKER:.2f})",
                )
            )
        return findings
    total = np.sum([e for _, e in embedded], axis=0)
    for clip, own in embedded:
        similarity = cosine(own, total - own)
        if similarity < SAME_SPEAKER:
            findings.append(
                Finding(
                    Grade.REJECT,
                    "speakers",
                    f"{clip.name} sounds like a different speaker from the other clips "
                    f"(similarity {similarity:.2f}, needs {SAME_SPEAKER:.2f})",
                )
            )
    return findings
