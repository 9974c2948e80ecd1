"""Tables for field intake: per-organisation webhook secrets, SMS held for an officer's review."""

from __future__ import annotations

import uuid
from datetime import datetime

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import ForeignKey, Index, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from incidents.db import Base

# Phone numbers live on users.phone (unique): a registered phone is a user, so an SMS from it is
# reported as that user with that user's role and organisation.


class IntakeSecretRow(Base):
    """The secret a KoboToolbox REST service or SMS gateway sends; only its SHA-256 is kept."""

    __tablename__ = "intake_secrets"

    org_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True
    )
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC)


class HeldSmsRow(Base):
    """An SMS from a number nobody registered: kept out of every list until an officer decides."""

    __tablename__ = "held_sms"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    org_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organisations.id", ondelete="CASCADE")
    )
    sender: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    reason: Mapped[str] = mapped_column(String(32))  # unknown_sender
    state: Mapped[str] = mapped_column(String(16), default="held")  # held | published | discarded
    incident_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    reviewed_by: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id"), nullable=True
    )
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, nullable=True)

    __table_args__ = (Index("ix_held_sms_org_state", "org_id", "state", "received_at"),)
