"""Cut an LLM's streamed text into speakable pieces: a short first clause, then whole sentences (pure)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from pipecat.utils.text.base_text_aggregator import Aggregation, BaseTextAggregator, TextType

SENTENCE_END = ".!?"
CLAUSE_END = ",;:—–"
ABBREVIATIONS = frozenset(
    {"dr", "mr", "mrs", "ms", "st", "jr", "sr", "vs", "etc", "e.g", "i.e", "a.m", "p.m", "no", "ave"}
)


class Chunker:
    """Accumulates streamed text and releases pieces that are ready to synthesize.

    >>> c = Chunker()
    >>> c.push("Sure, we open at nine. On Sat")
    ['Sure, we open at nine.']
    >>> c.push("urdays we close at one. ")
    ['On Saturdays we close at one.']
    >>> c.flush() is None
    True

    The first piece of a reply ends at the first clause or sentence boundary once it has
    `first_min_words` words, or after `first_max_words` words at a word boundary, so audio
    starts early. Later pieces are whole sentences. `flush` ends the reply.
    """

    def __init__(self, first_min_words: int = 3, first_max_words: int = 9) -> None:
        """Configure how short the first piece of each reply may be, and how long at most."""
        self.first_min_words = first_min_words
        self.first_max_words = first_max_words
        self._buf = ""
        self._first = True

    @property
    def pending(self) -> str:
        """Text received but not yet released."""
        return self._buf

    def push(self, text: str) -> list[str]:
        """Add streamed text; return the pieces that are now complete."""
        self._buf += text
        pieces = []
        while (cut := self._find_cut()) is not None:
            piece, self._buf = self._buf[:cut].strip(), self._buf[cut:].lstrip()
            if piece:
                pieces.append(piece)
                self._first = False
        return pieces

    def flush(self) -> str | None:
        """End the reply: return whatever is left, and treat the next text as a new reply."""
        piece, self._buf = self._buf.strip(), ""
        self._first = True
        return piece or None

    def reset(self) -> None:
        """Drop buffered text (after a barge-in) and start a new reply."""
        self._buf = ""
        self._first = True

    def _find_cut(self) -> int | None:
        buf = self._buf
        words = 0
        for i, ch in enumerate(buf):
            if ch.isspace() and i > 0 and not buf[i - 1].isspace():
                words += 1
                if self._first and words >= self.first_max_words:
                    return i
            if i + 1 >= len(buf) or not buf[i + 1].isspace():
                continue  # a boundary needs the whitespace after it, so "2.50" and "Dr.X" hold
            if ch in SENTENCE_END and not self._is_abbreviation(buf, i):
                if not self._first or words + 1 >= self.first_min_words or ch in "!?":
                    return i + 1
            elif ch in CLAUSE_END and self._first and words + 1 >= self.first_min_words:
                return i + 1
        return None

    @staticmethod
    def _is_abbreviation(buf: str, dot: int) -> bool:
        if buf[dot] != ".":
            return False
        match = re.search(r"([A-Za-z.]+)$", buf[:dot])
        return match is not None and match.group(1).lower().strip(".") in ABBREVIATIONS


class ChunkAggregator(BaseTextAggregator):
    """pipecat text aggregator over Chunker, so the TTS service speaks clause-first pieces."""

    def __init__(self, chunker: Chunker | None = None) -> None:
        """Wrap `chunker` (a default one if None)."""
        super().__init__(aggregation_type=TextType.SENTENCE)
        self._chunker = chunker or Chunker()

    @property
    def text(self) -> Aggregation:
        """The text buffered so far."""
        return Aggregation(text=self._chunker.pending.strip(), type=TextType.SENTENCE)

    async def aggregate(self, text: str) -> AsyncIterator[Aggregation]:
        """Yield each speakable piece completed by `text`."""
        for piece in self._chunker.push(text):
            yield Aggregation(text=piece, type=TextType.SENTENCE)

    async def flush(self) -> Aggregation | None:
        """Return the rest of the reply."""
        piece = self._chunker.flush()
        return None if piece is None else Aggregation(text=piece, type=TextType.SENTENCE)

    async def handle_interruption(self) -> None:
        """Drop what was buffered: the caller cut in."""
        self._chunker.reset()

    async def reset(self) -> None:
        """Start over."""
        self._chunker.reset()
