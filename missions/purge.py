"""Data minimisation: a mission closed for longer than the configured days loses every position
and route detail — stops, check-ins (and their positions), the route and its corridor, the risk
along it, the escalation steps, the incidents it was told of, its alerts and their messages, the
subscriptions that carried them, the travellers' duress digests. What stays is what the
organisation keeps: the mission's dates, its counts (check-ins, travellers) and its state."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.core.tables import AlertedStateRow, AlertRow, DeliveryRow, SubscriptionRow
from incidents.audit import log as audit
from incidents.db import Database
from missions.tables import (
    MissionCheckinRow,
    MissionEscalationRow,
    MissionIncidentRow,
    MissionRecipientRow,
    MissionRow,
    MissionStopRow,
    MissionTravellerRow,
)


async def purge_mission(session: AsyncSession, mission_id: uuid.UUID, now: datetime) -> None:
    subs = list(
        (
            await session.execute(
                select(MissionRecipientRow.subscription_id).where(
                    MissionRecipientRow.mission_id == mission_id
                )
            )
        ).scalars()
    )
    if subs:
        alerts = select(AlertRow.id).where(AlertRow.subscription_id.in_(subs))
        await session.execute(delete(DeliveryRow).where(DeliveryRow.alert_id.in_(alerts)))
        await session.execute(
            delete(AlertedStateRow).where(AlertedStateRow.subscription_id.in_(subs))
        )
        await session.execute(delete(AlertRow).where(AlertRow.subscription_id.in_(subs)))
        await session.execute(
            delete(MissionRecipientRow).where(MissionRecipientRow.mission_id == mission_id)
        )
        await session.execute(delete(SubscriptionRow).where(SubscriptionRow.id.in_(subs)))
    for table in (MissionStopRow, MissionCheckinRow, MissionEscalationRow, MissionIncidentRow):
        await session.execute(delete(table).where(table.mission_id == mission_id))  # type: ignore[attr-defined]
    await session.execute(
        update(MissionTravellerRow)
        .where(MissionTravellerRow.mission_id == mission_id)
        .values(duress_hash=None)
    )
    await session.execute(
        update(MissionRow)
        .where(MissionRow.id == mission_id)
        .values(
            title="",
            code=None,
            route=None,
            route_wkb=None,
            min_lon=None,
            min_lat=None,
            max_lon=None,
            max_lat=None,
            risk=None,
            approval_reasons=None,
            vehicles=None,
            contact=None,
            responders=[],
            alarm_reason=None,
            purged_at=now,
            updated_at=now,
        )
    )


async def purge_closed(db: Database, *, now: datetime, older_than: timedelta) -> dict[str, Any]:
    """Purge every mission closed before now - older_than; the audit log records it."""
    limit = now - older_than
    async with db.transaction() as session:
        ids = list(
            (
                await session.execute(
                    select(MissionRow.id).where(
                        MissionRow.state == "closed",
                        MissionRow.closed_at <= limit,
                        MissionRow.purged_at.is_(None),
                    )
                )
            ).scalars()
        )
        for mission_id in ids:
            await purge_mission(session, mission_id, now)
        if ids:
            counts = dict(
                (
                    await session.execute(
                        select(MissionRow.org_id, func.count())
                        .where(MissionRow.id.in_(ids))
                        .group_by(MissionRow.org_id)
                    )
                ).all()
            )
            await audit.write(
                session,
                [
                    audit.AuditEvent(
                        "mission.purged",
                        actor_org_id=org_id,
                        target_type="mission",
                        details={"missions": int(n), "closed_before": limit.isoformat()},
                    )
                    for org_id, n in counts.items()
                ],
                now=now,
            )
    return {"purged": len(ids), "closed_before": limit}
