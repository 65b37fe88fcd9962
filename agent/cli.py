"""The command line: `agent serve` and `agent simulate-call`."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from agent.config import ConfigError, Settings, load_settings
from agent.console import cli as console_cli
from agent.dialog import profile_cli
from agent.records import cli as records_cli
from agent.voice.cli import add_voices_parser, run_voices


def _serve(settings: Settings) -> int:
    from agent.logs import configure_logging

    configure_logging(settings.log_level)  # before pipecat is imported, so its banner is JSON too
    from agent.memory import limit_malloc_arenas

    limit_malloc_arenas()  # before the model threads start allocating
    from agent.dialog.business import ProfileError
    from agent.runner import run
    from agent.server import create_app
    from agent.tracing import configure_tracing, flush_traces

    configure_tracing(settings)

    try:
        app = create_app(settings)
    except ProfileError as exc:
        print(f"invalid business profile:\n{exc}", file=sys.stderr)
        return 2
    if settings.auth_token_file:
        print(f"Development auth token (for simulate-call) is in {settings.auth_token_file}", file=sys.stderr)
    print(
        f"Serving on http://{settings.host}:{settings.port} "
        f"(Twilio webhook: {settings.public_base_url.rstrip('/')}/twilio/voice)",
        file=sys.stderr,
    )
    asyncio.run(run(app, settings))
    flush_traces()
    return 0


def _auth_token(args: argparse.Namespace, settings: Settings) -> str:
    if args.auth_token_file:
        return Path(args.auth_token_file).read_text().strip()
    return settings.twilio_auth_token


def _simulate(args: argparse.Namespace, settings: Settings) -> int:
    from agent.simulate import SimulationError, place_call, ulaw_to_pcm16k, write_ulaw_wav

    try:
        result = asyncio.run(
            place_call(
                args.url,
                _auth_token(args, settings),
                args.wav,
                public_base_url=args.public_base_url,
                barge_in_after_s=args.barge_in_after,
                echo_db=args.echo_db,
            )
        )
    except (SimulationError, OSError) as exc:
        print(f"simulate-call failed: {exc}", file=sys.stderr)
        return 1
    write_ulaw_wav(args.out, result.heard_ulaw)
    if not args.no_transcribe:
        from agent.simulate import read_wav_as_ulaw
        from agent.speech.whisper import load_whisper, transcribe

        model = load_whisper(settings.whisper_model, settings.whisper_compute_type)
        result.greeting_text = transcribe(model, ulaw_to_pcm16k(result.greeting_ulaw)).text
        for turn in result.turns:
            caller = ulaw_to_pcm16k(read_wav_as_ulaw(turn.caller_wav))
            turn.caller_text = transcribe(model, caller).text
            turn.agent_text = transcribe(model, ulaw_to_pcm16k(bytes(turn.reply_ulaw))).text
    print(f"call {result.call_sid}")
    print(f"  agent:  {result.greeting_text or '(greeting audio)'}")
    for i, turn in enumerate(result.turns, 1):
        latency = "no reply" if turn.latency_s is None else f"{turn.latency_s * 1000:.0f} ms"
        print(f"  caller: {turn.caller_text or turn.caller_wav}")
        print(f"  agent:  {turn.agent_text or '(reply audio)'}   [turn {i}: {latency}]")
    print(f"heard audio written to {args.out}")
    return 0 if all(t.first_reply_at is not None for t in result.turns) else 2


def _say(args: argparse.Namespace, settings: Settings) -> int:
    from agent.voice.piper import load_piper, write_wav

    write_wav(load_piper(settings.tts_voice), args.text, args.out)
    print(f"wrote {args.out}")
    return 0


def _chat(args: argparse.Namespace, settings: Settings) -> int:
    from agent.dialog.business import ProfileError, load_business
    from agent.dialog.chat import clock_at, model_replier, run_chat
    from agent.dialog.embed import load_encoder
    from agent.dialog.router import Router

    prompts = Path(args.prompts) if args.prompts else settings.prompts_dir
    try:
        business = load_business(prompts, args.business or settings.business)
        clock = clock_at(business, args.at)
    except ProfileError as exc:
        print(f"profile error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"--at: {exc} (expected YYYY-MM-DDTHH:MM)", file=sys.stderr)
        return 2
    encoder = load_encoder(settings.understanding_model)
    router = Router(business, clock=clock, encoder=encoder, defer_unsure=settings.uses_endpoint)
    replier = None

    def reply_model(history: list[dict[str, str]]) -> str:
        nonlocal replier
        replier = replier or model_replier(settings, business)
        return replier(history)

    run_chat(router, sys.stdin, sys.stdout, reply_model)
    return 0


def _calibrate(args: argparse.Namespace, settings: Settings) -> int:
    from agent.calibrate import calibrate

    if args.up_to < 1 or args.calls < 1 or args.bound < 1:
        print("--up-to and --calls must be at least 1, --bound at least 1.0", file=sys.stderr)
        return 2
    print(f"calibrating: up to {args.up_to} calls at once, {args.calls} calls a level (takes minutes)")
    capacity = calibrate(settings, args.up_to, args.calls, args.bound, say=print)
    print(f"capacity: {capacity.calls} calls at once (p95 within {capacity.bound}x one call's)")
    if not args.dry_run:
        path = capacity.save(settings.data_dir)
        print(f"saved to {path}; the server uses it as its limit when MAX_CALLS is not set")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser for every subcommand."""
    parser = argparse.ArgumentParser(prog="agent", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the webhook, media stream and health endpoints")
    say = sub.add_parser("say", help="speak a line with the stock voice into a WAV (caller audio for tests)")
    say.add_argument("text")
    say.add_argument("-o", "--out", required=True, help="WAV file to write")
    chat = sub.add_parser(
        "chat", help="the dialog engine as text: caller lines on stdin (#5 presses 5), JSON lines out"
    )
    chat.add_argument(
        "--business", default=None, help="profile name in prompts/businesses (default: BUSINESS)"
    )
    chat.add_argument("--prompts", default=None, help="the prompts folder (default: PROMPTS_DIR)")
    chat.add_argument(
        "--at", default=None, help="local time YYYY-MM-DDTHH:MM in the business's zone (default: now)"
    )
    add_voices_parser(sub)
    records_cli.register(sub)
    console_cli.register(sub)
    profile_cli.register(sub)
    cal = sub.add_parser(
        "calibrate",
        help="measure how many calls this machine holds at once and save it as the admission limit",
    )
    cal.add_argument("--up-to", type=int, default=8, help="most calls at once to try (default 8)")
    cal.add_argument("--calls", type=int, default=6, help="calls placed at each level (default 6)")
    cal.add_argument(
        "--bound", type=float, default=1.5, help="p95 allowed, as a multiple of one call's (default 1.5)"
    )
    cal.add_argument("--dry-run", action="store_true", help="measure and print, save nothing")
    sim = sub.add_parser("simulate-call", help="play Twilio's part of a call against a server")
    sim.add_argument(
        "--wav",
        action="append",
        required=True,
        help="caller audio for one turn (16-bit WAV); repeat for more turns",
    )
    sim.add_argument("--url", default=None, help="server to call (default: http://HOST:PORT)")
    sim.add_argument(
        "--public-base-url", default=None, help="the server's PUBLIC_BASE_URL, if it differs from --url"
    )
    sim.add_argument("--auth-token-file", default=None, help="file holding the auth token")
    sim.add_argument("--out", default="heard.wav", help="where to write what the caller heard")
    sim.add_argument("--no-transcribe", action="store_true", help="skip transcribing both sides with Whisper")
    sim.add_argument(
        "--barge-in-after",
        type=float,
        default=None,
        metavar="SECONDS",
        help="start the first turn this long after the greeting begins, talking over the agent",
    )
    sim.add_argument(
        "--echo-db",
        type=float,
        default=None,
        metavar="DB",
        help="feed the agent's audio back into the caller's microphone this many dB down (a speakerphone)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command named on the command line."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(os.environ)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    if args.command == "serve":
        return _serve(settings)
    if args.command == "say":
        return _say(args, settings)
    if args.command == "calibrate":
        return _calibrate(args, settings)
    if args.command == "chat":
        return _chat(args, settings)
    if args.command == "calls":
        return records_cli.run(args, settings)
    if args.command == "operators":
        return console_cli.run(args, settings)
    if args.command == "businesses":
        return profile_cli.run(args, settings)
    if args.command == "voices":
        return run_voices(args, settings)
    args.url = args.url or f"http://{settings.host}:{settings.port}"
    return _simulate(args, settings)
