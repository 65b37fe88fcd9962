"""The console's numbers page: an editor routes a called number to a business and a voice, and the next
call to it gets them; bad input is refused with the reason; viewers only read."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from structlog.testing import capture_logs

from agent.console import queries
from agent.server import STATE
from agent.voice.store import voice_store
from tests.console.conftest import Seeded, csrf_of, log_in
from tests.test_server import post_webhook

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
EXAMPLE_NUMBER = "+15550100002"  # prompts/businesses/example.yaml's


async def numbers_page(http: aiohttp.ClientSession, console: Seeded) -> str:
    async with http.get(console.url("/console/numbers")) as r:
        assert r.status == 200
        return await r.text()


async def test_an_editor_routes_a_number_to_another_business_and_voice_for_the_next_call(
    console: Seeded, http: aiohttp.ClientSession, clips: dict[str, Path]
) -> None:
    """The example business's number set to the plumbing profile and a stored (Piper-engine) voice: the
    next webhook for it answers as plumbing and the call's voice is the new one; the change is audited."""
    state = console.server.app[STATE]
    voice_store(state.settings).add(
        "front", references=[clips["a.wav"]], consent={"speaker": "Jane"},
        consent_recording=clips["said.wav"], latents=None, speaker="Jane", engine="piper",
    )  # fmt: skip
    assert await log_in(http, console, "editor") == 200
    page = await numbers_page(http, console)
    assert EXAMPLE_NUMBER in page and "<option>front</option>" in page
    form = {"csrf": csrf_of(page), "number": EXAMPLE_NUMBER, "business": "plumbing", "voice": "front"}
    async with http.post(console.url("/console/numbers"), data=form) as r:
        assert r.status == 200
    settings = state.settings
    with capture_logs() as logs:
        async with aiohttp.ClientSession() as twilio:
            answered = await post_webhook(twilio, settings, "CA" + "3" * 32)
            assert answered.status == 200
    incoming = next(e for e in logs if e["event"] == "call_incoming")
    assert incoming["business"] == "plumbing"
    assert state.models is not None
    choice = state.models.voices.for_called(EXAMPLE_NUMBER)
    assert choice.name == "front" and choice.fallback_reason is None
    page = await numbers_page(http, console)
    assert '<td class="business">plumbing</td><td class="voice">front</td>' in page
    (entry,) = [e for e in await queries.audit_log(console.db) if e.action == "number_route"]
    assert (
        entry.detail["after"] == {"business": "plumbing", "voice": "front"} and entry.detail["before"] is None
    )


async def test_a_number_not_in_e164_or_an_unknown_voice_is_refused_with_the_reason(
    console: Seeded, http: aiohttp.ClientSession
) -> None:
    """422 with the problem shown; nothing is routed."""
    assert await log_in(http, console, "editor") == 200
    csrf = csrf_of(await numbers_page(http, console))
    for form, problem in (
        ({"number": "555-0100", "business": "", "voice": ""}, "E.164"),
        ({"number": "+15550100777", "business": "", "voice": "nobody"}, "no voice named"),
        ({"number": "+15550100777", "business": "bakery", "voice": ""}, "no business profile"),
    ):
        async with http.post(console.url("/console/numbers"), data={"csrf": csrf, **form}) as r:
            assert r.status == 422 and problem in await r.text()
    from agent.dialog import profile_store

    assert await profile_store.routes(console.db) == {}


async def test_a_viewer_sees_numbers_masked_and_cannot_route_one(
    console: Seeded, http: aiohttp.ClientSession
) -> None:
    """No forms and masked numbers for a viewer; a forged post is refused."""
    assert await log_in(http, console, "viewer") == 200
    page = await numbers_page(http, console)
    assert EXAMPLE_NUMBER not in page and "<select" not in page
    form = {"csrf": csrf_of(page), "number": EXAMPLE_NUMBER, "business": "plumbing", "voice": ""}
    async with http.post(console.url("/console/numbers"), data=form) as r:
        assert r.status == 403
