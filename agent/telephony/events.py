"""Typed Twilio Media Streams messages both ways (what Twilio sends, what we send): parse and format."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from typing import Any

MAX_MESSAGE_BYTES = 64 * 1024
MAX_TIMESTAMP_MS = 4 * 3600 * 1000  # Twilio ends a call at 4 hours: a later timestamp is not audio time
_SID = {prefix: re.compile(rf"{prefix}[0-9a-fA-F]{{32}}") for prefix in ("CA", "MZ")}


def is_sid(value: str, prefix: str) -> bool:
    """Whether `value` is a Twilio SID of this kind (CA: a call, MZ: a media stream): 2 letters, 32 hex."""
    return bool(_SID[prefix].fullmatch(value))


class ProtocolError(ValueError):
    """A websocket message that is not a valid Twilio Media Streams message."""


@dataclass(frozen=True)
class Connected:
    """The first message on a stream: protocol name and version."""

    protocol: str
    version: str


@dataclass(frozen=True)
class Start:
    """The stream's metadata: call and stream ids, media format and our custom parameters."""

    sequence_number: int
    stream_sid: str
    call_sid: str
    account_sid: str
    tracks: tuple[str, ...]
    encoding: str
    sample_rate: int
    channels: int
    custom_parameters: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Media:
    """One chunk of caller audio (raw μ-law bytes) with its timestamp in ms since stream start."""

    sequence_number: int
    stream_sid: str
    track: str
    chunk: int
    timestamp_ms: int
    payload: bytes


@dataclass(frozen=True)
class Dtmf:
    """A key the caller pressed."""

    sequence_number: int
    stream_sid: str
    digit: str


@dataclass(frozen=True)
class Mark:
    """A mark we sent, returned once the audio before it played (or was cleared)."""

    sequence_number: int
    stream_sid: str
    name: str


@dataclass(frozen=True)
class Stop:
    """The stream ended: the call hung up, or its TwiML was updated."""

    sequence_number: int
    stream_sid: str
    call_sid: str


Event = Connected | Start | Media | Dtmf | Mark | Stop


def _obj(d: dict[str, Any], key: str) -> dict[str, Any]:
    value = d.get(key)
    if not isinstance(value, dict):
        raise ProtocolError(f"'{key}' must be an object")
    return value


def _str(d: dict[str, Any], key: str) -> str:
    value = d.get(key)
    if not isinstance(value, str) or not value:
        raise ProtocolError(f"'{key}' must be a non-empty string")
    return value


def _timestamp(media: dict[str, Any]) -> int:
    value = _int(media, "timestamp")
    if not 0 <= value <= MAX_TIMESTAMP_MS:
        raise ProtocolError(f"'timestamp' {value} is outside a call (0 to {MAX_TIMESTAMP_MS} ms)")
    return value


def _sid(d: dict[str, Any], key: str, prefix: str) -> str:
    value = _str(d, key)
    if not is_sid(value, prefix):
        raise ProtocolError(f"'{key}' is not a {prefix} SID")
    return value


def _int(d: dict[str, Any], key: str) -> int:
    value = d.get(key)
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ProtocolError(f"'{key}' must be a number string")
    try:
        return int(value)
    except ValueError as exc:
        raise ProtocolError(f"'{key}' must be a number string") from exc


def parse(text: str | bytes) -> Event:
    """Parse one websocket text message into an event; raise ProtocolError if it is not valid."""
    if isinstance(text, bytes):
        raise ProtocolError("binary frames are not part of the protocol")
    if len(text.encode("utf-8", "surrogatepass")) > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message larger than {MAX_MESSAGE_BYTES} bytes")
    try:
        msg = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"malformed JSON: {exc.msg}") from exc
    except RecursionError as exc:  # '[[[[...' a few thousand deep fits in a message
        raise ProtocolError("JSON nested too deep") from exc
    if not isinstance(msg, dict):
        raise ProtocolError("message must be a JSON object")
    event = msg.get("event")
    if event == "connected":
        return Connected(protocol=str(msg.get("protocol", "")), version=str(msg.get("version", "")))
    if event == "start":
        start = _obj(msg, "start")
        fmt = _obj(start, "mediaFormat")
        params = start.get("customParameters") or {}
        if not isinstance(params, dict):
            raise ProtocolError("'customParameters' must be an object")
        tracks = start.get("tracks") or []
        return Start(
            sequence_number=_int(msg, "sequenceNumber"),
            stream_sid=_sid(msg, "streamSid", "MZ"),
            call_sid=_sid(start, "callSid", "CA"),
            account_sid=str(start.get("accountSid", "")),
            tracks=tuple(str(t) for t in tracks) if isinstance(tracks, list) else (),
            encoding=_str(fmt, "encoding"),
            sample_rate=_int(fmt, "sampleRate"),
            channels=_int(fmt, "channels"),
            custom_parameters={str(k): str(v) for k, v in params.items()},
        )
    if event == "media":
        media = _obj(msg, "media")
        try:
            payload = base64.b64decode(_str(media, "payload"), validate=True)
        except (binascii.Error, ValueError) as exc:  # ValueError: a non-ASCII character in it
            raise ProtocolError("media payload is not base64") from exc
        return Media(
            sequence_number=_int(msg, "sequenceNumber"),
            stream_sid=_sid(msg, "streamSid", "MZ"),
            track=str(media.get("track", "inbound")),
            chunk=_int(media, "chunk"),
            timestamp_ms=_timestamp(media),
            payload=payload,
        )
    if event == "dtmf":
        dtmf = _obj(msg, "dtmf")
        digit = _str(dtmf, "digit")
        if len(digit) != 1 or digit not in "0123456789*#ABCD":
            raise ProtocolError(f"unknown DTMF digit {digit!r}")
        return Dtmf(
            sequence_number=_int(msg, "sequenceNumber"),
            stream_sid=_sid(msg, "streamSid", "MZ"),
            digit=digit,
        )
    if event == "mark":
        return Mark(
            sequence_number=_int(msg, "sequenceNumber"),
            stream_sid=_sid(msg, "streamSid", "MZ"),
            name=_str(_obj(msg, "mark"), "name"),
        )
    if event == "stop":
        stop = _obj(msg, "stop")
        return Stop(
            sequence_number=_int(msg, "sequenceNumber"),
            stream_sid=_sid(msg, "streamSid", "MZ"),
            call_sid=str(stop.get("callSid", "")),
        )
    raise ProtocolError(f"unknown event {event!r}")


