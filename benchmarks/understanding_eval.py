"""The understanding eval as text: each split's caller cases through the dialog engine, per trade and intent.

`--split test` is the held-out split: run it to report, never to tune (benchmarks/understanding/README.md).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from agent.dialog.business import Business, load_business
from agent.dialog.caller_eval import CallerCase, SplitReport, load_caller_cases, play, score_case
from agent.dialog.embed import load_encoder
from agent.dialog.router import Router
from agent.dialog.understanding import Thresholds, Understanding
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


def run_split(
    cases: list[CallerCase],
    encoder_spec: str = "wordllama",
    prompts: Path = REPO / "prompts",
    calibration: Thresholds | None = None,
) -> SplitReport:
    """Play every case through a fresh router (with the named encoder) and score it."""
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
        router = Router(b, clock=lambda now=now: now, understanding=understandings[case.business])

        def timed(text: str, router: Router = router) -> object:
            start = time.perf_counter()
            reply = router.handle(text)
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
    parser.add_argument("--failures", action="store_true", help="print each failure's dialogue too")
    args = parser.parse_args()
    splits = ["dev", "test"] if args.split == "both" else [args.split]
    lines: list[str] = []
    for split in splits:
        cases = load_split(split)
        report = run_split(cases, args.encoder)
        label = "held-out test split" if split == "test" else "dev split (tuned on: a regression check)"
        lines += report.lines(f"Understanding, {label}, text, encoder {load_encoder(args.encoder).name}")
    print("\n".join(lines))
    if args.out:
        stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        write_section(
            args.out,
            SECTION_START,
            SECTION_END,
            "\n".join([SECTION_START, f"Run {stamp} on {machine()}.", "", *lines, SECTION_END]) + "\n",
        )


if __name__ == "__main__":
    main()
