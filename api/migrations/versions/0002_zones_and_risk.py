"""zones, incident-zone links and risk

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "zones",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name_fr", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("parent_code", sa.String(length=64), nullable=True),
        sa.Column("geometry_wkb", sa.LargeBinary(), nullable=False),
        sa.Column("min_lon", sa.Float(), nullable=False),
        sa.Column("min_lat", sa.Float(), nullable=False),
        sa.Column("max_lon", sa.Float(), nullable=False),
        sa.Column("max_lat", sa.Float(), nullable=False),
        sa.Column("area_km2", sa.Float(), nullable=False),
        sa.Column("provenance", sa.Text(), nullable=False),
        sa.Column("approximate", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zones")),
        sa.UniqueConstraint("code", name=op.f("uq_zones_code")),
    )
    op.create_table(
        "incident_zones",
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("zone_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_zones_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["zone_id"],
            ["zones.id"],
            name=op.f("fk_incident_zones_zone_id_zones"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("incident_id", "zone_id", name=op.f("pk_incident_zones")),
    )
    op.create_index("ix_incident_zones_zone_incident", "incident_zones", ["zone_id", "incident_id"])
    op.create_table(
        "zone_risk",
        sa.Column("zone_id", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("sub_scores", sa.JSON(), nullable=False),
        sa.Column("trend", sa.String(length=8), nullable=False),
        sa.Column("expected_incidents", sa.Float(), nullable=False),
        sa.Column("contributors", sa.JSON(), nullable=False),
        sa.Column("computed_at", DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["zone_id"], ["zones.id"], name=op.f("fk_zone_risk_zone_id_zones"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("zone_id", name=op.f("pk_zone_risk")),
    )
    op.create_table(
        "zone_level_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("zone_id", sa.String(length=64), nullable=False),
        sa.Column("from_level", sa.Integer(), nullable=True),
        sa.Column("to_level", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("cause", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zone_level_changes")),
    )
    op.create_index("ix_zone_level_changes_at", "zone_level_changes", ["at"])
    op.create_index("ix_zone_level_changes_zone_at", "zone_level_changes", ["zone_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_zone_level_changes_zone_at", table_name="zone_level_changes")
    op.drop_index("ix_zone_level_changes_at", table_name="zone_level_changes")
    op.drop_table("zone_level_changes")
    op.drop_table("zone_risk")
    op.drop_index("ix_incident_zones_zone_incident", table_name="incident_zones")
    op.drop_table("incident_zones")
    op.drop_table("zones")
