"""Console pages: log in and out, the messages inbox, live calls, the audit log, operators and retention."""

from __future__ import annotations

import datetime as dt
import secrets
import time

import structlog
from aiohttp import web

from agent.console import queries
from agent.console.app import (
    CONSOLE,
    LOGIN,
    LOGIN_COOKIE,
    LOGIN_PATH,
    PREFIX,
    SESSION_COOKIE,
    render,
    require,
)
from agent.console.auth import (
    SESSION_TTL,
    OperatorError,
    list_operators,
    log_in,
    log_out,
    remove_operator,
    set_role,
)
from agent.console.models import ROLES
from agent.records.calllog import server_name
from agent.records.retention import apply_retention

log = structlog.get_logger(__name__)


def _next(raw: str | None) -> str:
    """Where to go after logging in: a console path only (never another site)."""
    return raw if raw and raw.startswith(f"{PREFIX}/") and not raw.startswith("//") else f"{PREFIX}/calls"


async def login_page(request: web.Request) -> web.StreamResponse:
    """The login form, with a fresh CSRF cookie for it."""
    if request.get(LOGIN) is not None:
        raise web.HTTPFound(_next(request.query.get("next")))
    token = secrets.token_urlsafe(24)
    response = render(
        request, "login.html", login_csrf=token, next=_next(request.query.get("next")), error=""
    )
    response.set_cookie(
        LOGIN_COOKIE, token, httponly=True, samesite="Lax", secure=request.app[CONSOLE].secure_cookies
    )
    return response


def _login_again(request: web.Request, target: str, status: int, error: str) -> web.Response:
    """The login form again, with why the last try failed (its CSRF cookie kept)."""
    csrf = request.cookies.get(LOGIN_COOKIE, "")
    return render(request, "login.html", status=status, login_csrf=csrf, next=target, error=error)


async def login_submit(request: web.Request) -> web.StreamResponse:
    """Check the name and password (rate limited per address and name) and start a session."""
    console = request.app[CONSOLE]
    form = await request.post()
    name, password = str(form.get("name", "")), str(form.get("password", ""))
    keys = (f"addr:{request.remote}", f"name:{name.strip().lower()}")
    target = _next(str(form.get("next", "")))
    if console.limiter.blocked(*keys):
        log.warning("console_login_limited", remote=request.remote)
        return _login_again(request, target, 429, "Too many failed attempts; wait a few minutes.")
    token = await log_in(console.db, name, password)
    if token is None:
        console.limiter.failed(*keys)
        log.warning("console_login_failed", remote=request.remote)
        return _login_again(request, target, 401, "Wrong name or password.")
    log.info("console_login", operator=name.strip())
    response = web.HTTPFound(target)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="Lax",
        secure=console.secure_cookies,
        max_age=int(SESSION_TTL.total_seconds()),
        path="/",
    )
    response.del_cookie(LOGIN_COOKIE)
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    """End the session."""
    await log_out(request.app[CONSOLE].db, request.cookies.get(SESSION_COOKIE, ""))
    response = web.HTTPFound(LOGIN_PATH)
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


async def home(request: web.Request) -> web.StreamResponse:
    """The console starts at the calls list."""
    raise web.HTTPFound(f"{PREFIX}/calls")


async def messages(request: web.Request) -> web.StreamResponse:
    """The inbox: messages callers left, open ones first, newest first."""
    db = request.app[CONSOLE].db
    show = request.query.get("show", "all")
    handled = {"open": False, "handled": True}.get(show)
    return render(request, "messages.html", messages=await queries.inbox(db, handled), show=show)


async def mark_handled(request: web.Request) -> web.StreamResponse:
    """Mark a message handled (editor or admin)."""
    login = require(request, "editor")
    console = request.app[CONSOLE]
    message_id = request.match_info["message_id"]
    if not await console.state.messages.mark_handled(message_id, login.name):
        raise web.HTTPNotFound(text="no such message")
    await queries.audit(console.db, login.name, "mark_handled", f"message:{message_id}")
    raise web.HTTPFound(f"{PREFIX}/messages")


