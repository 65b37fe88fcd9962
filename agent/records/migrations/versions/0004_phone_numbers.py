"""Called numbers routed in the console: which business answers and which voice speaks.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the numbers table."""
    op.create_table(
        "phone_numbers",
        sa.Column("number", sa.String(32), primary_key=True),
        sa.Column("business", sa.String(64), nullable=False),
        sa.Column("voice", sa.String(64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False),
    )


def downgrade() -> None:
    """Drop the numbers table."""
    op.drop_table("phone_numbers")
