"""The call log: calls, turns, events, messages and recordings, in SQLite or PostgreSQL."""
