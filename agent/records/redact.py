"""Card-like numbers (13–19 digits passing the Luhn check) cut from stored text, one turn at a time.

A number is read as groups of digits split by spaces, dashes, commas or full stops, which is how speech to
text writes a card read out in groups (and how finals joined into a turn's text meet). A caller turn is
redacted as a whole (`redact_turn`): its card may be split between finals, and each interim hypothesis
holds the card's first digits, too few to be a card on their own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

DIGIT_RUN = re.compile(r"\d+(?:(?:[ \t]*[-,.][ \t]*|[ \t]+)\d+)*")
REDACTED = "[card number removed]"
DIGITS_REDACTED = "[digits removed]"  # any other digits of a turn that gave a card number
CARD_DIGITS = (13, 19)


def luhn_valid(digits: str) -> bool:
    """Whether a digit string passes the Luhn checksum that card numbers carry."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _is_card(run: str) -> bool:
    """Whether consecutive groups of a digit run make 13–19 digits passing the Luhn check."""
    groups = re.findall(r"\d+", run)
    low, high = CARD_DIGITS
    for start in range(len(groups)):
        digits = ""
        for group in groups[start:]:
            digits += group
            if len(digits) > high:
                break
            if len(digits) >= low and luhn_valid(digits):
                return True
    return False


def holds_card(text: str) -> bool:
    """Whether `text` holds a card-like number."""
    return any(_is_card(m.group(0)) for m in DIGIT_RUN.finditer(text))


def redact_cards(text: str) -> str:
    """Replace each card-like number in `text`; other numbers (phone numbers, dates) are kept."""
    return DIGIT_RUN.sub(lambda m: REDACTED if _is_card(m.group(0)) else m.group(0), text)


def redact_digits(text: str) -> str:
    """Replace every run of digits in `text`: card-like ones with REDACTED, the rest with DIGITS_REDACTED."""
    return DIGIT_RUN.sub(lambda m: REDACTED if _is_card(m.group(0)) else DIGITS_REDACTED, text)


def redact_value(value: Any) -> Any:
    """Redact every string inside a JSON-like value (strings, lists, dicts)."""
    if isinstance(value, str):
        return redact_cards(value)
    if isinstance(value, list):
        return [redact_value(v) for v in value]
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class RedactedTurn:
    """A turn's text, heard text and partial transcripts as they may be stored."""

    text: str
    heard_text: str | None = None
    partials: list[Any] | None = None


def _text(partial: Any) -> str:
    return str(partial.get("text", "")) if isinstance(partial, dict) else ""


def _first_word(text: str) -> str:
    words = text.split()
    return words[0].strip(",.?!").lower() if words else ""


def accumulated(partials: Sequence[Any]) -> Iterator[str]:
    """Each partial read after what the caller said before it in the turn.

    A hypothesis is the whole of its stretch of speech so far, so it follows the stretches before it: each
    one's final, or its last hypothesis when it had none (a new hypothesis that doesn't begin as the last
    one did starts a new stretch).
    """
    before: list[str] = []
    current: str | None = None
    for partial in partials:
        text = _text(partial)
        if current is not None and _first_word(current) != _first_word(text):
            before.append(current)
        yield " ".join([*before, text])
        final = isinstance(partial, dict) and bool(partial.get("final"))
        before, current = ([*before, text], None) if final else (before, text)


def redact_turn(text: str, partials: list[Any] | None = None, heard_text: str | None = None) -> RedactedTurn:
    """A turn with card numbers cut from its text, heard text and partials, taken together.

    If a card-like number shows in any of them, or in a partial read after what the caller said before it,
    every run of digits goes from all of them: the card's fragments in earlier hypotheses and in a final
    that holds half of it, and whatever else was said with the card (its expiry, its security code).
    A turn without one keeps its numbers.
    """
    views = [text, heard_text or "", *(_text(p) for p in partials or ()), *accumulated(partials or ())]
    scrub: Callable[[str], str] = redact_digits if any(holds_card(v) for v in views) else redact_cards

    def clean(partial: Any) -> Any:
        if not isinstance(partial, dict):
            return redact_value(partial)
        return {
            k: scrub(v) if k == "text" and isinstance(v, str) else redact_value(v) for k, v in partial.items()
        }

    return RedactedTurn(
        scrub(text),
        None if heard_text is None else scrub(heard_text),
        None if partials is None else [clean(p) for p in partials],
    )
