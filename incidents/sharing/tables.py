"""Tables for trust networks, sharing requests, people named on red incidents, the audit log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from incidents.db import Base


class TrustNetworkRow(Base):
    __tablename__ = "trust_networks"
    # Names are unique per owner only: a global rule would confirm, through a 409, that another
    # organisation's hidden network has a given name.
    __table_args__ = (
        UniqueConstraint("owner_org_id", "name", name="uq_trust_networks_owner_name"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    # The organisation that created the network and alone invites others; NULL for networks made
    # on the server by the platform operator (CLI) before ownership existed.
    owner_org_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organisations.id"), nullable=True, index=True
    )


class TrustNetworkInvitationRow(Base):
    """The owner of a network invites an organisation; that organisation's admin accepts or not."""

    __tablename__ = "trust_network_invitations"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    network_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("trust_networks.id", ondelete="CASCADE"), index=True
    )
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), index=True)
    invited_by: Mapped[uuid.UUID] = mapped_column(Uuid)
    state: Mapped[str] = mapped_column(String(16))  # pending | accepted | declined | withdrawn
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    decided_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, nullable=True)
    decided_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)


class TrustNetworkMemberRow(Base):
    __tablename__ = "trust_network_members"

    network_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("trust_networks.id", ondelete="CASCADE"), primary_key=True
    )
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id"), primary_key=True, index=True
    )
    added_at: Mapped[datetime] = mapped_column(DateTimeUTC)


class SharingChangeRequestRow(Base):
    """An officer asks to raise or lower an incident's sharing level; the reporting org decides."""

    __tablename__ = "sharing_change_requests"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    incident_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    incident_org_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    requested_by: Mapped[uuid.UUID] = mapped_column(Uuid)
    requester_org_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    from_level: Mapped[str] = mapped_column(String(16))
    to_level: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    state: Mapped[str] = mapped_column(String(16))  # pending | accepted | refused
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    decided_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, nullable=True)
    decided_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)


class IncidentNamedViewerRow(Base):
    """A person the reporter of a red incident allows to see it in full."""

    __tablename__ = "incident_named_viewers"

    incident_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    added_at: Mapped[datetime] = mapped_column(DateTimeUTC)


class AuditRow(Base):
    """Who did what to which thing, when and from which address. No narratives, no secrets."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTimeUTC, index=True)
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True, index=True)
    actor_org_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    target_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (Index("ix_audit_log_target", "target_type", "target_id"),)
