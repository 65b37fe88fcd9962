"""The embedded reply engine and how a pipecat context becomes chat messages."""

from __future__ import annotations

import threading

from agent.dialog.llm import HISTORY_MESSAGES, chat_messages
from agent.models import Models


def test_chat_messages_keep_system_prompt_and_recent_turns() -> None:
    """Only role/content text messages pass; the system prompt stays and history is bounded."""
    raw = [{"role": "system", "content": "S"}, {"role": "tool", "content": "x"}]
    raw += [{"role": "user" if i % 2 else "assistant", "content": str(i)} for i in range(30)]
    raw.append({"role": "user", "content": [{"type": "image"}]})
    msgs = chat_messages(raw)
    assert msgs[0] == {"role": "system", "content": "S"}
    assert len(msgs) == 1 + HISTORY_MESSAGES
    assert msgs[-1]["content"] == "29"


def test_embedded_model_streams_a_reply_and_stops_when_asked(models: Models) -> None:
    """SmolLM2 streams text pieces; setting the stop event ends generation early."""
    assert models.llm is not None
    msgs = [
        {"role": "system", "content": "You are a receptionist."},
        {"role": "user", "content": "Hello, who am I speaking to?"},
    ]
    pieces = list(models.llm.stream(msgs, 40, threading.Event()))
    assert len(pieces) > 2 and "".join(pieces).strip()
    stop = threading.Event()
    got = []
    for piece in models.llm.stream(msgs, 40, stop):
        got.append(piece)
        stop.set()
    assert len(got) == 1
