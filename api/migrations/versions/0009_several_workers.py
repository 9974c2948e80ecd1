"""several workers, one truth: change counters, incident change log, pending re-scoring,
level changes numbered per zone (unique) and consumed by their state

Level changes get `seq` (the n-th change of its zone; unique with the zone, so two processes
re-scoring from the same stored level cannot both record it) and `alerted_at` (alerts are made
from rows not yet alerted, not past a high-water mark that a late commit could slip under).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "change_counters",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_change_counters")),
    )
    op.execute("INSERT INTO change_counters (name, value) VALUES ('incidents', 0), ('zones', 0)")
    op.create_table(
        "incident_changes",
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("at", DateTimeUTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", "incident_id", name=op.f("pk_incident_changes")),
    )
    op.create_table(
        "risk_pending",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("zone_id", sa.String(length=64), nullable=False),
        sa.Column("cause", sa.Text(), nullable=False),
        sa.Column("at", DateTimeUTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_pending")),
    )
    with op.batch_alter_table("zone_level_changes") as batch:
        batch.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("alerted_at", DateTimeUTC(timezone=True), nullable=True))
    # Number the changes already kept, per zone in time order; those the dispatcher's cursor
    # has passed are alerted already.
    op.execute(
        "UPDATE zone_level_changes SET seq = (SELECT n FROM (SELECT id AS cid, ROW_NUMBER() "
        "OVER (PARTITION BY zone_id ORDER BY at, id) AS n FROM zone_level_changes) AS numbered "
        "WHERE numbered.cid = zone_level_changes.id)"
    )
    op.execute(
        "UPDATE zone_level_changes SET alerted_at = at WHERE id <= COALESCE((SELECT position "
        "FROM alert_cursors WHERE name = 'zone_level_changes'), 0)"
    )
    with op.batch_alter_table("zone_level_changes") as batch:
        batch.alter_column("seq", existing_type=sa.Integer(), nullable=False)
        batch.create_unique_constraint("uq_zone_level_changes_zone_seq", ["zone_id", "seq"])
        batch.create_index("ix_zone_level_changes_alerted_at", ["alerted_at"])


def downgrade() -> None:
    with op.batch_alter_table("zone_level_changes") as batch:
        batch.drop_index("ix_zone_level_changes_alerted_at")
        batch.drop_constraint("uq_zone_level_changes_zone_seq", type_="unique")
        batch.drop_column("alerted_at")
        batch.drop_column("seq")
    op.drop_table("risk_pending")
    op.drop_table("incident_changes")
    op.drop_table("change_counters")
