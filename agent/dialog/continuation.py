"""When the caller was still going: a turn ended in their pause, and they went on over the reply (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agent.dialog.router import RouterState

CONTINUE_S = 1.0  # speaking again this soon after the turn ended, over its reply: the same sentence


@dataclass
class LastTurn:
    """The caller's last routed turn: its words, the dialog state before it, and what became of its reply."""

    text: str
    before: RouterState
    ended_at: float  # monotonic seconds when the turn was routed
    heard: bool = False  # its reply played to the end
    cut: bool = False  # the caller cut its reply off (or it never began)
    resumed_at: float | None = None  # when the caller next started speaking

    def continued_by(self) -> bool:
        """Whether the caller's next turn goes on with this one: they started speaking within CONTINUE_S
        of this turn's end and cut its reply off before it was heard."""
        resumed = self.resumed_at
        return self.cut and not self.heard and resumed is not None and resumed - self.ended_at <= CONTINUE_S


def merged_messages(messages: list[Any], text: str) -> list[Any] | None:
    """The context with the last two caller messages made one (`text`) and the cut reply between them
    dropped; None if what lies between them is not only that reply."""
    users = [i for i, m in enumerate(messages) if isinstance(m, dict) and m.get("role") == "user"]
    if len(users) < 2:
        return None
    first, last = users[-2], users[-1]
    between = messages[first + 1 : last]
    if any(not isinstance(m, dict) or m.get("role") != "assistant" or m.get("tool_calls") for m in between):
        return None
    return [*messages[:first], {"role": "user", "content": text}, *messages[last + 1 :]]
