"""Compare sentence encoders for understanding callers: accuracy (dev-calibrated, held-out reported) and time.

For each encoder: thresholds are swept on the dev split only; the best setting's held-out score is then
reported once. Time is the understanding layer alone (encode the turn, score every sense), per caller line.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from pathlib import Path

from agent.dialog.business import load_business
from agent.dialog.embed import load_encoder
from agent.dialog.understanding import Thresholds, Understanding
from benchmarks.report import machine, write_section
from benchmarks.understanding_eval import REPO, load_split, run_split

SECTION_START = "<!-- understanding-encoders:start -->"
SECTION_END = "<!-- understanding-encoders:end -->"
GRID = {"min_score": (0.3, 0.35, 0.4, 0.45, 0.5), "strong": (0.5, 0.55, 0.6, 0.65, 0.7)}


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0–100) of values, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def time_reads(spec: str, lines: list[tuple[str, str]]) -> list[float]:
    """Milliseconds per `Understanding.read` for each (business, caller line), warm."""
    encoder = load_encoder(spec)
    readers = {key: Understanding(load_business(REPO / "prompts", key), encoder) for key, _ in lines}
    for key, line in lines[:20]:
        readers[key].read(line)
    out = []
    for key, line in lines:
        start = time.perf_counter()
        readers[key].read(line)
        out.append(1000 * (time.perf_counter() - start))
    return out


def main() -> None:
    """Sweep, score and time each encoder; print the table (or write it into BENCHMARKS.md)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--encoders", default="minilm,wordllama")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    dev, test = load_split("dev"), load_split("test")
    lines = [(c.business, line) for c in dev + test for line in c.say]
    rows = []
    for spec in args.encoders.split(","):
        start = time.perf_counter()
        encoder = load_encoder(spec)
        load_s = time.perf_counter() - start
        best: tuple[float, Thresholds] = (-1.0, Thresholds())
        for min_score, strong in itertools.product(GRID["min_score"], GRID["strong"]):
            if strong < min_score:
                continue
            calibration = Thresholds(min_score=min_score, strong=strong)
            accuracy = run_split(dev, spec, calibration=calibration).accuracy()
            if accuracy > best[0]:
                best = (accuracy, calibration)
        held_out = run_split(test, spec, calibration=best[1]).accuracy()
        ms = time_reads(spec, lines)
        rows.append(
            f"| {encoder.name} | {100 * best[0]:.1f} % | {100 * held_out:.1f} % | "
            f"{best[1].min_score} / {best[1].strong} | {statistics.median(ms):.1f} ms | "
            f"{percentile(ms, 95):.1f} ms | {load_s:.2f} s |"
        )
        print(rows[-1], flush=True)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines_out = [
        f"### Sentence encoders for understanding ({stamp}, `python -m benchmarks.understanding_encoders`)",
        "",
        f"Machine: {machine()}.",
        "",
        "Thresholds swept on the dev split only; held-out: the test split at the dev-best setting. Time:",
        f"the understanding layer alone per caller line ({len(lines)} lines from both splits), warm.",
        "",
        "| encoder | dev (best) | held-out | min / strong | read p50 | read p95 | load |",
        "|---|---:|---:|---|---:|---:|---:|",
        *rows,
        "",
    ]
    print("\n".join(lines_out))
    if args.out:
        section = "\n".join([SECTION_START, *lines_out, SECTION_END]) + "\n"
        write_section(args.out, SECTION_START, SECTION_END, section)


if __name__ == "__main__":
    main()
