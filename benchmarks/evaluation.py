"""Score receptionist conversations against expected actions and facts (used by `make eval`, pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agent.dialog.actions import EndCall, Reply, TakeMessage, Transfer
from agent.dialog.spoken import extract_digits

UNKNOWN_MARKER = "don't have that information"
MAX_REACTIONS = 3  # a caller corrects or spells at most this often in one call
_READ_BACK = re.compile(r"(?:I have|So that's) ([0-9 ,]+)\. Is that right\?")
_CONFIRMS = re.compile(r"^(yes|yeah|yep|correct|that's right|right)\b", re.IGNORECASE)
TASK_BY_PREFIX = {
    "address": "address",
    "directions": "address",
    "parking": "address",
    "price": "services",
    "fillings": "services",
    "services": "services",
    "toothache": "services",
    "faq": "faq",
}


@dataclass(frozen=True)
class Case:
    """One scripted call: what the caller says or presses, and what a correct agent does."""

    id: str
    say: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    facts: tuple[str, ...] = ()
    transfer: str | None = None
    message: dict[str, Any] | None = None
    end: bool = False
    unknown: bool = False
    now: bool = False

    @property
    def task(self) -> str:
        """The task family a case belongs to, for per-task scores."""
        for flag, task in (
            (self.transfer, "transfer"),
            (self.message, "message"),
            (self.end, "goodbye"),
            (self.unknown, "unknown"),
        ):
            if flag:
                return task
        return TASK_BY_PREFIX.get(self.id.split("-")[0], "hours")


@dataclass
class Outcome:
    """What happened on one call: every reply said and the actions taken."""

    replies: list[str] = field(default_factory=list)
    transfers: list[str] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    ended: bool = False

    def add(self, reply: Reply) -> None:
        """Record one reply and its action."""
        self.replies.append(reply.text)
        if isinstance(reply.action, Transfer):
            self.transfers.append(reply.action.staff.name)
        elif isinstance(reply.action, TakeMessage):
            self.messages.append(vars(reply.action))
            self.ended = self.ended or reply.action.end_call
        elif isinstance(reply.action, EndCall):
            self.ended = True


def spell(words: list[str]) -> str:
    """Words as a caller spells them: "W, O, N, G." and "A, N, A. S, I, L, V, A." for two."""
    return " ".join(", ".join(w.upper()) + "." for w in words)


def react(case: Case, reply: str, upcoming: str | None) -> str | None:
    """What a person in this case says off the script to the agent's `reply`, or None to go on with it.

    Asked to spell, they spell the name they gave; read back a wrong number when their script was about
    to confirm it, they correct it.
    """
    if not case.message:
        return None
    name = str(case.message["caller_name"]).split()
    if "spell your last name" in reply:
        return spell(name[-1:])
    if "spell your name" in reply:
        return spell(name)
    number = str(case.message["callback_number"])
    read_back = _READ_BACK.search(reply)
    confirming = upcoming is not None and _CONFIRMS.match(upcoming.strip())
    if read_back and confirming and extract_digits(read_back.group(1)) != number:
        return f"No, it's {number[:3]} {number[3:6]} {number[6:]}."
    return None


def load_cases(path: Path) -> list[Case]:
    """Read the YAML case list."""
    raw = yaml.safe_load(path.read_text())
    return [
        Case(
            **{
                **c,
                "say": tuple(c.get("say", ())),
                "keys": tuple(c.get("keys", ())),
                "facts": tuple(c.get("facts", ())),
            }
        )
        for c in raw
    ]


def squash(text: str) -> str:
    """Lower-case and drop everything but letters and digits, so '9 AM' matches '9am' and '9 a.m.'."""
    return re.sub(r"[^a-z0-9]", "", text.lower())


def score(case: Case, outcome: Outcome, now_facts: tuple[str, ...] = ()) -> list[str]:
    """Return the problems with an outcome (an empty list means the case passed)."""
    problems = []
    said = squash(" ".join(outcome.replies))
    for fact in now_facts or case.facts:
        if squash(fact) not in said:
            problems.append(f"missing fact {fact!r}")
    if case.transfer and outcome.transfers != [case.transfer]:
        problems.append(f"transferred to {outcome.transfers}, wanted {case.transfer}")
    if not case.transfer and outcome.transfers:
        problems.append(f"unexpected transfer to {outcome.transfers}")
    if case.message:
        if len(outcome.messages) != 1:
            problems.append(f"{len(outcome.messages)} messages taken, wanted 1")
        else:
            got = outcome.messages[0]
            for key in ("caller_name", "callback_number", "recipient", "urgent"):
                if squash(str(got[key])) != squash(str(case.message[key])):
                    problems.append(f"message {key} {got[key]!r}, wanted {case.message[key]!r}")
            if squash(case.message["contains"]) not in squash(got["message"]):
                problems.append(f"message text {got['message']!r} lacks {case.message['contains']!r}")
    elif outcome.messages:
        problems.append("unexpected message taken")
    if case.end != outcome.ended:
        problems.append("call ended" if outcome.ended else "call not ended")
    if case.unknown and squash(UNKNOWN_MARKER) not in said:
        problems.append("did not say it doesn't know")
    return problems
