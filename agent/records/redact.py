"""Card-like numbers (13–19 digits passing the Luhn check, spaced or dashed) cut from stored text."""

from __future__ import annotations

import re
from typing import Any

CARD = re.compile(r"(?<![\d])\d(?:[ -]?\d){12,18}(?![\d])")
REDACTED = "[card number removed]"


def luhn_valid(digits: str) -> bool:
    """Whether a digit string passes the Luhn checksum that card numbers carry."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def redact_cards(text: str) -> str:
    """Replace each card-like number in `text`; other numbers (phone numbers, dates) are kept."""

    def replace(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group(0))
        return REDACTED if 13 <= len(digits) <= 19 and luhn_valid(digits) else match.group(0)

    return CARD.sub(replace, text)


def redact_value(value: Any) -> Any:
    """Redact every string inside a JSON-like value (strings, lists, dicts)."""
    if isinstance(value, str):
        return redact_cards(value)
    if isinstance(value, list):
        return [redact_value(v) for v in value]
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    return value
