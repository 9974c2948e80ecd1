"""Bulk imports through the composition root's write events: they alert nobody; reports of one
event in one batch count once; demo incidents count only in demo mode, on every risk path."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import shapely
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from alerts.core.tables import AlertRow
from api.bootstrap import Container, build
from api.http.app import create_app
from api.settings import Settings
from incidents.db import Database
from incidents.interop.importer import import_rows
from incidents.records.tables import IncidentRow
from incidents.risk.service import RiskService, risk_config
from incidents.zones.store import ensure_default_zones
from tests.factories import DIEMA, Factory
from tests.http.test_event_links import ZONE, subscribe

NOW = datetime.now(UTC)
POINT = shapely.Point(DIEMA[1], DIEMA[0])


@dataclasses.dataclass
class Row:
    row_number: int
    incident: dict[str, Any] | None
    error: str | None = None
    field: str | None = None


def row(k: int, *, hours_ago: float, lat: float = DIEMA[0], **extra: Any) -> Row:
    return Row(
        k,
        {
            "type": "kidnapping",
            "occurred_at": (NOW - timedelta(hours=hours_ago)).isoformat(),
            "lat": lat,
            "lon": DIEMA[1],
            "severity": 5,
            "sharing_level": "green",
            **extra,
        },
    )


async def container_for(settings: Settings, db: Database) -> Container:
    await ensure_default_zones(db, settings, now=NOW)
    return build(settings, db)


async def imported(container: Container, org_id: Any, rows: list[Row], **kw: Any) -> int:
    report = await import_rows(
        container.db,
        rows,
        org_id=org_id,
        user_id=None,
        now=NOW,
        events=container.incidents.events,
        cipher=container.cipher,
        **kw,
    )
    return report.created


async def score(risk: RiskService, zone: str = ZONE) -> float:
    await risk.recompute_all(now=NOW, cause="test")
    return (await risk.zone_risk(zone, at=None, now=NOW)).score


async def test_a_bulk_import_alerts_nobody_even_of_a_fresh_kidnapping(
    settings: Settings, db: Database, factory: Factory
) -> None:
    container = await container_for(settings, db)
    planner = await factory.caller("planner")
    async with AsyncTestClient(app=create_app(container=container)) as client:
        await subscribe(client, planner)
    org = await factory.org()

    created = await imported(container, org, [row(1, hours_ago=1), row(2, hours_ago=30, lat=15.2)])

    assert created == 2
    async with db.read() as session:
        alerts = await session.scalar(select(func.count()).select_from(AlertRow))
    assert alerts == 0


async def test_reports_of_one_event_in_one_batch_count_once(
    settings: Settings, db: Database, factory: Factory
) -> None:
    container = await container_for(settings, db)
    org = await factory.org()
    assert await imported(container, org, [row(1, hours_ago=20)]) == 1
    once = await score(container.risk)

    # Two more rows of the same kidnapping (2 h and 1 km apart) in a later file.
    added = await imported(
        container, org, [row(2, hours_ago=22, lat=14.55), row(3, hours_ago=18, lat=14.53)]
    )

    assert added == 2
    assert await score(container.risk) == once
    async with db.read() as session:
        linked = await session.scalar(
            select(func.count()).select_from(IncidentRow).where(IncidentRow.event_id.isnot(None))
        )
    assert linked == 2


async def test_demo_incidents_count_only_in_demo_mode_on_every_risk_path(
    settings: Settings, db: Database, factory: Factory
) -> None:
    container = await container_for(settings, db)
    org = await factory.org()
    await imported(container, org, [row(1, hours_ago=20)], is_demo=True)

    # This process (the write went into its store), another process loading afresh, an area.
    assert await score(container.risk) == 0
    fresh = RiskService(db, config=risk_config(settings))
    assert await score(fresh) == 0
    area = await container.risk.assess(POINT, now=NOW, radius_km=20)
    assert area.incident_count == 0
    history = await container.risk.history(
        ZONE, start=NOW - timedelta(days=1), end=NOW, step=timedelta(hours=12), now=NOW
    )
    assert all(p.score == 0 for p in history)

    demo = build(dataclasses.replace(settings, demo_mode=True), db)
    assert demo.risk.demo_mode
    assert await score(demo.risk) > 0
    assert (await demo.risk.assess(POINT, now=NOW, radius_km=20)).incident_count == 1
