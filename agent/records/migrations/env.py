"""Alembic environment: migrations run on the connection that `Database.upgrade` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

import agent.console.models  # the console's tables live on the same Base; autogenerate must see them
import agent.dialog.profile_store  # noqa: F401 - so do the business profiles
from agent.records.models import Base


def run_migrations(connection: Connection) -> None:
    """Configure Alembic on `connection` and run the pending revisions."""
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    )
    with context.begin_transaction():
        context.run_migrations()


_connection = context.config.attributes.get("connection")
if _connection is None:
    raise RuntimeError("run migrations through agent.records.db.Database.upgrade()")
run_migrations(_connection)
