"""Full-size XTTS-v2, random weights, one GPU: first-chunk latency, real-time factor, concurrent streams.

The weights don't change the cost, so this builds the XTTS-v2 architecture (30-layer, 1024-wide GPT with
the perceiver resampler, 1026 audio tokens, full HiFi-GAN and speaker encoder) with random weights and
drives it through `agent.voice.xtts.stream`, the code a call uses. Random weights rarely emit the stop
token; it is made unreachable, so every utterance is exactly `--max-tokens` GPT tokens (130 ≈ 6 s of
audio, a long sentence).

Needs only torch, torchaudio, numpy, structlog, tokenizers, transformers and coqui-tts (no pipecat or
aiohttp; from this repo only agent.voice's xtts, xtts_decode, pool and torch_compat, benchmarks/xtts_pool.py
and tests/voice/tiny_xtts.py, which import nothing else):

    PYTHONPATH=/tmp/site:. python3 benchmarks/xtts_gpu.py --out xtts_gpu.md

`--small` builds tiny dimensions instead, to check the script on a CPU. `--pool` measures only calls
speaking at once through `agent.voice.pool.XttsPool` (1 and 2 replicas × 1/2/4/8 calls): each call's
queue wait and first chunk (`benchmarks/xtts_pool.py`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import datetime as dt
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.voice.torch_compat import import_torchaudio
from agent.voice.xtts import (
    CHUNK_TOKENS,
    DECODE_CONTEXT_FRAMES,
    FIRST_CHUNK_TOKENS,
    SAMPLE_RATE,
    Latents,
    compute_latents,
    own_stream,
    stream,
)
from benchmarks import xtts_pool
from benchmarks.report import pct
from tests.voice.tiny_xtts import write_vocab

CLAUSE = "Sure, we open at nine on Saturdays."
SENTENCE = "Sure, we open at nine on Saturdays and close at one, but you can leave a message any time."
TEXT_TOKENS_V2 = 6681  # XTTS-v2's vocab.json size


def build(small: bool, device: str, work: Path) -> Any:
    """XTTS-v2 (or tiny) with random weights, ready for inference on `device`."""
    import_torchaudio()
    from TTS.tts.configs.xtts_config import XttsArgs, XttsConfig
    from TTS.tts.layers.xtts.tokenizer import VoiceBpeTokenizer
    from TTS.tts.models.xtts import Xtts

    if small:
        from tests.voice.tiny_xtts import tiny_args

        args = tiny_args()
        args.gpt_max_audio_tokens = 605  # as XTTS-v2: --max-tokens caps each utterance
    else:  # XTTS-v2's config.json
        args = XttsArgs(
            gpt_layers=30,
            gpt_n_model_channels=1024,
            gpt_n_heads=16,
            gpt_num_audio_tokens=1026,
            gpt_start_audio_token=1024,
            gpt_stop_audio_token=1025,
            gpt_use_perceiver_resampler=True,
            gpt_max_audio_tokens=605,
            gpt_max_text_tokens=402,
            gpt_max_prompt_tokens=70,
            decoder_input_dim=1024,
            d_vector_dim=512,
        )
    vocab = write_vocab(work / "vocab.json", 0 if small else TEXT_TOKENS_V2)
    args.tokenizer_file = str(vocab)
    config = XttsConfig(model_args=args, languages=["en", "es"])
    torch.manual_seed(0)
    model = Xtts(config)
    model.tokenizer = VoiceBpeTokenizer(vocab_file=str(vocab))
    model.init_models()
    with torch.no_grad():  # never stop early, so every utterance is --max-tokens long
        model.gpt.mel_head.weight[args.gpt_stop_audio_token].zero_()
        model.gpt.mel_head.bias[args.gpt_stop_audio_token] = -1e4
    model.gpt.init_gpt_for_inference(kv_cache=True)
    model.eval()
    return model.to(device)


def reference_clip(rate: int = 16000, seconds: float = 6.0) -> np.ndarray:
    """A voiced-sounding 6 s reference clip (the latents' values don't change the cost)."""
    t = np.arange(int(rate * seconds)) / rate
    tone = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 8)) * (
        1 + 0.5 * np.sin(2 * np.pi * 3 * t)
    )
    return (0.08 * tone).astype(np.float32)


@dataclass
class Run:
    """One utterance: when each chunk arrived (seconds after the request) and how long each lasts."""

    arrivals: list[float] = field(default_factory=list)
    durations: list[float] = field(default_factory=list)

    @property
    def first(self) -> float:
        """Seconds to the first chunk."""
        return self.arrivals[0]

    @property
    def audio_s(self) -> float:
        """Seconds of audio."""
        return sum(self.durations)

    @property
    def rtf(self) -> float:
        """Synthesis time over audio time."""
        return self.arrivals[-1] / self.audio_s

    @property
    def lead_ms(self) -> float:
        """How long playback must wait after the first chunk for no later chunk to arrive too late."""
        late = [
            self.arrivals[k] - self.arrivals[0] - sum(self.durations[:k])
            for k in range(1, len(self.arrivals))
        ]
        return max(0.0, *late) * 1000 if late else 0.0

    @property
    def underruns(self) -> int:
        """Chunks that arrived after the audio before them had finished playing (playback from chunk 1)."""
        late = 0
        for k in range(1, len(self.arrivals)):
            if self.arrivals[k] > self.arrivals[0] + sum(self.durations[:k]):
                late += 1
        return late


def utterance(
    model: Any,
    latents: Latents,
    text: str,
    first: int,
    chunk: int,
    stop_after_first: bool,
    context: int | None = DECODE_CONTEXT_FRAMES,
) -> Run:
    """Stream one utterance, timing every chunk."""
    run = Run()
    t0 = time.perf_counter()
    chunks = stream(model, text, "en", latents, chunk, first, decode_context=context)
    for audio in chunks:
        run.arrivals.append(time.perf_counter() - t0)
        run.durations.append(len(audio) / SAMPLE_RATE)
        if stop_after_first:
            chunks.close()
            break
    return run


def bf16_trial(model: Any, latents: Latents, first: int, chunk: int, runs: int) -> str:
    """First chunk and RTF with the model's work under bf16 autocast (weights stay fp32), or why it failed."""
    try:
        with torch.autocast(device_type=model.device.type, dtype=torch.bfloat16):
            utterance(model, latents, CLAUSE, first, chunk, False)  # warm-up
            firsts = [utterance(model, latents, CLAUSE, first, chunk, True).first * 1000 for _ in range(runs)]
            rtf = statistics.mean(utterance(model, latents, SENTENCE, first, chunk, False).rtf for _ in "ab")
    except Exception as exc:  # report it and go on with the fp32 measurements
        return f"**bf16 autocast** failed: {type(exc).__name__}: {str(exc)[:200]}"
    return (
        f"**bf16 autocast** (weights fp32; matmuls and convolutions in bf16): first chunk of {first} tokens"
        f" p50 {pct(firsts, 0.5):.0f} ms, p95 {pct(firsts, 0.95):.0f} ms; RTF {rtf:.3f} on 2 sentences."
        " Audio quality in bf16 is not judged here (random weights)."
    )


