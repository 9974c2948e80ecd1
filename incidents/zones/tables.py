"""Tables for zones, the zones each incident falls in, current zone risk and level changes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
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


class ZoneRow(Base):
    __tablename__ = "zones"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_fr: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    parent_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    geometry_wkb: Mapped[bytes] = mapped_column(LargeBinary)
    min_lon: Mapped[float] = mapped_column(Float)
    min_lat: Mapped[float] = mapped_column(Float)
    max_lon: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)
    area_km2: Mapped[float] = mapped_column(Float)
    provenance: Mapped[str] = mapped_column(Text)
    approximate: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    updated_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    # The organisation that drew the zone; NULL for platform zones (defaults, COD-AB imports),
    # which only the platform operator changes.
    owner_org_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), nullable=True, index=True
    )


class IncidentZoneRow(Base):
    """One row per (incident, zone it falls in); rebuilt when either side changes."""

    __tablename__ = "incident_zones"

    incident_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    zone_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("zones.id", ondelete="CASCADE"), primary_key=True
    )

    __table_args__ = (Index("ix_incident_zones_zone_incident", "zone_id", "incident_id"),)


class ZoneRiskRow(Base):
    """The current risk of each zone (history is recomputed on demand, level changes are kept)."""

    __tablename__ = "zone_risk"

    zone_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("zones.id", ondelete="CASCADE"), primary_key=True
    )
    score: Mapped[float] = mapped_column(Float)
    level: Mapped[int] = mapped_column(Integer)
    sub_scores: Mapped[dict[str, Any]] = mapped_column(JSON)
    trend: Mapped[str] = mapped_column(String(8))
    expected_incidents: Mapped[float] = mapped_column(Float, default=0.0)
    contributors: Mapped[list[Any]] = mapped_column(JSON)
    computed_at: Mapped[datetime] = mapped_column(DateTimeUTC)


class ZoneLevelChangeRow(Base):
    """Every change of a zone's level, with what caused it: what risk alerts are made from."""

    __tablename__ = "zone_level_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # No foreign key: the record of a change outlives a deleted zone.
    zone_id: Mapped[str] = mapped_column(String(64))
    from_level: Mapped[int | None] = mapped_column(Integer, nullable=True)
    to_level: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    at: Mapped[datetime] = mapped_column(DateTimeUTC)
    cause: Mapped[str] = mapped_column(Text)
    # The n-th change of the zone: unique, so a change is recorded once whichever process
    # re-scores (two from the same stored level collide here instead of both recording it).
    # (Written by RiskService.recompute as max + 1 under its lock; 1 when inserted bare.)
    seq: Mapped[int] = mapped_column(Integer, default=1)
    # When its alerts were written (NULL: not yet): alerts are made from the rows' state.
    alerted_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, nullable=True)

    __table_args__ = (
        Index("ix_zone_level_changes_at", "at"),
        Index("ix_zone_level_changes_zone_at", "zone_id", "at"),
        Index("ix_zone_level_changes_alerted_at", "alerted_at"),
        UniqueConstraint("zone_id", "seq", name="uq_zone_level_changes_zone_seq"),
    )


class ChangeCounterRow(Base):
    """Counters bumped in the transactions that write what they count ("incidents", "zones").

    A bump holds the row's lock until COMMIT, so values follow commit order: every process
    compares them with the copy it holds (zone index, risk inputs) before trusting it.
    """

    __tablename__ = "change_counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class IncidentChangeRow(Base):
    """The incidents each committed write changed, under the write's "incidents" counter value:
    what a process reads to bring its risk inputs up to date (pruned after a while)."""

    __tablename__ = "incident_changes"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTimeUTC)


class RiskPendingRow(Base):
    """A zone to re-score, written in the transaction that changed its incidents or shape;
    any process's re-scoring claims and deletes it (nothing lives only in one process)."""

    __tablename__ = "risk_pending"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    zone_id: Mapped[str] = mapped_column(String(64))
    cause: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTimeUTC)
