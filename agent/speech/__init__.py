"""Hearing the caller: voice activity, end of turn and speech to text."""
