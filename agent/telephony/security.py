"""Twilio signature checks for the webhook and the media websocket, and single-use per-call tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping
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


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CallTokens:
    """Per-call tokens minted by the webhook and redeemed once by the media stream's `start`.

    A token is self-contained and signed (HMAC-SHA256 under a key derived from the auth token), so
    any server process behind a load balancer can verify it: it names its CallSid, carries the call's
    data (business, transfer resume) and expires after the TTL. Each process refuses a token it has
    already redeemed.
    """

    def __init__(
        self, secret: str, ttl_seconds: float = 60.0, clock: Callable[[], float] = time.time
    ) -> None:
        """Sign with a key derived from `secret`; tokens live `ttl_seconds`."""
        self._key = hmac.new(secret.encode(), b"call-token-v1", hashlib.sha256).digest()
        self._ttl = ttl_seconds
        self._clock = clock
        self._spent: dict[str, float] = {}
        self._outstanding: dict[str, float] = {}

    def mint(self, call_sid: str, data: dict[str, str] | None = None) -> str:
        """Create a signed single-use token for `call_sid` carrying `data`."""
        self._expire()
        expires = self._clock() + self._ttl
        payload = json.dumps(
            {"c": call_sid, "d": dict(data or {}), "e": expires, "n": secrets.token_urlsafe(12)},
            separators=(",", ":"),
        ).encode()
        body = _b64(payload)
        self._outstanding[body] = expires
        return f"{body}.{_b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())}"

    def redeem(self, call_sid: str, token: str) -> dict[str, str] | None:
        """Return the call's data once if `token` is genuine, for `call_sid` and unexpired, else None."""
        self._expire()
        body, _, sig = token.partition(".")
        expected = _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())
        if not sig or not hmac.compare_digest(expected, sig):
            return None
        try:
            claims = json.loads(_unb64(body))
        except ValueError:
            return None
        if claims.get("c") != call_sid or float(claims.get("e", 0)) <= self._clock():
            return None
        if body in self._spent:
            return None
        self._spent[body] = float(claims["e"])
        self._outstanding.pop(body, None)
        return {str(k): str(v) for k, v in dict(claims.get("d") or {}).items()}

    def __len__(self) -> int:
        """How many tokens this process minted that are neither redeemed nor expired."""
        self._expire()
        return len(self._outstanding)

    def _expire(self) -> None:
        now = self._clock()
        for table in (self._spent, self._outstanding):
            for body in [b for b, exp in table.items() if exp <= now]:
                del table[body]
