"""Red team, through a real server: zones and area assessment tell nothing finer about an
incident the caller may see only masked than its masked entry (grid cell, coarse day, category);
zones belong to whoever drew them; the largest allowed zone and route requests do not stall
the server, and bigger ones are refused at once.

Every test plays what an attacker with ordinary accounts would do: bisect small areas with
`POST /risk/assess`, draw a tiny zone around a suspected place, redraw or delete zones of the
platform or of another organisation, send a huge route or zone.
"""

from __future__ import annotations

import math
from typing import Any

import httpx
import numpy as np

from incidents.sharing.rules import snap_to_grid
from tests.factories import BAMAKO, DIEMA, Caller, Factory, incident_payload
from tests.live import health_during

ASSESS = "/api/v1/risk/assess"
ZONES = "/api/v1/zones"
GRID = 0.25  # settings.mask_grid_degrees
TRUE_LON, TRUE_LAT = DIEMA[1], DIEMA[0]
CELL_LON, CELL_LAT = snap_to_grid(TRUE_LON, TRUE_LAT, GRID)  # (-9.125, 14.625), ~11 km away
CELL_WEST, CELL_SOUTH = CELL_LON - GRID / 2, CELL_LAT - GRID / 2


def box(west: float, south: float, east: float, north: float) -> dict[str, Any]:
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


def square(lon: float, lat: float, half: float) -> dict[str, Any]:
    return box(lon - half, lat - half, lon + half, lat + half)


