"""Twilio's side of a call: wire events, audio codec, signatures, TwiML and the media transport."""
