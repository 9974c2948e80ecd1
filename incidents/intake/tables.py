"""Tables for field intake: webhook secrets, SMS held for review, XForm instances, ODK logins."""

from __future__ import annotations

import uuid
from datetime import datetime

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import Boolean, ForeignKey, Index, String, Text, Uuid
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


class FormInstanceRow(Base):
    """An XForm instance id (ODK Collect, KoboToolbox) received by an organisation, and the
    incident it reported: an edit (`meta/deprecatedID` naming an earlier instance) finds its
    incident here, and a re-sent instance is recognised. `replaced` once an edit supersedes it."""

    __tablename__ = "form_instances"

    org_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True
    )
    instance_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    incident_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    received_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    replaced: Mapped[bool] = mapped_column(Boolean, default=False)


class FormLoginRow(Base):
    """The ODK Collect login of one API token: an opaque user name and, sealed with the service's
    key, HA1 = MD5(username:realm:password) of HTTP Digest (the password itself is never kept).
    Revoking the token, deleting its user or organisation ends the login."""

    __tablename__ = "form_logins"

    token_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("api_tokens.id", ondelete="CASCADE"), primary_key=True
    )
    username: Mapped[str] = mapped_column(String(32), unique=True)
    ha1_sealed: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC)
