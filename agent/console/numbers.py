"""Console page for called numbers: the business that answers each and the voice that speaks, set live."""

from __future__ import annotations

import re

import structlog
from aiohttp import web

from agent.config import EMBEDDED
from agent.console import queries
from agent.console.app import CONSOLE, PREFIX, render, require
from agent.dialog import profile_store
from agent.voice.store import voice_store

log = structlog.get_logger(__name__)
E164 = re.compile(r"^\+[1-9]\d{6,14}$")


async def numbers_page(request: web.Request, error: str = "", status: int = 200) -> web.StreamResponse:
    """Every known called number with the business and voice a call to it gets now, and the console's
    choice for it."""
    require(request, "viewer")
    console = request.app[CONSOLE]
    state, settings = console.state, console.state.settings
    routes = await profile_store.routes(console.db)
    directory = state.directory
    voices = state.models.voices if state.models is not None else None
    numbers = sorted({*directory.by_number, *settings.voice_map, *routes})
    rows = [
        {
            "number": n,
            "business": directory.by_number.get(n, directory.default),
            "voice": voices.by_number.get(n, voices.default) if voices else settings.voice_for(n),
            "route": routes.get(n, profile_store.Route("", "")),
        }
        for n in numbers
    ]
    stored = [v.name for v in await voice_store(settings).alist()]
    return render(
        request,
        "numbers.html",
        status=status,
        rows=rows,
        businesses=sorted(directory.businesses),
        voices=[EMBEDDED, *stored],
        default_business=directory.default,
        default_voice=settings.voice_default,
        error=error,
    )


async def save_number(request: web.Request) -> web.StreamResponse:
    """Route a called number to a business and a voice (editors); the next call to it uses them; audited."""
    login = require(request, "editor")
    console = request.app[CONSOLE]
    form = await request.post()
    number = str(form.get("number", "")).strip().replace(" ", "")
    route = profile_store.Route(str(form.get("business", "")), str(form.get("voice", "")))
    if not E164.match(number):
        return await numbers_page(request, f"{number!r} is not a phone number in E.164 form (+15550100)", 422)
    if route.business and route.business not in console.state.directory.businesses:
        return await numbers_page(request, f"no business profile named {route.business!r}", 422)
    known = {EMBEDDED, *(v.name for v in await voice_store(console.state.settings).alist())}
    if route.voice and route.voice not in known:
        return await numbers_page(request, f"no voice named {route.voice!r}", 422)
    before = (await profile_store.routes(console.db)).get(number)
    revision = await profile_store.save_route(console.db, number, route, by=login.name)
    await queries.audit(
        console.db, login.name, "number_route", f"number:{number}", revision=revision,
        before=None if before is None else {"business": before.business, "voice": before.voice},
        after={"business": route.business, "voice": route.voice},
    )  # fmt: skip
    raise web.HTTPFound(f"{PREFIX}/numbers")


def add_routes(router: web.UrlDispatcher) -> None:
    """Register the numbers page."""
    router.add_get(f"{PREFIX}/numbers", numbers_page)
    router.add_post(f"{PREFIX}/numbers", save_number)
