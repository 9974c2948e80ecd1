"""intake secrets, phone registry and held SMS

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The phone registry is users.phone (unique, created in 0001).


def upgrade() -> None:
    op.create_table(
        "intake_secrets",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            ondelete="CASCADE",
            name=op.f("fk_intake_secrets_org_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_intake_secrets")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_intake_secrets_secret_hash")),
    )
    op.create_table(
        "held_sms",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("sender", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("received_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("incident_id", sa.Uuid(), nullable=True),
        sa.Column("reviewed_by", sa.Uuid(), nullable=True),
        sa.Column("reviewed_at", DateTimeUTC(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            ondelete="CASCADE",
            name=op.f("fk_held_sms_org_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by"], ["users.id"], name=op.f("fk_held_sms_reviewed_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_held_sms")),
    )
    op.create_index("ix_held_sms_org_state", "held_sms", ["org_id", "state", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_held_sms_org_state", table_name="held_sms")
    op.drop_table("held_sms")
    op.drop_table("intake_secrets")
