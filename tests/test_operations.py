"""Operating the server: readiness, admission control, Prometheus metrics, and draining on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer, unused_port
from prometheus_client.parser import text_string_to_metric_families
from structlog.testing import capture_logs

from agent.capacity import DEFAULT_MAX_CALLS, Capacity
from agent.config import Settings
from agent.models import Models
from agent.server import STATE, create_app
from agent.simulate import place_call, wait_until_ready
from tests.conftest import AUTH_TOKEN, REPO
from tests.test_server import open_stream, post_webhook

METRICS_TOKEN = "metrics-token-0123456789abcdef"
SCRAPER = {"Authorization": f"Bearer {METRICS_TOKEN}"}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def test_admission_limit_refuses_politely_and_readiness_reports_full(
    settings: Settings, models: Models
) -> None:
    """At max_calls the webhook answers TwiML that says the line is busy; /readyz turns 503."""
    cfg = replace(settings, max_calls=1, metrics_token=METRICS_TOKEN)
    srv = TestServer(create_app(cfg, models), host="127.0.0.1", port=cfg.port)
    await srv.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            assert (await http.get(cfg.public_base_url + "/readyz")).status == 200
            first = await open_stream(http, cfg, "CA" + "1" * 32)
            await first.start()
            await first.next_event("media")
            ready = await http.get(cfg.public_base_url + "/readyz")
            assert ready.status == 503 and (await ready.json())["reason"] == "full"
            refused = await post_webhook(http, cfg, "CA" + "2" * 32)
            twiml = ET.fromstring(await refused.text())
            assert twiml.find("Connect") is None
            assert "lines are busy" in (twiml.findtext("Say") or "")
            assert twiml.find("Hangup") is not None
            await first.stop()
            await asyncio.sleep(0.5)
            text = await (await http.get(cfg.public_base_url + "/metrics", headers=SCRAPER)).text()
    finally:
        await srv.close()
    m = samples(text)
    assert m[("agent_calls_refused_total", (("reason", "full"),))] == 1
    assert m[("agent_max_calls", ())] == 1


async def test_refusal_forwards_to_the_fallback_number_when_configured(
    settings: Settings, models: Models
) -> None:
    """With a fallback number, a refused call is forwarded there instead of hung up."""
    cfg = replace(settings, max_calls=1, fallback_number="+15550109999")
    srv = TestServer(create_app(cfg, models), host="127.0.0.1", port=cfg.port)
    await srv.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            await post_webhook(http, cfg, "CA" + "4" * 32)  # its stream token holds the only slot
            twiml = ET.fromstring(await (await post_webhook(http, cfg, "CA" + "3" * 32)).text())
    finally:
        await srv.close()
    assert (twiml.findtext("Dial") or "").strip() == "+15550109999"


async def test_metrics_move_after_a_call(settings: Settings, models: Models, speech_dir: Path) -> None:
    """After a call: started/ended counters by business and outcome, latency histograms, decode busy time,
    the compute gate's passes."""
    settings = replace(settings, metrics_token=METRICS_TOKEN)
    srv = TestServer(create_app(settings, models), host="127.0.0.1", port=settings.port)
    await srv.start_server()
    try:
        await place_call(settings.public_base_url, AUTH_TOKEN, [str(speech_dir / "where.wav")])
        async with asyncio.timeout(10):
            while True:
                async with aiohttp.ClientSession() as http:
                    scrape = await http.get(settings.public_base_url + "/metrics", headers=SCRAPER)
                    text = await scrape.text()
                m = samples(text)
                if m.get(
                    ("agent_calls_ended_total", (("business", "example"), ("outcome", "caller_hung_up")))
                ):
                    break
                await asyncio.sleep(0.1)
    finally:
        await srv.close()
    assert m[("agent_calls_started_total", (("business", "example"),))] == 1
    assert m[("agent_live_calls", ())] == 0
    assert m[("agent_voice_to_voice_seconds_count", (("business", "example"),))] >= 1
    assert m[("agent_speech_to_text_seconds_count", (("business", "example"),))] >= 1
    assert m[("agent_model_busy_seconds", (("model", "whisper"),))] > 0  # the call's speech was decoded
    assert m[("agent_compute_gate_passes", (("urgency", "urgent"),))] >= 1  # its final took the gate
    assert ("agent_compute_gate_overtaken", ()) in m


