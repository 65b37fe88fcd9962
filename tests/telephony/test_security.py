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
        """An https base gives wss://, an http base gives ws://; the per-call secret ends the path."""
        assert media_stream_url("https://a.example") == "wss://a.example/twilio/media"
        assert (
            media_stream_url("http://127.0.0.1:8080/", "s" * 32)
            == f"ws://127.0.0.1:8080/twilio/media/{'s' * 32}"
        )


def redeem(tokens: CallTokens, call_sid: str, token: str) -> dict[str, str] | None:
    """Redeem as the media stream does: the token from `start`, the secret from the stream URL."""
    return tokens.redeem(call_sid, token, tokens.stream_secret(token))


class TestCallTokens:
    def test_token_redeems_once_for_its_call(self) -> None:
        """A minted token is accepted once, for its own CallSid only, and returns its data."""
        tokens = CallTokens(TOKEN)
        tok = tokens.mint("CA1", {"business": "example"})
        assert redeem(tokens, "CA2", tok) is None
        assert redeem(tokens, "CA1", tok) == {"business": "example"}
        assert redeem(tokens, "CA1", tok) is None

    def test_any_process_with_the_same_secret_can_verify(self) -> None:
        """A token minted by one server process is accepted by another (behind a load balancer)."""
        tok = CallTokens(TOKEN).mint("CA1", {"business": "b"})
        assert redeem(CallTokens(TOKEN), "CA1", tok) == {"business": "b"}
        assert redeem(CallTokens("another-secret"), "CA1", tok) is None

    def test_forged_or_altered_tokens_are_refused(self) -> None:
        """Changing the payload or the signature, or sending garbage, is refused."""
        tokens = CallTokens(TOKEN)
        body, sig = tokens.mint("CA1").split(".")
        other_body = CallTokens(TOKEN).mint("CA2").split(".")[0]
        assert redeem(tokens, "CA2", f"{other_body}.{sig}") is None
        assert redeem(tokens, "CA1", f"{body}.{sig[:-2]}AA") is None
        assert redeem(tokens, "CA1", "guess") is None
        assert redeem(tokens, "CA1", f"{body}.{sig}") == {}

    def test_a_token_is_redeemed_only_through_its_own_stream_url(self) -> None:
        """Each call's stream URL has its own secret; one call's secret does not redeem another's token."""
        tokens = CallTokens(TOKEN)
        one, two = tokens.mint("CA1"), tokens.mint("CA2")
        assert tokens.stream_secret(one) != tokens.stream_secret(two)
        assert len(tokens.stream_secret(one)) == 32 and tokens.secret_usable(tokens.stream_secret(one))
        assert tokens.redeem("CA2", two, tokens.stream_secret(one)) is None
        assert tokens.redeem("CA2", two, tokens.stream_secret(two)) == {}
        assert not tokens.secret_usable(tokens.stream_secret(two))  # used: a replayed upgrade is refused
        assert not tokens.secret_usable("../../etc") and not tokens.secret_usable("")

    def test_answering_the_same_call_again_gives_the_same_token_and_no_new_slot(self) -> None:
        """A replayed webhook for one CallSid gets the token already out; only a new leg mints anew."""
        tokens = CallTokens(TOKEN)
        first = tokens.mint("CA1", {"at": "1"})
        assert tokens.mint("CA1", {"at": "2"}) == first and len(tokens) == 1 and tokens.holds("CA1")
        assert tokens.mint("CA1", {"resume": "transfer_failed"}, leg="resume") != first
        assert redeem(tokens, "CA1", first) == {"at": "1"}
        assert tokens.mint("CA1") != first  # redeemed: the next answer is a new stream

    def test_an_unredeemed_token_frees_its_slot_after_a_few_seconds(self) -> None:
        """A token nobody redeems holds admission for `slot_seconds`, and stays redeemable for the TTL."""
        now = [1000.0]
        tokens = CallTokens(TOKEN, ttl_seconds=60, clock=lambda: now[0], slot_seconds=10)
        tok = tokens.mint("CA1")
        assert len(tokens) == 1
        now[0] = 1011.0
        assert len(tokens) == 0
        assert redeem(tokens, "CA1", tok) == {}

    def test_token_expires_after_ttl(self) -> None:
        """Tokens older than the TTL are refused."""
        now = [1000.0]
        tokens = CallTokens(TOKEN, ttl_seconds=10, clock=lambda: now[0])
        tok = tokens.mint("CA1")
        assert len(tokens) == 1
        now[0] = 1011.0
        assert len(tokens) == 0
        assert redeem(tokens, "CA1", tok) is None
