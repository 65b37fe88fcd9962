"""Backchannels: the "uh-huh", "okay", "right" a listener says while the other one talks (pure)."""

from __future__ import annotations

import re

# Words a caller says to show they are listening, not to take the turn.
LISTENING_WORDS = frozenset(
    "uh huh mm hmm mhm hm mmhmm uhhuh okay ok yeah yep yes right sure oh ah alright gotcha".split()  # noqa: SIM905
)
LISTENING_PHRASES = frozenset({"got it", "i see", "all right", "okay sure", "yeah sure", "oh okay"})


def is_backchannel(text: str) -> bool:
    """Whether `text` is only a listener's acknowledgement (at most three such words), not a request."""
    plain = re.sub(r"[^a-z ]", " ", text.lower().replace("-", ""))
    words = plain.split()
    if not words or len(words) > 3:
        return False
    return " ".join(words) in LISTENING_PHRASES or all(w in LISTENING_WORDS for w in words)
