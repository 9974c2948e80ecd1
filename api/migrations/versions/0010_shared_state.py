"""state shared by the API's processes: rate-limit counters and web sessions in the database;
the unused alert_cursors table dropped

`rate_limit_counters` holds one row per (limit, hashed key, fixed window), counted with one
upsert; `web_sessions` replaces the session files under var/web-sessions (signed-in browsers
sign in again once). `alert_cursors` has not been read since 0009 (level changes are alerted by
their row state).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _when(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, DateTimeUTC(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "rate_limit_counters",
        sa.Column("bucket", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("reset_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "bucket", "key", "window_start", name=op.f("pk_rate_limit_counters")
        ),
    )
    op.create_index(op.f("ix_rate_limit_counters_reset_at"), "rate_limit_counters", ["reset_at"])
    op.create_table(
        "web_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("token_id", sa.Uuid(), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        _when("created_at"),
        _when("expires_at"),
        sa.ForeignKeyConstraint(
            ["token_id"],
            ["api_tokens.id"],
            name=op.f("fk_web_sessions_token_id_api_tokens"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_web_sessions")),
    )
    op.create_index(op.f("ix_web_sessions_token_id"), "web_sessions", ["token_id"])
    op.create_index(op.f("ix_web_sessions_expires_at"), "web_sessions", ["expires_at"])
    op.drop_table("alert_cursors")


def downgrade() -> None:
    op.create_table(
        "alert_cursors",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        _when("updated_at"),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_alert_cursors")),
    )
    op.drop_index(op.f("ix_web_sessions_expires_at"), table_name="web_sessions")
    op.drop_index(op.f("ix_web_sessions_token_id"), table_name="web_sessions")
    op.drop_table("web_sessions")
    op.drop_index(op.f("ix_rate_limit_counters_reset_at"), table_name="rate_limit_counters")
    op.drop_table("rate_limit_counters")
