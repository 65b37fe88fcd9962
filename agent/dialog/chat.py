"""`agent chat`: the call's dialog engine as text, one JSON line out per caller line in."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TextIO

import structlog

from agent.config import Settings
from agent.dialog.actions import EndCall, Reply, TakeMessage, Transfer
from agent.dialog.business import Business
from agent.dialog.grounded import SentenceGate
from agent.dialog.router import Router

if TYPE_CHECKING:
    from agent.dialog.llm import LocalChatEngine

log = structlog.get_logger(__name__)
LOST_REPLY = (
    "I'm sorry, I'm having trouble answering that right now. I can take a message, or connect you with "
    "someone who can help."
)


def action_json(reply: Reply) -> dict[str, Any] | None:
    """A reply's action in `agent chat`'s stable JSON shape."""
    a = reply.action
    if isinstance(a, Transfer):
        return {"type": "transfer", "to": a.staff.name}
    if isinstance(a, EndCall):
        return {"type": "end_call"}
    if isinstance(a, TakeMessage):
        out: dict[str, Any] = {
            "type": "message",
            "caller_name": a.caller_name,
            "callback_number": a.callback_number,
            "recipient": a.recipient,
            "urgent": a.urgent,
            "text": a.message,
        }
        if a.end_call:
            out["end_call"] = True
        return out
    return None


def grounded(facts: str, reply: str) -> str:
    """A whole free reply as the caller would hear it: grounded sentences, at phone length."""
    gate = SentenceGate(facts)
    return "".join([*gate.feed(reply), *gate.finish()]).strip()


def model_replier(
    settings: Settings, business: Business, engine: LocalChatEngine | None = None
) -> Callable[[list[dict[str, str]]], str]:
    """The configured free-reply model (an OpenAI-compatible endpoint, or the embedded one: `engine` if
    already loaded), grounded."""
    system = {"role": "system", "content": business.system_prompt}
    if settings.uses_endpoint:
        import httpx
        from openai import APIError, OpenAI
        from openai.types.chat import ChatCompletionChunk

        client = OpenAI(base_url=settings.llm_base_url, api_key=settings.llm_api_key or "none")

        def endpoint(history: list[dict[str, str]]) -> str:
            gate, heard = SentenceGate(business.system_prompt), []
            try:
                stream = client.chat.completions.create(
                    model=settings.llm_model or "default",
                    messages=[system, *history],  # type: ignore[list-item]
                    max_tokens=settings.llm_max_tokens,
                    temperature=settings.llm_temperature,
                    stream=True,
                )
                for chunk in stream:
                    if isinstance(chunk, ChatCompletionChunk) and chunk.choices:
                        heard += gate.feed(chunk.choices[0].delta.content or "")
            except (APIError, httpx.HTTPError) as exc:
                # The server failed mid-reply: what was already said stands, then an honest way on.
                log.warning("llm_endpoint_failed", error=str(exc), said=len(heard))
                return "".join([*heard, LOST_REPLY]).strip()
            return "".join([*heard, *gate.finish()]).strip()

        return endpoint
    import threading

    from agent.dialog.llm import load_local_engine

    engine = engine or load_local_engine(settings)

    def local(history: list[dict[str, str]]) -> str:
        text = "".join(engine.stream([system, *history], settings.llm_max_tokens, threading.Event()))
        return grounded(business.system_prompt, text)

    return local


def run_chat(
    router: Router,
    lines: Iterable[str],
    out: TextIO,
    reply_model: Callable[[list[dict[str, str]]], str] | None = None,
) -> int:
    """Feed caller lines (`#5` presses key 5) to the router; write one JSON line each. Returns turns.

    What the router leaves to the model (small talk; with an endpoint, whatever it isn't sure of) goes to
    `reply_model`, grounded, as on a call.
    """
    history: list[dict[str, str]] = []
    turns = 0
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        turns += 1
        if line.startswith("#") and len(line) == 2:
            reply = router.handle_key(line[1]) or Reply("", "key_ignored")
        else:
            reply = router.handle(line)
        text = reply.text or reply.nudge
        if reply.use_model:
            text = reply_model([*history, {"role": "user", "content": line}]) if reply_model else ""
        history += [{"role": "user", "content": line}, {"role": "assistant", "content": text}]
        out.write(json.dumps({"reply": text, "intent": reply.intent, "action": action_json(reply)}) + "\n")
        out.flush()
        if isinstance(reply.action, (EndCall, Transfer)):
            break
        if isinstance(reply.action, TakeMessage) and reply.action.end_call:
            break
    return turns


def clock_at(business: Business, at: str | None) -> Callable[[], dt.datetime] | None:
    """A fixed clock at local time `at` (YYYY-MM-DDTHH:MM) in the business's zone, or None for now."""
    if not at:
        return None
    moment = dt.datetime.fromisoformat(at).replace(tzinfo=business.timezone)
    return lambda: moment