def concurrent(replicas: list[Any], latents: Latents, first: int, chunk: int) -> list[Run]:
    """One thread per replica, each on its own CUDA stream, all streaming a sentence at once."""
    runs: list[Run] = [Run() for _ in replicas]
    barrier = threading.Barrier(len(replicas))

    def work(i: int) -> None:
        with own_stream(replicas[i]):
            barrier.wait()
            runs[i] = utterance(replicas[i], latents, SENTENCE, first, chunk, False)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(replicas))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return runs


def in_thread(model: Any, latents: Latents, first: int, chunk: int, runs: int, streamed: bool) -> list[float]:
    """First-chunk times (ms) of `runs` clauses synthesized in a worker thread, with or without own_stream."""
    firsts: list[float] = []

    def work() -> None:
        context = own_stream(model) if streamed else contextlib.nullcontext()
        with context:
            for _ in range(runs):
                firsts.append(utterance(model, latents, CLAUSE, first, chunk, True).first * 1000)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    return firsts


def thread_check(model: Any, latents: Latents, first: int, chunk: int, runs: int) -> list[str]:
    """First chunk on the main thread vs a worker thread (how the pool runs), with and without own_stream."""
    rows = ["| where | p50 | p95 |", "|---|---|---|"]
    main_thread = [utterance(model, latents, CLAUSE, first, chunk, True).first * 1000 for _ in range(runs)]
    rows.append(f"| main thread | {pct(main_thread, 0.5):.0f} ms | {pct(main_thread, 0.95):.0f} ms |")
    for streamed in (True, False):
        in_thread(model, latents, first, chunk, 2, streamed)  # warm-up
        firsts = in_thread(model, latents, first, chunk, runs, streamed)
        label = "worker thread, own CUDA stream" if streamed else "worker thread, default stream"
        rows.append(f"| {label} | {pct(firsts, 0.5):.0f} ms | {pct(firsts, 0.95):.0f} ms |")
    return rows


