"""The TwiML the voice webhook answers with, built with twilio's VoiceResponse."""

from __future__ import annotations

from twilio.twiml.voice_response import Connect, VoiceResponse


def connect_stream(stream_url: str, parameters: dict[str, str]) -> str:
    """Return TwiML that connects the call to our bidirectional media stream with custom parameters."""
    response = VoiceResponse()
    connect = Connect()
    stream = connect.stream(url=stream_url)
    for name, value in parameters.items():
        stream.parameter(name=name, value=value)
    response.append(connect)
    return str(response)


def hang_up() -> str:
    """Return TwiML that ends the call."""
    response = VoiceResponse()
    response.hangup()
    return str(response)


def refuse(message: str, fallback_number: str = "") -> str:
    """Return TwiML that politely turns a call away: forward it to a fallback number, or hang up."""
    response = VoiceResponse()
    response.say(message)
    if fallback_number:
        response.dial(fallback_number)
    else:
        response.hangup()
    return str(response)
