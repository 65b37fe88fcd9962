"""Every model reply, whichever engine made it, checked sentence by sentence against the profile."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import structlog
from pipecat.frames.frames import Frame, LLMFullResponseEndFrame, LLMFullResponseStartFrame, LLMTextFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from agent.dialog.grounding import FALLBACK, ungrounded_claims

log = structlog.get_logger(__name__)
MAX_REPLY_WORDS = 60  # a phone caller can't skim: a free reply stops after this many words
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass
class SentenceGate:
    """Releases a streamed reply a whole sentence at a time, each checked against `facts` (pure).

    The first sentence with a claim the facts don't hold is replaced by an honest don't-know and the
    rest of the reply is dropped; past MAX_REPLY_WORDS the reply ends at its last whole sentence.
    """

    facts: str
    max_words: int = MAX_REPLY_WORDS
    _pending: str = ""
    _words: int = 0
    _closed: bool = False
    rejected: list[str] = field(default_factory=list)

    def feed(self, text: str) -> list[str]:
        """Take a piece of the reply; return the sentences now cleared to speak."""
        if self._closed:
            return []
        self._pending += text
        *done, self._pending = _SENTENCE_END.split(self._pending)
        return self._release(done)

    def finish(self) -> list[str]:
        """The reply ended: release what is left (checked the same way), and reset for the next one."""
        rest = [self._pending] if self._pending.strip() and not self._closed else []
        out = self._release(rest)
        self._pending, self._words, self._closed = "", 0, False
        return out

    def _release(self, sentences: list[str]) -> list[str]:
        out: list[str] = []
        for sentence in (s.strip() for s in sentences if s.strip()):
            if self._closed:
                break
            if ungrounded_claims(sentence, self.facts):
                self.rejected.append(sentence)
                self._closed = True
                out.append(FALLBACK)
                break
            self._words += len(sentence.split())
            if self._words > self.max_words and out:
                self._closed = True
                break
            out.append(sentence)
        return [f"{s} " for s in out]


class GroundedReplies(FrameProcessor):
    """Sits after a reply model: passes its text on only as grounded, phone-length sentences."""

    def __init__(self, facts: str) -> None:
        """Check replies against `facts` (the profile's system prompt)."""
        super().__init__(name="grounded-replies")
        self._gate = SentenceGate(facts)

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Hold model text until a sentence is whole and checked; pass every other frame on."""
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMTextFrame) and direction == FrameDirection.DOWNSTREAM:
            for sentence in self._gate.feed(frame.text):
                await self.push_frame(LLMTextFrame(sentence), direction)
            return
        if isinstance(frame, LLMFullResponseEndFrame):
            for sentence in self._gate.finish():
                await self.push_frame(LLMTextFrame(sentence), direction)
            if self._gate.rejected:
                log.info("llm_reply_replaced", reason="ungrounded", sentences=self._gate.rejected)
                self._gate.rejected = []
        elif isinstance(frame, LLMFullResponseStartFrame):
            self._gate.finish()
        await self.push_frame(frame, direction)
