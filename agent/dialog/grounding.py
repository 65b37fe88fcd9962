"""Keep a small model's free replies honest: no numbers, days or promises the profile doesn't hold (pure)."""

from __future__ import annotations

import re
from collections.abc import Callable

from agent.dialog.hours import WEEKDAYS

FALLBACK = (
    "I'm sorry, I'm not sure about that. I can take a message, or connect you with someone who can help."
)
_NUMBERISH = re.compile(r"\$?\d[\d:.,]*")
_TIME = re.compile(r"\b(\d{1,2})(?::(\d{2}))?\s*(a\.?m\.?|p\.?m\.?)(?![a-z])")
_PROMISES = re.compile(
    r"\b(i've|i have|i'll|i will|we'll|we will)\s+(booked|book|scheduled|schedule|"
    r"cancel(l)?ed|cancel|reserved|reserve|sent|send|email(ed)?|text(ed)?|"
    r"call(ed)?|transfer(red)?)\b|\byour appointment is\b|\byou('re| are) booked\b"
)


def ungrounded_claims(reply: str, facts: str) -> list[str]:
    """Return the claims in `reply` that `facts` does not support: numbers, weekdays, promises."""
    low, known = reply.lower(), facts.lower()
    squashed = re.sub(r"[^a-z0-9]", "", known)
    claims = []
    for m in _TIME.finditer(low):
        said = f"{m.group(1)}{m.group(2) or ''}{m.group(3).replace('.', '')}"
        if said not in squashed and said.replace("00", "") not in squashed:
            claims.append(m.group(0))
    low = _TIME.sub(" ", low)
    known_numbers = {n.strip(".,") for n in _NUMBERISH.findall(known)}
    claims += [n for n in (m.strip(".,") for m in _NUMBERISH.findall(low)) if n not in known_numbers]
    claims += [d for d in WEEKDAYS if re.search(rf"\b{d}s?\b", low) and d not in known]
    claims += [m.group(0) for m in _PROMISES.finditer(low)]
    return claims


def make_guard(facts: str) -> Callable[[str], str]:
    """A reply filter: the reply if grounded in `facts`, otherwise an honest don't-know."""

    def guard(reply: str) -> str:
        return FALLBACK if ungrounded_claims(reply, facts) or not reply.strip() else reply

    return guard