def media_message(stream_sid: str, ulaw: bytes) -> str:
    """Format an outbound `media` message carrying raw μ-law 8 kHz audio."""
    payload = base64.b64encode(ulaw).decode("ascii")
    return json.dumps({"event": "media", "streamSid": stream_sid, "media": {"payload": payload}})


def mark_message(stream_sid: str, name: str) -> str:
    """Format an outbound `mark` message; Twilio returns it once the audio before it has played."""
    return json.dumps({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}})


def clear_message(stream_sid: str) -> str:
    """Format an outbound `clear` message: Twilio drops its buffer and returns pending marks."""
    return json.dumps({"event": "clear", "streamSid": stream_sid})


@dataclass(frozen=True)
class Play:
    """Audio we sent for the phone to play: raw μ-law 8 kHz bytes."""

    stream_sid: str
    payload: bytes


@dataclass(frozen=True)
class PlayMark:
    """A mark we sent after some audio: the phone returns it once that audio has played."""

    stream_sid: str
    name: str


@dataclass(frozen=True)
class Clear:
    """We asked the phone to drop the audio it has not played yet (a barge-in)."""

    stream_sid: str


Outbound = Play | PlayMark | Clear


def twilio_message(event: Event) -> str:
    """Format an event as Twilio sends it, the inverse of `parse` (for simulated phones and tests)."""
    seq = {"sequenceNumber": str(getattr(event, "sequence_number", ""))}
    match event:
        case Connected():
            return json.dumps({"event": "connected", "protocol": event.protocol, "version": event.version})
        case Start():
            return json.dumps({
                "event": "start", **seq, "streamSid": event.stream_sid,
                "start": {
                    "accountSid": event.account_sid, "streamSid": event.stream_sid, "callSid": event.call_sid,
                    "tracks": list(event.tracks), "customParameters": event.custom_parameters,
                    "mediaFormat": {
                        "encoding": event.encoding, "sampleRate": event.sample_rate,
                        "channels": event.channels,
                    },
                },
            })  # fmt: skip
        case Media():
            return json.dumps({
                "event": "media", **seq, "streamSid": event.stream_sid,
                "media": {
                    "track": event.track, "chunk": str(event.chunk), "timestamp": str(event.timestamp_ms),
                    "payload": base64.b64encode(event.payload).decode("ascii"),
                },
            })  # fmt: skip
        case Dtmf():
            return json.dumps({
                "event": "dtmf", **seq, "streamSid": event.stream_sid,
                "dtmf": {"track": "inbound_track", "digit": event.digit},
            })  # fmt: skip
        case Mark():
            return json.dumps(
                {"event": "mark", **seq, "streamSid": event.stream_sid, "mark": {"name": event.name}}
            )
        case Stop():
            return json.dumps({
                "event": "stop", **seq, "streamSid": event.stream_sid, "stop": {"callSid": event.call_sid},
            })  # fmt: skip


def parse_outbound(text: str | bytes) -> Outbound:
    """Parse one message we send (media, mark or clear) as the phone's side reads it; ProtocolError if not."""
    if isinstance(text, bytes):
        raise ProtocolError("binary frames are not part of the protocol")
    try:
        msg = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"malformed JSON: {exc.msg}") from exc
    if not isinstance(msg, dict):
        raise ProtocolError("message must be a JSON object")
    stream_sid, event = _sid(msg, "streamSid", "MZ"), msg.get("event")
    if event == "media":
        try:
            return Play(stream_sid, base64.b64decode(_str(_obj(msg, "media"), "payload"), validate=True))
        except (binascii.Error, ValueError) as exc:
            raise ProtocolError("media payload is not base64") from exc
    if event == "mark":
        return PlayMark(stream_sid, _str(_obj(msg, "mark"), "name"))
    if event == "clear":
        return Clear(stream_sid)
    raise ProtocolError(f"unknown outbound event {event!r}")
