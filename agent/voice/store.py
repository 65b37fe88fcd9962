"""voices/<name>/: a voice's settings, reference clips, consent record and cached conditioning latents.

    voices/acme/
        voice.toml      display name, languages, engine, licence, speaker, created, references, fidelity
        ref-1.wav …     the reference clips, copied in
        consent.toml    the consent record (who, when, the statement, SHA-256 of every clip, the check)
        consent.wav     the recorded consent statement
        latents.pt      XTTS conditioning latents, computed once when the voice is added

Every method does blocking disk work; async callers use `aget` / `alist`, which run it in a worker thread.
"""

from __future__ import annotations

import asyncio
import builtins
import re
import shutil
import tempfile
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast

import structlog
import tomli_w

from agent.config import Settings

if TYPE_CHECKING:
    from agent.voice.shared import SharedVoices

log = structlog.get_logger(__name__)

Engine = Literal["xtts", "piper"]
ENGINES: tuple[Engine, ...] = ("xtts", "piper")
VOICE_FILE = "voice.toml"
CONSENT_FILE = "consent.toml"
LATENTS_FILE = "latents.pt"
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
XTTS_LANGUAGES = (  # the languages XTTS-v2 speaks, in its own codes
    "en", "es", "fr", "de", "it", "pt", "pl", "tr", "ru", "nl", "cs", "ar", "zh-cn", "ja", "hu", "ko", "hi",
)  # fmt: skip


class VoiceError(Exception):
    """A voice that cannot be found, read or written."""


class Saveable(Protocol):
    """Anything that writes itself to a file, such as XTTS conditioning latents."""

    def save(self, path: Path) -> None:
        """Write to `path`."""


@dataclass(frozen=True)
class Voice:
    """One voice as `voice.toml` describes it, with where its files lie."""

    name: str
    display_name: str
    languages: tuple[str, ...]
    engine: Engine
    licence: str
    speaker: str
    created: datetime
    dir: Path
    references: tuple[Path, ...] = ()
    fidelity: float | None = None

    @property
    def latents_path(self) -> Path:
        """The cached XTTS conditioning latents (computed once, when the voice was added)."""
        return self.dir / LATENTS_FILE

    @property
    def consent_path(self) -> Path:
        """The consent record."""
        return self.dir / CONSENT_FILE

    def speaks(self, language: str) -> bool:
        """Whether the voice may speak `language` (an ISO code such as "en")."""
        return language.split("-")[0].lower() in self.languages


def check_name(name: str) -> str:
    """Return `name` if it is a valid voice name (lower-case letters, digits, - and _), else raise."""
    if not NAME_PATTERN.match(name):
        raise VoiceError(f"invalid voice name {name!r}: use lower-case letters, digits, '-' and '_'")
    return name


def check_languages(languages: Sequence[str]) -> tuple[str, ...]:
    """`languages` lower-cased, without repeats, if XTTS speaks every one; else raise naming the others."""
    codes = tuple(dict.fromkeys(code.strip().lower() for code in languages))
    unknown = [code for code in codes if code not in XTTS_LANGUAGES]
    if unknown or not codes:
        named = ", ".join(repr(code) for code in unknown) or "no language"
        raise VoiceError(f"XTTS does not speak {named}: use one or more of {' '.join(XTTS_LANGUAGES)}")
    return codes


def reference_names(references: Sequence[Path]) -> list[str]:
    """The names the voice's folder keeps its reference clips under: ref-1.wav, ref-2.flac, …"""
    return [f"ref-{i}{ref.suffix.lower() or '.wav'}" for i, ref in enumerate(references, 1)]