def lead_check(model: Any, latents: Latents, firsts: list[int], chunk: int, runs: int) -> list[str]:
    """Whole sentences in a worker thread: first chunk, late chunks, and the lead-in that would hide them."""
    rows = [
        "| first chunk (tokens) | first chunk p50 | p95 | late chunks (all runs) | lead-in needed p50"
        " | p95 |",
        "|---|---|---|---|---|---|",
    ]
    for first in firsts:
        done: list[Run] = []

        def work(first: int = first, done: list[Run] = done) -> None:
            with own_stream(model):
                utterance(model, latents, SENTENCE, first, chunk, False)  # warm-up
                done.extend(utterance(model, latents, SENTENCE, first, chunk, False) for _ in range(runs))

        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
        f = [r.first * 1000 for r in done]
        leads = [r.lead_ms for r in done]
        rows.append(
            f"| {first} | {pct(f, 0.5):.0f} ms | {pct(f, 0.95):.0f} ms | {sum(r.underruns for r in done)}"
            f" | {pct(leads, 0.5):.0f} ms | {pct(leads, 0.95):.0f} ms |"
        )
    return rows


def save_checkpoint(model: Any, out: Path, small: bool) -> Path:
    """`model` as a checkpoint directory a worker process loads (`XttsWorker`; the stop token stays
    unreachable in the saved weights)."""
    out.mkdir(parents=True, exist_ok=True)
    config = copy.deepcopy(model.config)
    config.model_args.gpt_number_text_tokens = model.args.gpt_number_text_tokens
    config.model_args.tokenizer_file = str(write_vocab(out / "vocab.json", 0 if small else TEXT_TOKENS_V2))
    torch.save({"model": model.state_dict(), "config": config.to_dict()}, out / "model.pth")
    config.save_json(str(out / "config.json"))
    return out


def pool_check(
    model: Any,
    latents: Latents,
    replicas: list[int],
    calls: list[int],
    rounds: int,
    out_of_time: Callable[[], bool],
    where: str,
    processes: Path | None = None,
    max_tokens: int = 0,
) -> list[str]:
    """Calls through `XttsPool` (the code a call uses), on `replicas` copies of `model` in threads (or, with
    `processes`, a checkpoint directory of it, each copy in a worker process): wait, first chunk, RTF."""
    models = [model]
    runs: list[xtts_pool.PoolRun] = []
    skipped = 0
    for n in replicas:
        workers = xtts_pool.start_workers(processes, n, max_tokens) if processes is not None else []
        try:
            while not workers and len(models) < n:
                models.append(copy.deepcopy(model))
            for c in calls:
                if out_of_time():
                    skipped += 1
                    continue
                runs.append(asyncio.run(xtts_pool.measure(workers or models[:n], c, latents, rounds)))
        finally:
            for worker in workers:
                worker.close()
    lines = xtts_pool.render(runs, rounds, where)
    return lines + ([f"{skipped} rows skipped: past the time budget."] if skipped else [])


