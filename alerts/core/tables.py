"""Tables for subscriptions, alerts, the delivery outbox and what each subscription was told."""

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
    Text,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from incidents.db import Base


class SubscriptionRow(Base):
    """A standing request for alerts. Channel addresses are stored encrypted, one token each."""

    __tablename__ = "subscriptions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    owner_kind: Mapped[str] = mapped_column(String(16))  # user | organisation
    owner_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    owner_org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    channels_encrypted: Mapped[list[str]] = mapped_column(JSON)
    channels_masked: Mapped[list[str]] = mapped_column(JSON)
    secondary_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    secondary_masked: Mapped[str | None] = mapped_column(Text, nullable=True)
    area: Mapped[dict[str, Any]] = mapped_column(JSON)
    area_wkb: Mapped[bytes] = mapped_column(LargeBinary)
    min_lon: Mapped[float] = mapped_column(Float)
    min_lat: Mapped[float] = mapped_column(Float)
    max_lon: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)
    types: Mapped[list[str]] = mapped_column(JSON)
    min_severity: Mapped[int] = mapped_column(Integer)
    statuses: Mapped[list[str]] = mapped_column(JSON)
    min_level: Mapped[int] = mapped_column(Integer)
    language: Mapped[str] = mapped_column(String(2))
    format: Mapped[str] = mapped_column(String(8))
    quiet_hours: Mapped[str | None] = mapped_column(String(16), nullable=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    updated_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    # Kept, not deleted: the delivery log of past alerts still points here.
    deleted_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, nullable=True)


class BroadcastRow(Base):
    """A broadcast an officer sent: its sender's organisation sees who received it (even when it
    reached nobody). The message is kept as sent, like the alerts that carry it."""

    __tablename__ = "broadcasts"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    org_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    sent_by: Mapped[uuid.UUID] = mapped_column(Uuid)
    sent_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    priority: Mapped[str] = mapped_column(String(8))  # normal | flash
    message: Mapped[dict[str, Any]] = mapped_column(JSON)
    alerts: Mapped[int] = mapped_column(Integer)


class AlertRow(Base):
    """One message to one subscription about one trigger, with the code its recipient acks."""

    __tablename__ = "alerts"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # incident | level_change | broadcast
    subscription_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subscriptions.id"), index=True)
    owner_org_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    incident_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True, index=True)
    zone_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    broadcast_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    priority: Mapped[str] = mapped_column(String(8))  # routine | urgent | flash
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    acked_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    acked_via: Mapped[str | None] = mapped_column(String(8), nullable=True)  # token | link
    acked_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, nullable=True)
    resent_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, nullable=True)
    escalated_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, nullable=True)

    __table_args__ = (
        Index("ix_alerts_created", "created_at"),
        Index("ix_alerts_flash_open", "priority", "acked_at", "escalated_at"),
    )


class DeliveryRow(Base):
    """The outbox: one message to one channel address, claimed and sent by a dispatcher."""

    __tablename__ = "alert_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("alerts.id", ondelete="CASCADE"), index=True
    )
    subscription_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    channel_index: Mapped[int] = mapped_column(Integer)
    purpose: Mapped[str] = mapped_column(String(10))  # first | resend | escalation
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    # A copy of the address, encrypted: later edits of the subscription don't redirect it.
    channel_encrypted: Mapped[str] = mapped_column(Text)
    channel_masked: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10))  # pending|sending|delivered|failed|dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    lease_until: Mapped[datetime | None] = mapped_column(DateTimeUTC, nullable=True)
    leased_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    sent_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, nullable=True)

    __table_args__ = (Index("ix_alert_deliveries_due", "status", "next_attempt_at"),)


class AlertedStateRow(Base):
    """What a subscription was last told about an incident: no second alert unless it escalates."""

    __tablename__ = "alerted_state"

    incident_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    subscription_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    severity: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    impact: Mapped[dict[str, Any]] = mapped_column(JSON)
    alert_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    updated_at: Mapped[datetime] = mapped_column(DateTimeUTC)


class WorkerHeartbeatRow(Base):
    """The last sign of life of each dispatcher (the in-process one of `serve` and each
    `sentinelle dispatch`): readiness and the operator's checks read it from the database, so
    every API worker sees every dispatcher."""

    __tablename__ = "worker_heartbeats"

    worker_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # dispatch
    started_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    beat_at: Mapped[datetime] = mapped_column(DateTimeUTC)