async def live(request: web.Request) -> web.StreamResponse:
    """The calls in progress: this server's from memory, other servers' still open in the call log."""
    console = request.app[CONSOLE]
    state = console.state
    here = server_name(state.settings)
    now = time.time()
    rows = [
        {
            "call_sid": s.call_sid,
            "business": s.business.key,
            "caller": s.recorder.info.caller if s.recorder else "",
            "seconds": now - s.started_at,
            "replies": len(s.pipeline.timing.turns),
            "server": here,
        }
        for s in state.calls.values()
    ]
    longest = max(b.behaviour.max_call_minutes for b in state.directory.businesses.values())
    since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=longest)
    elsewhere = [
        {
            "call_sid": call.call_sid,
            "business": call.business,
            "caller": call.caller,
            "seconds": now - call.started_at.timestamp(),
            "replies": replies,
            "server": call.server,
        }
        for call, replies in await queries.open_elsewhere(console.db, here, since)
    ]
    return render(
        request,
        "live.html",
        calls=rows + elsewhere,
        here=len(rows),
        server=here,
        max_calls=state.settings.max_calls,
        longest_minutes=longest,
    )


async def audit_page(request: web.Request) -> web.StreamResponse:
    """Who played, downloaded, exported or changed what (admin)."""
    require(request, "admin")
    return render(request, "audit.html", entries=await queries.audit_log(request.app[CONSOLE].db))


async def operators(request: web.Request, error: str = "", status: int = 200) -> web.StreamResponse:
    """Operators with forms to change a role or remove one, and the retention setting (admin)."""
    require(request, "admin")
    console = request.app[CONSOLE]
    return render(
        request,
        "operators.html",
        status=status,
        operators=await list_operators(console.db),
        roles=ROLES,
        error=error,
        retention_days=console.state.settings.retention_days,
        removed=request.query.get("removed"),
    )


async def change_operator(request: web.Request) -> web.StreamResponse:
    """Change an operator's role or remove them (admin): their sessions end, and it is audited."""
    login = require(request, "admin")
    db = request.app[CONSOLE].db
    form = await request.post()
    name, role = str(form.get("name", "")).strip(), str(form.get("role", ""))
    try:
        if request.match_info["change"] == "role":
            was = await set_role(db, name, role)
            await queries.audit(db, login.name, "set_role", f"operator:{name}", role=role, was=was)
        else:
            await remove_operator(db, name)
            await queries.audit(db, login.name, "remove_operator", f"operator:{name}")
    except OperatorError as exc:
        return await operators(request, error=str(exc), status=409)
    log.info(
        "console_operator_changed", operator=login.name, target=name, change=request.match_info["change"]
    )
    raise web.HTTPFound(f"{PREFIX}/operators")


async def run_retention(request: web.Request) -> web.StreamResponse:
    """Apply retention now (admin): delete calls and recordings older than RETENTION_DAYS."""
    login = require(request, "admin")
    console = request.app[CONSOLE]
    s = console.state.settings
    removed = await apply_retention(console.db, s.retention_days, console.store)
    await queries.audit(console.db, login.name, "retention", f"days:{s.retention_days}", calls=removed.calls)
    log.info("console_retention", operator=login.name, calls=removed.calls, files=removed.files)
    raise web.HTTPFound(f"{PREFIX}/operators?removed={removed.calls}")


async def webhooks(request: web.Request) -> web.StreamResponse:
    """Post-call webhook deliveries: each attempt, its HTTP status or error, and whether it got through."""
    rows = await queries.webhook_deliveries(request.app[CONSOLE].db)
    return render(request, "webhooks.html", rows=rows)


def add_routes(router: web.UrlDispatcher) -> None:
    """Register these pages."""
    router.add_get(PREFIX, home)
    router.add_get(f"{PREFIX}/", home)
    router.add_get(LOGIN_PATH, login_page)
    router.add_post(LOGIN_PATH, login_submit)
    router.add_post(f"{PREFIX}/logout", logout)
    router.add_get(f"{PREFIX}/messages", messages)
    router.add_post(f"{PREFIX}/messages/{{message_id}}/handled", mark_handled)
    router.add_get(f"{PREFIX}/live", live)
    router.add_get(f"{PREFIX}/audit", audit_page)
    router.add_get(f"{PREFIX}/webhooks", webhooks)
    router.add_get(f"{PREFIX}/operators", operators)
    router.add_post(f"{PREFIX}/operators/{{change:role|remove}}", change_operator)
    router.add_post(f"{PREFIX}/retention", run_retention)
