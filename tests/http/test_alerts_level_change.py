"""A zone's level change writes its alerts in the same transaction, without waiting for a dispatcher."""

from __future__ import annotations

from litestar.testing import AsyncTestClient
from sqlalchemy import select

from alerts.core.tables import AlertRow, DeliveryRow
from incidents.db import Database
from tests.factories import DIEMA, Factory, incident_payload


async def test_level_rise_in_a_subscribed_zone_creates_level_change_alerts(
    client: AsyncTestClient, factory: Factory, db: Database
) -> None:
    reporter = await factory.caller("reporter")
    subscriber = await factory.caller("planner")
    before = await client.get("/api/v1/risk", headers=subscriber.headers)
    assert before.status_code == 200, before.text
    levels = {z["zone_id"]: z["level"] for z in before.json()["zones"]}
    assert levels["town_diema"] == 1
    created = await client.post(
        "/api/v1/subscriptions",
        json={
            "channels": ["json://127.0.0.1:9/levels"],
            "area": {"zones": ["town_diema"]},
            "min_level": 1,
            "format": "sms",
        },
        headers=subscriber.headers,
    )
    assert created.status_code == 201, created.text
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
