"""A zone's level change writes its alerts in the same transaction, without waiting for a dispatcher."""

from __future__ import annotations

import asyncio

from litestar.testing import AsyncTestClient
from sqlalchemy import delete, select, update

from alerts.core.tables import AlertRow, DeliveryRow
from api.http.app import create_app
from api.settings import Settings
from incidents.db import Database
from incidents.risk import versions
from incidents.zones.tables import ChangeCounterRow, ZoneLevelChangeRow, ZoneRiskRow
from tests.factories import DIEMA, Factory, incident_payload


async def _subscribe_to_diema(client: AsyncTestClient, headers: dict[str, str]) -> None:
    created = await client.post(
        "/api/v1/subscriptions",
        json={
            "channels": ["json://127.0.0.1:9/levels"],
            "area": {"zones": ["town_diema"]},
            "min_level": 1,
            "format": "sms",
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text


async def test_level_rise_in_a_subscribed_zone_creates_level_change_alerts(
    client: AsyncTestClient, factory: Factory, db: Database
) -> None:
    reporter = await factory.caller("reporter")
    subscriber = await factory.caller("planner")
    before = await client.get("/api/v1/risk", headers=subscriber.headers)
    assert before.status_code == 200, before.text
    levels = {z["zone_id"]: z["level"] for z in before.json()["zones"]}
    assert levels["town_diema"] is None  # no data yet
    await _subscribe_to_diema(client, subscriber.headers)
    for day in range(1, 9):
        body = incident_payload(
            type="kidnapping",
            at=DIEMA,
            days_ago=day,
            severity=5,
            reliability="A",
            credibility=1,
            sharing_level="green",
        )
        response = await client.post("/api/v1/incidents", json=body, headers=reporter.headers)
        assert response.status_code == 201, response.text

    after = await client.get("/api/v1/risk", headers=subscriber.headers)
    level = {z["zone_id"]: z["level"] for z in after.json()["zones"]}["town_diema"]
    assert level > 1
    # The in-process dispatcher is off in tests: these rows come from the level-change transaction.
    async with db.read() as session:
        alerts = (
            await session.execute(
                select(AlertRow.kind, AlertRow.zone_id).where(AlertRow.kind == "level_change")
            )
        ).all()
        deliveries = (await session.execute(select(DeliveryRow.status))).scalars().all()
    assert ("level_change", "town_diema") in alerts
    assert deliveries
    assert set(deliveries) == {"pending"}


async def _model_changes(db: Database) -> list[tuple[str, int | None, int]]:
    """(zone, from, to) of the changes recorded as a model change."""
    change = ZoneLevelChangeRow
    async with db.read() as session:
        found = await session.execute(
            select(change.zone_id, change.from_level, change.to_level).where(
                change.cause == versions.MODEL_CHANGE_CAUSE
            )
        )
    return [(z, f, t) for z, f, t in found.tuples()]


async def test_first_start_after_an_upgrade_of_the_level_meaning_alerts_no_one(
    client: AsyncTestClient, factory: Factory, db: Database, settings: Settings
) -> None:
    reporter = await factory.caller("reporter")
    subscriber = await factory.caller("planner")
    await _subscribe_to_diema(client, subscriber.headers)
    # The database as an older version left it: levels cut from the weighted score (Diéma 4),
    # the meaning of the levels not recorded.
    async with db.transaction() as session:
        await session.execute(
            update(ZoneRiskRow).where(ZoneRiskRow.zone_id == "town_diema").values(level=4)
        )
        await session.execute(
            delete(ChangeCounterRow).where(ChangeCounterRow.name == versions.LEVEL_MEANING)
        )

    # The upgraded server starts: its risk worker re-baselines every zone before anything else.
    async with AsyncTestClient(app=create_app(settings, db=db)) as upgraded:
        for _ in range(400):  # until the worker has run (it starts with the server)
            if await _model_changes(db):
                break
            await asyncio.sleep(0.05)
        assert ("town_diema", 4, 1) in await _model_changes(db)
        async with db.read() as session:
            alerts = (
                await session.scalars(
                    select(AlertRow.zone_id).where(AlertRow.kind == "level_change")
                )
            ).all()
        assert alerts == [], "a change of meaning is not a change in the zone: nobody is alerted"
        async with db.read() as session:
            diema = await session.get(ZoneRiskRow, "town_diema")
        assert diema is not None
        assert diema.level == 1

        # Then reports that raise Diéma alert its subscribers as before.
        for day in range(1, 9):
            body = incident_payload(
                type="kidnapping", at=DIEMA, days_ago=day, severity=5, sharing_level="green"
            )
            response = await upgraded.post("/api/v1/incidents", json=body, headers=reporter.headers)
            assert response.status_code == 201, response.text
        await upgraded.get("/api/v1/risk", headers=subscriber.headers)  # flushes the re-scoring
        async with db.read() as session:
            alerts = (
                await session.scalars(
                    select(AlertRow.zone_id).where(AlertRow.kind == "level_change")
                )
            ).all()
        assert "town_diema" in alerts
