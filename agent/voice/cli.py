"""`agent voices …`: add, list, preview, score and remove cloned voices; install the XTTS model."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from agent.config import Settings

if TYPE_CHECKING:
    from TTS.tts.models.xtts import Xtts

    from agent.voice.store import VoiceStore


def add_voices_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `voices` and its subcommands on the top-level parser."""
    voices = sub.add_parser("voices", help="manage cloned voices (voices/<name>/) and the XTTS model")
    voices.add_argument("--voices-dir", type=Path, default=None, help="default: VOICES_DIR (voices)")
    cmd = voices.add_subparsers(dest="voices_command", required=True)

    add = cmd.add_parser("add", help="check clips and consent, compute latents once, store the voice")
    add.add_argument("name", help="voice name: lower-case letters, digits, - and _")
    add.add_argument("--ref", action="append", required=True, type=Path, help="reference clip (repeat)")
    add.add_argument("--speaker", required=True, help="the person whose voice it is")
    add.add_argument("--recorded-by", required=True, help="who recorded them")
    add.add_argument("--business", required=True, help="the business the consent is given to")
    add.add_argument(
        "--consent-recording", required=True, type=Path, help="the speaker reading the statement"
    )
    add.add_argument(
        "--language", action="append", default=None, help="a language it speaks, in XTTS's codes (repeat)"
    )
    add.add_argument("--display-name", default="", help="name shown in lists (default: NAME)")
    add.add_argument(
        "--whisper-model", default=None, help="for the consent check (default: the detail model)"
    )
    _model_dir(add)

    cmd.add_parser("list", help="list voices with their fidelity")

    preview = cmd.add_parser("preview", help="speak a line: full band and as a caller hears it")
    preview.add_argument("name")
    preview.add_argument("text")
    preview.add_argument("-o", "--out", type=Path, required=True, help="WAV to write (also OUT.phone.wav)")
    preview.add_argument("--language", default=None, help="default: the voice's first language")
    _model_dir(preview)

    score = cmd.add_parser("score", help="measure fidelity: a preview against the reference clips")
    score.add_argument("name")
    _model_dir(score)

    remove = cmd.add_parser("remove", help="delete a voice and its files")
    remove.add_argument("name")

    install = cmd.add_parser("install-model", help="show the XTTS-v2 licence, record acceptance, download")
    install.add_argument("--dir", type=Path, default=None, help="default: XTTS_MODEL_DIR or DATA_DIR/models")
    install.add_argument("--url", default=None, help="base URL (default: Hugging Face coqui/XTTS-v2)")
    install.add_argument("--accept-license", action="store_true", help="accept the licence without asking")
    install.add_argument("--accepted-by", default=None, help="who accepts it (default: the login name)")


def _model_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model-dir", type=Path, default=None, help="XTTS-v2 dir (default: XTTS_MODEL_DIR)")


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class _Steps:
    """Prints each step of long work with the seconds since the work began."""

    def __init__(self) -> None:
        self._start = time.perf_counter()
        self._n = 0

    def __call__(self, step: str) -> None:
        self._n += 1
        _say(f"[{self._n}] {time.perf_counter() - self._start:5.1f} s  {step}…")


def _store(args: argparse.Namespace, settings: Settings) -> VoiceStore:
    from agent.voice.store import voice_store

    return voice_store(settings, args.voices_dir)


def _load_model(args: argparse.Namespace, settings: Settings) -> Xtts:
    from agent.voice.store import VoiceError
    from agent.voice.xtts import XttsLoadError, load_xtts

    model_dir = args.model_dir or settings.xtts_model_dir
    if not model_dir:
        raise VoiceError("no XTTS model: set XTTS_MODEL_DIR or pass --model-dir (see `voices install-model`)")
    try:
        return load_xtts(Path(model_dir))
    except XttsLoadError as exc:
        raise VoiceError(str(exc)) from exc


