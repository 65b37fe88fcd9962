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

    Each hypothesis passed to `insert` is a fresh decode of the whole utterance buffer; words are
    committed once two passes in a row agree on them and they extend what is already committed.
    Committed words are never taken back (the final transcript comes from its own pass).
    """

    committed: list[str] = field(default_factory=list)
    tentative: list[str] = field(default_factory=list)
    passes: int = 0
    _last: list[str] = field(default_factory=list)

    def insert(self, hypothesis: list[str]) -> list[str]:
        """Take a new pass's words for the whole buffer; commit and return what it newly agrees on."""
        self.passes += 1
        agreed = common_prefix(self._last, hypothesis) if self.passes > 1 else 0
        self._last = hypothesis
        done = len(self.committed)
        consistent = common_prefix(self.committed, hypothesis) == done
        newly = hypothesis[done:agreed] if consistent and agreed > done else []
        self.committed.extend(newly)
        self.tentative = hypothesis[len(self.committed) :]
        return newly

    def complete(self) -> None:
        """Forget the utterance: its final transcript has been settled."""
        self.committed, self.tentative, self.passes, self._last = [], [], 0, []

    def drop_committed(self, count: int) -> list[str]:
        """Forget the first `count` committed words (their audio was trimmed) and return them."""
        gone, self.committed = self.committed[:count], self.committed[count:]
        self._last = self._last[count:]
        return gone

    @property
    def committed_text(self) -> str:
        """The committed words as one string."""
        return " ".join(self.committed)

    @property
    def text(self) -> str:
        """Committed words followed by the tentative tail: the best guess so far."""
        return " ".join([*self.committed, *self.tentative])
