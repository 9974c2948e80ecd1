"""Tables of scheduled reports: each organisation's schedule, each (organisation, week) report
made once, and its deliveries per channel with their status and retries."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from incidents.db import Base


class ReportScheduleRow(Base):
    """An organisation's weekly report: the day and local hour it is made, in which language,
    for which zones (empty: all). Without a row an organisation gets no scheduled report."""

    __tablename__ = "report_schedules"

    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True
    )
    weekday: Mapped[int] = mapped_column(Integer)  # 0 Monday
    hour: Mapped[int] = mapped_column(Integer)  # local (Africa/Bamako, UTC)
    lang: Mapped[str] = mapped_column(String(2))
    zones: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    updated_at: Mapped[datetime] = mapped_column(DateTimeUTC)


class ReportRunRow(Base):
    """One report made for one organisation and one week: the unique key is what makes several
    dispatchers send it once."""

    __tablename__ = "report_runs"
    __table_args__ = (UniqueConstraint("org_id", "week_start"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    week_start: Mapped[date] = mapped_column(Date)
    week_end: Mapped[date] = mapped_column(Date)
    lang: Mapped[str] = mapped_column(String(2))
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    summary: Mapped[str] = mapped_column(Text)
    made_at: Mapped[datetime] = mapped_column(DateTimeUTC)


class ReportDeliveryRow(Base):
    """One report to one channel of one organisation subscription: e-mail with the PDF, else a
    short summary with a signed link; retried like alerts (alerts.core.policy.RetryPolicy)."""

    __tablename__ = "report_deliveries"
    __table_args__ = (UniqueConstraint("run_id", "subscription_id", "channel_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("report_runs.id", ondelete="CASCADE"), index=True
    )
    subscription_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    channel_index: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(8))  # email | summary
    status: Mapped[str] = mapped_column(String(10), index=True)  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTimeUTC, index=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTimeUTC, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC)
