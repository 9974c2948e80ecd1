"""Scheduled weekly reports: each organisation's schedule, the report made once per (organisation,
week) whatever the number of dispatchers, and its deliveries — e-mail with the PDF attached, a
short summary with a signed link elsewhere — with statuses and retries like alerts."""

from __future__ import annotations

import asyncio
import logging
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import apprise
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from alerts.core.policy import RetryPolicy
from alerts.core.tables import SubscriptionRow
from alerts.delivery.channels import (
    DEFAULT_POLICY,
    ChannelPolicy,
    DeliveryResult,
    egress_guard,
    failure,
    install_egress_guard,
)
from incidents.db import Database
from incidents.errors import InvalidField, NotFound
from incidents.identity.accounts import Principal
from incidents.records.model import Role
from incidents.records.tables import OrganisationRow
from reports.config import ReportsConfig
from reports.schedule import due_period, summary_text
from reports.tables import ReportDeliveryRow, ReportRunRow, ReportScheduleRow
from reports.weekly.figures import Period
from reports.weekly.request import LANGUAGES, ReportRequest

log = logging.getLogger(__name__)
EMAIL_SCHEMES = ("mailto", "mailtos")
_VIEWER_NS = uuid.UUID("5b0c3f0e-7d1e-4c55-9d0a-2f1e6b6c9a16")


def organisation_reader(org_id: uuid.UUID) -> Principal:
    """Whom an organisation's report is made for: any planner of it (no named person, so a red
    incident is never in it beyond its masked entry)."""
    return Principal(user_id=uuid.uuid5(_VIEWER_NS, org_id.hex), org_id=org_id, role=Role.PLANNER)


async def organisation_viewer(db: Database, org_id: uuid.UUID | None) -> Principal:
    async with db.read() as session:
        if org_id is None:
            ids = (await session.scalars(select(OrganisationRow.id).limit(2))).all()
            if len(ids) != 1:
                raise InvalidField(
                    "org", "Give the organisation (--org ID): there is not exactly one."
                )
            org_id = ids[0]
        elif await session.get(OrganisationRow, org_id) is None:
            raise NotFound(f"No organisation {org_id}.", field="org")
    return organisation_reader(org_id)


async def set_schedule(
    db: Database,
    org_id: uuid.UUID,
    *,
    weekday: int,
    hour: int,
    lang: str,
    zones: str,
    enabled: bool,
    now: datetime,
) -> None:
    if not 0 <= weekday <= 6:
        raise InvalidField("weekday", "Give a weekday from 0 (Monday) to 6 (Sunday).")
    if not 0 <= hour <= 23:
        raise InvalidField("hour", "Give an hour from 0 to 23.")
    if lang not in LANGUAGES:
        raise InvalidField("lang", f"{lang!r} is not a report language: give fr or en.")
    async with db.transaction() as session:
        if await session.get(OrganisationRow, org_id) is None:
            raise NotFound(f"No organisation {org_id}.", field="org")
        row = await session.get(ReportScheduleRow, org_id)
        if row is None:
            session.add(
                ReportScheduleRow(
                    org_id=org_id,
                    weekday=weekday,
                    hour=hour,
                    lang=lang,
                    zones=zones,
                    enabled=enabled,
                    created_at=now,
                    updated_at=now,
                )
            )
        else:
            row.weekday, row.hour, row.lang, row.zones = weekday, hour, lang, zones
            row.enabled, row.updated_at = enabled, now


# --- sending ------------------------------------------------------------------------------------


class ReportNotifier(Protocol):
    async def send(
        self, url: str, title: str, body: str, attachment: tuple[str, bytes] | None
    ) -> DeliveryResult: ...


class AppriseReportNotifier:
    """Apprise with an attachment (AppriseNotifier sends text only); every address checked
    against the channel policy and every connection by the egress guard, as for alerts."""

    def __init__(self, policy: ChannelPolicy | None = None, timeout_s: float = 60.0) -> None:
        self.policy = policy or DEFAULT_POLICY
        self.timeout_s = timeout_s
        install_egress_guard()

    async def send(
        self, url: str, title: str, body: str, attachment: tuple[str, bytes] | None
    ) -> DeliveryResult:
        refused = await asyncio.to_thread(self.policy.refusal, url)
        if refused is not None:
            return DeliveryResult(False, failure(refused[0]), final=True)
        ap = apprise.Apprise()
        if not ap.add(url):
            return DeliveryResult(False, failure("invalid_address"), final=True)
        allowed = await asyncio.to_thread(self.policy.allowed_addresses)
        with tempfile.TemporaryDirectory() as tmp:
            attach = None
            if attachment is not None:
                path = Path(tmp) / attachment[0]
                path.write_bytes(attachment[1])
                attach = apprise.AppriseAttachment(str(path))
            with egress_guard(allowed) as guard:
                try:
                    ok = bool(await ap.async_notify(body=body, title=title, attach=attach))
                except Exception:  # Apprise plugins raise arbitrary errors
                    log.exception("report delivery raised")
                    ok = False
        if guard.refused:
            return DeliveryResult(False, failure("refused_by_policy"), final=True)
        return DeliveryResult(True) if ok else DeliveryResult(False, failure("failed"))


