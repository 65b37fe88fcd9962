"""The understanding eval as text: each split's caller cases through the dialog engine, per trade and intent.

`--split test` is the held-out split: run it to report, never to tune (benchmarks/understanding/README.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

from agent.config import Settings
from agent.dialog.actions import Reply
from agent.dialog.business import Business, load_business
from agent.dialog.chat import model_replier
from agent.dialog.embed import load_encoder
from agent.dialog.router import Router
from agent.dialog.understanding import Thresholds, Understanding
from benchmarks.caller_eval import CallerCase, SplitReport, load_caller_cases, play, score_case
from benchmarks.report import machine, write_section

REPO = Path(__file__).resolve().parent.parent
SPLITS = REPO / "benchmarks" / "understanding"
SPLIT_FILES = {
    "dev": (
        "dev.yaml",
        "dev2.yaml",
        "dev3.yaml",
        "dev4-dental.yaml",
        "dev4-plumbing.yaml",
        "dev4-salon.yaml",
    ),
    "test": ("test.yaml",),
}
SECTION_START = "<!-- understanding-eval:start -->"
SECTION_END = "<!-- understanding-eval:end -->"
ENDPOINT_START = "<!-- understanding-eval-endpoint:start -->"
ENDPOINT_END = "<!-- understanding-eval-endpoint:end -->"


def run_split(
    cases: list[CallerCase],
    encoder_spec: str = "wordllama",
    prompts: Path = REPO / "prompts",
    calibration: Thresholds | None = None,
    endpoint: Settings | None = None,
) -> SplitReport:
    """Play every case through a fresh router (with the named encoder) and score it.

    With `endpoint` (settings naming an LLM_BASE_URL) the router leaves what it isn't sure of to that
    model, grounded, as a call does; per-turn times then include the model's.
    """
    encoder = load_encoder(encoder_spec)
    businesses: dict[str, Business] = {}
    understandings: dict[str, Understanding] = {}
    problems, read_as, turn_ms = {}, {}, []
    for case in cases:
        if case.business not in businesses:
            businesses[case.business] = b = load_business(prompts, case.business)
            understandings[case.business] = Understanding(b, encoder, calibration)
        b = businesses[case.business]
        now = case.moment(b.timezone)
        router = Router(
            b,
            clock=lambda now=now: now,
            understanding=understandings[case.business],
            defer_unsure=endpoint is not None,
        )
        model = model_replier(endpoint, b) if endpoint is not None else None
        history: list[dict[str, str]] = []

        def timed(
            text: str,
            router: Router = router,
            model: Callable[[list[dict[str, str]]], str] | None = model,
            history: list[dict[str, str]] = history,
        ) -> Reply:
            start = time.perf_counter()
            reply = router.handle(text)
            history.append({"role": "user", "content": text})
            if reply.use_model and model is not None:
                reply = dataclasses.replace(reply, text=model(history), use_model=False)
            history.append({"role": "assistant", "content": reply.text or reply.nudge})
            turn_ms.append(1000 * (time.perf_counter() - start))
            return reply

        played = play(case, timed)
        problems[case.id] = score_case(case, played)
        read_as[case.id] = played.first_intent
    return SplitReport(cases, problems, read_as, turn_ms)


def load_split(split: str) -> list[CallerCase]:
    """Every case of a split ('dev' is written in two batches, 'test' is the held-out one)."""
    return [case for name in SPLIT_FILES[split] for case in load_caller_cases(SPLITS / name)]


def main() -> None:
    """Run the chosen splits and print (or write to BENCHMARKS.md) their reports."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--split", choices=["dev", "test", "both"], default="test")
    parser.add_argument("--encoder", default="wordllama", help="wordllama, minilm, or a model folder")
    parser.add_argument("--out", type=Path, help="write the report into this markdown file's section")
    parser.add_argument(
        "--endpoint", help="an OpenAI-compatible URL (LLM_BASE_URL): what the router isn't sure of goes there"
    )
    parser.add_argument("--model", default="default", help="the endpoint's model name (LLM_MODEL)")
    args = parser.parse_args()
    splits = ["dev", "test"] if args.split == "both" else [args.split]
    endpoint = (
        dataclasses.replace(Settings(), llm_base_url=args.endpoint, llm_model=args.model)
        if args.endpoint
        else None
    )
    engine = f", the rest through {args.model} at an endpoint" if endpoint else ""
    lines: list[str] = []
    for split in splits:
        cases = load_split(split)
        report = run_split(cases, args.encoder, endpoint=endpoint)
        label = "held-out test split" if split == "test" else "dev split (tuned on: a regression check)"
        encoder = load_encoder(args.encoder).name
        lines += report.lines(f"Understanding, {label}, text, encoder {encoder}{engine}")
    print("\n".join(lines))
    if args.out:
        stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        start, end = (ENDPOINT_START, ENDPOINT_END) if endpoint else (SECTION_START, SECTION_END)
        write_section(
            args.out, start, end, "\n".join([start, f"Run {stamp} on {machine()}.", "", *lines, end]) + "\n"
        )


if __name__ == "__main__":
    main()
