"""The CPU image built and run here: build time, image size, time to ready, and a call answered inside it.

`make image` builds deploy/Dockerfile with deploy/build-local.sh (a Debian base made by mmdebstrap, podman
with runc), starts the container with its port published, waits for its models, places a simulated call from
this machine through that port as Twilio would (signed webhook, then the media stream) in an espeak-ng voice,
transcribes what the caller heard, stops the container with SIGTERM, and writes the figures to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from agent.simulate import SimulationResult, place_call, ulaw_to_pcm16k, wait_until_ready
from benchmarks.report import machine, write_section
from benchmarks.server_process import REPO, free_port

TAG = "localhost/phone-agent:cpu"
TOKEN = "container-bench-token"
LINE = "Hi, what time do you open on Saturday?"
CONF = REPO / "build" / "image" / "containers.conf"


@dataclass
class ContainerRun:
    """What one start of the image measured."""

    ready_s: float
    rss_mb: float
    call: SimulationResult
    heard: list[str]
    stop_s: float
    exit_code: int
    log_lines: int
    log_lines_with_call_sid: int


def podman(*args: str, check: bool = True) -> str:
    """Run podman (with runc and build-local.sh's containers.conf) and return its stdout."""
    env = {**os.environ, "CONTAINERS_CONF": str(CONF)} if CONF.exists() else None
    done = subprocess.run(["podman", *args], capture_output=True, text=True, env=env, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args[:2])} failed: {done.stderr.strip()[-2000:]}")
    return done.stdout.strip()


def container_logs(container: str) -> list[str]:
    """The container's output lines, stdout and stderr together (the server logs to stderr)."""
    env = {**os.environ, "CONTAINERS_CONF": str(CONF)} if CONF.exists() else None
    done = subprocess.run(["podman", "logs", container], capture_output=True, text=True, env=env, check=False)
    return (done.stdout + done.stderr).splitlines()


@dataclass(frozen=True)
class Build:
    """How long the build took and how much of it was cached."""

    seconds: float
    cached_steps: int
    steps: int
    base_made: bool

    def describe(self) -> str:
        """The build as a phrase for the report."""
        cache = (
            f"{self.cached_steps} of {self.steps} steps from podman's cache"
            if self.cached_steps
            else "no cache"
        )
        return f"built in {self.seconds:.0f} s ({cache}{'; the base made first' if self.base_made else ''})"


