"""The console in headless Chromium: log in, find a simulated call, hear its recording, handle its message."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer, unused_port

from agent.config import Settings
from agent.console.auth import add_operator
from agent.models import Models
from agent.server import STATE
from agent.simulate import place_call
from tests.calls.test_receptionist_calls import serve, wait_idle
from tests.conftest import AUTH_TOKEN, REPO, unavailable
from tests.console.browser import CHROMIUM, DRIVER, log_in_as, open_chromium
from tests.console.conftest import PASSWORD
from tests.fake_openai import FakeChatEndpoint

pytestmark = pytest.mark.models
ARTIFACTS = REPO / ".agent" / "artifacts"

try:
    import selenium  # noqa: F401

    NO_SELENIUM = ""
except ImportError:
    NO_SELENIUM = "selenium is not installed (pip install -e '.[dev]')"


def _skip_reason() -> str:
    if NO_SELENIUM:
        return NO_SELENIUM
    if not CHROMIUM or not DRIVER:
        return "headless Chromium is missing: `make setup` installs Debian's chromium and chromium-driver"
    return ""


@pytest.fixture(scope="session", autouse=True)
def browser() -> None:
    """Headless Chromium is here; else the test skips, or fails when REQUIRE_BROWSER is set (as in CI).

    Session-scoped and autouse, so it runs before the models load.
    """
    if reason := _skip_reason():
        unavailable(reason, "REQUIRE_BROWSER")


def drive_browser(base: str, call_sid: str, screenshot: Path) -> dict[str, object]:
    """Log in, open the call, wait for its audio, screenshot it, then mark its message handled (blocking)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = open_chromium()
    seen: dict[str, object] = {}
    try:
        wait = WebDriverWait(driver, 30)
        driver.get(f"{base}/console/calls")
        seen["login_redirect"] = "/console/login" in driver.current_url
        driver.find_element(By.ID, "name").send_keys("editor")
        driver.find_element(By.ID, "password").send_keys(PASSWORD)
        driver.find_element(By.ID, "login").click()
        wait.until(lambda d: d.find_elements(By.ID, "calls"))
        driver.find_element(By.CSS_SELECTOR, f'a.call-link[href$="{call_sid}"]').click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "table.transcript"))
        seen["transcript"] = driver.find_element(By.CSS_SELECTOR, "table.transcript").text
        duration = "return document.querySelector('audio.recording').duration"
        wait.until(lambda d: (d.execute_script(duration) or 0) > 0)
        seen["duration"] = driver.execute_script(duration)
        row = driver.find_element(By.CSS_SELECTOR, "tr.turn.caller")
        row.click()
        seen["seek"] = (
            float(row.get_attribute("data-start") or "nan"),
            driver.execute_script("return document.querySelector('audio.recording').currentTime"),
        )
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(screenshot))
        driver.get(f"{base}/console/messages")
        driver.find_element(By.CSS_SELECTOR, "button.mark-handled").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".handled"))
        seen["handled"] = driver.find_element(By.CSS_SELECTOR, ".handled").text
    finally:
        driver.quit()
    return seen


async def test_an_operator_finds_a_simulated_call_hears_it_and_handles_its_message(
    settings: Settings, models: Models, speech_dir: Path
) -> None:
    """A call placed over the real websocket shows up: transcript, a playable recording, its message."""
    fake = FakeChatEndpoint(
        "I've passed that on to Maria.",
        tool_call=(
            "take_message",
            {"caller_name": "John Smith", "callback_number": "6175550100", "message": "Call me back."},
        ),
    )
    llm = TestServer(fake.app(), host="127.0.0.1", port=unused_port())
    await llm.start_server()
    cfg = replace(settings, llm_base_url=f"http://127.0.0.1:{llm.port}/v1", llm_model="m")
    srv = await serve(cfg, models)
    try:
        await add_operator(srv.app[STATE].calllog.db, "editor", "editor", PASSWORD)
        result = await place_call(cfg.public_base_url, AUTH_TOKEN, [str(speech_dir / "chat.wav")])
        await wait_idle(srv)
        shot = ARTIFACTS / "console-call-page.png"
        seen = await asyncio.to_thread(drive_browser, cfg.public_base_url, result.call_sid, shot)
    finally:
        await srv.close()
        await llm.close()
    print(f"screenshot of the call page: {shot}")
    assert seen["login_redirect"] is True
    transcript = str(seen["transcript"])
    assert "Harbor Dental" in transcript and "moved" in transcript.lower(), transcript
    assert isinstance(seen["duration"], float | int) and seen["duration"] > 1
    start, position = seen["seek"]  # type: ignore[misc]
    assert start > 1 and abs(position - start) < 1.0, seen["seek"]  # clicking a turn seeks the player
    assert "handled by editor" in str(seen["handled"])
    assert shot.is_file() and shot.stat().st_size > 10_000


