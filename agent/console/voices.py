"""Console pages for cloned voices: list with fidelity, add (clips + consent recording), preview, remove."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import structlog
from aiohttp import BodyPartReader, MultipartReader, web

from agent.console import queries
from agent.console.app import CONSOLE, PREFIX, render, require
from agent.console.csrf import MULTIPART
from agent.voice.consent import STATEMENT
from agent.voice.store import VoiceError, VoiceStore, voice_store
from agent.voice.transcode import TranscodeError, to_wav

if TYPE_CHECKING:
    from TTS.tts.models.xtts import Xtts

log = structlog.get_logger(__name__)
TEXT_FIELDS = ("name", "display_name", "speaker", "business", "languages")
MAX_UPLOAD = 50 * 1024 * 1024


def _store(request: web.Request) -> VoiceStore:
    return voice_store(request.app[CONSOLE].state.settings)


async def voices_page(
    request: web.Request, error: list[str] | None = None, status: int = 200
) -> web.Response:
    """Every voice with its fidelity (those other servers added to shared storage included), and the add
    form."""
    store = _store(request)
    try:
        await store.async_sync()
    except Exception as exc:
        log.warning("voices_not_synced", error=str(exc))
    return render(
        request,
        "voices.html",
        status=status,
        voices=await store.alist(),
        errors=error or [],
        statement=STATEMENT.format(speaker="<speaker>", business="<business>"),
    )


async def _save_part(part: BodyPartReader, folder: Path, index: int) -> Path:
    """Stream an uploaded file into `folder` (a safe name of our own, keeping the extension)."""
    suffix = Path(part.filename or "").suffix.lower()
    known = (".wav", ".flac", ".mp3", ".ogg", ".webm", ".m4a")
    path = folder / f"{part.name}-{index}{suffix if suffix in known else '.wav'}"
    size = 0
    fh = await asyncio.to_thread(path.open, "wb")
    try:
        while chunk := await part.read_chunk():
            size += len(chunk)
            if size > MAX_UPLOAD:
                raise web.HTTPRequestEntityTooLarge(MAX_UPLOAD, size)
            await asyncio.to_thread(fh.write, chunk)
    finally:
        await asyncio.to_thread(fh.close)
    try:
        return await asyncio.to_thread(to_wav, path)  # a browser's recording (WebM/Opus) as a WAV
    except TranscodeError:
        return path  # the clip checks refuse it with their own reason


async def _read_form(reader: MultipartReader, folder: Path) -> tuple[dict[str, str], list[Path], Path | None]:
    fields: dict[str, str] = {}
    clips: list[Path] = []
    consent: Path | None = None
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue
        if part.name in ("references", "consent") and part.filename:
            saved = await _save_part(part, folder, len(clips))
            if part.name == "consent":
                consent = saved
            else:
                clips.append(saved)
        elif part.name in TEXT_FIELDS:
            fields[part.name] = (await part.read(decode=True)).decode(errors="replace").strip()
    return fields, clips, consent


def _loader(model_dir: str) -> Xtts:
    from agent.voice.xtts import XttsLoadError, load_xtts

    if not model_dir:
        raise VoiceError("no XTTS model configured: set XTTS_MODEL_DIR (see `agent voices install-model`)")
    try:
        return load_xtts(Path(model_dir))
    except XttsLoadError as exc:
        raise VoiceError(str(exc)) from exc


async def add_voice(request: web.Request) -> web.StreamResponse:
    """Add a voice from uploaded clips and a consent recording; refusals are shown with their reasons."""
    from agent.voice.enroll import EnrollError, Enrollment, enroll_async

    login = require(request, "editor")
    console = request.app[CONSOLE]
    settings, models = console.state.settings, console.state.models
    reader = request.get(MULTIPART)
    if not isinstance(reader, MultipartReader):
        raise web.HTTPBadRequest(text="the voice form is multipart")
    folder = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="console-voice-"))
    try:
        fields, clips, consent = await _read_form(reader, folder)
        missing = [f for f in ("name", "speaker", "business") if not fields.get(f)]
        if missing or not clips or consent is None:
            need = [
                *missing,
                *(["reference clips"] if not clips else []),
                *(["consent"] if not consent else []),
            ]
            return await voices_page(request, [f"missing: {', '.join(need)}"], 400)
        if models is None:
            return await voices_page(request, ["the speech models are still loading; try again"], 503)
        enrollment = Enrollment(
            name=fields["name"],
            references=tuple(clips),
            speaker=fields["speaker"],
            recorded_by=login.name,
            business=fields["business"],
            consent_recording=consent,
            languages=tuple(fields.get("languages", "en").replace(",", " ").split()) or ("en",),
            display_name=fields.get("display_name", ""),
        )
        whisper = models.whisper_detail or models.whisper
        try:
            done = await enroll_async(
                _store(request),
                enrollment,
                whisper=whisper,
                whisper_name=settings.whisper_detail_model
                if models.whisper_detail
                else settings.whisper_model,
                load_model=lambda: _loader(settings.xtts_model_dir),
            )
        except EnrollError as exc:
            log.info("console_voice_refused", voice=fields["name"], reasons=len(exc.reasons))
            return await voices_page(request, exc.reasons, 422)
        except VoiceError as exc:
            return await voices_page(request, [str(exc)], 422)
    finally:
        await asyncio.to_thread(shutil.rmtree, folder, True)
    await queries.audit(console.db, login.name, "voice_add", f"voice:{done.voice.name}")
    raise web.HTTPFound(f"{PREFIX}/voices")


async def remove_voice(request: web.Request) -> web.StreamResponse:
    """Remove a voice and its files (editor or admin)."""
    login = require(request, "editor")
    name = request.match_info["name"]
    try:
        await asyncio.to_thread(_store(request).remove, name)
    except VoiceError as exc:
        raise web.HTTPNotFound(text=str(exc)) from None
    await queries.audit(request.app[CONSOLE].db, login.name, "voice_remove", f"voice:{name}")
    raise web.HTTPFound(f"{PREFIX}/voices")


def _write_preview(model_dir: str, store: VoiceStore, name: str, out: Path) -> None:
    from agent.voice.fidelity import synthesize_preview
    from agent.voice.preview import write_preview

    clip = synthesize_preview(_loader(model_dir), store.get(name))
    out.parent.mkdir(parents=True, exist_ok=True)
    write_preview(clip, out)


async def preview(request: web.Request) -> web.StreamResponse:
    """The voice's preview as a caller hears it (phone band), synthesized once and kept."""
    require(request, "viewer")
    settings = request.app[CONSOLE].state.settings
    store, name = _store(request), request.match_info["name"]
    try:
        voice = await store.aget(name)
    except VoiceError as exc:
        raise web.HTTPNotFound(text=str(exc)) from None
    out = settings.data_dir / "previews" / f"{voice.name}.wav"
    phone = out.with_name(f"{out.stem}.phone.wav")
    shared = store.shared
    if not await asyncio.to_thread(phone.is_file) and not (
        shared is not None and await asyncio.to_thread(shared.fetch_preview, phone)
    ):
        try:
            await asyncio.to_thread(_write_preview, settings.xtts_model_dir, store, voice.name, out)
        except VoiceError as exc:
            raise web.HTTPServiceUnavailable(text=str(exc)) from None
        if shared is not None:
            await asyncio.to_thread(shared.push_previews, [out, phone])
    return web.FileResponse(phone, headers={"Content-Type": "audio/wav", "Cache-Control": "private"})


def add_routes(router: web.UrlDispatcher) -> None:
    """Register the voice pages."""
    router.add_get(f"{PREFIX}/voices", voices_page)
    router.add_post(f"{PREFIX}/voices", add_voice)
    router.add_post(f"{PREFIX}/voices/{{name}}/remove", remove_voice)
    router.add_get(f"{PREFIX}/voices/{{name}}/preview.wav", preview)
