"""subscriptions, alerts outbox and deliveries

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, DateTimeUTC(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_kind", sa.String(length=16), nullable=False),
        sa.Column("owner_user_id", sa.Uuid(), nullable=False),
        sa.Column("owner_org_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("channels_encrypted", sa.JSON(), nullable=False),
        sa.Column("channels_masked", sa.JSON(), nullable=False),
        sa.Column("secondary_encrypted", sa.Text(), nullable=True),
        sa.Column("secondary_masked", sa.Text(), nullable=True),
        sa.Column("area", sa.JSON(), nullable=False),
        sa.Column("area_wkb", sa.LargeBinary(), nullable=False),
        sa.Column("min_lon", sa.Float(), nullable=False),
        sa.Column("min_lat", sa.Float(), nullable=False),
        sa.Column("max_lon", sa.Float(), nullable=False),
        sa.Column("max_lat", sa.Float(), nullable=False),
        sa.Column("types", sa.JSON(), nullable=False),
        sa.Column("min_severity", sa.Integer(), nullable=False),
        sa.Column("statuses", sa.JSON(), nullable=False),
        sa.Column("min_level", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("quiet_hours", sa.String(length=16), nullable=True),
        sa.Column("paused", sa.Boolean(), nullable=False),
        _when("created_at"),
        _when("updated_at"),
        _when("deleted_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["owner_user_id"], ["users.id"], name=op.f("fk_subscriptions_owner_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["owner_org_id"],
            ["organisations.id"],
            name=op.f("fk_subscriptions_owner_org_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
    )
    op.create_index("ix_subscriptions_owner_user_id", "subscriptions", ["owner_user_id"])
    op.create_index("ix_subscriptions_owner_org_id", "subscriptions", ["owner_org_id"])

    op.create_table(
        "alerts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subscription_id", sa.Uuid(), nullable=False),
        sa.Column("owner_org_id", sa.Uuid(), nullable=False),
        sa.Column("incident_id", sa.Uuid(), nullable=True),
        sa.Column("zone_id", sa.String(length=64), nullable=True),
        sa.Column("broadcast_id", sa.Uuid(), nullable=True),
        sa.Column("priority", sa.String(length=8), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        _when("created_at"),
        sa.Column("acked_by", sa.Uuid(), nullable=True),
        sa.Column("acked_via", sa.String(length=8), nullable=True),
        _when("acked_at", nullable=True),
        _when("resent_at", nullable=True),
        _when("escalated_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_alerts_subscription_id_subscriptions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("code", name=op.f("uq_alerts_code")),
    )
    op.create_index("ix_alerts_subscription_id", "alerts", ["subscription_id"])
    op.create_index("ix_alerts_owner_org_id", "alerts", ["owner_org_id"])
    op.create_index("ix_alerts_incident_id", "alerts", ["incident_id"])
    op.create_index("ix_alerts_created", "alerts", ["created_at"])
    op.create_index("ix_alerts_flash_open", "alerts", ["priority", "acked_at", "escalated_at"])

    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.Uuid(), nullable=False),
        sa.Column("subscription_id", sa.Uuid(), nullable=False),
        sa.Column("channel_index", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=10), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("channel_encrypted", sa.Text(), nullable=False),
        sa.Column("channel_masked", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _when("next_attempt_at"),
        _when("lease_until", nullable=True),
        sa.Column("leased_by", sa.String(length=100), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        _when("created_at"),
        _when("sent_at", nullable=True),
        _when("delivered_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            name=op.f("fk_alert_deliveries_alert_id_alerts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_deliveries")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_alert_deliveries_idempotency_key")),
    )
    op.create_index("ix_alert_deliveries_alert_id", "alert_deliveries", ["alert_id"])
    op.create_index("ix_alert_deliveries_due", "alert_deliveries", ["status", "next_attempt_at"])

    op.create_table(
        "alerted_state",
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("subscription_id", sa.Uuid(), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("impact", sa.JSON(), nullable=False),
        sa.Column("alert_id", sa.Uuid(), nullable=False),
        _when("updated_at"),
        sa.PrimaryKeyConstraint("incident_id", "subscription_id", name=op.f("pk_alerted_state")),
    )
    op.create_table(
        "alert_cursors",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        _when("updated_at"),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_alert_cursors")),
    )


def downgrade() -> None:
    op.drop_table("alert_cursors")
    op.drop_table("alerted_state")
    op.drop_index("ix_alert_deliveries_due", table_name="alert_deliveries")
    op.drop_index("ix_alert_deliveries_alert_id", table_name="alert_deliveries")
    op.drop_table("alert_deliveries")
    for name in (
        "ix_alerts_flash_open",
        "ix_alerts_created",
        "ix_alerts_incident_id",
        "ix_alerts_owner_org_id",
        "ix_alerts_subscription_id",
    ):
        op.drop_index(name, table_name="alerts")
    op.drop_table("alerts")
    op.drop_index("ix_subscriptions_owner_org_id", table_name="subscriptions")
    op.drop_index("ix_subscriptions_owner_user_id", table_name="subscriptions")
    op.drop_table("subscriptions")