def drive_profile_edit(base: str, screenshot: Path) -> dict[str, str]:
    """As an editor: change Saturday's hours and the insurance answer in the profile form, try both
    questions in the try-it box, then save; return what the box answered and what the page said (blocking)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = open_chromium()
    seen: dict[str, str] = {}
    try:
        wait = WebDriverWait(driver, 30)
        log_in_as(driver, base, "editor", wait)
        driver.get(f"{base}/console/businesses")
        driver.find_element(By.CSS_SELECTOR, 'a[href="/console/businesses/example"]').click()
        wait.until(lambda d: d.find_elements(By.ID, "profile-form"))
        seen["hours_before"] = driver.find_element(By.ID, "hours").text
        saturday = driver.find_element(By.ID, "hours-saturday")
        saturday.clear()
        saturday.send_keys("10:00-14:00")
        answer = driver.find_element(By.NAME, "faq.0.answer")
        answer.clear()
        answer.send_keys("We take Delta Dental only.")
        driver.find_element(By.ID, "try-lines").send_keys("Are you open on Saturday?\nDo you take insurance?")
        driver.find_element(By.ID, "try-button").click()
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".try-reply")) == 2)
        replies = driver.find_elements(By.CSS_SELECTOR, ".try-reply")
        seen["tried"], seen["tried_faq"] = (e.text for e in replies)
        driver.find_element(By.ID, "save-form").click()
        wait.until(lambda d: d.find_elements(By.ID, "saved"))
        seen["saved"] = driver.find_element(By.ID, "saved").text
        seen["saturday_after"] = str(driver.find_element(By.ID, "hours-saturday").get_property("value"))
        seen["hours_after"] = driver.find_element(By.ID, "hours").text
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(screenshot))
    finally:
        driver.quit()
    return seen


async def test_an_editor_changes_saturdays_hours_tries_them_saves_and_the_next_caller_hears_them(
    settings: Settings, models: Models, speech_dir: Path
) -> None:
    """In Chromium: the profile form's fields edited, the try-it box answers with the new hours and FAQ
    answer before anything is saved, saving publishes them (the page shows them in use), and a simulated
    call asking when they open on Saturday hears 10 AM; the audit log holds the change."""
    from structlog.testing import capture_logs

    from agent.console.queries import audit_log

    srv = await serve(settings, models)
    try:
        db = srv.app[STATE].calllog.db
        await add_operator(db, "editor", "editor", PASSWORD)
        shot = ARTIFACTS / "console-business-page.png"
        seen = await asyncio.to_thread(drive_profile_edit, settings.public_base_url, shot)
        with capture_logs() as logs:
            await place_call(settings.public_base_url, AUTH_TOKEN, [str(speech_dir / "hours.wav")])
            await wait_idle(srv)
        audited = [e for e in await audit_log(db) if e.action == "profile_edit"]
    finally:
        await srv.close()
    assert "Saturday from 9 AM to 1 PM" in seen["hours_before"], seen
    assert "10 AM" in seen["tried"] and "hours" in seen["tried"], seen
    assert "Delta Dental only" in seen["tried_faq"], seen
    assert "Saturday from 10 AM to 2 PM" in seen["hours_after"], seen
    assert "Saved as revision 2" in seen["saved"] and seen["saturday_after"] == "10:00-14:00", seen
    reply = next(e for e in logs if e["event"] == "agent_reply" and e["intent"].startswith("hours"))
    assert "10 AM" in reply["text"], reply
    assert len(audited) == 1 and audited[0].operator == "editor"
