"""Call control through Twilio's REST API: transfer a live call with <Dial>, or hang it up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client
from twilio.twiml.voice_response import Dial, VoiceResponse

log = structlog.get_logger(__name__)
CALL_NOT_FOUND = 20404


@dataclass(frozen=True)
class ControlResult:
    """Whether Twilio accepted the request, and Twilio's error code if not."""

    ok: bool
    code: int | None = None
    detail: str = ""


def transfer_twiml(number: str, announce: str, action_url: str, timeout_s: int) -> str:
    """TwiML that dials `number` and reports the outcome to `action_url` (for no-answer or busy)."""
    response = VoiceResponse()
    if announce:
        response.say(announce)
    dial = Dial(action=action_url, method="POST", timeout=timeout_s, answer_on_bridge=True)
    dial.number(number)
    response.append(dial)
    return str(response)


class CallControl:
    """Updates live calls through Twilio's REST API (the base URL is configurable for tests)."""

    def __init__(self, account_sid: str, auth_token: str, api_base_url: str = "") -> None:
        """Create a client for the account; `api_base_url` replaces https://api.twilio.com."""
        self._client = Client(account_sid, auth_token, http_client=AsyncTwilioHttpClient())
        if api_base_url:
            self._client.api.base_url = api_base_url.rstrip("/")

    async def _update(self, call_sid: str, **kwargs: Any) -> ControlResult:
        try:
            await self._client.calls(call_sid).update_async(**kwargs)
        except TwilioRestException as exc:
            log.warning("twilio_update_failed", code=exc.code, status=exc.status)
            return ControlResult(False, exc.code, str(exc.msg))
        except OSError as exc:
            log.warning("twilio_unreachable", error=str(exc))
            return ControlResult(False, None, str(exc))
        return ControlResult(True)

    async def transfer(self, call_sid: str, number: str, action_url: str, timeout_s: int) -> ControlResult:
        """Move the call to `number`; Twilio ends our stream with a `stop` that is not a hang-up."""
        twiml = transfer_twiml(number, "", action_url, timeout_s)
        return await self._update(call_sid, twiml=twiml)

    async def hang_up(self, call_sid: str) -> ControlResult:
        """End the call; 20404 means it had already ended, which is fine."""
        result = await self._update(call_sid, status="completed")
        if result.code == CALL_NOT_FOUND:
            return ControlResult(True, CALL_NOT_FOUND, "already ended")
        return result

    async def close(self) -> None:
        """Release the HTTP session."""
        http = self._client.http_client
        if isinstance(http, AsyncTwilioHttpClient):
            await http.close()
