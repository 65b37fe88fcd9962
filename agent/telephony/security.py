"""Twilio signature checks for the webhook and the media websocket, and single-use per-call tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
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


def media_stream_url(public_base_url: str, secret: str = "") -> str:
    """Return a call's media-stream URL (wss:// for an https base), its per-call secret as the last segment.

    Twilio allows no query string on a stream URL, so the secret is part of the path: each call's
    websocket signature then covers a URL of its own, and a captured one opens no other call.
    """
    parts = urlsplit(public_base_url.rstrip("/"))
    scheme = "wss" if parts.scheme == "https" else "ws"
    path = parts.path + MEDIA_PATH + (f"/{secret}" if secret else "")
    return urlunsplit((scheme, parts.netloc, path, "", ""))


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


SECRET_LENGTH = 32  # characters of a stream secret (192 bits, URL-safe base64)
_SECRET = re.compile(rf"[A-Za-z0-9_-]{{{SECRET_LENGTH}}}")


@dataclass
class _Issued:
    token: str
    secret: str
    minted: float
    expires: float


class CallTokens:
    """Per-call tokens minted by the webhook and redeemed once by the media stream's `start`.

    A token is self-contained and signed (HMAC-SHA256 under a key derived from the auth token), so
    any server process behind a load balancer can verify it: it names its CallSid, carries the call's
    data (business, transfer resume) and expires after the TTL. Its stream secret (derived from it)
    is the last segment of the call's stream URL. Answering the same call twice gives the same token;
    an unredeemed token holds an admission slot for `slot_seconds` only; each process refuses a token
    (and its secret) it has already redeemed.
    """

    def __init__(
        self,
        secret: str,
        ttl_seconds: float = 60.0,
        clock: Callable[[], float] = time.time,
        slot_seconds: float = 10.0,
    ) -> None:
        """Sign with a key derived from `secret`; tokens live `ttl_seconds`, hold a slot `slot_seconds`."""
        self._key = hmac.new(secret.encode(), b"call-token-v1", hashlib.sha256).digest()
        self._ttl = ttl_seconds
        self._slot = min(slot_seconds, ttl_seconds)
        self._clock = clock
        self._spent: dict[str, float] = {}  # token body or stream secret -> when it expires
        self._issued: dict[tuple[str, str], _Issued] = {}  # (CallSid, leg) -> its outstanding token

    def mint(self, call_sid: str, data: dict[str, str] | None = None, leg: str = "answer") -> str:
        """A signed single-use token for `call_sid` carrying `data`: the same one again while unredeemed.

        `leg` tells apart a call's separate streams (answering it, returning after a failed transfer).
        """
        self._expire()
        issued = self._issued.get((call_sid, leg))
        if issued is not None:
            return issued.token  # a repeated webhook: the same TwiML, no new slot
        now = self._clock()
        payload = json.dumps(
            {"c": call_sid, "d": dict(data or {}), "e": now + self._ttl, "n": secrets.token_urlsafe(12)},
            separators=(",", ":"),
        ).encode()
        body = _b64(payload)
        token = f"{body}.{self._mac(b'token:', body)}"
        self._issued[(call_sid, leg)] = _Issued(token, self.stream_secret(token), now, now + self._ttl)
        return token

    def stream_secret(self, token: str) -> str:
        """The per-call secret that goes in the stream URL, derived from the token (any process can)."""
        return self._mac(b"stream:", token.partition(".")[0])[:SECRET_LENGTH]

    def secret_usable(self, secret: str) -> bool:
        """Whether a stream URL's secret is well formed and unused here (checked before the upgrade)."""
        self._expire()
        return bool(_SECRET.fullmatch(secret)) and secret not in self._spent

    def redeem(self, call_sid: str, token: str, secret: str) -> dict[str, str] | None:
        """Return the call's data once if `token` is genuine, for `call_sid`, unexpired and the one the
        stream URL's `secret` belongs to, else None."""
        self._expire()
        body, _, sig = token.partition(".")
        if not sig or not hmac.compare_digest(self._mac(b"token:", body), sig):
            return None
        if not hmac.compare_digest(self.stream_secret(token), secret):
            return None
        try:
            claims = json.loads(_unb64(body))
        except ValueError:
            return None
        if claims.get("c") != call_sid or float(claims.get("e", 0)) <= self._clock():
            return None
        if body in self._spent:
            return None
        expires = float(claims["e"])
        self._spent[body] = self._spent[secret] = expires
        for key in [k for k, v in self._issued.items() if v.token == token]:
            del self._issued[key]
        return {str(k): str(v) for k, v in dict(claims.get("d") or {}).items()}

    def holds(self, call_sid: str) -> bool:
        """Whether a token for this call is out and unredeemed (answering it again takes no new slot)."""
        self._expire()
        return any(sid == call_sid for sid, _ in self._issued)

    def __len__(self) -> int:
        """How many tokens minted here still hold an admission slot (unredeemed, younger than the slot)."""
        self._expire()
        now = self._clock()
        return sum(1 for i in self._issued.values() if now - i.minted < self._slot)

    def _mac(self, purpose: bytes, body: str) -> str:
        return _b64(hmac.new(self._key, purpose + body.encode(), hashlib.sha256).digest())

    def _expire(self) -> None:
        now = self._clock()
        for key in [k for k, exp in self._spent.items() if exp <= now]:
            del self._spent[key]
        for call in [k for k, i in self._issued.items() if i.expires <= now]:
            del self._issued[call]
