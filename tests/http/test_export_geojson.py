"""GeoJSON out of the API is RFC 7946 by an outside validator: rings counter-clockwise outside,
clockwise inside, whatever way they were sent."""

from __future__ import annotations

from typing import Any

import geojson_validator
import shapely
from litestar import Litestar
from litestar.testing import AsyncTestClient
from shapely.geometry import shape

from tests.factories import Factory, incident_payload

RFC_7946 = ("unclosed", "less_three_unique_nodes", "exterior_not_ccw", "interior_not_cw")

# Around Kidal, written clockwise (as many GIS tools and hand-typed forms do), with a hole
# written counter-clockwise: both the wrong way round for RFC 7946.
clockwise_square_at_kidal_with_hole = {
    "type": "Polygon",
    "coordinates": [
        [[1.30, 18.35], [1.30, 18.55], [1.50, 18.55], [1.50, 18.35], [1.30, 18.35]],
        [[1.38, 18.42], [1.42, 18.42], [1.42, 18.46], [1.38, 18.46], [1.38, 18.42]],
    ],
}


def rfc_7946_problems(geometry: dict[str, Any]) -> dict[str, Any]:
    report = geojson_validator.validate_geometries(
        geometry, criteria_invalid=RFC_7946, criteria_problematic=()
    )
    return dict(report["invalid"])


def test_the_fixture_is_wrong_way_round_to_the_validator() -> None:
    problems = rfc_7946_problems(clockwise_square_at_kidal_with_hole)
    assert set(problems) == {"exterior_not_ccw", "interior_not_cw"}


async def test_incident_polygon_posted_clockwise_comes_back_counter_clockwise(
    client: AsyncTestClient[Litestar], factory: Factory
) -> None:
    officer = await factory.caller("officer")
    body = incident_payload(type="blockade")
    del body["lat"], body["lon"]
    body["geometry"] = clockwise_square_at_kidal_with_hole
    made = await client.post("/api/v1/incidents", json=body, headers=officer.headers)
    assert made.status_code == 201, made.text

    one = await client.get(f"/api/v1/incidents/{made.json()['id']}", headers=officer.headers)
    listed = await client.get("/api/v1/incidents", headers=officer.headers)

    for geometry in (made.json()["geometry"], one.json()["geometry"]):
        assert rfc_7946_problems(geometry) == {}
        exterior, hole = geometry["coordinates"]
        assert shapely.LinearRing(exterior).is_ccw
        assert not shapely.LinearRing(hole).is_ccw
        assert shape(geometry).equals(shape(clockwise_square_at_kidal_with_hole))
    [feature] = listed.json()["features"]
    assert rfc_7946_problems(feature["geometry"]) == {}


async def test_zone_posted_clockwise_comes_back_counter_clockwise(
    client: AsyncTestClient[Litestar], factory: Factory
) -> None:
    officer = await factory.caller("officer")
    made = await client.post(
        "/api/v1/zones",
        json={"name_fr": "Kidal sud", "geometry": clockwise_square_at_kidal_with_hole},
        headers=officer.headers,
    )
    assert made.status_code == 201, made.text

    one = await client.get(f"/api/v1/zones/{made.json()['id']}", headers=officer.headers)

    for geometry in (made.json()["geometry"], one.json()["geometry"]):
        assert rfc_7946_problems(geometry) == {}
        assert shape(geometry).equals(shape(clockwise_square_at_kidal_with_hole))
