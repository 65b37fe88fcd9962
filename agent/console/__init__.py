"""The operator console: calls, recordings, messages, voices and live calls in a browser, behind a login."""
