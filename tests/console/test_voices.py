"""Voices from the console: add with the real consent check, refusals with reasons, preview, remove."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from agent.config import Settings
from agent.console.auth import add_operator
from agent.models import Models
from agent.server import STATE, create_app
from agent.voice.store import VoiceStore
from tests.console.conftest import PASSWORD, Seeded, csrf_of, log_in
from tests.voice.samples import BUSINESS, SPEAKER, Samples, voice_samples
from tests.voice.tiny_xtts import build_tiny_xtts

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Samples:
    """Piper speech as the speaker: reference clips, the consent statement, other words."""
    return voice_samples(tmp_path_factory)


@pytest.fixture(scope="module")
def xtts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight XTTS-v2 checkpoint (enough to compute latents and synthesize a preview)."""
    return build_tiny_xtts(tmp_path_factory.mktemp("tiny-xtts"))


@pytest.fixture
async def voices(settings: Settings, models: Models, xtts_dir: Path, tmp_path: Path) -> AsyncIterator[Seeded]:
    """The app with a voices folder, the tiny XTTS as its model, and an editor and a viewer."""
    cfg = replace(settings, voices_dir=tmp_path / "voices", xtts_model_dir=str(xtts_dir))
    server = TestServer(create_app(cfg, models), host=cfg.host, port=cfg.port)
    await server.start_server()
    db = server.app[STATE].calllog.db
    for role in ("editor", "viewer"):
        await add_operator(db, role, role, PASSWORD)
    try:
        yield Seeded(server, db, "", 0, "")
    finally:
        await server.close()


def voice_form(csrf: str | None, samples: Samples, consent: Path) -> aiohttp.FormData:
    form = aiohttp.FormData()
    if csrf is not None:
        form.add_field("csrf", csrf)
    for name, value in (("name", "jane"), ("speaker", SPEAKER), ("business", BUSINESS), ("languages", "en")):
        form.add_field(name, value)
    for ref in samples.refs:
        form.add_field("references", ref.read_bytes(), filename=ref.name, content_type="audio/wav")
    form.add_field("consent", consent.read_bytes(), filename="consent.wav", content_type="audio/wav")
    return form


async def page_csrf(http: aiohttp.ClientSession, voices: Seeded) -> str:
    async with http.get(voices.url("/console/voices")) as r:
        return csrf_of(await r.text())


async def test_a_voice_added_with_consent_is_listed_previewed_and_removed(
    voices: Seeded, http: aiohttp.ClientSession, samples: Samples
) -> None:
    """The real consent check passes for the speaker reading the statement; the voice can then be removed."""
    assert await log_in(http, voices, "editor") == 200
    form = voice_form(await page_csrf(http, voices), samples, samples.consent)
    async with http.post(voices.url("/console/voices"), data=form) as r:
        html = await r.text()
        assert r.status == 200, html
    assert "<code>jane</code>" in html and SPEAKER in html
    store = VoiceStore(voices.server.app[STATE].settings.voices_dir)
    assert [v.name for v in store.list()] == ["jane"]
    async with http.get(voices.url("/console/voices/jane/preview.wav")) as r:
        assert r.status == 200 and (await r.read())[:4] == b"RIFF"
    async with http.post(voices.url("/console/voices/jane/remove"), data={"csrf": csrf_of(html)}) as r:
        assert r.status == 200 and "<code>jane</code>" not in await r.text()
    assert store.list() == []


async def test_a_refused_consent_shows_its_reasons_and_adds_nothing(
    voices: Seeded, http: aiohttp.ClientSession, samples: Samples
) -> None:
    """A consent recording of other words is refused; the page says why."""
    assert await log_in(http, voices, "editor") == 200
    form = voice_form(await page_csrf(http, voices), samples, samples.other_words)
    async with http.post(voices.url("/console/voices"), data=form) as r:
        assert r.status == 422
        html = await r.text()
    assert 'id="voice-errors"' in html and "consent refused" in html
    assert VoiceStore(voices.server.app[STATE].settings.voices_dir).list() == []


