"""Aggregate without exposure: red incidents count in everyone's risk, yet stay masked."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient

from incidents.sharing.rules import MASKED_PROPERTIES
from tests.factories import KIDAL, Factory, incident_payload

ZONE = "town_kidal"


async def zone_risk(client: AsyncTestClient, headers: dict[str, str]) -> dict[str, object]:
    response = await client.get(f"/api/v1/zones/{ZONE}/risk", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def test_red_kidnapping_raises_risk_for_everyone_but_stays_masked(
    client: AsyncTestClient, factory: Factory
) -> None:
    cso = await factory.caller("reporter")
    other = await factory.caller("planner")
    before = await zone_risk(client, other.headers)
    created = await client.post(
        "/api/v1/incidents",
        json=incident_payload(
            type="kidnapping",
            at=KIDAL,
            severity=5,
            sharing_level="red",
            description="Notre chauffeur enlevé",
            impact={"abducted": 3},
        ),
        headers=cso.headers,
    )
    assert created.status_code == 201, created.text
    after = await zone_risk(client, other.headers)
    assert after["score"] > before["score"]  # type: ignore[operator]
    assert before["coverage"] == "no_data"
    assert after["coverage"] == "data"
    assert after["level"] > (before["level"] or 0)  # type: ignore[operator]
    listed = await client.get("/api/v1/incidents", headers=other.headers)
    [entry] = listed.json()["features"]
    assert set(entry["properties"]) == MASKED_PROPERTIES
    assert entry["properties"]["category"] == "abduction"
    assert "Notre chauffeur" not in listed.text
    hidden = await client.get(f"/api/v1/incidents/{created.json()['id']}", headers=other.headers)
    assert hidden.status_code == 404


async def test_zone_contributors_do_not_name_hidden_incidents(
    client: AsyncTestClient, factory: Factory
) -> None:
    cso = await factory.caller("reporter")
    other = await factory.caller("planner")
    created = await client.post(
        "/api/v1/incidents",
        json=incident_payload(type="kidnapping", at=KIDAL, severity=5, sharing_level="red"),
        headers=cso.headers,
    )
    risk = await zone_risk(client, other.headers)
    contributors = risk["contributors"]
    assert isinstance(contributors, list)
    assert contributors
    assert created.json()["id"] not in {c["incident_id"] for c in contributors}
    # The red incident is there under its opaque id, without its exact share (which would tell
    # its type, severity and time); the masked shares only as a sum.
    masked = [c for c in contributors if c["share"] is None]
    assert len(masked) == 1
    assert risk["masked_share"] > 0
    own = await zone_risk(client, cso.headers)
    assert [
        c["share"] for c in own["contributors"] if c["incident_id"] == created.json()["id"]
    ] == [pytest.approx(risk["masked_share"])]