def main() -> int:
    """Build the model, measure, print the markdown and write it to --out."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", default="xtts_gpu.md")
    parser.add_argument("--small", action="store_true", help="tiny dimensions (a CPU check of the script)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--max-tokens", type=int, default=130, help="GPT tokens per utterance (≈46 ms each)")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument(
        "--first-sizes", default=f"{FIRST_CHUNK_TOKENS},8,12", help="first-chunk sizes (GPT tokens) to time"
    )
    parser.add_argument("--chunk", type=int, default=CHUNK_TOKENS, help="largest chunk (GPT tokens)")
    parser.add_argument("--streams", default="1,2,4,8", help="concurrent streams (one replica each)")
    parser.add_argument("--budget-s", type=float, default=300.0, help="skip what would start after this")
    parser.add_argument("--thread-check", action="store_true", help="only: main thread vs worker thread")
    parser.add_argument("--pool", action="store_true", help="only: calls at once through XttsPool")
    parser.add_argument("--pool-replicas", default="1,2", help="XttsPool sizes (--pool)")
    parser.add_argument("--pool-calls", default="1,2,4,8", help="simultaneous calls on each pool (--pool)")
    parser.add_argument("--pool-rounds", type=int, default=3, help="rounds of simultaneous calls per row")
    parser.add_argument(
        "--pool-workers",
        choices=("thread", "process", "both"),
        default="both",
        help="replicas as threads of this process, worker processes (XTTS_WORKERS), or both (--pool)",
    )
    args = parser.parse_args()
    started = time.perf_counter()
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    lines: list[str] = []

    def say(line: str = "") -> None:
        print(line, flush=True)
        lines.append(line)

    def out_of_time() -> bool:
        return time.perf_counter() - started > args.budget_s

    gpu = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else platform.processor() or "CPU"
    with tempfile.TemporaryDirectory() as work:
        t0 = time.perf_counter()
        model = build(args.small, args.device, Path(work))
        build_s = time.perf_counter() - t0
    model.gpt.max_gen_mel_tokens = args.max_tokens
    params = sum(p.numel() for p in model.parameters()) / 1e6
    latents = compute_latents(model, [(reference_clip(), 16000)])
    first_sizes = [int(x) for x in args.first_sizes.split(",") if x]

    if args.pool:
        say(f"## XTTS-v2 {'(tiny dims, --small)' if args.small else 'full size'} through XttsPool on {gpu}")
        say()
        say(f"Utterances capped at {args.max_tokens} GPT tokens; {params:.0f} M parameters.")
        say()
        replicas, calls = ([int(x) for x in a.split(",") if x] for a in (args.pool_replicas, args.pool_calls))
        kinds = ("thread", "process") if args.pool_workers == "both" else (args.pool_workers,)
        with tempfile.TemporaryDirectory() as scratch:
            checkpoint = save_checkpoint(model, Path(scratch), args.small)
            for kind in kinds:
                where = checkpoint if kind == "process" else None
                rounds, cap = args.pool_rounds, args.max_tokens
                rows = pool_check(model, latents, replicas, calls, rounds, out_of_time, gpu, where, cap)
                for line in rows:
                    say(line)
                say()
        Path(args.out).write_text("\n".join(lines) + "\n")
        return 0
    if args.thread_check:
        for _ in range(3):
            utterance(model, latents, CLAUSE, first_sizes[0], args.chunk, False)
        for line in thread_check(model, latents, first_sizes[0], args.chunk, args.runs):
            say(line)
        say()
        for line in lead_check(model, latents, first_sizes, args.chunk, args.runs):
            say(line)
        Path(args.out).write_text("\n".join(lines) + "\n")
        return 0
    say(f"## XTTS-v2 {'(tiny dims, --small)' if args.small else 'full size'} with random weights on {gpu}")
    say()
    say(
        f"Run {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}; torch {torch.__version__}, "
        f"fp32 weights (TF32 matmuls), {params:.0f} M parameters, built in {build_s:.1f} s; "
        f"utterances capped at {args.max_tokens} GPT tokens; chunks: the first size twice, then doubling"
        f" up to {args.chunk} tokens."
    )
    say()
    with own_stream(model):
        for _ in range(3):  # warm-up: CUDA context, cuBLAS, kernels
            utterance(model, latents, CLAUSE, first_sizes[0], args.chunk, False)
        say("**First chunk** (request → first audio chunk on the host, one stream, clause of 7 words):")
        say()
        say("| first chunk (GPT tokens) | audio in it | p50 | p95 |")
        say("|---|---|---|---|")
        for size in first_sizes:
            runs = [utterance(model, latents, CLAUSE, size, args.chunk, True) for _ in range(args.runs)]
            firsts = [r.first * 1000 for r in runs]
            say(
                f"| {size} | {runs[0].durations[0] * 1000:.0f} ms | {pct(firsts, 0.5):.0f} ms"
                f" | {pct(firsts, 0.95):.0f} ms |"
            )
        say()
        say(bf16_trial(model, latents, first_sizes[0], args.chunk, args.runs))
        say()
        say("**Real-time factor**, one stream, 3 sentences each (synthesis time / audio time):")
        say()
        say("| decoding per chunk | audio | RTF | first chunk | underruns |")
        say("|---|---|---|---|---|")
        for label, context in [
            (f"new frames + {DECODE_CONTEXT_FRAMES} frames of context (ours)", DECODE_CONTEXT_FRAMES),
            ("whole utterance again (XTTS inference_stream)", None),
        ]:
            size = first_sizes[0]
            rtf_runs = [utterance(model, latents, SENTENCE, size, args.chunk, False, context) for _ in "abc"]
            say(
                f"| {label} | {statistics.mean(r.audio_s for r in rtf_runs):.1f} s"
                f" | {statistics.mean(r.rtf for r in rtf_runs):.3f}"
                f" | {statistics.mean(r.first for r in rtf_runs) * 1000:.0f} ms"
                f" | {sum(r.underruns for r in rtf_runs)} |"
            )
        say()
    say(
        "**Concurrent streams**, one replica per stream (a replica streams one utterance at a time), each"
        " thread on its own CUDA stream, all starting the same sentence together:"
    )
    say()
    say("| streams | first chunk p50 | p95 | RTF mean | RTF worst | streams without underrun | GPU memory |")
    say("|---|---|---|---|---|---|---|")
    replicas = [model]
    for n in [int(x) for x in args.streams.split(",") if x]:
        if out_of_time():
            say(f"| {n} | skipped: past the {args.budget_s:.0f} s budget | | | | | |")
            continue
        while len(replicas) < n:
            replicas.append(copy.deepcopy(model))
        concurrent(replicas[:n], latents, first_sizes[0], args.chunk)  # warm-up of the new replicas
        runs = concurrent(replicas[:n], latents, first_sizes[0], args.chunk)
        firsts = [r.first * 1000 for r in runs]
        rtfs = [r.rtf for r in runs]
        smooth = sum(1 for r in runs if r.underruns == 0)
        memory = (
            f"{torch.cuda.max_memory_allocated() / 2**30:.1f} GiB" if args.device.startswith("cuda") else "-"
        )
        say(
            f"| {n} | {pct(firsts, 0.5):.0f} ms | {pct(firsts, 0.95):.0f} ms | {statistics.mean(rtfs):.3f}"
            f" | {max(rtfs):.3f} | {smooth}/{n} | {memory} |"
        )
    say()
    whole_s = time.perf_counter() - started
    say(f"Whole run {whole_s:.0f} s. First chunk in the RTF and concurrency rows: {first_sizes[0]} tokens.")
    Path(args.out).write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
