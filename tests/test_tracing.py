"""OpenTelemetry: with an OTLP endpoint configured, a call's spans arrive there carrying its CallSid."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer, unused_port
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from agent.config import Settings
from agent.models import Models
from agent.server import create_app
from agent.simulate import place_call
from agent.tracing import configure_tracing, flush_traces
from tests.conftest import AUTH_TOKEN


async def test_call_turn_and_service_spans_are_exported_over_otlp(
    settings: Settings, models: Models, speech_dir: Path
) -> None:
    """A call exports a conversation span, turn spans and STT/LLM/TTS spans, all with call_sid."""
    received: list[ExportTraceServiceRequest] = []

    async def traces(request: web.Request) -> web.Response:
        assert request.content_type == "application/x-protobuf"
        req = ExportTraceServiceRequest()
        req.ParseFromString(await request.read())
        received.append(req)
        return web.Response(body=b"", content_type="application/x-protobuf")

    collector_app = web.Application()
    collector_app.router.add_post("/v1/traces", traces)
    collector = TestServer(collector_app, host="127.0.0.1", port=unused_port())
    await collector.start_server()
    cfg = replace(settings, otel_exporter_otlp_endpoint=f"http://127.0.0.1:{collector.port}")
    assert configure_tracing(cfg)
    srv = TestServer(create_app(cfg, models), host="127.0.0.1", port=cfg.port)
    await srv.start_server()
    try:
        result = await place_call(cfg.public_base_url, AUTH_TOKEN, [str(speech_dir / "chat.wav")])
    finally:
        await srv.close()
    await asyncio.to_thread(flush_traces)  # the exporter posts to a server on this very loop
    await collector.close()
    spans = [
        span for req in received for rs in req.resource_spans for ss in rs.scope_spans for span in ss.spans
    ]

    def attr(span: Any, key: str) -> str:
        return next((a.value.string_value for a in span.attributes if a.key == key), "")

    (conversation,) = [
        s for s in spans if s.name == "conversation" and attr(s, "call_sid") == result.call_sid
    ]
    in_call = [s for s in spans if s.trace_id == conversation.trace_id]
    turns = [s for s in in_call if s.name == "turn"]
    assert turns and all(attr(t, "conversation.id") == result.call_sid for t in turns)
    assert {"stt", "llm", "tts"} <= {s.name for s in in_call}
