"""The aiohttp app: Twilio's voice webhook, the media-stream websocket, and health."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import structlog
from aiohttp import WSMsgType, web

from agent.calls.session import CallSession
from agent.config import Settings
from agent.dialog.business import Business, load_business
from agent.models import Models, load_models
from agent.telephony import events
from agent.telephony.security import (
    MEDIA_PATH,
    VOICE_PATH,
    CallTokens,
    is_valid_signature,
    media_stream_url,
    public_url,
)
from agent.telephony.twiml import connect_stream

log = structlog.get_logger(__name__)
POLICY_VIOLATION = 1008


@dataclass
class AppState:
    """What the handlers share: settings, the loaded models, tokens and the live calls."""

    settings: Settings
    business: Business
    tokens: CallTokens
    models: Models | None = None
    calls: dict[str, CallSession] = field(default_factory=dict)


STATE = web.AppKey("state", AppState)


async def voice_webhook(request: web.Request) -> web.StreamResponse:
    """Answer Twilio's voice webhook with TwiML that connects the call to our media stream."""
    state = request.app[STATE]
    form = await request.post()
    params = {k: v for k, v in form.items() if isinstance(v, str)}
    url = public_url(state.settings.public_base_url, request.path, request.query_string)
    signature = request.headers.get("X-Twilio-Signature")
    if not is_valid_signature(state.settings.twilio_auth_token, url, params, signature):
        log.warning(
            "webhook_forbidden", reason="bad signature" if signature else "unsigned", remote=request.remote
        )
        raise web.HTTPForbidden(text="invalid Twilio signature")
    call_sid = params.get("CallSid", "")
    if not call_sid:
        raise web.HTTPBadRequest(text="CallSid is required")
    token = state.tokens.mint(call_sid)
    log.info("call_incoming", call_sid=call_sid, from_=params.get("From", ""), to=params.get("To", ""))
    twiml = connect_stream(media_stream_url(state.settings.public_base_url), {"token": token})
    return web.Response(text=twiml, content_type="text/xml")


async def _reject(ws: web.WebSocketResponse, reason: str) -> web.WebSocketResponse:
    log.warning("media_rejected", reason=reason)
    await ws.close(code=POLICY_VIOLATION, message=reason.encode()[:120])
    return ws


async def media_stream(request: web.Request) -> web.StreamResponse:
    """Run one call over Twilio's bidirectional media-stream websocket."""
    state = request.app[STATE]
    ws = web.WebSocketResponse(max_msg_size=4 * 1024 * 1024, heartbeat=None)
    signed_url = media_stream_url(state.settings.public_base_url)
    signed = is_valid_signature(
        state.settings.twilio_auth_token, signed_url, {}, request.headers.get("x-twilio-signature")
    )
    await ws.prepare(request)
    if not signed:
        return await _reject(ws, "invalid or missing x-twilio-signature")
    session: CallSession | None = None
    reason = "socket closed"
    try:
        async for msg in ws:
            if msg.type == WSMsgType.ERROR:
                reason = "socket error"
                break
            if msg.type != WSMsgType.TEXT:
                log.warning("message_skipped", reason="binary frame")
                continue
            try:
                event = events.parse(msg.data)
            except events.ProtocolError as exc:
                log.warning("message_skipped", reason=str(exc))
                continue
            if session is None:
                if isinstance(event, events.Connected):
                    continue
                if not isinstance(event, events.Start):
                    log.warning("message_skipped", reason=f"{type(event).__name__} before start")
                    continue
                structlog.contextvars.bind_contextvars(call_sid=event.call_sid)
                token = event.custom_parameters.get("token", "")
                if not state.tokens.redeem(event.call_sid, token):
                    return await _reject(ws, "missing, wrong or reused call token")
                if state.models is None:
                    return await _reject(ws, "models not loaded")
                session = CallSession(event, ws.send_str, state.settings, state.models, state.business)
                state.calls[session.call_sid] = session
                await session.start()
                continue
            if isinstance(event, (events.Start, events.Connected)):
                log.warning("message_skipped", reason=f"unexpected {type(event).__name__}")
                continue
            if event.stream_sid != session.stream_sid:
                log.warning("message_skipped", reason="wrong streamSid")
                continue
            if isinstance(event, events.Stop):
                reason = "caller hung up"
                break
            try:
                await session.handle(event)
            except Exception:
                log.exception("event_failed", event=type(event).__name__)
            if not session.running:
                reason = "pipeline ended"
                break
    finally:
        if session is not None:
            state.calls.pop(session.call_sid, None)
            await session.close(reason)
        if not ws.closed:
            await ws.close()
        structlog.contextvars.unbind_contextvars("call_sid")
    return ws


async def healthz(request: web.Request) -> web.StreamResponse:
    """Report that the process is alive, with its live call count."""
    state = request.app[STATE]
    return web.json_response(
        {"status": "ok", "live_calls": len(state.calls), "models_loaded": state.models is not None}
    )


async def _load_models(app: web.Application) -> None:
    state = app[STATE]
    if state.models is None:
        state.models = await asyncio.to_thread(load_models, state.settings)


async def _close_calls(app: web.Application) -> None:
    for session in list(app[STATE].calls.values()):
        await session.close("server shutting down")


def create_app(settings: Settings, models: Models | None = None) -> web.Application:
    """Build the aiohttp application; models load at startup unless given."""
    business = load_business(settings.prompts_dir, settings.business)
    app = web.Application()
    app[STATE] = AppState(
        settings=settings, business=business, tokens=CallTokens(settings.token_ttl_seconds), models=models
    )
    app.router.add_post(VOICE_PATH, voice_webhook)
    app.router.add_get(MEDIA_PATH, media_stream)
    app.router.add_get("/healthz", healthz)
    app.on_startup.append(_load_models)
    app.on_shutdown.append(_close_calls)
    return app
