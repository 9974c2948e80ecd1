"""Coverage, not silence: a zone or route with no recent data says "no data", never level 1;
an assessment outside the service area, or with [lat, lon] swapped, is refused with 422; the
day of the last incident comes only from incidents the viewer sees in full."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.factories import DIEMA, KIDAL, Caller, Factory
from tests.http.test_zones_api import report

PROBLEM = "application/problem+json"
# A point of the Atlantic off Dakar, and Diéma typed as [lat, lon] instead of [lon, lat].
atlantic = {"type": "Point", "coordinates": [-20.0, 14.0]}
diema_swapped = {"type": "Point", "coordinates": [DIEMA[0], DIEMA[1]]}
route_swapped = {  # Diéma to Kidal with every pair as [lat, lon]
    "type": "LineString",
    "coordinates": [[DIEMA[0], DIEMA[1]], [KIDAL[0], KIDAL[1]]],
}
# 30 km of road east of Kidal town, in the Kidal town zone and the Algerian border belt.
route_near_kidal = {
    "type": "LineString",
    "coordinates": [[KIDAL[1], KIDAL[0]], [KIDAL[1] + 0.28, KIDAL[0]]],
}


async def zone_id(client: AsyncTestClient, caller: Caller, code: str) -> str:
    response = await client.get("/api/v1/zones", headers=caller.headers)
    assert response.status_code == 200, response.text
    [found] = [f["id"] for f in response.json()["features"] if f["properties"]["code"] == code]
    return str(found)


async def zone_risk(client: AsyncTestClient, caller: Caller, zid: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/zones/{zid}/risk", headers=caller.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_zone_with_no_data_is_no_data_not_level_1(
    client: AsyncTestClient, factory: Factory
) -> None:
    planner = await factory.caller("planner")
    zid = await zone_id(client, planner, "town_diema")
    empty = await zone_risk(client, planner, zid)
    assert empty["level"] is None
    assert empty["coverage"] == "no_data"
    assert (empty["level_code"], empty["level_label"], empty["level_label_en"]) == (
        "no_data",
        "pas de données",
        "no data",
    )
    assert empty["last_incident_on"] is None
    ranked = (await client.get("/api/v1/risk", headers=planner.headers)).json()["zones"]
    [diema] = [z for z in ranked if z["zone_id"] == zid]
    assert (diema["level"], diema["level_code"], diema["coverage"]) == (None, "no_data", "no_data")
    listed = (await client.get("/api/v1/zones", headers=planner.headers)).json()["features"]
    [feature] = [f for f in listed if f["id"] == zid]
    assert feature["properties"]["risk"]["coverage"] == "no_data"
    one = (await client.get(f"/api/v1/zones/{zid}", headers=planner.headers)).json()
    assert one["properties"]["risk"]["level"] is None

    reporter = await factory.caller("reporter")
    await report(client, reporter, type="theft", at=DIEMA, severity=2, sharing_level="green")
    covered = await zone_risk(client, planner, zid)
    assert covered["coverage"] == "data"
    assert isinstance(covered["level"], int)
    assert covered["level_code"] != "no_data"


async def test_an_incident_older_than_the_window_leaves_no_data_with_its_day(
    client: AsyncTestClient, factory: Factory
) -> None:
    reporter = await factory.caller("reporter")
    old = await report(
        client, reporter, type="theft", at=DIEMA, days_ago=800, sharing_level="green"
    )
    planner = await factory.caller("planner")
    body = await zone_risk(client, planner, await zone_id(client, planner, "town_diema"))
    assert body["level"] is None
    assert body["coverage"] == "no_data"
    occurred = datetime.fromisoformat(old["properties"]["occurred_at"]).astimezone(UTC)
    # A day, never a time.
    assert body["last_incident_on"] == occurred.date().isoformat()


async def test_the_last_incident_day_never_comes_from_a_masked_incident(
    client: AsyncTestClient, factory: Factory
) -> None:
    """Org A has an old green theft and a later amber_strict one in Diéma: only A learns the
    later day; another organisation's planner, officer and the operator get the green one's."""
    reporter_a = await factory.caller("reporter")
    green = await report(
        client, reporter_a, type="theft", at=DIEMA, days_ago=900, sharing_level="green"
    )
    hidden = await report(
        client, reporter_a, type="theft", at=DIEMA, days_ago=760, sharing_level="amber_strict"
    )
    red_only = await report(
        client, reporter_a, type="theft", at=DIEMA, days_ago=740, sharing_level="red"
    )

    def day(incident: dict[str, Any]) -> str:
        at = datetime.fromisoformat(incident["properties"]["occurred_at"]).astimezone(UTC)
        return at.date().isoformat()

    colleague = await factory.caller("planner", org_id=reporter_a.org_id)
    zid = await zone_id(client, colleague, "town_diema")
    assert (await zone_risk(client, reporter_a, zid))["last_incident_on"] == day(red_only)
    assert (await zone_risk(client, colleague, zid))["last_incident_on"] == day(hidden)
    outsiders = [
        await factory.caller("planner"),
        await factory.caller("officer"),
        await factory.operator(),
    ]
    for outsider in outsiders:
        body = await zone_risk(client, outsider, zid)
        assert body["coverage"] == "no_data"
        assert body["last_incident_on"] == day(green), outsider.role
        listed = (await client.get("/api/v1/zones", headers=outsider.headers)).json()
        [risk] = [f["properties"]["risk"] for f in listed["features"] if f["id"] == zid]
        assert risk["last_incident_on"] == day(green)
        assert day(hidden) not in str(listed)
        assert day(red_only) not in str(listed)


@pytest.mark.parametrize(
    ("geometry", "extra", "words"),
    [
        (atlantic, {"radius_km": 20}, "outside the service area"),
        (diema_swapped, {"radius_km": 20}, "coordinates look swapped"),
        (route_swapped, {}, "coordinates look swapped"),
    ],
    ids=["atlantic", "point-swapped", "route-swapped"],
)
async def test_assessment_outside_the_service_area_is_refused(
    client: AsyncTestClient,
    factory: Factory,
    geometry: dict[str, Any],
    extra: dict[str, Any],
    words: str,
) -> None:
    planner = await factory.caller("planner")
    response = await client.post(
        "/api/v1/risk/assess", json={"geometry": geometry, **extra}, headers=planner.headers
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    problem = response.json()
    assert words in problem["detail"]
    assert "[longitude, latitude]" in problem["detail"]
    assert "geometry.coordinates" in response.text


async def test_a_route_with_no_data_says_no_data_and_with_data_a_level(
    client: AsyncTestClient, factory: Factory
) -> None:
    planner = await factory.caller("planner")
    reporter = await factory.caller("reporter")
    # Far from Kidal: the country zone has data, the road near Kidal still has none.
    await report(client, reporter, type="ied", at=DIEMA, sharing_level="green")
    body = {"geometry": route_near_kidal, "corridor_km": 5, "segment_km": 10}
    empty = await client.post("/api/v1/risk/assess", json=body, headers=planner.headers)
    assert empty.status_code == 200, empty.text
    out = empty.json()
    assert (out["level"], out["level_code"], out["coverage"]) == (None, "no_data", "no_data")
    assert out["level_label_en"] == "no data"
    assert out["segments"]
    assert all(s["level"] is None for s in out["segments"])
    assert all(z["level"] is None for z in out["zones"] if z["code"] == "town_kidal")

    await report(client, reporter, type="ied", at=KIDAL, sharing_level="red", severity=4)
    # The red IED counts for everyone, by its masked entry for outsiders: data, and a level.
    seen = (await client.post("/api/v1/risk/assess", json=body, headers=planner.headers)).json()
    assert seen["coverage"] == "data"
    assert isinstance(seen["level"], int)
    assert all(isinstance(s["level"], int) for s in seen["segments"])


async def test_old_window_incident_is_not_data_today(
    client: AsyncTestClient, factory: Factory
) -> None:
    """An incident just outside the window (731 days ago) gives no level; one just inside does."""
    reporter = await factory.caller("reporter")
    planner = await factory.caller("planner")
    zid = await zone_id(client, planner, "town_kidal")
    await report(client, reporter, type="theft", at=KIDAL, days_ago=731, sharing_level="green")
    assert (await zone_risk(client, planner, zid))["coverage"] == "no_data"
    await report(client, reporter, type="theft", at=KIDAL, days_ago=700, sharing_level="green")
    body = await zone_risk(client, planner, zid)
    assert body["coverage"] == "data"
    assert body["last_incident_on"] is None
