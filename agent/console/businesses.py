"""Console pages for business profiles: the list, and one profile's YAML, edited with the loader's checks."""

from __future__ import annotations

import asyncio
import io
import json
import re
from typing import Any

import structlog
from aiohttp import web

from agent.console import queries
from agent.console.app import CONSOLE, PREFIX, Console, ServerState, render, require
from agent.console.profile_form import DETAILS, TABLES, apply_form, field_errors, form_of
from agent.dialog import profile_store
from agent.dialog.business import KEY_ACTIONS, ProfileError
from agent.dialog.hours import WEEKDAYS, say_spans

log = structlog.get_logger(__name__)


async def _stored(console: Console, name: str) -> dict[str, str]:
    """Every stored profile's YAML text; 404 if `name` is not among them."""
    stored = await profile_store.documents(console.db)
    if name not in stored:
        raise web.HTTPNotFound(text=f"no business profile named {name!r}")
    return stored


async def businesses_page(request: web.Request) -> web.StreamResponse:
    """Every stored profile, its revision and who last changed it."""
    require(request, "viewer")
    rows = await profile_store.rows(request.app[CONSOLE].db)
    directory = request.app[CONSOLE].state.directory
    return render(request, "businesses.html", rows=rows, live=directory.businesses)


async def business_page(
    request: web.Request,
    document: str | None = None,
    errors: list[str] | None = None,
    status: int = 200,
    field_problems: dict[str, str] | None = None,
) -> web.StreamResponse:
    """One profile as a form and as YAML (both editable by editors), its hours as the server reads them,
    and any problems, each next to its field."""
    require(request, "viewer")
    console, name = request.app[CONSOLE], request.match_info["name"]
    stored = await _stored(console, name)
    business = console.state.directory.businesses.get(name)
    hours = [(day.title(), say_spans(business.hours.weekly[day])) for day in WEEKDAYS] if business else []
    return render(
        request,
        "business.html",
        status=status,
        profile=name,
        document=stored[name] if document is None else document,
        errors=errors or [],
        hours=hours,
        form=form_of(stored[name] if document is None else document),
        weekdays=WEEKDAYS,
        details=DETAILS,
        tables=TABLES,
        choices=KEY_ACTIONS,
        problems=field_problems or {},
        saved=request.query.get("saved"),
    )


async def save_business(request: web.Request) -> web.StreamResponse:
    """Validate and store an edited profile (editors): the next call on every server uses it; audited with
    the text before and after."""
    login = require(request, "editor")
    console, name = request.app[CONSOLE], request.match_info["name"]
    form = await request.post()
    stored = await _stored(console, name)
    if request.match_info.get("part") in ("form", "hours"):
        fields = {k: str(v) for k, v in form.items()}
        document, problems = await asyncio.to_thread(apply_form, stored[name], fields)
        if problems:
            return await business_page(request, document, list(problems.values()), 422, problems)
    else:
        document = str(form.get("document", "")).replace("\r\n", "\n")
    settings = console.state.settings
    try:
        await asyncio.to_thread(
            profile_store.check, stored, {name: document}, settings.prompts_dir, settings.business
        )
    except ProfileError as exc:
        messages = str(exc).splitlines()
        return await business_page(request, document, messages, 422, field_errors(messages, document))
    if document == stored[name]:
        raise web.HTTPFound(f"{PREFIX}/businesses/{name}")
    revision = await profile_store.save(console.db, {name: document}, by=login.name)
    await queries.audit(
        console.db, login.name, "profile_edit", f"business:{name}",
        revision=revision, before=stored[name], after=document,
    )  # fmt: skip
    log.info("console_profile_saved", operator=login.name, business=name, revision=revision)
    await console.state.refresh_profiles()  # in use here at once; other servers check on their next call
    raise web.HTTPFound(f"{PREFIX}/businesses/{name}?saved={revision}")


MAX_TRY_LINES = 20


def _try(state: ServerState, name: str, document: str, lines: list[str], at: str) -> list[dict[str, Any]]:
    """Run the caller's lines through the dialog engine (as `agent chat`) on the unsaved `document`
    (blocking); ProfileError if it is not valid."""
    from agent.dialog.chat import clock_at, model_replier, run_chat
    from agent.dialog.router import Router

    settings = state.settings
    stored = {name: document}
    directory = profile_store.check({}, stored, settings.prompts_dir, name)
    business = directory.businesses[name]
    models = state.models
    encoder = models.encoder if models is not None else None
    router = Router(business, clock=clock_at(business, at or None), encoder=encoder,
                    defer_unsure=settings.uses_endpoint)  # fmt: skip
    replier = model_replier(settings, business, models.llm if models is not None else None)
    out = io.StringIO()
    run_chat(router, lines, out, replier)
    replies = [json.loads(line) for line in out.getvalue().splitlines()]
    return [{"caller": said, **reply} for said, reply in zip(lines, replies, strict=False)]


async def try_business(request: web.Request) -> web.StreamResponse:
    """The try-it box: the caller's lines answered by the same dialog engine as a call, on the profile as
    edited (the YAML text if sent, else the stored profile with the form's fields put in; not saved, so
    callers don't hear it). JSON: each turn's reply, intent, action."""
    require(request, "viewer")
    console, name = request.app[CONSOLE], request.match_info["name"]
    form = await request.post()
    document = str(form.get("document", "")).replace("\r\n", "\n")
    if "document" not in form:
        stored = await _stored(console, name)
        fields = {k: str(v) for k, v in form.items() if k not in ("lines", "at", "csrf")}
        document, problems = await asyncio.to_thread(apply_form, stored[name], fields)
        if problems:
            return web.json_response({"errors": list(problems.values())}, status=422)
    lines = [line.strip() for line in str(form.get("lines", "")).splitlines() if line.strip()]
    if not lines or len(lines) > MAX_TRY_LINES:
        return web.json_response({"errors": [f"say 1 to {MAX_TRY_LINES} lines"]}, status=422)
    if not re.fullmatch(r"[a-z0-9_-]{1,64}", name):
        raise web.HTTPNotFound()
    at = str(form.get("at", ""))
    try:
        turns = await asyncio.to_thread(_try, console.state, name, document, lines, at)
    except ProfileError as exc:
        return web.json_response({"errors": str(exc).splitlines()}, status=422)
    except ValueError as exc:
        return web.json_response({"errors": [f"at: {exc}"]}, status=422)
    return web.json_response({"turns": turns})


def add_routes(router: web.UrlDispatcher) -> None:
    """Register the business profile pages."""
    router.add_get(f"{PREFIX}/businesses", businesses_page)
    router.add_get(f"{PREFIX}/businesses/{{name}}", business_page)
    router.add_post(f"{PREFIX}/businesses/{{name}}", save_business)
    router.add_post(f"{PREFIX}/businesses/{{name}}/{{part:form|hours}}", save_business)
    router.add_post(f"{PREFIX}/businesses/{{name}}/try", try_business)
