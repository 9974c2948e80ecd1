"""Probes an outsider could try to learn what a masked incident hides: each must fail."""

from __future__ import annotations

import base64
import json

from litestar.testing import AsyncTestClient

from tests.factories import DIEMA, Factory, incident_payload


async def test_a_hand_made_cursor_is_refused(client: AsyncTestClient, factory: Factory) -> None:
    outsider = await factory.caller("reporter")
    forged = json.dumps(["2026-11-22T08:04:52+00:00", "ffffffff-ffff-ffff-ffff-ffffffffffff"])
    for cursor in (forged, base64.urlsafe_b64encode(forged.encode()).decode()):
        answer = await client.get(
            "/api/v1/incidents", params={"limit": 1, "cursor": cursor}, headers=outsider.headers
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["field"] == "cursor"


async def test_alerts_to_a_masked_recipient_neither_locate_nor_identify_the_incident(
    client: AsyncTestClient, factory: Factory
) -> None:
    reporter = await factory.caller("reporter")
    outsider = await factory.caller("planner")
    lat, lon = DIEMA
    tiny = {
        "channels": ["json://127.0.0.1:9/tiny"],
        "min_severity": 4,
        "types": ["kidnapping"],
        "area": {"point": {"lat": lat, "lon": lon}, "radius_km": 0.5},
    }
    wide = {
        "channels": ["json://127.0.0.1:9/wide"],
        "area": {"point": {"lat": lat, "lon": lon}, "radius_km": 60},
    }
    for body in (tiny, wide):
        made = await client.post("/api/v1/subscriptions", json=body, headers=outsider.headers)
        assert made.status_code == 201, made.text
    red = incident_payload(
        type="kidnapping", at=DIEMA, days_ago=0.1, severity=4, sharing_level="red"
    )
    assert (
        await client.post("/api/v1/incidents", json=red, headers=reporter.headers)
    ).status_code == 201

    alerts = (await client.get("/api/v1/alerts", headers=outsider.headers)).json()["items"]
    # The 0.5 km circle would place the incident (and its severity): only the wide area, which the
    # masked entry's grid cell falls in, is alerted — routine, without the incident's id.
    assert len(alerts) == 1
    [alert] = alerts
    assert alert["priority"] == "routine"
    assert alert.get("incident_id") is None
