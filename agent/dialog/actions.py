"""What the receptionist decides: a reply to speak and the action to take once it has played."""

from __future__ import annotations

from dataclasses import dataclass

from agent.dialog.business import Staff

ANYTHING_ELSE = "Is there anything else I can help you with?"


@dataclass(frozen=True)
class Transfer:
    """Move the live call to a staff member's number."""

    staff: Staff


@dataclass(frozen=True)
class EndCall:
    """Say goodbye, let it play, then hang up."""


@dataclass(frozen=True)
class TakeMessage:
    """Store a message for a staff member."""

    caller_name: str
    callback_number: str
    message: str
    urgent: bool
    recipient: str
    end_call: bool = False  # the caller said goodbye: hang up once the reply has played


Action = Transfer | EndCall | TakeMessage


@dataclass(frozen=True)
class Reply:
    """What to say, the action to take once it has played, and the intent that produced it."""

    text: str
    intent: str
    action: Action | None = None
    use_model: bool = False
    nudge: str = ""  # with no text: what to say if the caller then stays silent a moment