@dataclass
class ScheduledReports:
    """The dispatchers' chore: make the reports due, then send the deliveries due.

    `parts` gives, on first use, the container pieces the reports need (`reports`,
    `secret_box`, `link_signer`, `settings`): built lazily so that every dispatcher can have
    the chore without building a second service at start."""

    db: Database
    parts: Callable[[], Any]
    notifier: ReportNotifier
    config: ReportsConfig = field(default_factory=ReportsConfig)
    lease_seconds: float = 300.0

    def __post_init__(self) -> None:
        self._parts: Any = None
        self._checked: datetime | None = None
        self.retry = RetryPolicy(
            max_attempts=self.config.max_attempts,
            base_s=self.config.backoff_base_seconds,
            cap_s=self.config.backoff_cap_seconds,
        )

    def _pieces(self) -> Any:
        if self._parts is None:
            self._parts = self.parts()
        return self._parts

    async def __call__(self, now: datetime) -> int:
        if self._checked is not None and (now - self._checked).total_seconds() < min(
            self.config.check_seconds, 3600
        ):
            return await self.send_due(now)
        self._checked = now
        await self.make_due(now)
        return await self.send_due(now)

    async def make_due(self, now: datetime) -> int:
        """Make each due report once: several dispatchers may make it, one only stores it
        (report_runs' unique key), and only that one writes its deliveries."""
        async with self.db.read() as session:
            schedules = (
                await session.scalars(select(ReportScheduleRow).where(ReportScheduleRow.enabled))
            ).all()
            done = {
                (org, week)
                for org, week in (
                    await session.execute(select(ReportRunRow.org_id, ReportRunRow.week_start))
                ).all()
            }
        made = 0
        for schedule in schedules:
            period = due_period(now, weekday=schedule.weekday, hour=schedule.hour)
            if period is None or (schedule.org_id, period.start) in done:
                continue
            try:
                if await self.make(schedule, period, now):
                    made += 1
            except Exception:  # one organisation's failure never stops the others
                log.exception("weekly report of an organisation could not be made")
        return made

    async def make(self, schedule: ReportScheduleRow, period: Period, now: datetime) -> bool:
        from reports.weekly.render import to_pdf

        parts = self._pieces()
        viewer = organisation_reader(schedule.org_id)
        zones = tuple(z.strip() for z in schedule.zones.split(",") if z.strip())
        request = ReportRequest(period, schedule.lang, zones)
        report = await parts.reports.build(viewer, request, now=now)
        pdf = await asyncio.to_thread(to_pdf, report)
        run_id = uuid.uuid4()
        link = report_link(parts, run_id)
        text = summary_text(
            period, report.figures.total_now, report.figures.total_before, schedule.lang, link
        )
        try:
            async with self.db.transaction() as session:
                session.add(
                    ReportRunRow(
                        id=run_id,
                        org_id=schedule.org_id,
                        week_start=period.start,
                        week_end=period.end,
                        lang=schedule.lang,
                        pdf=pdf,
                        summary=text,
                        made_at=now,
                    )
                )
                await session.flush()
                subs = (
                    await session.scalars(
                        select(SubscriptionRow).where(
                            SubscriptionRow.owner_kind == "organisation",
                            SubscriptionRow.owner_org_id == schedule.org_id,
                            SubscriptionRow.paused.is_(False),
                            SubscriptionRow.deleted_at.is_(None),
                        )
                    )
                ).all()
                for sub in subs:
                    for k, sealed in enumerate(sub.channels_encrypted):
                        url = parts.secret_box.decrypt(sealed)
                        kind = (
                            "email" if url.split(":", 1)[0].lower() in EMAIL_SCHEMES else "summary"
                        )
                        session.add(
                            ReportDeliveryRow(
                                run_id=run_id,
                                subscription_id=sub.id,
                                channel_index=k,
                                kind=kind,
                                status="pending",
                                attempts=0,
                                next_attempt_at=now,
                                created_at=now,
                            )
                        )
        except IntegrityError:
            return False  # another dispatcher stored this week's report first
        return True

    async def send_due(self, now: datetime) -> int:
        async with self.db.read() as session:
            due = (
                await session.scalars(
                    select(ReportDeliveryRow.id)
                    .where(
                        ReportDeliveryRow.status == "pending",
                        ReportDeliveryRow.next_attempt_at <= now,
                        (ReportDeliveryRow.lease_until.is_(None))
                        | (ReportDeliveryRow.lease_until < now),
                    )
                    .order_by(ReportDeliveryRow.id)
                    .limit(50)
                )
            ).all()
        sent = 0
        for delivery_id in due:
            if await self.send_one(delivery_id, now):
                sent += 1
        return sent

    async def send_one(self, delivery_id: int, now: datetime) -> bool:
        lease = now + timedelta(seconds=self.lease_seconds)
        async with self.db.transaction() as session:
            claimed = await session.execute(
                update(ReportDeliveryRow)
                .where(
                    ReportDeliveryRow.id == delivery_id,
                    ReportDeliveryRow.status == "pending",
                    (ReportDeliveryRow.lease_until.is_(None))
                    | (ReportDeliveryRow.lease_until < now),
                )
                .values(lease_until=lease)
            )
            if getattr(claimed, "rowcount", 0) != 1:
                return False  # another dispatcher holds it
            row = await session.get(ReportDeliveryRow, delivery_id)
            assert row is not None
            run = await session.get(ReportRunRow, row.run_id)
            sub = await session.get(SubscriptionRow, row.subscription_id)
        if run is None or sub is None or row.channel_index >= len(sub.channels_encrypted):
            await self._finish(delivery_id, now, DeliveryResult(False, "gone", final=True))
            return False
        url = self._pieces().secret_box.decrypt(sub.channels_encrypted[row.channel_index])
        title = report_title(run.lang, run.week_start, run.week_end)
        if row.kind == "email":
            body = run.summary.rsplit(" ", 1)[0]  # the PDF is attached: no link needed
            name = f"sentinelle-{run.week_start.isoformat()}.pdf"
            result = await self.notifier.send(url, title, body, (name, run.pdf))
        else:
            result = await self.notifier.send(url, title, run.summary, None)
        await self._finish(delivery_id, now, result)
        return result.ok

    async def _finish(self, delivery_id: int, now: datetime, result: DeliveryResult) -> None:
        async with self.db.transaction() as session:
            row = await session.get(ReportDeliveryRow, delivery_id)
            if row is None:
                return
            row.attempts += 1
            row.lease_until = None
            if result.ok:
                row.status, row.sent_at, row.last_error = "sent", now, None
                return
            row.last_error = result.error
            retry_at = None if result.final else self.retry.next_attempt_at(row.attempts, now)
            if retry_at is None:
                row.status = "failed"
            else:
                row.next_attempt_at = retry_at


