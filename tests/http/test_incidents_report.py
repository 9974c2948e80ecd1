"""POST /api/v1/incidents: the Feature returned, geometry types, who reported it, idempotency."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from incidents.db import Database
from incidents.records.tables import IdempotencyRow, IncidentRow
from tests.factories import GAO, KIDAL, MENAKA, Factory, incident_payload

URL = "/api/v1/incidents"

PROPERTY_NAMES = {
    "category",
    "occurred_at",
    "time_precision",
    "location_precision",
    "type",
    "type_label",
    "reported_at",
    "place_name",
    "severity",
    "impact",
    "perpetrator",
    "actor",
    "description",
    "source_type",
    "reliability",
    "credibility",
    "status",
    "sharing_level",
    "organisation_id",
    "reported_by",
    "version",
    "created_at",
    "updated_at",
}

point_in_menaka = {"type": "Point", "coordinates": [MENAKA[1], MENAKA[0]]}
road_gao_menaka = {
    "type": "LineString",
    "coordinates": [[GAO[1], GAO[0]], [1.2, 16.0], [MENAKA[1], MENAKA[0]]],
}
square_near_kidal = {
    "type": "Polygon",
    "coordinates": [[[1.3, 18.3], [1.6, 18.3], [1.6, 18.6], [1.3, 18.6], [1.3, 18.3]]],
}
points_gao_kidal = {"type": "MultiPoint", "coordinates": [[GAO[1], GAO[0]], [KIDAL[1], KIDAL[0]]]}
roads_near_gao = {
    "type": "MultiLineString",
    "coordinates": [[[-0.1, 16.2], [0.1, 16.3]], [[0.2, 16.1], [0.4, 16.0]]],
}
squares_near_menaka = {
    "type": "MultiPolygon",
    "coordinates": [
        [[[2.3, 15.8], [2.5, 15.8], [2.5, 16.0], [2.3, 16.0], [2.3, 15.8]]],
        [[[2.7, 15.8], [2.9, 15.8], [2.9, 16.0], [2.7, 16.0], [2.7, 15.8]]],
    ],
}


async def count_incidents(db: Database) -> int:
    async with db.read() as session:
        return int((await session.scalar(select(func.count()).select_from(IncidentRow))) or 0)


def without_lat_lon(**extra: Any) -> dict[str, Any]:
    body = incident_payload(**extra)
    del body["lat"], body["lon"]
    return body


async def test_report_answers_201_with_location_etag_and_a_full_feature(
    client: AsyncTestClient, factory: Factory, db: Database
) -> None:
    reporter = await factory.caller("reporter")
    body = incident_payload(
        type="ambush",
        at=MENAKA,
        place_name="Route de Ménaka",
        impact={"killed": 2, "injured": 1, "aid_workers_affected": True},
        perpetrator="non_state_armed_group",
        actor="unidentified gunmen",
        description="Convoy ambushed",
        source_type="staff",
        reliability="B",
        credibility=2,
        sharing_level="green",
        location_precision="near",
        time_precision="day",
    )
    response = await client.post(URL, json=body, headers=reporter.headers)
    assert response.status_code == 201, response.text
    feature = response.json()
    incident_id = uuid.UUID(feature["id"])
    assert response.headers["location"] == f"{URL}/{incident_id}"
    assert response.headers["etag"] == '"1"'
    assert response.headers["content-type"].startswith("application/geo+json")
    assert feature["type"] == "Feature"
    assert feature["geometry"] == {"type": "Point", "coordinates": [MENAKA[1], MENAKA[0]]}
    props = feature["properties"]
    assert set(props) >= PROPERTY_NAMES, PROPERTY_NAMES - set(props)
    assert props["type"] == "ambush"
    assert props["category"] == "violence"
    assert props["severity"] == 4
    assert props["impact"] == {
        "killed": 2,
        "injured": 1,
        "abducted": 0,
        "detained": 0,
        "missing": 0,
        "aid_workers_affected": True,
    }
    assert props["perpetrator"] == "non_state_armed_group"
    assert props["reliability"] == "B"
    assert props["credibility"] == 2
    assert props["status"] == "reported"
    assert props["sharing_level"] == "green"
    assert props["time_precision"] == "day"
    assert props["location_precision"] == "near"
    assert props["version"] == 1
    assert await count_incidents(db) == 1


async def test_feature_lists_the_zones_it_falls_in(
    client: AsyncTestClient, factory: Factory
) -> None:
    reporter = await factory.caller("reporter")
    response = await client.post(URL, json=incident_payload(at=MENAKA), headers=reporter.headers)
    assert response.status_code == 201, response.text
    zones = response.json()["properties"]["zones"]
    assert isinstance(zones, list)
    for zone in zones:
        assert set(zone) == {"id", "code", "name", "kind"}


async def test_feature_lists_zones_even_when_it_is_in_none(
    client: AsyncTestClient, factory: Factory
) -> None:
    reporter = await factory.caller("reporter")
    niamey = (13.5116, 2.1254)  # in the service area, outside Mali: no Malian zone holds it
    response = await client.post(URL, json=incident_payload(at=niamey), headers=reporter.headers)
    assert response.status_code == 201, response.text
    assert response.json()["properties"]["zones"] == []


async def test_defaults_fill_what_a_hurried_reporter_leaves_out(
    client: AsyncTestClient, factory: Factory
) -> None:
    reporter = await factory.caller("reporter")
    body = incident_payload(type="ied")
    del body["severity"]
    response = await client.post(URL, json=body, headers=reporter.headers)
    assert response.status_code == 201, response.text
    props = response.json()["properties"]
    assert props["sharing_level"] == "amber"
    assert props["status"] == "reported"
    assert 1 <= props["severity"] <= 5


async def test_reporting_organisation_and_user_are_recorded(
    client: AsyncTestClient, factory: Factory, db: Database
) -> None:
    reporter = await factory.caller("reporter")
    response = await client.post(URL, json=incident_payload(), headers=reporter.headers)
    assert response.status_code == 201, response.text
    props = response.json()["properties"]
    assert props["organisation_id"] == str(reporter.org_id)
    assert props["reported_by"] == str(reporter.user_id)
    async with db.read() as session:
        row = await session.get(IncidentRow, uuid.UUID(response.json()["id"]))
    assert row is not None
    assert (row.org_id, row.user_id) == (reporter.org_id, reporter.user_id)


@pytest.mark.parametrize(
    "geometry",
    [
        point_in_menaka,
        road_gao_menaka,
        square_near_kidal,
        points_gao_kidal,
        roads_near_gao,
        squares_near_menaka,
    ],
    ids=lambda g: g["type"],
)
async def test_every_geometry_type_is_stored_and_returned(
    client: AsyncTestClient, factory: Factory, geometry: dict[str, Any]
) -> None:
    reporter = await factory.caller("reporter")
    created = await client.post(
        URL, json=without_lat_lon(geometry=geometry), headers=reporter.headers
    )
    assert created.status_code == 201, created.text
    read = await client.get(created.headers["location"], headers=reporter.headers)
    assert read.json()["geometry"] == geometry


async def test_top_level_lat_lon_becomes_a_point_in_lon_lat_order(
    client: AsyncTestClient, factory: Factory
) -> None:
    reporter = await factory.caller("reporter")
    response = await client.post(URL, json=incident_payload(at=KIDAL), headers=reporter.headers)
    assert response.status_code == 201, response.text
    assert response.json()["geometry"] == {"type": "Point", "coordinates": [KIDAL[1], KIDAL[0]]}


async def test_officer_may_report_an_already_verified_incident(
    client: AsyncTestClient, factory: Factory
) -> None:
    officer = await factory.caller("officer")
    response = await client.post(
        URL, json=incident_payload(status="verified"), headers=officer.headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["properties"]["status"] == "verified"


# --- Idempotency-Key ---------------------------------------------------------------------------


async def test_same_key_same_body_replays_the_first_answer(
    client: AsyncTestClient, factory: Factory, db: Database
) -> None:
    reporter = await factory.caller("reporter")
    body = incident_payload()
    headers = {**reporter.headers, "Idempotency-Key": "phone-42-report-1"}
    first = await client.post(URL, json=body, headers=headers)
    second = await client.post(URL, json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert second.status_code == 201, second.text
    assert second.json()["id"] == first.json()["id"]
    assert second.headers["location"] == first.headers["location"]
    assert second.headers.get("idempotent-replayed") == "true"
    assert await count_incidents(db) == 1


async def test_same_key_other_body_is_refused_naming_the_header(
    client: AsyncTestClient, factory: Factory, db: Database
) -> None:
    reporter = await factory.caller("reporter")
    headers = {**reporter.headers, "Idempotency-Key": "phone-42-report-2"}
    first = await client.post(URL, json=incident_payload(severity=3), headers=headers)
    assert first.status_code == 201, first.text
    other = await client.post(URL, json=incident_payload(severity=5), headers=headers)
    assert other.status_code == 422, other.text
    assert other.headers["content-type"].startswith("application/problem+json")
    assert other.json()["field"] == "Idempotency-Key"
    assert await count_incidents(db) == 1


async def test_the_same_key_in_two_organisations_makes_two_incidents(
    client: AsyncTestClient, factory: Factory, db: Database
) -> None:
    a, b = await factory.caller("reporter"), await factory.caller("reporter")
    body = incident_payload()
    first = await client.post(URL, json=body, headers={**a.headers, "Idempotency-Key": "k1"})
    second = await client.post(URL, json=body, headers={**b.headers, "Idempotency-Key": "k1"})
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    assert await count_incidents(db) == 2


async def test_a_rejected_report_does_not_burn_its_key(
    client: AsyncTestClient, factory: Factory, db: Database
) -> None:
    reporter = await factory.caller("reporter")
    headers = {**reporter.headers, "Idempotency-Key": "retry-after-fix"}
    bad = await client.post(URL, json=incident_payload(type="kidnaping_typo"), headers=headers)
    assert bad.status_code == 422
    good = await client.post(URL, json=incident_payload(), headers=headers)
    assert good.status_code == 201, good.text
    async with db.read() as session:
        keys = (await session.scalars(select(IdempotencyRow))).all()
    assert [(k.key, k.state) for k in keys] == [("retry-after-fix", "done")]
