"""Report and read back an incident through HTTP on every backend."""

from __future__ import annotations

from litestar.testing import AsyncTestClient

from tests.factories import DIEMA, Factory, incident_payload


async def test_report_then_read(client: AsyncTestClient, factory: Factory) -> None:
    reporter = await factory.caller("reporter")
    created = await client.post(
        "/api/v1/incidents", json=incident_payload(at=DIEMA), headers=reporter.headers
    )
    assert created.status_code == 201, created.text
    feature = created.json()
    assert created.headers["location"] == f"/api/v1/incidents/{feature['id']}"
    assert feature["geometry"] == {"type": "Point", "coordinates": [DIEMA[1], DIEMA[0]]}
    again = await client.get(created.headers["location"], headers=reporter.headers)
    assert again.status_code == 200
    assert again.json()["properties"]["type"] == "kidnapping"
    assert again.headers["etag"] == '"1"'


async def test_health_needs_no_token(client: AsyncTestClient) -> None:
    response = await client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "reachable"}
