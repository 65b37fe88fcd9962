"""Alembic migrations of the call log (shipped inside the package)."""
