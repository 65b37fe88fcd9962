"""Webhook and websocket signatures as Twilio computes them, and single-use per-call tokens."""

from __future__ import annotations

from agent.telephony.security import (
    CallTokens,
    is_valid_signature,
    media_stream_url,
    public_url,
    sign,
)

TOKEN = "secret-token"


class TestSignatures:
    def test_signed_request_validates(self) -> None:
        """A signature computed over URL and sorted params validates."""
        url = "https://example.com/twilio/voice"
        params = {"CallSid": "CA1", "From": "+15550001111"}
        assert is_valid_signature(TOKEN, url, params, sign(TOKEN, url, params))

    def test_tampered_params_or_url_fail(self) -> None:
        """Changing a parameter, the URL or the token breaks the signature."""
        url = "https://example.com/twilio/voice"
        params = {"CallSid": "CA1"}
        sig = sign(TOKEN, url, params)
        assert not is_valid_signature(TOKEN, url, {"CallSid": "CA2"}, sig)
        assert not is_valid_signature(TOKEN, url + "?x=1", params, sig)
        assert not is_valid_signature("other", url, params, sig)
        assert not is_valid_signature(TOKEN, url, params, None)

    def test_public_url_keeps_the_raw_query(self) -> None:
        """The validated URL is the configured base plus path plus the query as received."""
        assert public_url("https://a.example/", "/twilio/voice", "b=2&a=1") == (
            "https://a.example/twilio/voice?b=2&a=1"
        )

    def test_media_stream_url_scheme_follows_the_base(self) -> None:
        """An https base gives wss://, an http base (local development) gives ws://."""
        assert media_stream_url("https://a.example") == "wss://a.example/twilio/media"
        assert media_stream_url("http://127.0.0.1:8080/") == "ws://127.0.0.1:8080/twilio/media"


class TestCallTokens:
    def test_token_redeems_once_for_its_call(self) -> None:
        """A minted token is accepted once, for its own CallSid only, and returns its data."""
        tokens = CallTokens(TOKEN)
        tok = tokens.mint("CA1", {"business": "example"})
        assert tokens.redeem("CA2", tok) is None
        assert tokens.redeem("CA1", tok) == {"business": "example"}
        assert tokens.redeem("CA1", tok) is None

    def test_any_process_with_the_same_secret_can_verify(self) -> None:
        """A token minted by one server process is accepted by another (behind a load balancer)."""
        tok = CallTokens(TOKEN).mint("CA1", {"business": "b"})
        assert CallTokens(TOKEN).redeem("CA1", tok) == {"business": "b"}
        assert CallTokens("another-secret").redeem("CA1", tok) is None

    def test_forged_or_altered_tokens_are_refused(self) -> None:
        """Changing the payload or the signature, or sending garbage, is refused."""
        tokens = CallTokens(TOKEN)
        body, sig = tokens.mint("CA1").split(".")
        other_body = CallTokens(TOKEN).mint("CA2").split(".")[0]
        assert tokens.redeem("CA2", f"{other_body}.{sig}") is None
        assert tokens.redeem("CA1", f"{body}.{sig[:-2]}AA") is None
        assert tokens.redeem("CA1", "guess") is None
        assert tokens.redeem("CA1", f"{body}.{sig}") == {}

    def test_token_expires_after_ttl(self) -> None:
        """Tokens older than the TTL are refused."""
        now = [1000.0]
        tokens = CallTokens(TOKEN, ttl_seconds=10, clock=lambda: now[0])
        tok = tokens.mint("CA1")
        assert len(tokens) == 1
        now[0] = 1011.0
        assert len(tokens) == 0
        assert tokens.redeem("CA1", tok) is None