def km_between(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    dy = (lat2 - lat1) * 111.0
    dx = (lon2 - lon1) * 111.0 * math.cos(math.radians((lat1 + lat2) / 2))
    return math.hypot(dx, dy)


async def red_kidnapping_at_diema(http: httpx.AsyncClient, factory: Factory) -> tuple[Caller, str]:
    victim = await factory.caller("reporter")
    response = await http.post(
        "/api/v1/incidents",
        json=incident_payload(type="kidnapping", at=DIEMA, severity=5, sharing_level="red"),
        headers=victim.headers,
    )
    assert response.status_code == 201, response.text
    return victim, str(response.json()["id"])


async def assess(http: httpx.AsyncClient, caller: Caller, **body: Any) -> dict[str, Any]:
    response = await http.post(ASSESS, json=body, headers=caller.headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


# --- (a) bisection of small areas -----------------------------------------------------------------


async def test_bisecting_small_areas_finds_the_grid_cell_not_the_incident(
    http: httpx.AsyncClient, factory: Factory
) -> None:
    _, incident_id = await red_kidnapping_at_diema(http, factory)
    planner = await factory.caller("planner")  # a third organisation

    async def count(geometry: dict[str, Any], **extra: Any) -> int:
        body = await assess(http, planner, geometry=geometry, **extra)
        assert body["incidents"] == []  # never listed to this viewer
        assert incident_id not in str(body)
        return int(body["incident_count"])

    # A tiny square on the true point counts nothing; one on the cell centre counts the entry.
    assert await count(square(TRUE_LON, TRUE_LAT, 0.005)) == 0
    assert await count(square(CELL_LON, CELL_LAT, 0.005)) == 1

    # Split the cell in 5 x 5: only the middle square (the cell centre) counts, so the square
    # holding the real incident says no more than any other.
    step = GRID / 5
    counts = {}
    for i in range(5):
        for j in range(5):
            west, south = CELL_WEST + i * step, CELL_SOUTH + j * step
            counts[(i, j)] = await count(box(west, south, west + step, south + step))
    assert counts.pop((2, 2)) == 1
    assert set(counts.values()) == {0}

    # A real bisection, halving the box that still counts the incident, converges on the cell
    # centre, not on the incident.
    west, south, east, north = -10.0, 14.0, -8.5, 15.5
    for _ in range(14):
        if east - west >= north - south:
            mid = (west + east) / 2
            halves = [(west, south, mid, north), (mid, south, east, north)]
        else:
            mid = (south + north) / 2
            halves = [(west, south, east, mid), (west, mid, east, north)]
        first = halves[0]
        west, south, east, north = first if await count(box(*first)) else halves[1]
    assert west <= CELL_LON <= east
    assert south <= CELL_LAT <= north
    assert km_between((west + east) / 2, (south + north) / 2, TRUE_LON, TRUE_LAT) > 5

    # Routes too: a narrow corridor over the true point counts nothing, one over the centre does.
    route_over_point = {
        "type": "LineString",
        "coordinates": [[TRUE_LON - 0.02, TRUE_LAT], [TRUE_LON + 0.02, TRUE_LAT]],
    }
    route_over_cell = {
        "type": "LineString",
        "coordinates": [[CELL_LON - 0.02, CELL_LAT], [CELL_LON + 0.02, CELL_LAT]],
    }
    assert await count(route_over_point, corridor_km=1, segment_km=1) == 0
    assert await count(route_over_cell, corridor_km=1, segment_km=1) == 1


async def test_a_masked_entry_weighs_by_its_category_not_its_severity(
    http: httpx.AsyncClient, factory: Factory
) -> None:
    """Two red incidents of one category in one cell, severity 1 and 5: the same score."""
    planner = await factory.caller("planner")
    area = {"geometry": square(CELL_LON, CELL_LAT, 0.01)}
    scores = []
    for severity in (1, 5):
        victim = await factory.caller("reporter")
        response = await http.post(
            "/api/v1/incidents",
            json=incident_payload(
                type="detention", at=DIEMA, severity=severity, sharing_level="red"
            ),
            headers=victim.headers,
        )
        assert response.status_code == 201, response.text
        body = await assess(http, planner, **area)
        scores.append(body["score"])
    assert abs(scores[1] - 2 * scores[0]) < 1e-3  # the same weight each, whatever the severity


# --- (b) a tiny zone drawn around a suspected place ------------------------------------------------


async def test_a_tiny_zone_around_a_masked_incident_shows_only_its_grid_cell(
    http: httpx.AsyncClient, factory: Factory
) -> None:
    _, incident_id = await red_kidnapping_at_diema(http, factory)
    spy = await factory.caller("officer")  # a third organisation's officer

    async def draw(code: str, geometry: dict[str, Any]) -> str:
        response = await http.post(
            ZONES, json={"name_fr": code, "code": code, "geometry": geometry}, headers=spy.headers
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def risk(zone_id: str) -> dict[str, Any]:
        response = await http.get(f"{ZONES}/{zone_id}/risk", headers=spy.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    around_point = await draw("spy_point", square(TRUE_LON, TRUE_LAT, 0.01))
    missed = await risk(around_point)
    assert missed["score"] == 0
    # No data, and no day of a last incident: the masked incident is not in the spy's zone.
    assert (missed["level"], missed["coverage"], missed["last_incident_on"]) == (
        None,
        "no_data",
        None,
    )
    assert missed["contributors"] == []
    history = await http.get(f"{ZONES}/{around_point}/risk/history", headers=spy.headers)
    assert history.status_code == 200, history.text
    assert {p["score"] for p in history.json()["points"]} == {0}
    listed = await http.get("/api/v1/incidents", params={"zone": around_point}, headers=spy.headers)
    assert listed.status_code == 200, listed.text
    assert listed.json()["features"] == []
    feature = await http.get(f"{ZONES}/{around_point}", headers=spy.headers)
    assert feature.json()["properties"]["risk"]["score"] == 0

    around_cell = await draw("spy_cell", square(CELL_LON, CELL_LAT, 0.01))
    hit = await risk(around_cell)
    assert hit["score"] > 0
    [contributor] = hit["contributors"]
    assert contributor["incident_id"] != incident_id  # the masked entry's opaque id
    assert incident_id not in str(hit)

    # The same masked entry in both zones of the cell rule, however the zone is drawn.
    bigger = await draw("spy_cell_wide", square(CELL_LON, CELL_LAT, 0.1))
    assert (await risk(bigger))["contributors"] == hit["contributors"]


async def test_the_owner_s_own_incidents_count_exactly_in_its_zone(
    http: httpx.AsyncClient, factory: Factory
) -> None:
    officer = await factory.caller("officer")
    reporter = await factory.caller("reporter", org_id=officer.org_id)
    created = await http.post(
        "/api/v1/incidents",
        json=incident_payload(type="kidnapping", at=DIEMA, severity=5, sharing_level="red"),
        headers=reporter.headers,
    )
    assert created.status_code == 201, created.text
    response = await http.post(
        ZONES,
        json={
            "name_fr": "Notre point",
            "code": "notre_point",
            "geometry": square(TRUE_LON, TRUE_LAT, 0.01),
        },
        headers=officer.headers,
    )
    assert response.status_code == 201, response.text
    risk = await http.get(f"{ZONES}/notre_point/risk", headers=reporter.headers)
    assert risk.json()["score"] > 0
    assert [c["incident_id"] for c in risk.json()["contributors"]] == [created.json()["id"]]


# --- (c) whose zones may be changed ----------------------------------------------------------------


async def test_officers_cannot_change_platform_zones_or_another_organisation_s_zones(
    http: httpx.AsyncClient, factory: Factory
) -> None:
    owner = await factory.caller("officer")
    made = await http.post(
        ZONES,
        json={
            "name_fr": "Zone A",
            "code": "zone_a",
            "geometry": square(BAMAKO[1], BAMAKO[0], 0.05),
        },
        headers=owner.headers,
    )
    assert made.status_code == 201, made.text
    redraw = {"name_fr": "Rien", "geometry": square(0.0, 16.0, 0.01)}

    for role in ("officer", "admin"):
        intruder = await factory.caller(role)
        for zone_id in ("town_kidal", "mli"):
            before = (await http.get(f"{ZONES}/{zone_id}", headers=intruder.headers)).json()
            put = await http.put(f"{ZONES}/{zone_id}", json=redraw, headers=intruder.headers)
            assert put.status_code == 403, put.text
            assert "operator" in put.json()["detail"]
            gone = await http.delete(f"{ZONES}/{zone_id}", headers=intruder.headers)
            assert gone.status_code == 403, gone.text
            after = await http.get(f"{ZONES}/{zone_id}", headers=intruder.headers)
            assert after.status_code == 200
            assert after.json() == before
        official = await http.post(
            ZONES, json={**redraw, "kind": "admin2"}, headers=intruder.headers
        )
        assert official.status_code == 403, official.text
        for answer in (
            await http.get(f"{ZONES}/zone_a", headers=intruder.headers),
            await http.get(f"{ZONES}/zone_a/risk", headers=intruder.headers),
            await http.get(f"{ZONES}/zone_a/risk/history", headers=intruder.headers),
            await http.put(f"{ZONES}/zone_a", json=redraw, headers=intruder.headers),
            await http.delete(f"{ZONES}/zone_a", headers=intruder.headers),
            await http.get(
                "/api/v1/incidents", params={"zone": "zone_a"}, headers=intruder.headers
            ),
        ):
            assert answer.status_code == 404, answer.text
        listed = await http.get(ZONES, headers=intruder.headers)
        assert "zone_a" not in {f["id"] for f in listed.json()["features"]}
        ranking = await http.get("/api/v1/risk", headers=intruder.headers)
        assert "zone_a" not in {z["zone_id"] for z in ranking.json()["zones"]}
        # Choosing the same code does not tell that another organisation has it.
        same = await http.post(
            ZONES,
            json={"name_fr": "Zone A", "code": "zone_a", "geometry": square(-4.0, 14.0, 0.05)},
            headers=intruder.headers,
        )
        assert same.status_code == 201, same.text
        assert same.json()["id"] != "zone_a"

    mine = await http.get(f"{ZONES}/zone_a", headers=owner.headers)
    assert mine.status_code == 200
    assert mine.json()["properties"]["version"] == 1
    assert mine.json()["geometry"] == made.json()["geometry"]

    operator = await factory.operator()
    redrawn = await http.put(
        f"{ZONES}/town_kidal",
        headers=operator.headers,
        json={"name_fr": "Kidal", "kind": "town", "geometry": square(1.4078, 18.4411, 0.1)},
    )
    assert redrawn.status_code == 200, redrawn.text
    assert (await http.delete(f"{ZONES}/zone_a", headers=operator.headers)).status_code == 404


# --- (d) bounded work ------------------------------------------------------------------------------


def zigzag_route(vertices: int) -> dict[str, Any]:
    """A route doubling back across Mali at every vertex: the worst case for buffering."""
    lons = np.linspace(-11.5, 4.0, vertices)
    lats = 14.5 + np.where(np.arange(vertices) % 2 == 0, 1.0, -1.0) * 0.5
    return {
        "type": "LineString",
        "coordinates": [[round(x, 6), round(y, 6)] for x, y in zip(lons, lats, strict=True)],
    }


def star_zone(vertices: int, *, centre: tuple[float, float] = (-4.0, 17.0)) -> dict[str, Any]:
    """A jagged (valid) polygon of `vertices` positions around a centre (lon, lat)."""
    n = vertices - 1
    angles = np.linspace(0, 2 * math.pi, n, endpoint=False)
    radii = np.where(np.arange(n) % 2 == 0, 3.0, 2.6)
    ring = [
        [round(centre[0] + r * math.cos(a), 6), round(centre[1] + r * math.sin(a), 6)]
        for a, r in zip(angles, radii, strict=True)
    ]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


async def test_largest_allowed_route_and_zone_keep_health_answering(
    http: httpx.AsyncClient, factory: Factory
) -> None:
    reporter = await factory.caller("reporter")
    for k in range(20):
        response = await http.post(
            "/api/v1/incidents",
            json=incident_payload(type="ambush", at=(14.0 + k * 0.05, -9.0 + k * 0.6)),
            headers=reporter.headers,
        )
        assert response.status_code == 201, response.text
    planner = await factory.caller("planner")
    officer = await factory.caller("officer")
    route = zigzag_route(1000)  # the largest allowed route
    # The finest stretches still allowed (at most 1,000 of them on this ~110,000 km route).
    body = {"geometry": route, "corridor_km": 50, "segment_km": 115}
    answer, worst = await health_during(http, http.post(ASSESS, json=body, headers=planner.headers))
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["segments"]) <= 1000
    assert worst <= 1.0

    zone = {"name_fr": "Grande zone", "geometry": star_zone(10_000)}  # the largest allowed zone
    answer, worst = await health_during(http, http.post(ZONES, json=zone, headers=officer.headers))
    assert answer.status_code == 201, answer.text
    assert worst <= 1.0


async def test_too_big_routes_zones_and_corridors_are_refused_naming_the_field(
    http: httpx.AsyncClient, factory: Factory
) -> None:
    planner = await factory.caller("planner")
    officer = await factory.caller("officer")
    short = {"type": "LineString", "coordinates": [[-0.04, 16.27], [2.4, 15.9]]}
    cases = [
        (
            {"geometry": zigzag_route(1001), "corridor_km": 10, "segment_km": 200},
            "geometry.coordinates",
        ),
        (
            {"geometry": zigzag_route(10_001), "corridor_km": 10, "segment_km": 200},
            "geometry.coordinates",
        ),
        ({"geometry": short, "corridor_km": 51}, "corridor_km"),
        ({"geometry": short, "segment_km": 0.5}, "segment_km"),
        ({"geometry": short, "segment_km": 501}, "segment_km"),
        ({"geometry": zigzag_route(1000), "corridor_km": 10, "segment_km": 1}, "segment_km"),
        ({"geometry": star_zone(10_002)}, "geometry.coordinates"),
    ]
    for body, field in cases:
        response = await http.post(ASSESS, json=body, headers=planner.headers)
        assert response.status_code == 422, (field, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert field in response.text
    islands = {
        "type": "MultiPolygon",
        "coordinates": [square(-10 + k * 0.01, 14.0, 0.004)["coordinates"] for k in range(501)],
    }
    zone_cases = [
        ({"name_fr": "Trop", "geometry": star_zone(10_002)}, "geometry.coordinates"),
        ({"name_fr": "Iles", "geometry": islands}, "geometry.coordinates"),
        ({"name_fr": "x" * 201, "geometry": square(-4.0, 14.0, 0.05)}, "name_fr"),
    ]
    for body, field in zone_cases:
        response = await http.post(ZONES, json=body, headers=officer.headers)
        assert response.status_code == 422, (field, response.text)
        assert field in response.text
    listed = await http.get(ZONES, params={"kind": "custom"}, headers=officer.headers)
    assert listed.json()["features"] == []  # nothing was created


async def test_another_organisation_s_custom_zone_never_shows_on_an_incident(
    http: httpx.AsyncClient, factory: Factory
) -> None:
    """An incident's `properties.zones` listed every zone it fell in: a reporter of A saw the
    name and code of the area B watches (B's custom zone), in reads, lists and exports."""
    watcher = await factory.caller("officer")
    code = f"axe_b_{watcher.org_id.hex[:8]}"
    drawn = await http.post(
        ZONES,
        json={
            "name_fr": "Axe surveillé par B",
            "code": code,
            "geometry": square(TRUE_LON, TRUE_LAT, 0.2),
        },
        headers=watcher.headers,
    )
    assert drawn.status_code == 201, drawn.text
    reporter = await factory.caller("reporter")
    made = await http.post(
        "/api/v1/incidents",
        json=incident_payload(type="theft", at=DIEMA, severity=2, sharing_level="clear"),
        headers=reporter.headers,
    )
    assert made.status_code == 201, made.text
    incident_id = made.json()["id"]
    answers = [
        made,
        await http.get(f"/api/v1/incidents/{incident_id}", headers=reporter.headers),
        await http.get("/api/v1/incidents", params={"limit": 200}, headers=reporter.headers),
        await http.get(
            "/api/v1/incidents", params={"format": "csv", "limit": 200}, headers=reporter.headers
        ),
    ]
    for answer in answers:
        assert answer.status_code == 200 or answer.status_code == 201, answer.text
        assert code not in answer.text
        assert "Axe surveillé par B" not in answer.text
    assert "town_diema" in answers[1].text  # platform zones still listed
    own_view = await http.get(f"/api/v1/incidents/{incident_id}", headers=watcher.headers)
    assert code in own_view.text  # B's own zone, on a clear incident B sees
