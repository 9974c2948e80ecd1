"""missions: journeys, travellers, stops, check-ins, escalation steps, their recipients and the
incidents they were told of (issue 13)

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "missions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("sharing_level", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("departure_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("arrival_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("grace_minutes", sa.Integer(), nullable=False),
        sa.Column("vehicles", sa.JSON(), nullable=True),
        sa.Column("contact", sa.String(length=200), nullable=True),
        sa.Column("route", sa.JSON(), nullable=True),
        sa.Column("route_wkb", sa.LargeBinary(), nullable=True),
        sa.Column("corridor_km", sa.Float(), nullable=False),
        sa.Column("min_lon", sa.Float(), nullable=True),
        sa.Column("min_lat", sa.Float(), nullable=True),
        sa.Column("max_lon", sa.Float(), nullable=True),
        sa.Column("max_lat", sa.Float(), nullable=True),
        sa.Column("risk", sa.JSON(), nullable=True),
        sa.Column("assessed_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("needs_approval", sa.Boolean(), nullable=False),
        sa.Column("approval_reasons", sa.JSON(), nullable=True),
        sa.Column("approved_by", sa.Uuid(), nullable=True),
        sa.Column("approved_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("responders", sa.JSON(), nullable=False),
        sa.Column("checkpoints_done", sa.Integer(), nullable=False),
        sa.Column("delay_minutes", sa.Integer(), nullable=False),
        sa.Column("checkin_count", sa.Integer(), nullable=False),
        sa.Column("last_checkin_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("alarm_reason", sa.String(length=16), nullable=True),
        sa.Column("alarm_round", sa.Integer(), nullable=True),
        sa.Column("alarm_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.Uuid(), nullable=True),
        sa.Column("acknowledged_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("acknowledged_round", sa.Integer(), nullable=True),
        sa.Column("duress_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("closed_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("purged_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_missions_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_missions")),
        sa.UniqueConstraint("org_id", "code", name="uq_missions_org_code"),
    )
    op.create_index(op.f("ix_missions_org_id"), "missions", ["org_id"], unique=False)
    op.create_index("ix_missions_state", "missions", ["state"], unique=False)
    op.create_table(
        "mission_checkins",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("mission_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("via", sa.String(length=8), nullable=False),
        sa.Column("delay_minutes", sa.Integer(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["mission_id"],
            ["missions.id"],
            name=op.f("fk_mission_checkins_mission_id_missions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mission_checkins")),
    )
    op.create_index(
        op.f("ix_mission_checkins_mission_id"), "mission_checkins", ["mission_id"], unique=False
    )
    op.create_table(
        "mission_escalations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("mission_id", sa.Uuid(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("fired_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mission_id"],
            ["missions.id"],
            name=op.f("fk_mission_escalations_mission_id_missions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mission_escalations")),
        sa.UniqueConstraint("mission_id", "round", "step", name="uq_mission_escalations_step"),
    )
    op.create_index(
        op.f("ix_mission_escalations_mission_id"),
        "mission_escalations",
        ["mission_id"],
        unique=False,
    )
    op.create_table(
        "mission_incidents",
        sa.Column("mission_id", sa.Uuid(), nullable=False),
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("alerted_at", DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["mission_id"],
            ["missions.id"],
            name=op.f("fk_mission_incidents_mission_id_missions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("mission_id", "incident_id", name=op.f("pk_mission_incidents")),
    )
    op.create_table(
        "mission_recipients",
        sa.Column("subscription_id", sa.Uuid(), nullable=False),
        sa.Column("scope", sa.String(length=48), nullable=False),
        sa.Column("mission_id", sa.Uuid(), nullable=True),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mission_id"],
            ["missions.id"],
            name=op.f("fk_mission_recipients_mission_id_missions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_mission_recipients_user_id_users")
        ),
        sa.PrimaryKeyConstraint("subscription_id", name=op.f("pk_mission_recipients")),
        sa.UniqueConstraint("scope", "user_id", name="uq_mission_recipients_scope"),
    )
    op.create_index(
        op.f("ix_mission_recipients_mission_id"), "mission_recipients", ["mission_id"], unique=False
    )
    op.create_table(
        "mission_stops",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("mission_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("place_name", sa.String(length=200), nullable=True),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("along_km", sa.Float(), nullable=False),
        sa.Column("expected_at", DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["mission_id"],
            ["missions.id"],
            name=op.f("fk_mission_stops_mission_id_missions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mission_stops")),
    )
    op.create_index(
        op.f("ix_mission_stops_mission_id"), "mission_stops", ["mission_id"], unique=False
    )
    op.create_table(
        "mission_travellers",
        sa.Column("mission_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("duress_hash", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["mission_id"],
            ["missions.id"],
            name=op.f("fk_mission_travellers_mission_id_missions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_mission_travellers_user_id_users")
        ),
        sa.PrimaryKeyConstraint("mission_id", "user_id", name=op.f("pk_mission_travellers")),
    )


def downgrade() -> None:
    op.drop_table("mission_travellers")
    op.drop_index(op.f("ix_mission_stops_mission_id"), table_name="mission_stops")
    op.drop_table("mission_stops")
    op.drop_index(op.f("ix_mission_recipients_mission_id"), table_name="mission_recipients")
    op.drop_table("mission_recipients")
    op.drop_table("mission_incidents")
    op.drop_index(op.f("ix_mission_escalations_mission_id"), table_name="mission_escalations")
    op.drop_table("mission_escalations")
    op.drop_index(op.f("ix_mission_checkins_mission_id"), table_name="mission_checkins")
    op.drop_table("mission_checkins")
    op.drop_index("ix_missions_state", table_name="missions")
    op.drop_index(op.f("ix_missions_org_id"), table_name="missions")
    op.drop_table("missions")