class TestMetricsToken:
    async def test_metrics_need_the_bearer_token_and_the_token_is_never_logged(
        self, settings: Settings, models: Models
    ) -> None:
        """/metrics answers 401 without its bearer token or with a wrong one, 200 with it; no log shows it."""
        cfg = replace(settings, metrics_token=METRICS_TOKEN)
        with capture_logs() as logs:
            srv = TestServer(create_app(cfg, models), host="127.0.0.1", port=cfg.port)
            await srv.start_server()
            try:
                async with aiohttp.ClientSession() as http:
                    url = cfg.public_base_url + "/metrics"
                    wrong = [
                        {},
                        {"Authorization": "Bearer metrics-token-wrong"},
                        {"Authorization": f"Basic {METRICS_TOKEN}"},
                        {"Authorization": f"Bearer {METRICS_TOKEN}x"},
                    ]
                    refused = []
                    for headers in wrong:
                        async with http.get(url, headers=headers) as r:
                            refused.append((r.status, r.headers.get("WWW-Authenticate")))
                    async with http.get(url, headers=SCRAPER) as r:
                        status, text = r.status, await r.text()
            finally:
                await srv.close()
        assert refused == [(401, "Bearer")] * len(wrong)
        assert status == 200 and ("agent_live_calls", ()) in samples(text)
        assert not [e for e in logs if e["event"] == "metrics_off"]
        assert METRICS_TOKEN not in repr(logs) and METRICS_TOKEN not in repr(cfg)

    async def test_without_a_token_metrics_are_off_and_the_start_says_so_once(
        self, settings: Settings, models: Models
    ) -> None:
        """With METRICS_TOKEN unset /metrics answers 404 to everyone, and startup logs once that it is off."""
        with capture_logs() as logs:
            srv = TestServer(create_app(settings, models), host="127.0.0.1", port=settings.port)
            await srv.start_server()
            try:
                async with aiohttp.ClientSession() as http:
                    statuses = []
                    for headers in ({}, {"Authorization": "Bearer "}, SCRAPER):
                        async with http.get(settings.public_base_url + "/metrics", headers=headers) as r:
                            statuses.append(r.status)
            finally:
                await srv.close()
        assert statuses == [404, 404, 404]
        off = [e for e in logs if e["event"] == "metrics_off"]
        assert len(off) == 1 and "METRICS_TOKEN" in off[0]["reason"]


def test_sigterm_drains_live_calls_refuses_new_ones_then_exits(tmp_path: Path, speech_dir: Path) -> None:
    """SIGTERM mid-call: readiness turns 503, a new call is refused politely, the live call finishes,
    then the process exits 0."""
    port = unused_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "LLM_"))}
    env.update(
        PORT=str(port),
        PUBLIC_BASE_URL=base,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        DATA_DIR=str(tmp_path),
        PROMPTS_DIR=str(REPO / "prompts"),
        DRAIN_DEADLINE_SECS="60",
    )
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "agent", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        assert wait_until_ready(base, 60, lambda: server.poll() is None)

        async def scenario() -> tuple[object, int, str]:
            call = asyncio.create_task(place_call(base, AUTH_TOKEN, [str(speech_dir / "where.wav")]))
            await asyncio.sleep(3.0)  # mid-greeting
            server.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.5)
            async with aiohttp.ClientSession() as http:
                ready = (await http.get(base + "/readyz")).status
                settings = Settings(public_base_url=base, port=port, twilio_auth_token=AUTH_TOKEN)
                refused = await (await post_webhook(http, settings, "CA" + "4" * 32)).text()
            return await call, ready, refused

        result, ready, refused = asyncio.run(scenario())
        assert ready == 503
        assert "lines are busy" in refused and "<Connect" not in refused
        assert result.turns[0].first_reply_at is not None  # type: ignore[attr-defined]
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
        log.close()
    out = (tmp_path / "server.log").read_text()
    assert '"draining"' in out and '"stopped"' in out
    assert out.index('"call_ended"') < out.index('"stopped"')


async def test_without_max_calls_the_limit_comes_from_the_calibration(
    settings: Settings, models: Models
) -> None:
    """MAX_CALLS unset: the limit saved by `agent calibrate` is used, and /readyz and /metrics say so;
    MAX_CALLS set wins over it; with neither, the default 4 is used and /readyz says to calibrate."""
    saved = Capacity(calls=2, bound=1.5, measured_at="2026-12-03T17:40Z", machine="test", levels=[])
    saved.save(settings.data_dir)
    for max_calls, limit, source in ((0, 2, "calibration 2026-12-03T17:40Z"), (3, 3, "MAX_CALLS")):
        cfg = replace(settings, max_calls=max_calls, metrics_token=METRICS_TOKEN)
        srv = TestServer(create_app(cfg, models), host="127.0.0.1", port=cfg.port)
        await srv.start_server()
        try:
            async with aiohttp.ClientSession() as http:
                ready = await (await http.get(cfg.public_base_url + "/readyz")).json()
                text = await (await http.get(cfg.public_base_url + "/metrics", headers=SCRAPER)).text()
        finally:
            await srv.close()
        assert (ready["max_calls"], ready["max_calls_from"]) == (limit, source)
        assert samples(text)[("agent_max_calls", ())] == limit
    (settings.data_dir / "capacity.json").unlink()
    cfg = replace(settings, max_calls=0)
    assert create_app(cfg, models)[STATE].settings.max_calls == DEFAULT_MAX_CALLS == 4
    assert "agent calibrate" in create_app(cfg, models)[STATE].max_calls_from
