"""JSON logs: secrets dropped, phone numbers masked, pipecat's loguru lines bridged with call_sid."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
import structlog
from loguru import logger as loguru_logger

from agent.logs import configure_logging, mask_phone


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    buf = io.StringIO()
    configure_logging("debug", stream=buf)
    yield buf
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()


def lines(buf: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buf.getvalue().splitlines()]


class TestLogs:
    def test_secrets_and_phone_numbers_never_reach_the_log(self, log_stream: io.StringIO) -> None:
        """Token fields are redacted; phone numbers in fields or text keep only two digits."""
        structlog.get_logger().info(
            "call from +15551234567", token="abc123", from_="+15551234567", api_key="sk-1"
        )
        out = log_stream.getvalue()
        assert "abc123" not in out and "sk-1" not in out and "5551234567" not in out
        (line,) = lines(log_stream)
        assert line["from_"] == "***67" and line["token"] == "[redacted]"

    def test_numbers_said_and_keys_pressed_never_reach_the_log(self, log_stream: io.StringIO) -> None:
        """A transcript or reply holding a card or phone number keeps two digits of each; a key's digit is
        hidden; the rest of the text stays readable."""
        log = structlog.get_logger()
        log.info("stt_final", text="My card is 4111 1111 1111 1111, call me on 617 555 0100.")
        log.info("agent_reply", text="I have 617-555-0100 as your number.")
        log.info("dtmf", digit="7")
        out = log_stream.getvalue()
        assert "4111" not in out and "555" not in out and '"7"' not in out
        said, reply, key = lines(log_stream)
        assert said["text"] == "My card is ***11, call me on ***00."
        assert reply["text"] == "I have ***00 as your number." and key["digit"] == "•"

    def test_bound_call_sid_is_on_structlog_and_loguru_lines(self, log_stream: io.StringIO) -> None:
        """Binding call_sid once puts it on our events and on bridged pipecat (loguru) output."""
        structlog.contextvars.bind_contextvars(call_sid="CA123")
        structlog.get_logger().info("ours")
        loguru_logger.warning("from pipecat")
        ours, theirs = lines(log_stream)
        assert ours["call_sid"] == theirs["call_sid"] == "CA123"
        assert theirs["level"] == "warning" and theirs["event"] == "from pipecat"

    def test_mask_phone(self) -> None:
        """Masking keeps only the last two digits."""
        assert mask_phone("+1 (555) 010-0042") == "***42"
