"""Bad reports: each answers a 4xx problem+json naming the field, and nothing is stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from incidents.db import Database
from incidents.records.tables import IncidentRow
from tests.factories import DIEMA, Factory, incident_payload

URL = "/api/v1/incidents"
PROBLEM = "application/problem+json"

bowtie_polygon = {
    "type": "Polygon",
    "coordinates": [[[0.0, 16.0], [1.0, 17.0], [1.0, 16.0], [0.0, 17.0], [0.0, 16.0]]],
}
unclosed_polygon = {
    "type": "Polygon",
    "coordinates": [[[0.0, 16.0], [1.0, 16.0], [1.0, 17.0], [0.0, 17.0]]],
}
# Diéma written [lat, lon] where GeoJSON wants [lon, lat].
diema_in_lat_lon_order = {"type": "Point", "coordinates": [DIEMA[0], DIEMA[1]]}


def huge_line(vertices: int) -> dict[str, Any]:
    return {
        "type": "LineString",
        "coordinates": [[-2.0 + i * 1e-4, 16.0 + (i % 2) * 1e-4] for i in range(vertices)],
    }


def geometry_body(geometry: Any) -> dict[str, Any]:
    body = incident_payload()
    del body["lat"], body["lon"]
    body["geometry"] = geometry
    return body


def future(minutes: float) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


async def count_incidents(db: Database) -> int:
    async with db.read() as session:
        return int((await session.scalar(select(func.count()).select_from(IncidentRow))) or 0)


BAD_BODIES: list[tuple[str, dict[str, Any], str, str | None]] = [
    # (case id, body, field named, word the detail must contain)
    ("lat_above_90", incident_payload(at=(90.5, 1.0)), "lat", "90"),
    ("lat_below_-90", incident_payload(at=(-91.0, 1.0)), "lat", "90"),
    ("lon_above_180", incident_payload(at=(16.0, 180.5)), "lon", "180"),
    ("lon_below_-180", incident_payload(at=(16.0, -181.0)), "lon", "180"),
    ("lat_lon_swapped_diema", incident_payload(at=(DIEMA[1], DIEMA[0])), "lat", "swap"),
    ("geojson_lat_lon_order_in_mali", geometry_body(diema_in_lat_lon_order), "geometry", "swap"),
    ("unclosed_polygon", geometry_body(unclosed_polygon), "geometry.coordinates[0]", "closed"),
    ("bowtie_polygon", geometry_body(bowtie_polygon), "geometry.coordinates", "invalid"),
    (
        "empty_point",
        geometry_body({"type": "Point", "coordinates": []}),
        "geometry.coordinates",
        None,
    ),
    (
        "empty_polygon",
        geometry_body({"type": "Polygon", "coordinates": []}),
        "geometry.coordinates",
        "empty",
    ),
    (
        "empty_multipoint",
        geometry_body({"type": "MultiPoint", "coordinates": []}),
        "geometry.coordinates",
        "empty",
    ),
    ("too_many_vertices", geometry_body(huge_line(10_001)), "geometry.coordinates", "10000"),
    (
        "geometry_collection",
        geometry_body({"type": "GeometryCollection", "geometries": []}),
        "geometry.type",
        None,
    ),
    (
        "no_place_at_all",
        {k: v for k, v in incident_payload().items() if k not in ("lat", "lon")},
        "geometry",
        None,
    ),
    (
        "geometry_and_lat_lon",
        {**incident_payload(), "geometry": {"type": "Point", "coordinates": [-9.18, 14.54]}},
        "geometry",
        None,
    ),
    ("unknown_type", incident_payload(type="kidnaping"), "type", "kidnapping"),
    # A day ahead: the list is built at collection time, minutes before the test runs.
    ("future_occurred_at", incident_payload(occurred_at=future(24 * 60)), "occurred_at", "future"),
    ("severity_0", incident_payload(severity=0), "severity", None),
    ("severity_6", incident_payload(severity=6), "severity", None),
    ("negative_killed", incident_payload(impact={"killed": -1}), "impact.killed", None),
    ("negative_abducted", incident_payload(impact={"abducted": -3}), "impact.abducted", None),
    ("credibility_7", incident_payload(credibility=7), "credibility", None),
    ("reliability_g", incident_payload(reliability="G"), "reliability", None),
    ("unknown_sharing_level", incident_payload(sharing_level="secret"), "sharing_level", None),
    ("unknown_field", incident_payload(severty=3), "severty", None),
    ("unknown_impact_field", incident_payload(impact={"kiled": 1}), "impact.kiled", None),
    ("missing_type", {k: v for k, v in incident_payload().items() if k != "type"}, "type", None),
    ("occurred_at_not_a_date", incident_payload(occurred_at="yesterday"), "occurred_at", None),
    ("lat_not_a_number", incident_payload(at=("14,5x", -9.18)), "lat", None),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(
    ("body", "field", "word"),
    [case[1:] for case in BAD_BODIES],
    ids=[case[0] for case in BAD_BODIES],
)
async def test_bad_report_is_422_naming_the_field_and_stores_nothing(
    client: AsyncTestClient,
    factory: Factory,
    db: Database,
    body: dict[str, Any],
    field: str,
    word: str | None,
) -> None:
    reporter = await factory.caller("reporter")
    response = await client.post(URL, json=body, headers=reporter.headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    problem = response.json()
    assert problem["status"] == 422
    assert problem["field"] == field, problem
    if word is not None:
        assert word in problem["detail"].lower().replace(",", ""), problem["detail"]
    assert "Traceback" not in response.text
    assert await count_incidents(db) == 0


async def test_a_few_minutes_of_clock_skew_are_accepted(
    client: AsyncTestClient, factory: Factory
) -> None:
    reporter = await factory.caller("reporter")
    response = await client.post(
        URL, json=incident_payload(occurred_at=future(3)), headers=reporter.headers
    )
    assert response.status_code == 201, response.text


async def test_exactly_10000_vertices_are_accepted(
    client: AsyncTestClient, factory: Factory
) -> None:
    reporter = await factory.caller("reporter")
    response = await client.post(
        URL, json=geometry_body(huge_line(10_000)), headers=reporter.headers
    )
    assert response.status_code == 201, response.text


async def test_body_over_1_mb_is_413(
    client: AsyncTestClient, factory: Factory, db: Database
) -> None:
    reporter = await factory.caller("reporter")
    body = incident_payload(description="x" * 1_100_000)
    response = await client.post(URL, json=body, headers=reporter.headers)
    assert response.status_code == 413
    assert response.headers["content-type"].startswith(PROBLEM)
    assert await count_incidents(db) == 0


@pytest.mark.parametrize("raw", [b'{"type": "theft",', b"not json", b'{"type": "theft"} x'])
async def test_malformed_json_is_400_naming_the_body(
    client: AsyncTestClient, factory: Factory, db: Database, raw: bytes
) -> None:
    reporter = await factory.caller("reporter")
    response = await client.post(
        URL, content=raw, headers={**reporter.headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["field"] == "body"
    assert await count_incidents(db) == 0


async def test_json_that_is_not_an_object_is_refused(
    client: AsyncTestClient, factory: Factory, db: Database
) -> None:
    reporter = await factory.caller("reporter")
    response = await client.post(URL, json=[incident_payload()], headers=reporter.headers)
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"].startswith(PROBLEM)
    assert await count_incidents(db) == 0


async def test_missing_token_is_401(client: AsyncTestClient, db: Database) -> None:
    response = await client.post(URL, json=incident_payload())
    assert response.status_code == 401
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.headers["www-authenticate"].lower().startswith("bearer")
    assert (await client.get(URL)).status_code == 401
    assert await count_incidents(db) == 0


@pytest.mark.parametrize(
    "authorization", ["Bearer stl_not-a-real-token", "Bearer ", "Basic dXNlcjpwYXNz", "stl_x"]
)
async def test_unknown_token_is_401(
    client: AsyncTestClient, db: Database, authorization: str
) -> None:
    response = await client.post(
        URL, json=incident_payload(), headers={"Authorization": authorization}
    )
    assert response.status_code == 401
    assert await count_incidents(db) == 0


async def test_revoked_token_is_401(
    client: AsyncTestClient, factory: Factory, db: Database
) -> None:
    from incidents.identity import accounts as identity

    reporter = await factory.caller("reporter")
    assert (await client.get(URL, headers=reporter.headers)).status_code == 200
    async with db.transaction() as session:
        assert await identity.revoke_token(session, reporter.token, now=datetime.now(UTC))
    response = await client.post(URL, json=incident_payload(), headers=reporter.headers)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith(PROBLEM)
    assert await count_incidents(db) == 0


async def test_revoking_through_the_admin_api_locks_the_token_out(
    client: AsyncTestClient, factory: Factory
) -> None:
    admin = await factory.caller("admin")
    made = await client.post(
        "/api/v1/tokens",
        json={"org_id": str(admin.org_id), "role": "reporter"},
        headers=admin.headers,
    )
    assert made.status_code == 201, made.text
    token = made.json()["token"]
    assert (await client.get(URL, headers={"Authorization": f"Bearer {token}"})).status_code == 200
    revoked = await client.delete(
        f"/api/v1/tokens/{made.json()['token_id']}", headers=admin.headers
    )
    assert revoked.status_code in (200, 204)
    assert (await client.get(URL, headers={"Authorization": f"Bearer {token}"})).status_code == 401


async def test_planner_may_read_but_not_report(
    client: AsyncTestClient, factory: Factory, db: Database
) -> None:
    planner = await factory.caller("planner")
    response = await client.post(URL, json=incident_payload(), headers=planner.headers)
    assert response.status_code == 403
    assert response.headers["content-type"].startswith(PROBLEM)
    assert (await client.get(URL, headers=planner.headers)).status_code == 200
    assert await count_incidents(db) == 0


@pytest.mark.parametrize("role", ["reporter", "officer", "planner"])
async def test_only_admins_manage_tokens(
    client: AsyncTestClient, factory: Factory, role: str
) -> None:
    caller = await factory.caller(role)
    response = await client.post(
        "/api/v1/tokens",
        json={"org_id": str(caller.org_id), "role": "admin"},
        headers=caller.headers,
    )
    assert response.status_code == 403


async def test_health_needs_no_token_and_checks_the_database(client: AsyncTestClient) -> None:
    response = await client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json()["database"] == "reachable"


async def test_schema_documents_the_incident_endpoints(client: AsyncTestClient) -> None:
    docs = await client.get("/schema")
    assert docs.status_code == 200
    assert "text/html" in docs.headers["content-type"]
    spec = await client.get("/schema/openapi.json")
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    assert {"post", "get"} <= set(paths["/api/v1/incidents"])
    assert {"get", "patch"} <= set(paths["/api/v1/incidents/{incident_id}"])
    assert "post" in paths["/api/v1/incidents/{incident_id}/retract"]
    assert "/api/v1/health" in paths
