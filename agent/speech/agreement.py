"""LocalAgreement: commit the words two successive Whisper hypotheses agree on (pure, no I/O).

>>> agreement = LocalAgreement()
>>> agreement.insert(["I'd", "like", "a"])  # first pass: nothing to agree with yet
[]
>>> agreement.insert(["I'd", "like", "an", "appointment"])
["I'd", 'like']
>>> agreement.tentative
['an', 'appointment']
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


def _key(word: str) -> str:
    """Compare words without case or punctuation: "Tuesday," and "tuesday" agree."""
    return re.sub(r"[^\w']", "", word.lower())


def split_words(text: str) -> list[str]:
    """Split a transcript into words as Whisper spaces them."""
    return text.split()


def common_prefix(a: list[str], b: list[str]) -> int:
    """Return how many leading words `a` and `b` share (compared without case or punctuation)."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if _key(x) != _key(y):
            break
        n += 1
    return n


@dataclass
class LocalAgreement:
    """Holds the committed words of one utterance and the tentative tail of the latest hypothesis.

    Each hypothesis passed to `insert` continues the committed words (the decoder is forced to start
    with them), so agreement is checked on the continuation only.
    """

    committed: list[str] = field(default_factory=list)
    tentative: list[str] = field(default_factory=list)
    passes: int = 0

    def insert(self, hypothesis: list[str]) -> list[str]:
        """Take the continuation a new pass produced; commit and return what it shares with the last one."""
        self.passes += 1
        n = common_prefix(self.tentative, hypothesis) if self.passes > 1 else 0
        agreed = hypothesis[:n]
        self.committed.extend(agreed)
        self.tentative = hypothesis[n:]
        return agreed

    def complete(self, tail: list[str]) -> list[str]:
        """Close the utterance with the final pass's continuation and return every word of it."""
        words = [*self.committed, *tail]
        self.committed, self.tentative, self.passes = [], [], 0
        return words

    def drop_committed(self, count: int) -> list[str]:
        """Forget the first `count` committed words (their audio was trimmed) and return them."""
        gone, self.committed = self.committed[:count], self.committed[count:]
        return gone

    @property
    def committed_text(self) -> str:
        """The committed words as one string."""
        return " ".join(self.committed)

    @property
    def text(self) -> str:
        """Committed words followed by the tentative tail: the best guess so far."""
        return " ".join([*self.committed, *self.tentative])
