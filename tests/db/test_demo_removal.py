"""Removing the demo data (incidents.interop.demo.remove_demo) on SQLite and PostgreSQL: every
demo incident and each row naming one goes, real reports stay, a running risk store follows."""

from __future__ import annotations

import dataclasses
import uuid

from sqlalchemy import func, insert, select, update

from alerts.core.tables import AlertedStateRow
from api.settings import Settings
from incidents.db import Database
from incidents.intake.tables import HeldSmsRow
from incidents.interop.demo import REMOVED_CAUSE, remove_demo
from incidents.records.tables import IncidentRow
from incidents.risk import versions
from incidents.sharing.tables import AuditRow
from incidents.zones.tables import IncidentChangeRow, IncidentZoneRow, RiskPendingRow
from tests.db.test_event_links_db import NOW, POINT, container_for, imported, row
from tests.factories import Factory


async def count(db: Database, statement: object) -> int:
    async with db.read() as session:
        return int(await session.scalar(statement) or 0)  # type: ignore[call-overload]


async def test_remove_demo_deletes_every_demo_row_and_keeps_the_real_ones(
    settings: Settings, db: Database, factory: Factory
) -> None:
    # A server in demo mode: demo incidents count, so their removal must show in its risk.
    container = await container_for(dataclasses.replace(settings, demo_mode=True), db)
    demo_org, real_org = await factory.org(), await factory.org()
    assert (
        await imported(
            container, demo_org, [row(k, hours_ago=k + 1) for k in range(3)], is_demo=True
        )
        == 3
    )
    assert await imported(container, real_org, [row(9, hours_ago=30, type="theft")]) == 1
    async with db.read() as session:
        demo_ids = list(await session.scalars(select(IncidentRow.id).where(IncidentRow.is_demo)))
        [real_id] = list(await session.scalars(select(IncidentRow.id).where(~IncidentRow.is_demo)))
    async with db.transaction() as session:
        # A real report linked to a demo one as the same event, a held SMS and an alerted state
        # naming a demo incident.
        await session.execute(
            update(IncidentRow).where(IncidentRow.id == real_id).values(event_id=demo_ids[0])
        )
        await session.execute(
            insert(HeldSmsRow).values(
                id=uuid.uuid4(),
                org_id=demo_org,
                sender="+22370000000",
                text="demo",
                received_at=NOW,
                reason="unknown_sender",
                state="published",
                incident_id=demo_ids[1],
            )
        )
        await session.execute(
            insert(AlertedStateRow).values(
                incident_id=demo_ids[2],
                subscription_id=uuid.uuid4(),
                severity=5,
                status="reported",
                impact={},
                alert_id=uuid.uuid4(),
                updated_at=NOW,
            )
        )
    before = await container.risk.assess(POINT, now=NOW, radius_km=20)
    assert before.incident_count == 3  # the real report counts through its (demo) event
    async with db.read() as session:
        seq_before = await versions.read(session, versions.INCIDENTS)
    seen: list[tuple[int, int]] = []

    removed = await remove_demo(
        db, now=NOW, progress=lambda done, total: seen.append((done, total))
    )

    assert removed == 3
    assert seen[-1] == (3, 3)
    assert await count(db, select(func.count()).select_from(IncidentRow)) == 1
    for table, column in (
        (IncidentZoneRow, IncidentZoneRow.incident_id),
        (HeldSmsRow, HeldSmsRow.incident_id),
        (AlertedStateRow, AlertedStateRow.incident_id),
    ):
        left = select(func.count()).select_from(table).where(column.in_(demo_ids))
        assert await count(db, left) == 0, table
    async with db.read() as session:
        real = await session.get(IncidentRow, real_id)
        assert real is not None
        assert real.event_id is None  # its own event again
        assert await versions.read(session, versions.INCIDENTS) > seq_before
        logged = set(await session.scalars(select(IncidentChangeRow.incident_id)))
        assert {*demo_ids, real_id} <= logged
        pending = list(await session.scalars(select(RiskPendingRow.cause)))
        assert REMOVED_CAUSE in pending
        [details] = list(
            await session.scalars(select(AuditRow.details).where(AuditRow.action == "demo.removed"))
        )
        assert details["count"] == 3
    # The running server's in-memory risk follows from the change log: the real report only.
    after = await container.risk.assess(POINT, now=NOW, radius_km=20)
    assert after.incident_count == 1
    assert await remove_demo(db, now=NOW) == 0
