"""structlog JSON logging bound to the call, with pipecat's loguru and stdlib logging bridged in."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
from loguru import logger as loguru_logger

_PHONE = re.compile(r"\+?\d[\d\-\s().]{7,}\d")
_SECRET_KEYS = {"token", "auth_token", "twilio_auth_token", "api_key", "llm_api_key", "password"}
_PHONE_KEYS = {"from_", "to", "caller", "called", "from_number", "to_number", "number"}
# What callers said or were read back: a phone or card number inside is masked like one on its own.
_TEXT_KEYS = {"text", "heard", "utterance", "transcript", "partial", "unheard"}


def mask_phone(value: str) -> str:
    """Mask a phone number to its last two digits, e.g. '+1555…67' → '***67'."""
    digits = re.sub(r"\D", "", value)
    return "***" + digits[-2:] if digits else value


def _mask_numbers(text: str) -> str:
    """`text` with every phone- or card-like digit run masked as `mask_phone` masks one."""
    return _PHONE.sub(lambda m: mask_phone(m.group(0)), text)


def redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Drop secrets, mask phone and card numbers (in number fields and in what was said) and keypad
    digits in a log event (structlog processor)."""
    for key in list(event_dict):
        if key in _SECRET_KEYS:
            event_dict[key] = "[redacted]"
        elif key in _PHONE_KEYS and isinstance(event_dict[key], str):
            event_dict[key] = mask_phone(event_dict[key])
        elif key in _TEXT_KEYS and isinstance(event_dict[key], str):
            event_dict[key] = _mask_numbers(event_dict[key])
        elif key == "digit":  # keys a caller pressed can spell an account or card number
            event_dict[key] = "•"
    event = event_dict.get("event")
    if isinstance(event, str):
        event_dict["event"] = _mask_numbers(event)
    return event_dict


def _loguru_sink(message: Any) -> None:
    record = message.record
    level = record["level"].name.lower()
    level = {"success": "info", "trace": "debug", "critical": "critical"}.get(level, level)
    log = structlog.get_logger("pipecat").bind(module=record["name"])
    getattr(log, level if level in {"debug", "info", "warning", "error", "critical"} else "info")(
        record["message"]
    )


def configure_logging(level: str = "info", stream: Any = None) -> None:
    """Send structlog, stdlib logging and pipecat's loguru output to one JSON stream."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact,
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(numeric, logging.INFO))
    loguru_logger.remove()
    loguru_logger.add(_loguru_sink, level=numeric, format="{message}")
