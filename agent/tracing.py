"""Optional OpenTelemetry tracing: a span per call, per turn and per STT/LLM/TTS step, sent over OTLP."""

from __future__ import annotations

import structlog

from agent.config import Settings

log = structlog.get_logger(__name__)


def configure_tracing(settings: Settings) -> bool:
    """Export pipecat's call, turn and service spans to OTEL_EXPORTER_OTLP_ENDPOINT (OTLP over HTTP)."""
    if not settings.otel_exporter_otlp_endpoint:
        return False
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from pipecat.utils.tracing.setup import setup_tracing
    except ImportError:
        log.error("tracing_unavailable", hint="pip install 'phone-agent[tracing]'")
        return False
    endpoint = settings.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces"
    ok = bool(setup_tracing(settings.otel_service_name, exporter=OTLPSpanExporter(endpoint=endpoint)))
    log.info("tracing_configured", endpoint=endpoint, ok=ok)
    return ok


def flush_traces(timeout_ms: int = 5000) -> None:
    """Push out spans still buffered (at shutdown, and in tests)."""
    try:
        from opentelemetry import trace
    except ImportError:
        return
    provider = trace.get_tracer_provider()
    force_flush = getattr(provider, "force_flush", None)
    if force_flush is not None:
        force_flush(timeout_ms)