def report_title(lang: str, start: date, end: date) -> str:
    if lang == "en":
        return f"Weekly situation report {start:%d/%m/%Y} - {end:%d/%m/%Y}"
    return f"Rapport de situation hebdomadaire du {start:%d/%m/%Y} au {end:%d/%m/%Y}"


def report_link(parts: Any, run_id: uuid.UUID) -> str:
    """The signed link to a sent report's PDF (GET /api/v1/public/reports/{id}?sig=...)."""
    sig = parts.link_signer.sign(f"report:{run_id}")
    return f"{parts.settings.public_url.rstrip('/')}/api/v1/public/reports/{run_id}?sig={sig}"


async def sent_report(db: Database, run_id: uuid.UUID) -> bytes | None:
    async with db.read() as session:
        run = await session.get(ReportRunRow, run_id)
        return None if run is None else run.pdf


async def schedule_of(db: Database, org_id: uuid.UUID) -> dict[str, Any]:
    """The organisation's schedule (None: no weekly report) and its delivery log, newest week
    first, as channel kinds and statuses only (never an address)."""
    async with db.read() as session:
        row = await session.get(ReportScheduleRow, org_id)
        rows = (
            await session.execute(
                select(ReportRunRow.week_start, ReportDeliveryRow)
                .join(ReportDeliveryRow, ReportDeliveryRow.run_id == ReportRunRow.id)
                .where(ReportRunRow.org_id == org_id)
                .order_by(ReportRunRow.week_start.desc(), ReportDeliveryRow.id)
                .limit(200)
            )
        ).all()
    schedule = None
    if row is not None:
        schedule = {
            "weekday": row.weekday,
            "hour": row.hour,
            "lang": row.lang,
            "zones": row.zones,
            "enabled": row.enabled,
        }
    return {
        "schedule": schedule,
        "deliveries": [
            {
                "week_start": week.isoformat(),
                "kind": d.kind,
                "status": d.status,
                "attempts": d.attempts,
                "last_error": d.last_error,
                "sent_at": d.sent_at.isoformat() if d.sent_at else None,
            }
            for week, d in rows
        ],
    }


async def runs_count(db: Database) -> int:
    async with db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(ReportRunRow)) or 0)


__all__ = [
    "AppriseReportNotifier",
    "ScheduledReports",
    "organisation_reader",
    "organisation_viewer",
    "report_link",
    "schedule_of",
    "sent_report",
    "set_schedule",
]
