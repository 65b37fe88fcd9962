"""Parsing Twilio's exact Media Streams JSON and formatting what we send back."""

from __future__ import annotations

import base64
import json

import pytest

from agent.telephony import events

SID = "MZ" + "a" * 32
CALL = "CA" + "b" * 32


def start_msg(**params: str) -> str:
    return json.dumps(
        {
            "event": "start",
            "sequenceNumber": "1",
            "streamSid": SID,
            "start": {
                "accountSid": "AC" + "0" * 32,
                "streamSid": SID,
                "callSid": CALL,
                "tracks": ["inbound"],
                "customParameters": params,
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
        }
    )


class TestParse:
    def test_connected(self) -> None:
        """`connected` carries the protocol and version and no stream id."""
        ev = events.parse('{"event": "connected", "protocol": "Call", "version": "1.0.0"}')
        assert ev == events.Connected(protocol="Call", version="1.0.0")

    def test_start_with_custom_parameters(self) -> None:
        """`start` yields call and stream ids, the media format and our custom parameters."""
        ev = events.parse(start_msg(token="abc"))
        assert isinstance(ev, events.Start)
        assert (ev.call_sid, ev.stream_sid, ev.sequence_number) == (CALL, SID, 1)
        assert (ev.encoding, ev.sample_rate, ev.channels) == ("audio/x-mulaw", 8000, 1)
        assert ev.custom_parameters == {"token": "abc"}
        assert ev.tracks == ("inbound",)

    def test_media_counters_arrive_as_strings(self) -> None:
        """`media` sequence, chunk and timestamp are strings on the wire and ints once parsed."""
        payload = base64.b64encode(b"\xff" * 160).decode()
        ev = events.parse(
            json.dumps(
                {
                    "event": "media",
                    "sequenceNumber": "3",
                    "streamSid": SID,
                    "media": {"track": "inbound", "chunk": "2", "timestamp": "20", "payload": payload},
                }
            )
        )
        assert ev == events.Media(3, SID, "inbound", 2, 20, b"\xff" * 160)

    def test_dtmf(self) -> None:
        """`dtmf` yields the digit pressed."""
        ev = events.parse(
            json.dumps(
                {
                    "event": "dtmf",
                    "streamSid": SID,
                    "sequenceNumber": "5",
                    "dtmf": {"track": "inbound_track", "digit": "#"},
                }
            )
        )
        assert ev == events.Dtmf(5, SID, "#")

    def test_mark(self) -> None:
        """A returned `mark` yields its name."""
        ev = events.parse(
            json.dumps({"event": "mark", "sequenceNumber": "4", "streamSid": SID, "mark": {"name": "m7"}})
        )
        assert ev == events.Mark(4, SID, "m7")

    def test_stop(self) -> None:
        """`stop` yields the call that ended."""
        ev = events.parse(
            json.dumps(
                {
                    "event": "stop",
                    "sequenceNumber": "9",
                    "streamSid": SID,
                    "stop": {"accountSid": "AC1", "callSid": CALL},
                }
            )
        )
        assert ev == events.Stop(9, SID, CALL)

    @pytest.mark.parametrize(
        ("message", "reason"),
        [
            ("{not json", "malformed JSON"),
            ("[1, 2]", "JSON object"),
            ('{"event": "dance"}', "unknown event"),
            ('{"event": "media", "streamSid": "MZ", "sequenceNumber": "1"}', "'media'"),
            (
                '{"event": "media", "streamSid": "MZ", "sequenceNumber": "x", "media": '
                '{"chunk": "1", "timestamp": "0", "payload": "//8="}}',
                "sequenceNumber",
            ),
            (
                '{"event": "media", "streamSid": "MZ", "sequenceNumber": "1", "media": '
                '{"chunk": "1", "timestamp": "0", "payload": "not base64!"}}',
                "base64",
            ),
            (
                '{"event": "media", "streamSid": "MZ", "sequenceNumber": "1", "media": '
                '{"chunk": "1", "timestamp": "0", "payload": "//8=\u00e9"}}',
                "base64",
            ),  # found by the fuzzer: a non-ASCII payload raised ValueError out of the handler
            ('{"event": "media", "media": ' + "[" * 20000 + "]" * 20000 + "}", "nested too deep"),  # fuzzer
            ('{"event": "dtmf", "streamSid": "MZ", "sequenceNumber": "1", "dtmf": {"digit": "x"}}', "DTMF"),
            ('{"event": "start", "sequenceNumber": "1", "streamSid": "MZ", "start": {}}', "mediaFormat"),
        ],
    )
    def test_invalid_messages_raise_protocol_error(self, message: str, reason: str) -> None:
        """Each kind of malformed message is refused with a reason naming the problem."""
        with pytest.raises(events.ProtocolError, match=reason):
            events.parse(message)

    @pytest.mark.parametrize(
        ("field", "value"),
        [("streamSid", "MZ/../../etc/passwd"), ("streamSid", "MZ" + "g" * 32), ("callSid", "CA123")],
    )
    def test_sids_that_are_not_twilios_are_refused(self, field: str, value: str) -> None:
        """A streamSid or callSid that isn't two letters and 32 hex digits never reaches a path or a query."""
        msg = json.loads(start_msg())
        (msg if field == "streamSid" else msg["start"])[field] = value
        with pytest.raises(events.ProtocolError, match=field):
            events.parse(json.dumps(msg))

    @pytest.mark.parametrize("timestamp", ["-20", str(events.MAX_TIMESTAMP_MS + 1), "99999999999999"])
    def test_a_timestamp_outside_a_call_is_refused(self, timestamp: str) -> None:
        """Negative or past four hours: not a time in a call, so never an amount of silence to add."""
        media = {"chunk": "1", "timestamp": timestamp, "payload": "//8="}
        message = {"event": "media", "sequenceNumber": "2", "streamSid": SID, "media": media}
        with pytest.raises(events.ProtocolError, match="timestamp"):
            events.parse(json.dumps(message))

    def test_binary_frames_are_refused(self) -> None:
        """A binary frame is not part of the protocol."""
        with pytest.raises(events.ProtocolError, match="binary"):
            events.parse(b'{"event": "connected"}')

    def test_messages_over_64_kib_are_refused(self) -> None:
        """A message larger than 64 KiB is refused before it is decoded."""
        big = json.dumps({"event": "connected", "pad": "x" * (64 * 1024)})
        with pytest.raises(events.ProtocolError, match="larger than"):
            events.parse(big)


class TestFormat:
    def test_media_message(self) -> None:
        """Outbound media carries the stream id and base64 μ-law, nothing else."""
        msg = json.loads(events.media_message(SID, b"\x01\x02"))
        assert msg == {"event": "media", "streamSid": SID, "media": {"payload": "AQI="}}

    def test_mark_and_clear_messages(self) -> None:
        """Marks carry a name; clear carries only the stream id."""
        assert json.loads(events.mark_message(SID, "m1")) == {
            "event": "mark",
            "streamSid": SID,
            "mark": {"name": "m1"},
        }
        assert json.loads(events.clear_message(SID)) == {"event": "clear", "streamSid": SID}


class TestBothWays:
    """The simulated phone formats what Twilio sends and reads what we send with the same events."""

    EVENTS: tuple[events.Event, ...] = (
        events.Connected("Call", "1.0.0"),
        events.Start(1, SID, CALL, "AC" + "0" * 32, ("inbound",), "audio/x-mulaw", 8000, 1, {"token": "t"}),
        events.Media(2, SID, "inbound", 1, 0, b"\xff\x00" * 80),
        events.Dtmf(3, SID, "#"),
        events.Mark(4, SID, "utt-1"),
        events.Stop(5, SID, CALL),
    )

    def test_every_event_twilio_sends_parses_back_to_itself(self) -> None:
        """parse(twilio_message(event)) == event for each kind of message."""
        for event in self.EVENTS:
            assert events.parse(events.twilio_message(event)) == event

    def test_twilio_message_matches_twilios_wire_format(self) -> None:
        """Sequence numbers, chunk and timestamp are strings and the start block repeats the stream sid,
        as in Twilio's documented messages (and start_msg above)."""
        start = json.loads(events.twilio_message(self.EVENTS[1]))
        assert start == {**json.loads(start_msg(token="t"))}
        media = json.loads(events.twilio_message(self.EVENTS[2]))["media"]
        assert (media["chunk"], media["timestamp"], media["track"]) == ("1", "0", "inbound")

    def test_what_we_send_is_read_as_the_phone_reads_it(self) -> None:
        """media, mark and clear parse to Play, PlayMark and Clear; anything else is a ProtocolError."""
        audio = bytes(range(160))
        assert events.parse_outbound(events.media_message(SID, audio)) == events.Play(SID, audio)
        assert events.parse_outbound(events.mark_message(SID, "m")) == events.PlayMark(SID, "m")
        assert events.parse_outbound(events.clear_message(SID)) == events.Clear(SID)
        dance = json.dumps({"event": "dance", "streamSid": SID})
        for bad in (dance, '{"event": "clear"}', "[]", b"\x00"):
            with pytest.raises(events.ProtocolError):
                events.parse_outbound(bad)
