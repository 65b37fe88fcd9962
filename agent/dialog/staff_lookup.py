"""Which staff member a caller means: by name, by role, by the topics they take, or who books (pure)."""

from __future__ import annotations

import re

from agent.dialog.business import Business, Staff
from agent.dialog.phrases import ABOUT_PERSON, AVAILABLE, CALLING_ABOUT
from agent.dialog.spoken import normalise
from agent.dialog.understanding import BOOKING_WORDS, Reading, Thresholds

# A role's everyday names (patterns).
ROLE_WORDS = {"owner": r"boss|owns (the|this|your) \w+", "manager": "boss", "dentist": "doctor"}


def named_in(business: Business, text: str) -> Staff | None:
    """A staff member the caller named, by name or role."""
    for s in business.staff:
        parts = [p for p in normalise(s.name).split() if p not in {"dr", "the"}]
        # A short last name counts after a title ("Ms. Wu"); a role by its everyday word too ("boss").
        if any(re.search(rf"\b{re.escape(p)}\b", text) for p in parts if len(p) > 2) or (
            len(parts) > 1 and re.search(rf"\b(mr|ms|mrs|miss|dr|doctor) {re.escape(parts[-1])}\b", text)
        ):
            return s
        roles = [re.escape(s.role.lower()), *(ROLE_WORDS.get(w, "") for w in s.role.lower().split())]
        if any(r and re.search(rf"\b({r})\b", text) for r in roles):
            return s
    return None


def about_staff(text: str, staff: Staff) -> bool:
    """A question about a staff member ("is Dr. Lee any good?", "does Priya speak Spanish?")."""
    if AVAILABLE.search(text):
        return False
    if ABOUT_PERSON.search(text):
        return True
    names = [p for p in normalise(staff.name).split() if p not in {"dr", "the"} and len(p) > 1]
    subject = "|".join(re.escape(p) for p in names)
    return bool(
        re.search(rf"^(\w+ )?(does|is|has|did|was|can|do) (dr |doctor |mr |ms |mrs )?({subject})\b", text)
    )


def topic_staff(business: Business, text: str, reading: Reading, min_score: float) -> Staff | None:
    """The staff member whose topic the caller named (billing, a complaint) or calls about, if any."""
    best, score = reading.best, reading.score
    if CALLING_ABOUT.search(text) and best.intent == "transfer" and best.ref and score >= min_score:
        return business.staff_named(best.ref)
    for sense in reading.evidence:
        if sense.intent == "transfer" and sense.ref:
            staff = business.staff_named(sense.ref)
            if staff and any(re.search(rf"\b{re.escape(t)}s?\b", text) for t in staff.takes):
                return staff
    return None


def booking_staff(business: Business) -> Staff | None:
    """Whoever takes appointments, by the topics they take."""
    return next((s for s in business.staff if BOOKING_WORDS & set(s.takes)), None)


def booking_ref(business: Business, reading: Reading) -> str:
    """The name of whom a booking goes to: the reading's booking entry, else whoever books."""
    booking = reading.top("booking")
    if booking is not None and booking[0].ref:
        return booking[0].ref
    staff = booking_staff(business)
    return staff.name if staff else ""


def staff_for(business: Business, text: str, reading: Reading, t: Thresholds) -> Staff | None:
    """Whom a request for a person should reach: a named person, else the topic's staff member."""
    named = named_in(business, text) or topic_staff(business, text, reading, t.min_score)
    if named is not None:
        return named
    for sense, _ in reading.ranked:
        if sense.intent in ("transfer", "booking") and sense.ref:
            return business.staff_named(sense.ref) if reading.sure(sense, t.strong, t.min_score) else None
    return None
