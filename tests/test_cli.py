"""`agent serve` and `agent simulate-call` as a user runs them, in two processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp.test_utils import unused_port

from agent.simulate import wait_until_ready
from tests.conftest import REPO

AGENT = [sys.executable, "-m", "agent"]


@pytest.mark.models
def test_serve_then_simulate_call_holds_a_two_turn_conversation(tmp_path: Path, speech_dir: Path) -> None:
    """On defaults (dev token file, embedded models) a simulated call gets a greeting and two replies, and
    the server, whose voices are all Piper, never imports torch."""
    port = unused_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "LLM_"))}
    env.update(
        PORT=str(port),
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        DATA_DIR=str(tmp_path / "data"),
        PROMPTS_DIR=str(REPO / "prompts"),
    )
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen([*AGENT, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        up = wait_until_ready(f"http://127.0.0.1:{port}", 60, lambda: server.poll() is None)
        assert up, (tmp_path / "server.log").read_text()
        token_file = tmp_path / "data" / "dev-auth-token"
        assert token_file.exists() and (token_file.stat().st_mode & 0o777) == 0o600
        out = tmp_path / "heard.wav"
        sim = subprocess.run(
            [
                *AGENT,
                "simulate-call",
                "--wav",
                str(speech_dir / "hours.wav"),
                "--wav",
                str(speech_dir / "where.wav"),
                "--out",
                str(out),
            ],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert sim.returncode == 0, sim.stdout + sim.stderr
        lines = sim.stdout.splitlines()
        assert sum(line.strip().startswith("agent:") for line in lines) == 3
        assert sum(" ms]" in line for line in lines) == 2
        assert out.exists() and out.stat().st_size > 8000 * 2 * 5
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()
    server_log = (tmp_path / "server.log").read_text()
    assert "call_started" in server_log and "turn_latency" in server_log
    assert '"torch": false' in server_log  # the stock voice's server never imports torch


def test_simulate_call_reports_an_unreachable_server(tmp_path: Path, speech_dir: Path) -> None:
    """With no server listening, simulate-call says so and exits non-zero."""
    env = dict(os.environ, DATA_DIR=str(tmp_path), TWILIO_AUTH_TOKEN="x")
    sim = subprocess.run(
        [
            *AGENT,
            "simulate-call",
            "--wav",
            str(speech_dir / "hours.wav"),
            "--url",
            f"http://127.0.0.1:{unused_port()}",
            "--no-transcribe",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert sim.returncode == 1
    assert "simulate-call failed" in sim.stderr


def test_simulate_call_refuses_a_non_wav_file(tmp_path: Path) -> None:
    """A caller file that is not a 16-bit WAV gets a clear error."""
    bad = tmp_path / "caller.wav"
    bad.write_text("not audio")
    env = dict(os.environ, DATA_DIR=str(tmp_path), TWILIO_AUTH_TOKEN="x")
    sim = subprocess.run(
        [*AGENT, "simulate-call", "--wav", str(bad), "--no-transcribe"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert sim.returncode == 1
    assert "not a readable WAV file" in sim.stderr


def test_serve_refuses_to_start_on_an_invalid_profile(tmp_path: Path) -> None:
    """An invalid business profile stops `agent serve` with the file, field and problem named."""
    prompts = tmp_path / "prompts"
    (prompts / "businesses").mkdir(parents=True)
    (prompts / "persona.md").write_text("{business_name}\n{profile}")
    (prompts / "businesses" / "example.yaml").write_text(
        "name: X\ngreeting: Hi\ntimezone: UTC\nhours: {monday: '9am-5pm'}\n"
        "staff: [{name: A, number: '+15550000000'}]\n"
    )
    env = dict(
        os.environ,
        DATA_DIR=str(tmp_path),
        TWILIO_AUTH_TOKEN="x",
        PROMPTS_DIR=str(prompts),
        PORT=str(unused_port()),
    )
    proc = subprocess.run([*AGENT, "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "example.yaml: hours.monday: '9am-5pm' is not 'HH:MM-HH:MM'" in proc.stderr


def test_say_writes_caller_audio(tmp_path: Path) -> None:
    """`agent say` writes a WAV of the line in the stock voice."""
    import wave

    out = tmp_path / "caller.wav"
    proc = subprocess.run(
        [*AGENT, "say", "Where are you located?", "-o", str(out)],
        env=dict(os.environ, DATA_DIR=str(tmp_path), TWILIO_AUTH_TOKEN="x"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    with wave.open(str(out)) as wav:
        assert wav.getnframes() / wav.getframerate() > 0.8


def test_simulate_call_takes_barge_in_and_echo_options() -> None:
    """`--barge-in-after` and `--echo-db` reach the simulated caller as numbers, and default to off."""
    from agent.cli import build_parser

    parser = build_parser()
    options = ["--barge-in-after", "1.5", "--echo-db", "15"]
    args = parser.parse_args(["simulate-call", "--wav", "a.wav", *options])
    assert (args.barge_in_after, args.echo_db) == (1.5, 15.0)
    plain = parser.parse_args(["simulate-call", "--wav", "a.wav"])
    assert (plain.barge_in_after, plain.echo_db) == (None, None)