def _add(args: argparse.Namespace, settings: Settings) -> int:
    from agent.speech.whisper import load_whisper
    from agent.voice.enroll import EnrollError, Enrollment, enroll
    from agent.voice.store import check_languages

    languages = check_languages(args.language or ["en"])  # before any model loads
    whisper_name = args.whisper_model or settings.whisper_detail_model or settings.whisper_model
    steps = _Steps()
    steps(f"loading Whisper ({whisper_name}) for the consent check")
    whisper = load_whisper(
        whisper_name, settings.whisper_compute_type, settings.whisper_threads, settings.data_dir / "models"
    )
    request = Enrollment(
        name=args.name,
        references=tuple(args.ref),
        speaker=args.speaker,
        recorded_by=args.recorded_by,
        business=args.business,
        consent_recording=args.consent_recording,
        languages=languages,
        display_name=args.display_name,
    )
    try:
        done = enroll(
            _store(args, settings),
            request,
            whisper=whisper,
            whisper_name=whisper_name,
            load_model=lambda: _load_model(args, settings),
            progress=steps,
        )
    except EnrollError as exc:
        _say(f"voice {args.name!r} refused:")
        for reason in exc.reasons:
            _say(f"  {reason}")
        return 1
    for line in done.clips.lines():
        _say(f"  {line}")
    fidelity = (
        "n/a (no voice heard in the preview)" if done.fidelity.score is None else f"{done.fidelity.score:.2f}"
    )
    print(
        f"added voice {done.voice.name!r}: {done.clips.speech_s:.1f} s of reference speech, "
        f"consent word error rate {done.consent.wer:.2f}, speaker match {done.consent.similarity:.2f}, "
        f"fidelity {fidelity}"
    )
    return 0


def _list(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(args, settings)
    store.sync()  # with shared storage, the voices other servers added
    voices = store.list()
    if not voices:
        print(f"no voices in {args.voices_dir or settings.voices_dir}")
        return 0
    rows = [("NAME", "DISPLAY NAME", "ENGINE", "LANGUAGES", "FIDELITY", "SPEAKER", "CREATED")]
    rows += [
        (
            v.name,
            v.display_name,
            v.engine,
            ",".join(v.languages),
            "-" if v.fidelity is None else f"{v.fidelity:.2f}",
            v.speaker,
            v.created.date().isoformat(),
        )
        for v in voices
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _preview(args: argparse.Namespace, settings: Settings) -> int:
    from agent.voice.clips import Clip
    from agent.voice.preview import write_preview
    from agent.voice.xtts import SAMPLE_RATE, Latents, synthesize

    voice = _store(args, settings).get(args.name)
    steps = _Steps()
    steps("loading XTTS")
    model = _load_model(args, settings)
    steps("synthesizing")
    language = args.language or (voice.languages[0] if voice.languages else "en")
    audio = synthesize(model, args.text, language, Latents.load(voice.latents_path))
    full, phone = write_preview(Clip(audio, SAMPLE_RATE), args.out)
    print(f"wrote {full} (full band, {SAMPLE_RATE} Hz) and {phone} (as a caller hears it: 8 kHz μ-law)")
    return 0


def _score(args: argparse.Namespace, settings: Settings) -> int:
    from agent.voice.fidelity import score_voice

    store = _store(args, settings)
    voice = store.get(args.name)
    steps = _Steps()
    steps("loading XTTS")
    model = _load_model(args, settings)
    steps("synthesizing a preview and comparing it with the reference clips")
    scored = score_voice(model, voice)
    if scored.score is None:
        print(f"{voice.name}: no voice heard in the synthesized preview; fidelity not scored")
        return 1
    store.set_fidelity(voice.name, scored.score)
    stored = store.get(voice.name).fidelity  # as kept (rounded), so the print matches `voices list`
    print(f"{voice.name}: fidelity {scored.score if stored is None else stored:.2f}")
    return 0


def _remove(args: argparse.Namespace, settings: Settings) -> int:
    _store(args, settings).remove(args.name)
    print(f"removed voice {args.name!r}")
    return 0


def _install(args: argparse.Namespace, settings: Settings) -> int:
    from agent.voice.install import DEFAULT_BASE_URL, InstallError, ask_acceptance, install_model

    model_dir = args.dir or Path(settings.xtts_model_dir or settings.data_dir / "models" / "xtts-v2")

    def accept(text: str) -> bool:
        if args.accept_license:
            _say(text + "\nAccepted with --accept-license.")
            return True
        return ask_acceptance(text)

    try:
        files = asyncio.run(
            install_model(
                model_dir,
                args.url or DEFAULT_BASE_URL,
                accept=accept,
                accepted_by=args.accepted_by,
                note=_say,
            )
        )
    except InstallError as exc:
        _say(f"install-model failed: {exc}")
        return 1
    names = ", ".join(p.name for p in files)
    print(f"XTTS-v2 installed in {model_dir} ({names}); set XTTS_MODEL_DIR={model_dir}")
    return 0


def run_voices(args: argparse.Namespace, settings: Settings) -> int:
    """Run one `agent voices` subcommand; a missing voice or unreadable store is a one-line error."""
    from agent.voice.store import VoiceError

    commands = {
        "add": _add,
        "list": _list,
        "preview": _preview,
        "score": _score,
        "remove": _remove,
        "install-model": _install,
    }
    try:
        return commands[args.voices_command](args, settings)
    except VoiceError as exc:
        _say(f"voices {args.voices_command}: {exc}")
        return 1