def build(extras: str) -> Build:
    """Build the image with deploy/build-local.sh, echoing its output, and time it."""
    started = time.monotonic()
    env = {**os.environ, "EXTRAS": extras}
    proc = subprocess.Popen(
        [str(REPO / "deploy" / "build-local.sh")], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        print(line, end="", flush=True)
        lines.append(line)
    if proc.wait() != 0:
        raise SystemExit(f"deploy/build-local.sh failed ({proc.returncode})")
    return Build(
        seconds=time.monotonic() - started,
        cached_steps=sum(line.startswith("--> Using cache") for line in lines),
        steps=sum(bool(re.match(r"\[\d+/\d+\] STEP \d+/", line)) for line in lines),
        base_made=any(line.startswith("making the base") for line in lines),
    )


def caller_wav(out: Path) -> Path:
    """The caller's line in an espeak-ng voice (not the agent's Piper voice)."""
    if shutil.which("espeak-ng") is None:
        raise SystemExit("espeak-ng is needed for the caller's voice (make espeak-ng)")
    from benchmarks.understanding_audio import espeak

    return espeak(LINE, "en-us", out / "caller.wav")


def resident_mb(container: str) -> float:
    """Resident memory of the container's main process (`agent serve`), read from this host's /proc."""
    pid = podman("inspect", "--format", "{{.State.Pid}}", container)
    found = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(found.group(1)) / 1024 if found else 0.0


def run_once(image: str, work: Path) -> ContainerRun:
    """Start the image, time it to ready, place one call into it, then stop it with SIGTERM."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    container = podman(
        "run", "--runtime", "runc", "--detach", "--log-driver", "k8s-file",
        "--publish", f"127.0.0.1:{port}:8080",
        "--env", f"TWILIO_AUTH_TOKEN={TOKEN}", "--env", f"PUBLIC_BASE_URL={url}", image,
    )  # fmt: skip
    try:
        running = lambda: podman("inspect", "--format", "{{.State.Running}}", container) == "true"  # noqa: E731
        if not wait_until_ready(url, 300, running):
            raise RuntimeError(
                "the container did not come up:\n" + "\n".join(container_logs(container)[-30:])
            )
        ready_s = time.monotonic() - started
        rss_mb = resident_mb(container)
        call = asyncio.run(place_call(url, TOKEN, [str(caller_wav(work))], reply_timeout_s=60))
        heard = transcribe(call)
        stopping = time.monotonic()
        podman("stop", "--time", "30", container)
        stop_s = time.monotonic() - stopping
        exit_code = int(podman("inspect", "--format", "{{.State.ExitCode}}", container))
        logs = container_logs(container)
    finally:
        podman("rm", "--force", container, check=False)
    return ContainerRun(
        ready_s, rss_mb, call, heard, stop_s, exit_code,
        log_lines=len(logs), log_lines_with_call_sid=sum(call.call_sid[:8] in line for line in logs),
    )  # fmt: skip


def transcribe(call: SimulationResult) -> list[str]:
    """What the caller heard, greeting first, by the embedded Whisper on this host."""
    from agent.config import load_settings
    from agent.speech.whisper import load_whisper
    from agent.speech.whisper import transcribe as whisper

    settings = load_settings({})
    model = load_whisper(settings.whisper_model, settings.whisper_compute_type)
    parts = [call.greeting_ulaw, *(bytes(t.reply_ulaw) for t in call.turns)]
    return [whisper(model, ulaw_to_pcm16k(part)).text for part in parts]


def torch_inside(image: str) -> str:
    """Which torch the image holds, as a phrase: its version (a CPU build ends in +cpu), or none."""
    found = podman(
        "run", "--runtime", "runc", "--rm", image, "python", "-c",
        "import importlib.util as u; print(__import__('torch').__version__ if u.find_spec('torch') else '')",
    )  # fmt: skip
    return f"torch {found}" if found else "no torch"


def report(
    image: str, built: Build | None, size_mb: float, extras: str, torch: str, run: ContainerRun
) -> str:
    """The run as a BENCHMARKS.md section."""
    turn = run.call.turns[0]
    latency = "no reply" if turn.latency_s is None else f"{turn.latency_s * 1000:.0f} ms"
    kind = extras.replace(",", "-") or "piper"
    links = os.environ.get("FIND_LINKS", "")
    wheels = f" (wheels from {links}, FIND_LINKS)" if links and torch != "no torch" else ""
    lines = [
        f"<!-- container-{kind}:start -->",
        f"## The CPU image ({'with ' + extras if extras else 'Piper only'}), built and run here",
        "",
        f"{datetime.date.today()}, {machine()}; `make image` (deploy/build-local.sh: a Debian bookworm base "
        "made by mmdebstrap and imported into podman 4, runc; then `benchmarks.container`).",
        "",
        f"- Image `{image}`, extras: {extras or 'none (Piper voices only)'}: "
        f"{size_mb:,.0f} MB" + (f", {built.describe()}" if built else "") + f"; {torch}{wheels}.",
        f"- `podman run` to models loaded (/healthz): {run.ready_s:.1f} s; `agent serve` resident then: "
        f"{run.rss_mb:,.0f} MB.",
        "- One call from this host through the published port (signed webhook, media stream), the caller in "
        f'espeak-ng\'s en-us voice saying "{LINE}": reply {latency} after the caller stopped (the '
        "simulator's clock, this host).",
        f'  - Greeting heard: "{run.heard[0]}"',
        f'  - Reply heard: "{run.heard[1] if len(run.heard) > 1 else ""}"',
        f"- `podman stop` (SIGTERM) to exit: {run.stop_s:.1f} s, exit code {run.exit_code}; the container "
        f"logged {run.log_lines} lines, {run.log_lines_with_call_sid} of them bound to the call's sid.",
        f"<!-- container-{kind}:end -->",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    """Optionally build the image, run it once with a call, print and optionally write the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--build", action="store_true", help="build the image first (deploy/build-local.sh)")
    parser.add_argument("--extras", default="", help="the package extras to build with (e.g. voice)")
    parser.add_argument("--image", help=f"the image to run (default {TAG}, with -EXTRAS when given)")
    parser.add_argument("--out", type=Path, help="write the section into this file (BENCHMARKS.md)")
    args = parser.parse_args()
    image = args.image or TAG + ("-" + args.extras.replace(",", "-") if args.extras else "")
    built = build(args.extras) if args.build else None
    size_mb = int(podman("image", "inspect", "--format", "{{.Size}}", image)) / 1e6
    with tempfile.TemporaryDirectory(prefix="container-") as work:
        run = run_once(image, Path(work))
    section = report(image, built, size_mb, args.extras, torch_inside(image), run)
    print(section)
    if run.call.turns[0].first_reply_at is None or run.exit_code != 0:
        raise SystemExit("the container did not answer the call, or did not exit cleanly")
    if args.out:
        kind = args.extras.replace(",", "-") or "piper"
        write_section(args.out, f"<!-- container-{kind}:start -->", f"<!-- container-{kind}:end -->", section)


if __name__ == "__main__":
    main()
