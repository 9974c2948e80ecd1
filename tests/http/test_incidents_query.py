"""GET /api/v1/incidents: every filter, geodesic `near`, cursor pages, CSV and GeoJSON answers."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from pyproj import Geod

from tests.factories import BAMAKO, DIEMA, GAO, KIDAL, MENAKA, Caller, Factory, incident_payload

URL = "/api/v1/incidents"
WGS84 = Geod(ellps="WGS84")


def km_from(origin: tuple[float, float], km: float, azimuth: float = 45.0) -> tuple[float, float]:
    """The (lat, lon) `km` kilometres from `origin` along `azimuth`, on the WGS84 ellipsoid."""
    lon, lat, _ = WGS84.fwd(origin[1], origin[0], azimuth, km * 1000.0)
    return lat, lon


async def report(client: AsyncTestClient, caller: Caller, **kw: Any) -> str:
    response = await client.post(URL, json=incident_payload(**kw), headers=caller.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def found(
    client: AsyncTestClient, caller: Caller, params: dict[str, Any] | None = None
) -> set[str]:
    response = await client.get(URL, params=params or {}, headers=caller.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["type"] == "FeatureCollection"
    return {f["id"] for f in body["features"]}


def iso(days_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days_ago)).isoformat().replace("+00:00", "Z")


async def test_list_is_geojson_newest_first(client: AsyncTestClient, factory: Factory) -> None:
    reporter = await factory.caller("reporter")
    old = await report(client, reporter, days_ago=9)
    new = await report(client, reporter, days_ago=1)
    response = await client.get(URL, headers=reporter.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/geo+json")
    assert [f["id"] for f in response.json()["features"]] == [new, old]
    assert response.json()["next_cursor"] is None


async def test_since_and_until_bound_occurred_at(client: AsyncTestClient, factory: Factory) -> None:
    reporter = await factory.caller("reporter")
    day1 = await report(client, reporter, days_ago=1)
    day10 = await report(client, reporter, days_ago=10)
    day30 = await report(client, reporter, days_ago=30)
    assert await found(client, reporter, {"since": iso(15)}) == {day1, day10}
    assert await found(client, reporter, {"until": iso(5)}) == {day10, day30}
    assert await found(client, reporter, {"since": iso(15), "until": iso(5)}) == {day10}


async def test_type_filter_takes_type_and_category_codes(
    client: AsyncTestClient, factory: Factory
) -> None:
    reporter = await factory.caller("reporter")
    kidnap = await report(client, reporter, type="kidnapping")
    ied = await report(client, reporter, type="ied")
    theft = await report(client, reporter, type="theft")
    assert await found(client, reporter, {"type": "kidnapping"}) == {kidnap}
    assert await found(client, reporter, {"type": "abduction"}) == {kidnap}
    assert await found(client, reporter, {"type": "ied, theft"}) == {ied, theft}
    assert await found(client, reporter, {"type": "explosive,crime"}) == {ied, theft}


async def test_unknown_type_code_is_422_with_suggestions(
    client: AsyncTestClient, factory: Factory
) -> None:
    reporter = await factory.caller("reporter")
    response = await client.get(URL, params={"type": "kidnaping"}, headers=reporter.headers)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["field"] == "type"
    assert "kidnapping" in problem["suggestions"]


async def test_min_severity(client: AsyncTestClient, factory: Factory) -> None:
    reporter = await factory.caller("reporter")
    await report(client, reporter, severity=2)
    four = await report(client, reporter, severity=4)
    five = await report(client, reporter, severity=5)
    assert await found(client, reporter, {"min_severity": 4}) == {four, five}


async def test_retracted_are_hidden_unless_asked_for(
    client: AsyncTestClient, factory: Factory
) -> None:
    reporter = await factory.caller("reporter")
    kept = await report(client, reporter)
    gone = await report(client, reporter)
    retract = await client.post(f"{URL}/{gone}/retract", json={}, headers=reporter.headers)
    assert retract.status_code == 200, retract.text
    assert await found(client, reporter) == {kept}
    assert await found(client, reporter, {"status": "retracted"}) == {gone}
    assert await found(client, reporter, {"status": "reported,retracted"}) == {kept, gone}
    bad = await client.get(URL, params={"status": "deleted"}, headers=reporter.headers)
    assert bad.status_code == 422
    assert bad.json()["field"] == "status"


async def test_bbox_keeps_what_intersects_it(client: AsyncTestClient, factory: Factory) -> None:
    reporter = await factory.caller("reporter")
    gao = await report(client, reporter, at=GAO)
    kidal = await report(client, reporter, at=KIDAL)
    await report(client, reporter, at=BAMAKO)
    # The diagonal's bounding box overlaps the query box, the line itself does not cross it.
    diagonal = incident_payload(geometry={"type": "LineString", "coordinates": [[-1, 15], [1, 17]]})
    del diagonal["lat"], diagonal["lon"]
    response = await client.post(URL, json=diagonal, headers=reporter.headers)
    assert response.status_code == 201, response.text
    north = "-1.0,15.5,2.0,19.0"  # minLon,minLat,maxLon,maxLat
    assert await found(client, reporter, {"bbox": north}) == {gao, kidal, response.json()["id"]}
    assert await found(client, reporter, {"bbox": "0.5,15.0,1.0,15.4"}) == set()


@pytest.mark.parametrize("bbox", ["1,2,3", "a,b,c,d", "2,15,1,16", "-1,15,200,16"])
async def test_bad_bbox_is_422(client: AsyncTestClient, factory: Factory, bbox: str) -> None:
    reporter = await factory.caller("reporter")
    response = await client.get(URL, params={"bbox": bbox}, headers=reporter.headers)
    assert response.status_code == 422
    assert response.json()["field"] == "bbox"


async def test_near_is_geodesic(client: AsyncTestClient, factory: Factory) -> None:
    reporter = await factory.caller("reporter")
    inside = await report(client, reporter, at=km_from(GAO, 49.0))
    await report(client, reporter, at=km_from(GAO, 51.0))
    inside_south = await report(client, reporter, at=km_from(GAO, 49.5, azimuth=180))
    await report(client, reporter, at=km_from(GAO, 50.5, azimuth=270))
    near = f"{GAO[0]},{GAO[1]}"
    assert await found(client, reporter, {"near": near, "radius_km": 50}) == {inside, inside_south}


async def test_near_finds_a_polygon_whose_edge_is_within_the_radius(
    client: AsyncTestClient, factory: Factory
) -> None:
    reporter = await factory.caller("reporter")
    edge = km_from(MENAKA, 40.0, azimuth=90)  # a square whose west edge is 40 km east of Ménaka
    lon0, lat0 = edge[1], edge[0] - 0.1
    square = [
        [lon0, lat0],
        [lon0 + 0.5, lat0],
        [lon0 + 0.5, lat0 + 0.2],
        [lon0, lat0 + 0.2],
        [lon0, lat0],
    ]
    body = incident_payload(geometry={"type": "Polygon", "coordinates": [square]})
    del body["lat"], body["lon"]
    created = await client.post(URL, json=body, headers=reporter.headers)
    assert created.status_code == 201, created.text
    near = f"{MENAKA[0]},{MENAKA[1]}"
    assert await found(client, reporter, {"near": near, "radius_km": 45}) == {created.json()["id"]}
    assert await found(client, reporter, {"near": near, "radius_km": 35}) == set()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"near": "16.27,-0.04", "radius_km": 501}, "radius_km"),
        ({"near": "16.27,-0.04", "radius_km": 0}, "radius_km"),
        ({"near": "16.27,-0.04", "radius_km": -5}, "radius_km"),
        ({"near": "16.27,-0.04"}, "radius_km"),
        ({"near": "96.27,-0.04", "radius_km": 10}, "near"),
        ({"radius_km": 10}, "near"),
    ],
)
async def test_bad_near_is_422(
    client: AsyncTestClient, factory: Factory, params: dict[str, Any], field: str
) -> None:
    reporter = await factory.caller("reporter")
    response = await client.get(URL, params=params, headers=reporter.headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["field"] == field


async def test_cursor_walks_every_incident_once(client: AsyncTestClient, factory: Factory) -> None:
    reporter = await factory.caller("reporter")
    created = {await report(client, reporter, days_ago=n) for n in range(1, 18)}
    # Incidents at the same instant must still be split across pages without loss.
    same_time = incident_payload(at=DIEMA)
    for _ in range(6):
        response = await client.post(URL, json=same_time, headers=reporter.headers)
        assert response.status_code == 201
        created.add(response.json()["id"])
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 4}
    for _ in range(20):
        response = await client.get(URL, params=params, headers=reporter.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["features"]) <= 4
        seen += [f["id"] for f in page["features"]]
        if page["next_cursor"] is None:
            break
        params = {"limit": 4, "cursor": page["next_cursor"]}
    assert len(seen) == len(set(seen)) == 23
    assert set(seen) == created


async def test_filters_hold_across_pages(client: AsyncTestClient, factory: Factory) -> None:
    reporter = await factory.caller("reporter")
    wanted = {await report(client, reporter, days_ago=n, at=GAO) for n in range(1, 8)}
    for n in range(1, 8):
        await report(client, reporter, days_ago=n + 0.5, at=BAMAKO)
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 3, "near": f"{GAO[0]},{GAO[1]}", "radius_km": 20}
    while True:
        page = (await client.get(URL, params=params, headers=reporter.headers)).json()
        seen += [f["id"] for f in page["features"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert sorted(seen) == sorted(wanted)


@pytest.mark.parametrize("cursor", ["not-a-cursor", "eyJmb28iOiAxfQ", "W10"])
async def test_bad_cursor_is_422(client: AsyncTestClient, factory: Factory, cursor: str) -> None:
    reporter = await factory.caller("reporter")
    response = await client.get(URL, params={"cursor": cursor}, headers=reporter.headers)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "cursor"


@pytest.mark.parametrize("limit", [0, 501])
async def test_limit_is_1_to_500(client: AsyncTestClient, factory: Factory, limit: int) -> None:
    reporter = await factory.caller("reporter")
    response = await client.get(URL, params={"limit": limit}, headers=reporter.headers)
    assert response.status_code == 422
    assert response.json()["field"] == "limit"
    ok = await client.get(URL, params={"limit": 500}, headers=reporter.headers)
    assert ok.status_code == 200


async def test_csv_export_has_a_header_and_one_line_per_incident(
    client: AsyncTestClient, factory: Factory
) -> None:
    reporter = await factory.caller("reporter")
    first = await report(client, reporter, at=KIDAL, place_name="Kidal, quartier 4")
    second = await report(client, reporter, at=GAO, description='Line one, "quoted"\nline two')
    response = await client.get(URL, params={"format": "csv"}, headers=reporter.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert {r["id"] for r in rows} == {first, second}
    by_id = {r["id"]: r for r in rows}
    assert float(by_id[first]["lat"]) == pytest.approx(KIDAL[0])
    assert float(by_id[first]["lon"]) == pytest.approx(KIDAL[1])
    assert by_id[first]["place_name"] == "Kidal, quartier 4"
    assert by_id[second]["description"] == 'Line one, "quoted"\nline two'
    header = response.text.splitlines()[0].split(",")
    assert header[:4] == ["id", "type", "category", "occurred_at"]


async def test_unknown_format_is_422(client: AsyncTestClient, factory: Factory) -> None:
    reporter = await factory.caller("reporter")
    response = await client.get(URL, params={"format": "xlsx"}, headers=reporter.headers)
    assert response.status_code == 422
    assert response.json()["field"] == "format"
