"""The aiohttp app: Twilio's voice and dial-status webhooks, the media-stream websocket, and health."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from dataclasses import dataclass, field, replace

import structlog
from aiohttp import WSMsgType, web

from agent import loop_lag
from agent.calls.messages import MessageStore
from agent.calls.session import DIAL_STATUS_PATH, CallServices, CallSession
from agent.capacity import admission_limit
from agent.compute_gate import process_gate
from agent.config import Settings
from agent.console.app import mount_console
from agent.console.auth import list_operators
from agent.dialog import profile_store
from agent.dialog.business import Directory, load_directory
from agent.dialog.understanding import warm_understanding
from agent.kube import DeletionCost
from agent.memory import release_freed_memory
from agent.metrics import METRICS_PATH, Metrics, authorized
from agent.models import Models, load_models
from agent.records.calllog import CallLog
from agent.telephony import events
from agent.telephony.control import CallControl
from agent.telephony.limits import MessageBudget, SkipLog
from agent.telephony.security import (
    MEDIA_PATH,
    VOICE_PATH,
    CallTokens,
    is_valid_signature,
    media_stream_url,
    public_url,
)
from agent.telephony.twiml import connect_stream, hang_up, refuse
from agent.voice.catalog import Voices, add_choices
from agent.voice.store import voice_store

log = structlog.get_logger(__name__)
POLICY_VIOLATION = 1008


@dataclass
class AppState:
    """What the handlers share: settings, businesses, the loaded models, tokens and the live calls."""

    settings: Settings
    directory: Directory
    tokens: CallTokens
    messages: MessageStore
    metrics: Metrics
    calllog: CallLog
    models: Models | None = None
    control: CallControl | None = None
    calls: dict[str, CallSession] = field(default_factory=dict)
    draining: bool = False
    deletion_cost: DeletionCost | None = None
    background: set[asyncio.Future[bool]] = field(default_factory=set)  # work after a call, kept referenced
    lag_watch: asyncio.Task[None] | None = None  # feeds agent_event_loop_lag_seconds
    owns_models: bool = False  # loaded them at start (so closes them at exit), not handed them
    max_calls_from: str = "MAX_CALLS"  # where settings.max_calls came from (or a calibration, the default)
    profiles_revision: int = -1  # the database revision `directory` was built at (-1: from the files)
    profiles_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def _route_voices(self, voices: Voices, routed: dict[str, str]) -> None:
        """The console's voice per number over VOICES_BY_NUMBER, each voice loaded (blocking)."""
        add_choices(voices, sorted(set(routed.values())), self.settings, voice_store(self.settings))
        voices.by_number = {**self.settings.voice_map, **routed}

    async def refresh_profiles(self) -> None:
        """Before a call: if a profile changed in the database since the directory was built, rebuild it
        (validated, its phrases embedded, in worker threads); calls in progress keep theirs."""
        try:
            newest = await profile_store.revision(self.calllog.db)
            if newest == self.profiles_revision:
                return
            async with self.profiles_lock:
                if newest == self.profiles_revision:
                    return
                loaded = await profile_store.load(
                    self.calllog.db, self.settings.prompts_dir, self.settings.business
                )
                if self.models is not None:
                    await asyncio.to_thread(warm_understanding, loaded.directory, self.models.encoder)
                    await asyncio.to_thread(self._route_voices, self.models.voices, loaded.voices)
                self.directory, self.profiles_revision = loaded.directory, loaded.revision
                log.info(
                    "profiles_loaded",
                    revision=loaded.revision,
                    businesses=sorted(loaded.directory.businesses),
                )
        except Exception:  # the call goes on with the profiles it has
            log.exception("profiles_not_refreshed")

    def live_changed(self) -> None:
        """Publish the live-call count to metrics and to the pod's deletion cost."""
        self.metrics.live.set(len(self.calls))
        if self.deletion_cost is not None:
            self.deletion_cost.set(len(self.calls))

    def unavailable(self) -> str | None:
        """Why a new call can't be taken now (draining, full, not ready), or None if it can."""
        if self.draining:
            return "draining"
        if self.models is None:
            return "not ready"
        if len(self.calls) + len(self.tokens) >= self.settings.max_calls:
            return "full"
        return None


STATE = web.AppKey("state", AppState)


