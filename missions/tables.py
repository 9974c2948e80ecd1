"""Tables of missions: the journey, its travellers, stops, check-ins, escalation steps, the
recipients its alerts go to and the incidents it was told of.

What holds a position or a route detail (stops, check-ins, the route, the risk along it) is
deleted by the purge once a mission has been closed for long enough (missions.purge)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from incidents.db import Base


class MissionRow(Base):
    __tablename__ = "missions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), index=True)
    # Two letters, two digits: quoted in SMS check-ins; freed (NULL) by the purge.
    code: Mapped[str | None] = mapped_column(String(8), nullable=True)
    title: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16))
    sharing_level: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[uuid.UUID] = mapped_column(Uuid)
    departure_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    arrival_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    grace_minutes: Mapped[int] = mapped_column(Integer)
    vehicles: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    contact: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # The route: place names or a line; the corridor around it and its bounding box.
    route: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    route_wkb: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    corridor_km: Mapped[float] = mapped_column(Float)
    min_lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    min_lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    max_lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    max_lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    # Levels per stretch at the last assessment (no incident is stored here).
    risk: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    assessed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, nullable=True)
    needs_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    approval_reasons: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    approved_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, nullable=True)
    # The ladder: groups of user ids, alerted one group per step.
    responders: Mapped[list[Any]] = mapped_column(JSON)
    checkpoints_done: Mapped[int] = mapped_column(Integer, default=0)
    delay_minutes: Mapped[int] = mapped_column(Integer, default=0)
    checkin_count: Mapped[int] = mapped_column(Integer, default=0)
    last_checkin_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, nullable=True)
    alarm_reason: Mapped[str | None] = mapped_column(String(16), nullable=True)
    alarm_round: Mapped[int | None] = mapped_column(Integer, nullable=True)
    alarm_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, nullable=True)
    acknowledged_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, nullable=True)
    acknowledged_round: Mapped[int | None] = mapped_column(Integer, nullable=True)
    duress_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    updated_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    closed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, nullable=True)
    purged_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        UniqueConstraint("org_id", "code", name="uq_missions_org_code"),
        Index("ix_missions_state", "state"),
    )


class MissionTravellerRow(Base):
    __tablename__ = "mission_travellers"

    mission_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("missions.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    # A salted digest of the traveller's duress word (missions.model.duress_hash), never the word.
    duress_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)


class MissionStopRow(Base):
    __tablename__ = "mission_stops"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    mission_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("missions.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    place_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    along_km: Mapped[float] = mapped_column(Float)
    expected_at: Mapped[datetime] = mapped_column(DateTimeUTC)


class MissionCheckinRow(Base):
    __tablename__ = "mission_checkins"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    mission_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("missions.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    at: Mapped[datetime] = mapped_column(DateTimeUTC)
    kind: Mapped[str] = mapped_column(String(12))
    via: Mapped[str] = mapped_column(String(8))  # api | sms | web
    delay_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Only when the traveller chose to give it.
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)


class MissionEscalationRow(Base):
    """One step of the ladder fired: unique per (mission, round, step), so it never fires twice."""

    __tablename__ = "mission_escalations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    mission_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("missions.id", ondelete="CASCADE"), index=True
    )
    round: Mapped[int] = mapped_column(Integer)
    step: Mapped[int] = mapped_column(Integer)
    fired_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    recipients: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        UniqueConstraint("mission_id", "round", "step", name="uq_mission_escalations_step"),
    )


class MissionRecipientRow(Base):
    """A person a mission's alerts go to, and the (paused, owner_kind "mission") subscription
    that carries their channels for the alert outbox. `scope` is "mission:<id>" or "protocol"."""

    __tablename__ = "mission_recipients"

    subscription_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    scope: Mapped[str] = mapped_column(String(48))
    mission_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("missions.id", ondelete="CASCADE"), nullable=True, index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))

    __table_args__ = (UniqueConstraint("scope", "user_id", name="uq_mission_recipients_scope"),)


class MissionIncidentRow(Base):
    """An incident near a mission on the road that its people were told of (once)."""

    __tablename__ = "mission_incidents"

    mission_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("missions.id", ondelete="CASCADE"), primary_key=True
    )
    incident_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    alerted_at: Mapped[datetime] = mapped_column(DateTimeUTC)
