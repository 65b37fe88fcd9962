"""A local stand-in for an OpenAI-compatible chat endpoint that streams replies in the real SSE format."""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web


class FakeChatEndpoint:
    """Serves POST /v1/chat/completions, streaming a fixed reply, and records every request."""

    def __init__(self, reply: str, tool_call: tuple[str, dict[str, Any]] | None = None) -> None:
        """Answer with `reply`; with `tool_call`, first ask for that tool and answer once it ran."""
        self.reply = reply
        self.tool_call = tool_call
        self.requests: list[dict[str, Any]] = []

    def app(self) -> web.Application:
        """Return the aiohttp application to serve."""
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        return app

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        body = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": "fake-model",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        return f"data: {json.dumps(body)}\n\n".encode()

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        answered = any(m.get("role") == "tool" for m in body.get("messages", []))
        if self.tool_call and not answered:
            name, args = self.tool_call
            call = {
                "index": 0,
                "id": "call_fake1",
                "type": "function",
                "function": {"name": name, "arguments": ""},
            }
            await resp.write(self._chunk({"role": "assistant", "content": None, "tool_calls": [call]}))
            await resp.write(
                self._chunk({"tool_calls": [{"index": 0, "function": {"arguments": json.dumps(args)}}]})
            )
            await resp.write(self._chunk({}, finish="tool_calls"))
        else:
            await resp.write(self._chunk({"role": "assistant", "content": ""}))
            for word in self.reply.split(" "):
                await resp.write(self._chunk({"content": word + " "}))
            await resp.write(self._chunk({}, finish="stop"))
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": "fake-model",
                "choices": [],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            }
            await resp.write(f"data: {json.dumps(usage)}\n\n".encode())
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp
