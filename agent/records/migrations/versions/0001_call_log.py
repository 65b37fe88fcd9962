"""The call log: calls, turns, events and messages.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

STAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the four tables."""
    op.create_table(
        "calls",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("call_sid", sa.String(64), nullable=False),
        sa.Column("stream_sid", sa.String(64), nullable=False),
        sa.Column("business", sa.String(64), nullable=False),
        sa.Column("called", sa.String(32), nullable=False),
        sa.Column("caller", sa.String(32), nullable=False),
        sa.Column("voice", sa.String(128), nullable=False),
        sa.Column("server", sa.String(128), nullable=False),
        sa.Column("started_at", STAMP, nullable=False),
        sa.Column("answered_at", STAMP),
        sa.Column("ended_at", STAMP),
        sa.Column("duration_s", sa.Float()),
        sa.Column("outcome", sa.String(32)),
        sa.Column("end_reason", sa.String(200), nullable=False),
        sa.Column("recording", sa.String(300)),
    )
    op.create_index("ix_calls_call_sid", "calls", ["call_sid"])
    op.create_index("ix_calls_business", "calls", ["business"])
    op.create_index("ix_calls_started_at", "calls", ["started_at"])
    op.create_index("ix_calls_outcome", "calls", ["outcome"])
    op.create_table(
        "turns",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.Integer(), sa.ForeignKey("calls.id", ondelete="CASCADE"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("speaker", sa.String(8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("heard_text", sa.Text()),
        sa.Column("interrupted", sa.Boolean(), nullable=False),
        sa.Column("start_s", sa.Float(), nullable=False),
        sa.Column("end_s", sa.Float(), nullable=False),
        sa.Column("partials", sa.JSON()),
        sa.Column("end_of_turn_ms", sa.Float()),
        sa.Column("stt_ms", sa.Float()),
        sa.Column("llm_first_token_ms", sa.Float()),
        sa.Column("tts_first_audio_ms", sa.Float()),
        sa.Column("transport_ms", sa.Float()),
        sa.Column("voice_to_voice_ms", sa.Float()),
        sa.UniqueConstraint("call_id", "seq"),
    )
    op.create_index("ix_turns_call_id", "turns", ["call_id"])
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.Integer(), sa.ForeignKey("calls.id", ondelete="CASCADE"), nullable=False),
        sa.Column("turn_seq", sa.Integer()),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("at_s", sa.Float(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
    )
    op.create_index("ix_events_call_id", "events", ["call_id"])
    op.create_table(
        "messages",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("call_id", sa.Integer(), sa.ForeignKey("calls.id", ondelete="CASCADE")),
        sa.Column("call_sid", sa.String(64), nullable=False),
        sa.Column("business", sa.String(64), nullable=False),
        sa.Column("recipient", sa.String(128), nullable=False),
        sa.Column("caller_name", sa.String(200), nullable=False),
        sa.Column("callback_number", sa.String(64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("created_at", STAMP, nullable=False),
        sa.Column("handled_at", STAMP),
        sa.Column("handled_by", sa.String(128)),
    )
    op.create_index("ix_messages_call_id", "messages", ["call_id"])
    op.create_index("ix_messages_call_sid", "messages", ["call_sid"])
    op.create_index("ix_messages_created_at", "messages", ["created_at"])


def downgrade() -> None:
    """Drop the four tables."""
    for table in ("messages", "events", "turns", "calls"):
        op.drop_table(table)
