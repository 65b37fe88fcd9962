"""Twilio signature checks for the webhook and the media websocket, and single-use per-call tokens."""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from twilio.request_validator import RequestValidator

MEDIA_PATH = "/twilio/media"
VOICE_PATH = "/twilio/voice"


def public_url(public_base_url: str, path: str, query_string: str = "") -> str:
    """Return the URL Twilio requested: the configured public base, the path, and the raw query."""
    url = public_base_url.rstrip("/") + path
    return f"{url}?{query_string}" if query_string else url


def media_stream_url(public_base_url: str) -> str:
    """Return the websocket URL for the media stream: wss:// for an https base, ws:// for http."""
    parts = urlsplit(public_base_url.rstrip("/"))
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, parts.path + MEDIA_PATH, "", ""))


def is_valid_signature(auth_token: str, url: str, params: Mapping[str, str], signature: str | None) -> bool:
    """Check an X-Twilio-Signature with twilio's RequestValidator (constant-time compare)."""
    if not signature:
        return False
    return bool(RequestValidator(auth_token).validate(url, dict(params), signature))


def sign(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """Compute the signature Twilio would send for this URL and form parameters."""
    return str(RequestValidator(auth_token).compute_signature(url, dict(params)))


@dataclass
class _Minted:
    token: str
    expires_at: float
    data: dict[str, str]


class CallTokens:
    """Per-call tokens minted by the webhook and redeemed once by the media stream's `start`."""

    def __init__(self, ttl_seconds: float = 60.0, clock: Callable[[], float] = time.monotonic):
        """Create an empty registry whose tokens live `ttl_seconds`."""
        self._ttl = ttl_seconds
        self._clock = clock
        self._tokens: dict[str, _Minted] = {}

    def mint(self, call_sid: str, data: dict[str, str] | None = None) -> str:
        """Create a fresh random token bound to `call_sid` (and call data kept server-side)."""
        self._expire()
        token = secrets.token_urlsafe(24)
        self._tokens[call_sid] = _Minted(token, self._clock() + self._ttl, dict(data or {}))
        return token

    def redeem(self, call_sid: str, token: str) -> dict[str, str] | None:
        """Return the call's data once if `token` was minted for `call_sid` and is unexpired, else None."""
        self._expire()
        minted = self._tokens.pop(call_sid, None)
        if minted is None or not hmac.compare_digest(minted.token.encode(), token.encode()):
            return None
        return minted.data

    def __len__(self) -> int:
        """Return how many unexpired, unredeemed tokens are held."""
        self._expire()
        return len(self._tokens)

    def _expire(self) -> None:
        now = self._clock()
        for sid in [s for s, m in self._tokens.items() if m.expires_at <= now]:
            del self._tokens[sid]
