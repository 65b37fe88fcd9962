"""Prometheus metrics for one server process: live calls, outcomes, refusals and per-stage latency."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from agent.compute_gate import GateStats
from agent.loop_lag import LAG_BUCKETS

METRICS_PATH = "/metrics"
LATENCY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
STAGES = {
    "voice_to_voice": "server_total_ms",
    "end_of_turn": "end_of_turn_ms",
    "speech_to_text": "stt_ms",
    "llm_first_token": "llm_first_token_ms",
    "tts_first_audio": "tts_first_audio_ms",
}


@dataclass
class Metrics:
    """The server's metrics, in a registry of its own (so several apps can live in one process)."""

    max_calls: int
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        """Create every series."""
        r = self.registry
        self.live = Gauge("agent_live_calls", "Calls in progress on this process", registry=r)
        self.limit = Gauge("agent_max_calls", "Admission limit: most live calls per process", registry=r)
        self.limit.set(self.max_calls)
        self.draining = Gauge("agent_draining", "1 while the process drains before exit", registry=r)
        self.tasks = Gauge(
            "agent_asyncio_tasks", "asyncio tasks alive in the process (read at scrape)", registry=r
        )
        self.model_busy = Gauge(
            "agent_model_busy_seconds",
            "Seconds each shared decode queue's worker has spent running model passes (read at scrape)",
            ["model"],
            registry=r,
        )
        self.gate_passes = Gauge(
            "agent_compute_gate_passes",
            "Whisper and Piper passes let through the process's compute gate, by urgency (read at scrape)",
            ["urgency"],
            registry=r,
        )
        self.gate_wait = Gauge(
            "agent_compute_gate_wait_seconds",
            "Seconds those passes waited at the gate, by urgency (read at scrape)",
            ["urgency"],
            registry=r,
        )
        self.gate_overtaken = Gauge(
            "agent_compute_gate_overtaken",
            "Background passes that waited their limit and ran beside another pass: the lane is saturated "
            "(read at scrape)",
            registry=r,
        )
        self.started = Counter("agent_calls_started_total", "Calls answered", ["business"], registry=r)
        self.ended = Counter(
            "agent_calls_ended_total", "Calls ended, by outcome", ["business", "outcome"], registry=r
        )
        self.refused = Counter(
            "agent_calls_refused_total", "Calls turned away politely", ["reason"], registry=r
        )
        self.stage = {
            name: Histogram(
                f"agent_{name}_seconds",
                f"Per-turn {name.replace('_', ' ')} time",
                ["business"],
                buckets=LATENCY_BUCKETS,
                registry=r,
            )
            for name in STAGES
        }
        self.loop_lag = Histogram(
            "agent_event_loop_lag_seconds",
            "How late the event loop woke a task that sleeps 50 ms (every call shares the loop)",
            buckets=LAG_BUCKETS,
            registry=r,
        )
        self.barge_in = Histogram(
            "agent_barge_in_reaction_seconds",
            "Caller speech detected → clear sent to Twilio",
            ["business"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )

    def observe_turns(self, business: str, turns: list[dict[str, float | None]]) -> None:
        """Record each finished turn's stage timings (milliseconds in, seconds out)."""
        for turn in turns:
            for name, key in STAGES.items():
                value = turn.get(key)
                if value is not None and value >= 0:
                    self.stage[name].labels(business).observe(value / 1000)

    def read_gate(self, stats: GateStats) -> None:
        """Copy the compute gate's totals into their series."""
        for urgent, name in ((True, "urgent"), (False, "background")):
            self.gate_passes.labels(name).set(stats.passes[urgent])
            self.gate_wait.labels(name).set(stats.waited_s[urgent])
        self.gate_overtaken.set(stats.overtaken)

    def render(self) -> bytes:
        """The metrics in Prometheus' text exposition format."""
        return bytes(generate_latest(self.registry))


def authorized(header: str, token: str) -> bool:
    """Whether an Authorization header is `Bearer <token>`, for a non-empty token, in constant time."""
    scheme, _, given = header.partition(" ")
    return (
        bool(token)
        and scheme.lower() == "bearer"
        and hmac.compare_digest(given.strip().encode(), token.encode())
    )
