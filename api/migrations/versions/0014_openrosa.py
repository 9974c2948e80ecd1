"""openrosa: XForm instances received (an edit finds its incident, a re-sent instance is known)
and the ODK Collect logins of API tokens (HTTP Digest)

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "form_instances",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("instance_id", sa.String(length=100), nullable=False),
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("received_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("replaced", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_form_instances_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_form_instances_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("org_id", "instance_id", name=op.f("pk_form_instances")),
    )
    op.create_index(op.f("ix_form_instances_incident_id"), "form_instances", ["incident_id"])
    op.create_table(
        "form_logins",
        sa.Column("token_id", sa.Uuid(), nullable=False),
        sa.Column("username", sa.String(length=32), nullable=False),
        sa.Column("ha1_sealed", sa.Text(), nullable=False),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["token_id"],
            ["api_tokens.id"],
            name=op.f("fk_form_logins_token_id_api_tokens"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_id", name=op.f("pk_form_logins")),
        sa.UniqueConstraint("username", name=op.f("uq_form_logins_username")),
    )


def downgrade() -> None:
    op.drop_table("form_logins")
    op.drop_index(op.f("ix_form_instances_incident_id"), table_name="form_instances")
    op.drop_table("form_instances")
