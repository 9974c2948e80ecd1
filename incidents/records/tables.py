"""Tables for organisations, users, API tokens, incidents and idempotency records."""

from __future__ import annotations

import uuid
from datetime import datetime

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from incidents.db import Base


class OrganisationRow(Base):
    __tablename__ = "organisations"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, nullable=True)


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    phone: Mapped[str | None] = mapped_column(String(32), nullable=True, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, nullable=True)


class ApiTokenRow(Base):
    __tablename__ = "api_tokens"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    # SHA-256 of the token: tokens are 256-bit random, so a fast hash is enough and lets us look
    # the token up by its hash instead of comparing secrets one by one.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, nullable=True)


class IncidentRow(Base):
    __tablename__ = "incidents"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    time_precision: Mapped[str] = mapped_column(String(8))
    reported_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    geometry_wkb: Mapped[bytes] = mapped_column(LargeBinary)
    geometry_type: Mapped[str] = mapped_column(String(20))
    # Bounding box and a representative point: the index prefilter before exact shapely work.
    min_lon: Mapped[float]
    min_lat: Mapped[float]
    max_lon: Mapped[float]
    max_lat: Mapped[float]
    lon: Mapped[float]
    lat: Mapped[float]
    # Grid cell of the bounding box (see incidents.store.grid_cell); -1 for geometries spanning
    # several cells. Indexed with occurred_at so "near X in the last N days" is a short range scan.
    cell: Mapped[int] = mapped_column(Integer)
    location_precision: Mapped[str] = mapped_column(String(8))
    place_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    severity: Mapped[int] = mapped_column(Integer)
    killed: Mapped[int] = mapped_column(Integer, default=0)
    injured: Mapped[int] = mapped_column(Integer, default=0)
    abducted: Mapped[int] = mapped_column(Integer, default=0)
    detained: Mapped[int] = mapped_column(Integer, default=0)
    missing: Mapped[int] = mapped_column(Integer, default=0)
    aid_workers_affected: Mapped[bool] = mapped_column(Boolean, default=False)
    perpetrator: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str | None] = mapped_column(Text, nullable=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    source_type: Mapped[str] = mapped_column(String(32))
    reliability: Mapped[str] = mapped_column(String(1))
    credibility: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    sharing_level: Mapped[str] = mapped_column(String(16))
    hide_organisation: Mapped[bool] = mapped_column(Boolean, default=False)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), index=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    external_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    # The canonical incident of the event this report is a duplicate of (incidents.events);
    # None: the report is its own event (alone or canonical). Only canonical rows count in risk.
    event_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    updated_at: Mapped[datetime] = mapped_column(DateTimeUTC)

    __table_args__ = (
        Index("ix_incidents_cell_occurred", "cell", "occurred_at"),
        Index("ix_incidents_occurred_id", "occurred_at", "id"),
        Index("ix_incidents_type_occurred", "type", "occurred_at"),
        Index("ix_incidents_status", "status"),
        Index("ix_incidents_updated_at", "updated_at"),
        Index("ix_incidents_event_id", "event_id"),
        Index("ix_incidents_external_id", "external_id"),
        UniqueConstraint("org_id", "external_id", name="uq_incidents_org_external"),
    )


class IdempotencyRow(Base):
    __tablename__ = "idempotency_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(8))  # pending | done
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    resource_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC)

    __table_args__ = (UniqueConstraint("org_id", "key", name="uq_idempotency_org_key"),)