async def _signed_form(request: web.Request) -> dict[str, str]:
    """Read a webhook's form and check its X-Twilio-Signature; 403 if it does not match."""
    state = request.app[STATE]
    form = await request.post()
    params = {k: v for k, v in form.items() if isinstance(v, str)}
    url = public_url(state.settings.public_base_url, request.path, request.query_string)
    signature = request.headers.get("X-Twilio-Signature")
    if not is_valid_signature(state.settings.twilio_auth_token, url, params, signature):
        reason = "bad signature" if signature else "unsigned"
        log.warning("webhook_forbidden", path=request.path, reason=reason, remote=request.remote)
        raise web.HTTPForbidden(text="invalid Twilio signature")
    if not events.is_sid(params.get("CallSid", ""), "CA"):
        log.warning("webhook_bad_request", path=request.path, reason="CallSid missing or malformed")
        raise web.HTTPBadRequest(text="CallSid must be a Twilio call SID (CA and 32 hex digits)")
    return params


def _connect(state: AppState, call_sid: str, data: dict[str, str], leg: str = "answer") -> web.Response:
    """TwiML connecting the call to its own media-stream URL, with its single-use token."""
    token = state.tokens.mint(call_sid, data, leg)
    url = media_stream_url(state.settings.public_base_url, state.tokens.stream_secret(token))
    return web.Response(text=connect_stream(url, {"token": token}), content_type="text/xml")


async def voice_webhook(request: web.Request) -> web.StreamResponse:
    """Answer Twilio's voice webhook with TwiML that connects the call to our media stream."""
    state = request.app[STATE]
    params = await _signed_form(request)
    reason = state.unavailable()
    if reason == "full" and state.tokens.holds(params["CallSid"]):
        reason = None  # the same call answered again: its slot is already held
    if reason is not None:
        state.metrics.refused.labels(reason).inc()
        log.warning("call_refused", call_sid=params["CallSid"], reason=reason, live_calls=len(state.calls))
        twiml = refuse(state.settings.busy_message, state.settings.fallback_number)
        return web.Response(text=twiml, content_type="text/xml")
    await state.refresh_profiles()
    business = state.directory.for_called(params.get("To", ""))
    log.info(
        "call_incoming",
        call_sid=params["CallSid"],
        from_=params.get("From", ""),
        to=params.get("To", ""),
        business=business.key,
    )
    at = dt.datetime.now(dt.UTC).isoformat()
    data = {"business": business.key, "from": params.get("From", ""), "to": params.get("To", ""), "at": at}
    return _connect(state, params["CallSid"], data)


async def dial_status(request: web.Request) -> web.StreamResponse:
    """After a transfer's <Dial>: hang up if it connected, else bring the caller back to the agent."""
    state = request.app[STATE]
    params = await _signed_form(request)
    status = params.get("DialCallStatus", "")
    business = request.query.get("business", "")
    if business not in state.directory.businesses:
        business = state.directory.default
    staff = request.query.get("staff", "")
    log.info("dial_status", call_sid=params["CallSid"], status=status, staff=staff)
    if status == "completed":
        return web.Response(text=hang_up(), content_type="text/xml")
    data = {"business": business, "resume": "transfer_failed", "staff": staff}
    data.update({"from": params.get("From", ""), "to": params.get("To", "")})  # caller, number dialled
    return _connect(state, params["CallSid"], data, leg="resume")


async def _reject(ws: web.WebSocketResponse, reason: str) -> web.WebSocketResponse:
    log.warning("media_rejected", reason=reason)
    await ws.close(code=POLICY_VIOLATION, message=reason.encode()[:120])
    return ws


