"""Which parts of a caller's turn are questions: sentences, 'and'-joined questions, clauses (pure)."""

from __future__ import annotations

import re

from agent.dialog.phrases import INDIRECT_QUESTION, QUESTION
from agent.dialog.spoken import normalise

# Sentence ends (not a title's dot: "Is Dr. Patel in?" is one question), and "and"-joined questions.
_PART_BREAK = re.compile(
    r"(?<=[.?!])(?<!\bdr\.)(?<!\bmr\.)(?<!\bms\.)(?<!\bmrs\.)\s+|"
    r",?\s+\b(?:and|also|oh and|plus)\s+(?=(?:how|what|what's|when|where|where's|do|does|"
    r"can|could|is|are|you're|your|will|would)\b)",
    re.IGNORECASE,
)
_CLAUSE_BREAK = re.compile(r"[,;:]\s*|\s+\b(?:but|so|and|or)\b\s+", re.IGNORECASE)


def split_questions(utterance: str) -> list[str]:
    """An utterance's sentences and 'and'-joined questions, each on its own."""
    return [p.strip() for p in _PART_BREAK.split(utterance) if p and p.strip()]


def asks_question(utterance: str) -> bool:
    """Whether any part of an utterance is a question: its mark, a clause's first word, "I was wondering"."""
    if "?" in utterance or INDIRECT_QUESTION.search(normalise(utterance)):
        return True
    clauses = (c for p in split_questions(utterance) for c in _CLAUSE_BREAK.split(p))
    return any(QUESTION.match(normalise(c)) for c in clauses)


def question_parts(utterance: str) -> list[str]:
    """The parts of an utterance that are questions of their own (two words or more)."""
    return [
        p
        for p in split_questions(utterance)
        if len(p.split()) >= 2 and (p.rstrip().endswith("?") or QUESTION.match(normalise(p)))
    ]
