"""Mounting the console on the server's app: the login guard, CSRF on every POST, template rendering."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

import jinja2
from aiohttp import web
from aiohttp.typedefs import Handler

from agent.console import csrf
from agent.console.auth import Login, LoginLimiter, session_login
from agent.console.views import EventLike, mask_detail, mask_number, mask_text
from agent.metrics import METRICS_PATH
from agent.records.db import Database
from agent.records.storage import RecordingStore

if TYPE_CHECKING:
    from agent.calls.messages import MessageStore
    from agent.calls.session import CallSession
    from agent.config import Settings
    from agent.dialog.business import Directory
    from agent.models import Models
    from agent.records.calllog import CallLog

PREFIX = "/console"
LOGIN_PATH = f"{PREFIX}/login"
SESSION_COOKIE = "console_session"
LOGIN_COOKIE = "console_login_csrf"
LOGIN = web.RequestKey("console_login", Login)


class ServerState(Protocol):
    """What the console reads of the server (and nothing else of it): settings, businesses, the loaded
    models, messages, the call log and the live calls."""

    @property
    def settings(self) -> Settings:
        """The server's settings."""

    @property
    def directory(self) -> Directory:
        """The businesses it answers for."""

    @property
    def models(self) -> Models | None:
        """The loaded models (None while loading)."""

    @property
    def messages(self) -> MessageStore:
        """Messages taken for staff."""

    @property
    def calllog(self) -> CallLog:
        """The call log."""

    @property
    def calls(self) -> Mapping[str, CallSession]:
        """This process's live calls."""

    async def refresh_profiles(self) -> None:
        """Rebuild the businesses from the database if a profile changed since they were built."""


@dataclass
class Console:
    """What the console's handlers share: the server's state, its database, templates, the login limiter."""

    state: ServerState
    templates: jinja2.Environment
    limiter: LoginLimiter = field(default_factory=LoginLimiter)

    @property
    def db(self) -> Database:
        """The call log's database."""
        return self.state.calllog.db

    @property
    def store(self) -> RecordingStore:
        """Where finished recordings are read from."""
        return self.state.calllog.store

    @property
    def secure_cookies(self) -> bool:
        """Whether cookies are marked Secure (the public URL is https)."""
        return self.state.settings.public_base_url.startswith("https://")


CONSOLE = web.AppKey("console", Console)


def templates() -> jinja2.Environment:
    """The console's Jinja2 templates, autoescaped."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("agent.console", "templates"),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
    )
    env.filters["ms"] = lambda v: "–" if v is None else f"{v:.0f} ms"
    env.filters["secs"] = lambda v: "–" if v is None else f"{v:.1f} s"
    env.filters["when"] = lambda v: "–" if v is None else v.strftime("%Y-%m-%d %H:%M:%S")
    return env


def login_of(request: web.Request) -> Login:
    """The logged-in operator (the guard has checked there is one)."""
    return request[LOGIN]


def require(request: web.Request, role: str) -> Login:
    """The operator, if their role is `role` or above; 403 if not."""
    login = login_of(request)
    if not login.can(role):
        raise web.HTTPForbidden(text=f"this needs the {role} role")
    return login


def _detail(event: EventLike) -> dict[str, Any]:
    return event.detail


def _masked_detail(event: EventLike) -> dict[str, Any]:
    return mask_detail(event.kind, event.detail)


def render(request: web.Request, name: str, status: int = 200, **context: Any) -> web.Response:
    """Render a template for the logged-in operator; viewers see phone numbers and keypad digits masked.

    Templates show numbers through `num`, free text through `txt` and an event's detail through `det(event)`.
    """
    login = request.get(LOGIN)
    masked = login is None or not login.can("editor")
    body = (
        request.app[CONSOLE]
        .templates.get_template(name)
        .render(
            login=login,
            csrf=login.csrf if login else "",
            num=mask_number if masked else str,
            txt=mask_text if masked else str,
            det=_masked_detail if masked else _detail,
            **context,
        )
    )
    return web.Response(text=body, content_type="text/html", status=status)


def _public(path: str) -> bool:
    from agent.calls.session import DIAL_STATUS_PATH
    from agent.telephony.security import MEDIA_PATH, VOICE_PATH

    # Twilio's endpoints check Twilio's signature; /readyz tells only ready, reason and call counts.
    on_media = path == MEDIA_PATH or path.startswith(MEDIA_PATH + "/")
    return on_media or path in (VOICE_PATH, DIAL_STATUS_PATH, "/healthz", "/readyz")


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Let only Twilio's endpoints and health through without a session; check CSRF on POSTs.

    /metrics has no session either: its handler asks for the METRICS_TOKEN bearer token instead.
    """
    if _public(request.path) or request.path == METRICS_PATH:
        return await handler(request)
    console = request.app[CONSOLE]
    login = await session_login(console.db, request.cookies.get(SESSION_COOKIE, ""))
    if login is None:
        if request.path == LOGIN_PATH:
            if request.method == "POST":
                await csrf.check(request, request.cookies.get(LOGIN_COOKIE, ""))
            return await handler(request)
        if request.method == "GET" and "text/html" in request.headers.get("Accept", ""):
            raise web.HTTPFound(f"{LOGIN_PATH}?next={quote(request.path_qs, safe='')}")
        raise web.HTTPUnauthorized(text="log in to the console first")
    request[LOGIN] = login
    if request.method == "POST":
        await csrf.check(request, login.csrf)
    return await handler(request)


def mount_console(app: web.Application, state: ServerState) -> None:
    """Add the console's routes and its login guard to the server's app."""
    from agent.console import businesses, calls, numbers, pages, voices

    app[CONSOLE] = Console(state, templates())
    app.middlewares.append(guard)
    pages.add_routes(app.router)
    calls.add_routes(app.router)
    voices.add_routes(app.router)
    businesses.add_routes(app.router)
    numbers.add_routes(app.router)