async def media_stream(request: web.Request) -> web.StreamResponse:
    """Run one call over Twilio's bidirectional media-stream websocket."""
    state = request.app[STATE]
    secret = request.match_info.get("secret", "")
    signed = is_valid_signature(
        state.settings.twilio_auth_token,
        media_stream_url(state.settings.public_base_url, secret),
        {},
        request.headers.get("x-twilio-signature"),
    )
    # Checked before the upgrade: a captured upgrade is signed for one call's URL, whose secret works once.
    if not signed or not state.tokens.secret_usable(secret):
        if not request.headers.get("x-twilio-signature"):
            reason = "unsigned"
        else:
            reason = "bad signature" if not signed else "stream URL unknown or already used"
        log.warning("media_forbidden", reason=reason, remote=request.remote)
        raise web.HTTPForbidden(text="invalid stream signature or URL")
    # Past 64 KiB a message is skipped as not Twilio's; past twice that aiohttp won't even buffer it.
    ws = web.WebSocketResponse(max_msg_size=2 * events.MAX_MESSAGE_BYTES, heartbeat=None)
    await ws.prepare(request)
    session: CallSession | None = None
    reason = "socket closed"
    budget = MessageBudget()
    skipped = SkipLog()
    try:
        while True:
            idle = state.settings.stream_idle_secs
            try:
                msg = await ws.receive(timeout=idle)
            except TimeoutError:
                reason = f"dropped: no messages for {idle:g} s"
                log.warning("stream_idle", seconds=idle)
                break
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                break
            if msg.type == WSMsgType.ERROR:
                reason = "socket error"
                break
            if not budget.take(time.monotonic()):
                if budget.skipped == 1:
                    log.warning("message_skipped", reason=f"over {MessageBudget.rate:.0f} messages a second")
                if budget.flooding:
                    reason = "dropped: message flood"
                    break
                continue
            if msg.type != WSMsgType.TEXT:
                skipped.note("binary frame")
                continue
            try:
                event = events.parse(msg.data)
            except events.ProtocolError as exc:
                skipped.note(str(exc))
                continue
            if session is None:
                if isinstance(event, events.Connected):
                    continue
                if not isinstance(event, events.Start):
                    skipped.note(f"{type(event).__name__} before start")
                    continue
                structlog.contextvars.bind_contextvars(call_sid=event.call_sid)
                token = event.custom_parameters.get("token", "")
                data = state.tokens.redeem(event.call_sid, token, secret)
                if data is None:
                    return await _reject(ws, "missing, wrong or reused call token")
                if state.models is None:
                    return await _reject(ws, "models not loaded")
                business = state.directory.businesses.get(data.get("business", ""))
                business = business or state.directory.for_called("")
                services = CallServices(
                    state.settings, state.models, state.control, state.messages, state.calllog
                )
                session = CallSession(event, ws.send_str, ws.close, services, business, data)
                state.calls[session.call_sid] = session
                state.live_changed()
                state.metrics.started.labels(business.key).inc()
                await session.start()
                continue
            if isinstance(event, (events.Start, events.Connected)):
                skipped.note(f"unexpected {type(event).__name__}")
                continue
            if event.stream_sid != session.stream_sid:
                skipped.note("wrong streamSid")
                continue
            if isinstance(event, events.Stop):
                reason = "stream stopped by Twilio"
                break
            try:
                await session.handle(event)
            except Exception:
                log.exception("event_failed", event=type(event).__name__)
            if not session.running:
                reason = "pipeline ended"
                break
    finally:
        skipped.close()
        if session is not None:
            # Finish cleanup even if aiohttp cancels this handler as the socket goes away.
            closing = asyncio.ensure_future(session.close(reason))
            closing.add_done_callback(lambda _, s=session: _call_closed(state, s))  # type: ignore[misc]
            await asyncio.shield(closing)
        if not ws.closed:
            await ws.close()
        structlog.contextvars.unbind_contextvars("call_sid")
    return ws


def _call_closed(state: AppState, session: CallSession) -> None:
    state.calls.pop(session.call_sid, None)
    state.live_changed()
    m = state.metrics
    m.ended.labels(session.business.key, session.pipeline.receptionist.outcome.outcome).inc()
    m.observe_turns(session.business.key, session.pipeline.timing.as_dicts())
    for seconds in session.pipeline.timing.barge_in_reactions:
        m.barge_in.labels(session.business.key).observe(seconds)
    trim = asyncio.get_running_loop().run_in_executor(None, release_freed_memory)
    state.background.add(trim)
    trim.add_done_callback(state.background.discard)


async def readyz(request: web.Request) -> web.StreamResponse:
    """200 while this process takes new calls; 503 when draining, full or still loading models."""
    state = request.app[STATE]
    reason = state.unavailable()
    body = {
        "ready": reason is None,
        "reason": reason,
        "live_calls": len(state.calls),
        "max_calls": state.settings.max_calls,
        "max_calls_from": state.max_calls_from,
    }
    return web.json_response(body, status=200 if reason is None else 503)