def _read_voice(directory: Path) -> Voice:
    try:
        data = tomllib.loads((directory / VOICE_FILE).read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise VoiceError(f"{directory / VOICE_FILE}: {exc}") from exc
    try:
        engine = data["engine"]
        if engine not in ENGINES:
            raise VoiceError(f"{directory / VOICE_FILE}: unknown engine {engine!r}")
        created = data["created"]
        if not isinstance(created, datetime):
            created = datetime.fromisoformat(str(created))
        fidelity = data.get("fidelity")
        return Voice(
            name=directory.name,
            display_name=str(data.get("display_name", directory.name)),
            languages=tuple(str(x) for x in data.get("languages", ["en"])),
            engine=cast(Engine, engine),
            licence=str(data.get("licence", "")),
            speaker=str(data.get("speaker", "")),
            created=created,
            dir=directory,
            references=tuple(directory / str(x) for x in data.get("references", [])),
            fidelity=None if fidelity is None else float(fidelity),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise VoiceError(f"{directory / VOICE_FILE}: missing or invalid {exc}") from exc


def _voice_toml(voice: Voice) -> dict[str, Any]:
    data: dict[str, Any] = {
        "display_name": voice.display_name,
        "languages": list(voice.languages),
        "engine": voice.engine,
        "licence": voice.licence,
        "speaker": voice.speaker,
        "created": voice.created,
        "references": [p.name for p in voice.references],
    }
    if voice.fidelity is not None:
        data["fidelity"] = round(voice.fidelity, 4)
    return data


def _write_toml(path: Path, data: Mapping[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(tomli_w.dumps(dict(data)))
    tmp.replace(path)


class VoiceStore:
    """The voices under one directory, one sub-directory per voice."""

    def __init__(self, root: Path, shared: SharedVoices | None = None) -> None:
        """Use `root` (created when the first voice is added); with `shared`, every change is written to
        object storage too, and `sync` brings in the voices other servers added."""
        self.root = Path(root)
        self.shared = shared

    def sync(self) -> builtins.list[str]:
        """Pull the shared voices into this folder (nothing without shared storage); the names changed."""
        return self.shared.pull() if self.shared is not None else []

    async def async_sync(self) -> builtins.list[str]:
        """`sync` in a worker thread, for async callers."""
        return await asyncio.to_thread(self.sync)

    def list(self) -> list[Voice]:
        """Every readable voice, by name; unreadable ones are logged and skipped."""
        if not self.root.is_dir():
            return []
        voices: list[Voice] = []
        for directory in sorted(self.root.iterdir()):
            if not (directory / VOICE_FILE).is_file() or directory.name.startswith("."):
                continue
            try:
                voices.append(_read_voice(directory))
            except VoiceError as exc:
                log.warning("voice_unreadable", voice=directory.name, error=str(exc))
        return voices

    def get(self, name: str) -> Voice:
        """The voice called `name`; raises VoiceError if there is none."""
        directory = self.root / check_name(name)
        if not (directory / VOICE_FILE).is_file():
            raise VoiceError(f"no voice named {name!r} in {self.root}")
        return _read_voice(directory)

    async def aget(self, name: str) -> Voice:
        """`get` in a worker thread, for async callers."""
        return await asyncio.to_thread(self.get, name)

    async def alist(self) -> builtins.list[Voice]:
        """`list` in a worker thread, for async callers."""
        return await asyncio.to_thread(self.list)

    def add(
        self,
        name: str,
        *,
        references: Sequence[Path],
        consent: Mapping[str, Any],
        consent_recording: Path,
        latents: Saveable | None,
        speaker: str,
        display_name: str | None = None,
        languages: Sequence[str] = ("en",),
        engine: Engine = "xtts",
        licence: str = "",
        created: datetime | None = None,
    ) -> Voice:
        """Copy the clips in, write the voice, its consent record and latents, and return it.

        The voice appears all at once (it is built in a hidden directory and renamed), so a half-added
        voice is never listed; an existing voice of the same name is refused.
        """
        check_name(name)
        if engine not in ENGINES:
            raise VoiceError(f"unknown engine {engine!r}")
        if engine == "xtts" and latents is None:
            raise VoiceError("an XTTS voice needs its conditioning latents")
        final = self.root / name
        if final.exists():
            raise VoiceError(f"a voice named {name!r} already exists: remove it first")
        self.root.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".adding-{name}-", dir=self.root))
        try:
            stored: builtins.list[Path] = []
            for ref, stored_name in zip(references, reference_names(references), strict=True):
                target = work / stored_name
                shutil.copyfile(ref, target)
                stored.append(final / target.name)
            shutil.copyfile(consent_recording, work / f"consent{consent_recording.suffix.lower() or '.wav'}")
            _write_toml(work / CONSENT_FILE, consent)
            if latents is not None:
                latents.save(work / LATENTS_FILE)
            voice = Voice(
                name=name,
                display_name=display_name or name,
                languages=tuple(languages),
                engine=engine,
                licence=licence,
                speaker=speaker,
                created=created or datetime.now(UTC).replace(microsecond=0),
                dir=final,
                references=tuple(stored),
            )
            _write_toml(work / VOICE_FILE, _voice_toml(voice))
            work.rename(final)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        log.info("voice_added", voice=name, engine=engine, references=len(stored))
        if self.shared is not None:
            self.shared.push(name)
        return voice

    def set_fidelity(self, name: str, score: float) -> Voice:
        """Record a freshly measured fidelity score in `voice.toml` and return the updated voice."""
        voice = replace(self.get(name), fidelity=float(score))
        _write_toml(voice.dir / VOICE_FILE, _voice_toml(voice))
        if self.shared is not None:
            self.shared.push(name)
        return voice

    def consent(self, name: str) -> dict[str, Any]:
        """The voice's consent record as stored."""
        path = self.get(name).consent_path
        try:
            return tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise VoiceError(f"{path}: {exc}") from exc

    def remove(self, name: str) -> None:
        """Delete the voice and every file it holds."""
        voice = self.get(name)
        if self.shared is not None:
            self.shared.delete(name)
        shutil.rmtree(voice.dir)
        log.info("voice_removed", voice=name)


def voice_store(settings: Settings, root: Path | None = None) -> VoiceStore:
    """The voices folder the settings name (or `root`), shared through STORAGE_URL's bucket when set."""
    folder = Path(root or settings.voices_dir)
    if not settings.storage_url:
        return VoiceStore(folder)
    from agent.objects import Bucket
    from agent.voice.shared import SharedVoices

    return VoiceStore(folder, SharedVoices(Bucket(settings.storage_url, settings.s3_endpoint_url), folder))
