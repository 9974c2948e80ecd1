"""trust networks, sharing requests and audit log

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trust_networks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trust_networks")),
        sa.UniqueConstraint("name", name=op.f("uq_trust_networks_name")),
    )
    op.create_table(
        "trust_network_members",
        sa.Column("network_id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("added_at", DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["trust_networks.id"],
            ondelete="CASCADE",
            name=op.f("fk_trust_network_members_network_id_trust_networks"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_trust_network_members_org_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("network_id", "org_id", name=op.f("pk_trust_network_members")),
    )
    op.create_index(op.f("ix_trust_network_members_org_id"), "trust_network_members", ["org_id"])
    op.create_table(
        "sharing_change_requests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("incident_org_id", sa.Uuid(), nullable=False),
        sa.Column("requested_by", sa.Uuid(), nullable=False),
        sa.Column("requester_org_id", sa.Uuid(), nullable=False),
        sa.Column("from_level", sa.String(length=16), nullable=False),
        sa.Column("to_level", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("decided_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            ondelete="CASCADE",
            name=op.f("fk_sharing_change_requests_incident_id_incidents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sharing_change_requests")),
    )
    op.create_index(
        op.f("ix_sharing_change_requests_incident_id"), "sharing_change_requests", ["incident_id"]
    )
    op.create_index(
        op.f("ix_sharing_change_requests_incident_org_id"),
        "sharing_change_requests",
        ["incident_org_id"],
    )
    op.create_table(
        "incident_named_viewers",
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("added_at", DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            ondelete="CASCADE",
            name=op.f("fk_incident_named_viewers_incident_id_incidents"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_incident_named_viewers_user_id_users")
        ),
        sa.PrimaryKeyConstraint("incident_id", "user_id", name=op.f("pk_incident_named_viewers")),
    )
    op.create_index(
        op.f("ix_incident_named_viewers_user_id"), "incident_named_viewers", ["user_id"]
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("actor_user_id", sa.Uuid(), nullable=True),
        sa.Column("actor_org_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target_type", sa.String(length=32), nullable=True),
        sa.Column("target_id", sa.String(length=64), nullable=True),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])
    op.create_index(op.f("ix_audit_log_actor_user_id"), "audit_log", ["actor_user_id"])
    op.create_index(op.f("ix_audit_log_action"), "audit_log", ["action"])
    op.create_index("ix_audit_log_target", "audit_log", ["target_type", "target_id"])


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("incident_named_viewers")
    op.drop_table("sharing_change_requests")
    op.drop_table("trust_network_members")
    op.drop_table("trust_networks")
