"""How long to wait in silence before the caller's turn is over, from smart-turn's verdict and the words."""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.dialog.backchannel import is_backchannel
from agent.dialog.spoken import NUMBER_WORDS

# A turn ending on one of these words is a sentence left hanging ("my name is", "and", "um").
HANGING_WORDS = frozenset(
    "and or but so because um uh er the a an my is are was to for of with at on in from by "  # noqa: SIM905
    "your our their it's i'm i'd".split()
)


@dataclass(frozen=True)
class Hangover:
    """The silence (after the end of speech) that ends the turn, in seconds, and why."""

    seconds: float
    reason: str


@dataclass(frozen=True)
class HangoverParams:
    """Waits for each kind of ending: complete, a question, unsure, clearly to be continued."""

    complete_s: float = 0.0
    question_s: float = 0.15
    understood_s: float = 0.25  # smart-turn unsure, but the words are a whole request the agent can act on
    incomplete_s: float = 1.0
    continuing_s: float = 2.0


def trailing_digits(text: str) -> int:
    """Count the digits the transcript ends with ("… five five five, 01" → 5), digit words included."""
    tokens = re.findall(r"[a-z']+|\d+", text.lower())
    count = 0
    for tok in reversed(tokens):
        if tok.isdigit():
            count += len(tok)
        elif tok in NUMBER_WORDS and tok not in {"double", "triple"}:
            count += len(NUMBER_WORDS[tok])
        elif tok in {"double", "triple"}:
            continue
        else:
            break
    return count


def is_continuing(text: str) -> str | None:
    """Return why the words so far clearly go on (a hanging word, a part-read number), or None."""
    stripped = text.strip()
    if not stripped:
        return None
    if stripped.endswith((",", "...", "…", "-")):
        return "trailing_comma"
    last = re.sub(r"[^\w']", "", stripped.split()[-1].lower())
    if last in HANGING_WORDS:
        return f"hanging_word:{last}"
    digits = trailing_digits(stripped)
    if 3 <= digits < 10 and digits != 7:
        return f"partial_number:{digits}"
    return None


def hangover(
    text: str, smart_turn_complete: bool, params: HangoverParams = HangoverParams(), understood: bool = False
) -> Hangover:
    """Decide the end-of-turn silence: words that go on beat smart-turn; a question or a yes ends fast, and
    so does a whole request (`understood`) that smart-turn, hearing flat or unfamiliar prosody, doubted."""
    if not text.strip():
        return Hangover(params.incomplete_s, "no_words")
    continuing = is_continuing(text)
    if continuing:
        return Hangover(params.continuing_s, continuing)
    if text.strip().endswith("?"):
        return Hangover(min(params.question_s, params.incomplete_s), "question")
    if is_backchannel(text):
        # "Yes." to a read-back, "Okay." over the agent: nothing follows that the agent should wait for.
        return Hangover(params.complete_s, "acknowledgement")
    if smart_turn_complete:
        return Hangover(params.complete_s, "smart_turn_complete")
    if understood:
        return Hangover(min(params.understood_s, params.incomplete_s), "understood_request")
    return Hangover(params.incomplete_s, "smart_turn_incomplete")
