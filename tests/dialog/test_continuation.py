"""A caller who goes on after a pause: when their next words continue the turn, and the context made one."""

from __future__ import annotations

from agent.dialog.business import load_business
from agent.dialog.continuation import CONTINUE_S, LastTurn, merged_messages
from agent.dialog.router import Router
from tests.conftest import REPO


def turn(**changes: object) -> LastTurn:
    router = Router(load_business(REPO / "prompts", "example"))
    base = LastTurn("I was wondering about your hours.", router.snapshot(), ended_at=100.0)
    for key, value in changes.items():
        setattr(base, key, value)
    return base


def test_speaking_again_over_the_reply_soon_after_the_turn_ended_continues_it() -> None:
    """Cut off within CONTINUE_S of the turn's end: the same sentence; later, or over a reply heard to
    its end, or without cutting it: a new turn."""
    assert turn(cut=True, resumed_at=100.0 + CONTINUE_S).continued_by()
    assert not turn(cut=True, resumed_at=100.0 + CONTINUE_S + 0.1).continued_by()
    assert not turn(cut=False, resumed_at=100.5).continued_by()
    assert not turn(cut=True, heard=True, resumed_at=100.5).continued_by()
    assert not turn(cut=True).continued_by()  # never spoke again


def test_the_two_caller_messages_become_one_without_the_cut_reply() -> None:
    """The reply heard in part between them goes; anything else between them (a tool call) keeps both."""
    system = {"role": "system", "content": "You answer for Harbor Dental."}
    first, second = (
        {"role": "user", "content": "I was wondering about your hours."},
        {"role": "user", "content": "On Saturday."},
    )
    cut = {"role": "assistant", "content": "Our hours are—"}
    joined = "I was wondering about your hours. On Saturday."
    assert merged_messages([system, first, cut, second], joined) == [
        system,
        {"role": "user", "content": joined},
    ]
    assert merged_messages([system, first, second], joined) == [system, {"role": "user", "content": joined}]
    tool = {"role": "assistant", "content": None, "tool_calls": [{"id": "1"}]}
    assert merged_messages([system, first, tool, second], joined) is None
    assert merged_messages([system, second], joined) is None