async def metrics(request: web.Request) -> web.StreamResponse:
    """Prometheus metrics, for a scraper sending `Authorization: Bearer <METRICS_TOKEN>`; off without one."""
    state = request.app[STATE]
    if not state.settings.metrics_token:
        raise web.HTTPNotFound(text="metrics are off: set METRICS_TOKEN")
    if not authorized(request.headers.get("Authorization", ""), state.settings.metrics_token):
        raise web.HTTPUnauthorized(
            text="send Authorization: Bearer <METRICS_TOKEN>", headers={"WWW-Authenticate": "Bearer"}
        )
    state.metrics.tasks.set(len(asyncio.all_tasks()))
    if state.models is not None:
        for queue in (state.models.whisper_queue, state.models.detail_queue):
            state.metrics.model_busy.labels(queue.name).set(queue.busy_s)
    state.metrics.read_gate(process_gate().stats())
    body = state.metrics.render()
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


async def healthz(request: web.Request) -> web.StreamResponse:
    """Report that the process is alive, with its live call count."""
    state = request.app[STATE]
    return web.json_response(
        {"status": "ok", "live_calls": len(state.calls), "models_loaded": state.models is not None}
    )


async def _start(app: web.Application) -> None:
    state = app[STATE]
    s = state.settings
    state.lag_watch = asyncio.create_task(loop_lag.watch_lag(state.metrics.loop_lag.observe), name="loop-lag")
    state.control = CallControl(s.twilio_account_sid, s.twilio_auth_token, s.twilio_api_base_url)
    await state.calllog.start()
    seeded = await profile_store.seed(state.calllog.db, s.prompts_dir)
    if seeded:
        log.info("profiles_seeded", businesses=seeded, source=str(s.prompts_dir / "businesses"))
    differing = profile_store.differing_files(await profile_store.documents(state.calllog.db), s.prompts_dir)
    if differing:
        log.warning(
            "profile_files_differ",
            businesses=differing,
            note="the database's profiles (edited in the console) are the ones used; "
            "`agent businesses import` loads the files",
        )
    if not s.metrics_token:
        log.warning("metrics_off", reason="METRICS_TOKEN is not set, so /metrics answers 404")
    if not await list_operators(state.calllog.db):
        log.warning(
            "console_has_no_operators",
            create='agent operators add "NAME" --role admin',
            console=f"{s.public_base_url}/console",
        )
    if s.pod_name and s.pod_namespace:
        state.deletion_cost = DeletionCost(
            s.kube_api_url, s.pod_namespace, s.pod_name, s.kube_token_file, s.kube_ca_file
        )
        await state.deletion_cost.start()
    if state.models is None:
        state.models = await asyncio.to_thread(load_models, s)
        state.owns_models = True
    await state.refresh_profiles()  # the database's profiles, their phrases embedded
    # Embed every profile's entries now, so no caller's first turn waits for it.
    await asyncio.to_thread(warm_understanding, state.directory, state.models.encoder)


async def _close_calls(app: web.Application) -> None:
    state = app[STATE]
    for session in list(state.calls.values()):
        await session.close("server shutting down")
    if state.control is not None:
        await state.control.close()
    if state.deletion_cost is not None:
        await state.deletion_cost.stop()


async def _close_calllog(app: web.Application) -> None:
    state = app[STATE]
    await state.calllog.stop()
    await loop_lag.stop(state.lag_watch)
    if state.owns_models and state.models is not None and state.models.voices.pool is not None:
        await asyncio.to_thread(state.models.voices.pool.close)  # ends XTTS worker processes


def create_app(settings: Settings, models: Models | None = None) -> web.Application:
    """Build the aiohttp application; every business profile is validated now, models load at startup."""
    directory = load_directory(settings.prompts_dir, settings.business)
    limit, limit_from = admission_limit(settings.max_calls, settings.data_dir)
    settings = replace(settings, max_calls=limit)
    calllog = CallLog(settings)
    app = web.Application()
    app[STATE] = AppState(
        settings=settings,
        directory=directory,
        tokens=CallTokens(settings.twilio_auth_token, settings.token_ttl_seconds),
        messages=calllog.messages,
        metrics=Metrics(settings.max_calls),
        calllog=calllog,
        models=models,
        max_calls_from=limit_from,
    )
    log.info("admission_limit", max_calls=limit, source=limit_from)
    app.router.add_post(VOICE_PATH, voice_webhook)
    app.router.add_post(DIAL_STATUS_PATH, dial_status)
    app.router.add_get(MEDIA_PATH, media_stream)  # no secret: refused before the upgrade
    app.router.add_get(MEDIA_PATH + "/{secret}", media_stream)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get(METRICS_PATH, metrics)
    mount_console(app, app[STATE])
    app.on_startup.append(_start)
    app.on_shutdown.append(_close_calls)
    app.on_cleanup.append(_close_calllog)
    return app
