"""Area assessment without exposure: hidden incidents raise the level but are not listed."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from tests.factories import DIEMA, Caller, Factory, incident_payload

# Twenty kilometres around Diéma town.
around_diema = {
    "geometry": {"type": "Point", "coordinates": [DIEMA[1], DIEMA[0]]},
    "radius_km": 20,
}


async def assess(client: AsyncTestClient, caller: Caller) -> dict[str, Any]:
    response = await client.post("/api/v1/risk/assess", json=around_diema, headers=caller.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_red_incident_counts_for_everyone_but_is_listed_only_to_its_reporter(
    client: AsyncTestClient, factory: Factory
) -> None:
    reporter_a = await factory.caller("reporter")
    colleague_a = await factory.caller("reporter", org_id=reporter_a.org_id)
    reporter_b = await factory.caller("reporter")
    before = await assess(client, reporter_b)
    created = await client.post(
        "/api/v1/incidents",
        json=incident_payload(type="kidnapping", at=DIEMA, severity=5, sharing_level="red"),
        headers=reporter_a.headers,
    )
    assert created.status_code == 201, created.text
    incident_id = created.json()["id"]

    outsider = await assess(client, reporter_b)
    assert before["coverage"] == "no_data"
    assert outsider["coverage"] == "data"
    assert outsider["level"] > (before["level"] or 0)
    assert outsider["incident_count"] == 1
    assert outsider["incidents"] == []
    assert incident_id not in str(outsider)
    assert "kidnapping" not in str(outsider)

    reporter = await assess(client, reporter_a)
    assert reporter["level"] == outsider["level"]
    assert [i["id"] for i in reporter["incidents"]] == [incident_id]
    assert reporter["incidents"][0]["type"] == "kidnapping"

    colleague = await assess(client, colleague_a)  # red: not even colleagues see it in full
    assert colleague["incident_count"] == 1
    assert colleague["incidents"] == []