async def test_the_upload_form_needs_its_csrf_token_and_the_editor_role(
    voices: Seeded, http: aiohttp.ClientSession, samples: Samples
) -> None:
    """A multipart upload without the token is 403; a viewer with a valid token is 403 too."""
    assert await log_in(http, voices, "editor") == 200
    async with http.post(voices.url("/console/voices"), data=voice_form(None, samples, samples.consent)) as r:
        assert r.status == 403
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as viewer:
        assert await log_in(viewer, voices, "viewer") == 200
        form = voice_form(await page_csrf(viewer, voices), samples, samples.consent)
        async with viewer.post(voices.url("/console/voices"), data=form) as r:
            assert r.status == 403


def record_consent_in_chromium(base: str, samples: Samples, fake_mic: Path) -> dict[str, str]:
    """As an editor in headless Chromium whose microphone plays `fake_mic`: fill the voice form, upload the
    reference clips, record the consent statement with the page's Record button, listen back, submit
    (blocking). Returns what the page showed."""
    import soundfile as sf
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.console.browser import log_in_as, open_chromium

    driver = open_chromium(
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={fake_mic}",
    )
    seen: dict[str, str] = {}
    try:
        wait = WebDriverWait(driver, 120)
        log_in_as(driver, base, "editor", wait)
        driver.get(f"{base}/console/voices")
        for field, value in (("name", "jane"), ("speaker", SPEAKER), ("business", BUSINESS)):
            driver.find_element(By.NAME, field).send_keys(value)
        driver.find_element(By.ID, "references-file").send_keys("\n".join(str(r) for r in samples.refs))
        record = driver.find_element(By.ID, "record-consent")
        record.click()
        time.sleep(sf.info(str(fake_mic)).duration + 0.6)  # the statement, read once by the fake microphone
        record.click()
        wait.until(lambda d: d.find_element(By.ID, "record-consent").get_attribute("data-recorded") == "1")
        seen["playback"] = str(driver.find_element(By.ID, "consent-playback").get_attribute("src"))
        seen["file"] = str(
            driver.execute_script("return document.getElementById('consent-file').files[0].name")
        )
        driver.find_element(By.CSS_SELECTOR, 'form[action="/console/voices"] button[type="submit"]').click()
        wait.until(lambda d: "/console/voices" in d.current_url and d.find_elements(By.ID, "voices"))
        seen["table"] = driver.find_element(By.ID, "voices").text
        errors = driver.find_elements(By.ID, "voice-errors")
        seen["errors"] = errors[0].text if errors else ""
    finally:
        driver.quit()
    return seen


async def test_the_consent_statement_recorded_in_the_browser_passes_the_same_checks(
    voices: Seeded, samples: Samples, tmp_path: Path
) -> None:
    """Chromium's fake microphone reads the statement in the speaker's voice: recorded with MediaRecorder
    (WebM/Opus), heard back, uploaded, turned into WAV, and the real ASR and speaker checks pass it."""
    from tests.conftest import unavailable
    from tests.console.test_browser import _skip_reason

    if reason := _skip_reason():
        unavailable(reason, "REQUIRE_BROWSER")
    # The fake microphone wants 16-bit PCM WAV; a second of silence first, as a speaker draws breath.
    import numpy as np
    import soundfile as sf

    audio, rate = sf.read(str(samples.consent), dtype="float32")
    fake_mic = tmp_path / "mic.wav"
    sf.write(str(fake_mic), np.concatenate([np.zeros(rate // 2, dtype=np.float32), audio]), rate, "PCM_16")
    seen = await asyncio.to_thread(record_consent_in_chromium, voices.url(""), samples, fake_mic)
    assert seen["playback"].startswith("blob:") and seen["file"].endswith(".webm"), seen
    assert not seen["errors"] and "jane" in seen["table"], seen
    state = voices.server.app[STATE]
    voice = VoiceStore(state.settings.voices_dir).get("jane")
    assert (voice.dir / "consent.wav").is_file()  # stored as the WAV it was turned into
    assert "agree" in VoiceStore(state.settings.voices_dir).consent("jane")["statement"]
