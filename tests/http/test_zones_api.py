"""Zones and risk through HTTP: default zones, incident zones, ?zone=, CRUD, risk, assessment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.factories import BAMAKO, DIEMA, GAO, KIDAL, MENAKA, Caller, Factory, incident_payload

# A small square around Kidal town and a bow-tie (self-crossing) polygon next to it.
square_at_kidal = {
    "type": "Polygon",
    "coordinates": [[[1.3, 18.3], [1.5, 18.3], [1.5, 18.5], [1.3, 18.5], [1.3, 18.3]]],
}
bowtie_at_kidal = {
    "type": "Polygon",
    "coordinates": [[[1.3, 18.3], [1.5, 18.5], [1.5, 18.3], [1.3, 18.5], [1.3, 18.3]]],
}
open_ring_at_kidal = {
    "type": "Polygon",
    "coordinates": [[[1.3, 18.3], [1.5, 18.3], [1.5, 18.5], [1.3, 18.5]]],
}
route_bamako_kidal = {  # about 1 150 km
    "type": "LineString",
    "coordinates": [[BAMAKO[1], BAMAKO[0]], [KIDAL[1], KIDAL[0]]],
}
route_gao_menaka = {
    "type": "LineString",
    "coordinates": [[GAO[1], GAO[0]], [1.2, 16.3], [MENAKA[1], MENAKA[0]]],
}


@pytest.fixture(name="officer")
async def fx_officer(factory: Factory) -> Caller:
    return await factory.caller("officer")


async def report(client: AsyncTestClient, caller: Caller, **kw: Any) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/incidents", json=incident_payload(**kw), headers=caller.headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def codes(feature: dict[str, Any]) -> set[str]:
    return {z["code"] for z in feature["properties"]["zones"]}


async def test_default_zones_listed_with_risk(client: AsyncTestClient, officer: Caller) -> None:
    response = await client.get("/api/v1/zones", headers=officer.headers)
    assert response.status_code == 200, response.text
    features = response.json()["features"]
    by_code = {f["properties"]["code"]: f for f in features}
    assert {"mli", "border_mrt", "liptako_gourma", "town_kidal", "town_diema"} <= set(by_code)
    assert by_code["town_kidal"]["properties"]["approximate"] is True
    # Nothing reported around Kidal yet: no data, not "low" (docs/coverage.md).
    assert by_code["town_kidal"]["properties"]["risk"]["level"] is None
    assert by_code["town_kidal"]["properties"]["risk"]["coverage"] == "no_data"


@pytest.mark.parametrize(
    ("place", "inside", "outside"),
    [
        (DIEMA, {"border_mrt", "town_diema", "mli"}, {"town_bamako"}),
        (MENAKA, {"town_menaka"}, {"border_mrt"}),
        (BAMAKO, {"town_bamako"}, {"border_mrt", "border_dza", "border_ner", "border_bfa"}),
    ],
    ids=["diema", "menaka", "bamako"],
)
async def test_incident_lists_its_zones(
    client: AsyncTestClient,
    officer: Caller,
    place: tuple[float, float],
    inside: set[str],
    outside: set[str],
) -> None:
    created = await report(client, officer, at=place)
    assert inside <= codes(created)
    assert not outside & codes(created)
    again = (await client.get(f"/api/v1/incidents/{created['id']}", headers=officer.headers)).json()
    assert codes(again) == codes(created)
    ref = next(z for z in again["properties"]["zones"] if z["code"] == "mli")
    assert ref == {"id": "mli", "code": "mli", "name": "Mali", "kind": "country"}


async def test_zone_filter_returns_only_its_incidents(
    client: AsyncTestClient, officer: Caller
) -> None:
    at_diema = await report(client, officer, at=DIEMA)
    await report(client, officer, at=MENAKA)
    response = await client.get("/api/v1/incidents?zone=town_diema", headers=officer.headers)
    assert response.status_code == 200, response.text
    assert [f["id"] for f in response.json()["features"]] == [at_diema["id"]]
    unknown = await client.get("/api/v1/incidents?zone=atlantis", headers=officer.headers)
    assert unknown.status_code == 404


async def test_moving_an_incident_changes_its_zones(
    client: AsyncTestClient, officer: Caller
) -> None:
    created = await report(client, officer, at=DIEMA)
    moved = await client.patch(
        f"/api/v1/incidents/{created['id']}",
        json={"lat": KIDAL[0], "lon": KIDAL[1]},
        headers={**officer.headers, "If-Match": '"1"'},
    )
    assert moved.status_code == 200, moved.text
    assert "town_kidal" in codes(moved.json())
    assert "town_diema" not in codes(moved.json())


async def test_reports_raise_the_zone_level_and_retraction_lowers_it(
    client: AsyncTestClient, officer: Caller
) -> None:
    ids = [
        (await report(client, officer, at=MENAKA, type="armed_attack", severity=5, days_ago=1 + i))[
            "id"
        ]
        for i in range(6)
    ]
    risk = (await client.get("/api/v1/zones/town_menaka/risk", headers=officer.headers)).json()
    assert risk["level"] >= 3
    assert risk["score"] > 0
    assert {c["incident_id"] for c in risk["contributors"]} <= set(ids)
    assert set(risk["sub_scores"]) >= {"violence"}
    ranking = (await client.get("/api/v1/risk", headers=officer.headers)).json()["zones"]
    assert (ranking[0]["level"] or 0) >= (ranking[-1]["level"] or 0)  # None: no data
    assert ranking.index(next(z for z in ranking if z["zone_id"] == "town_menaka")) < ranking.index(
        next(z for z in ranking if z["zone_id"] == "town_bamako")
    )
    for incident_id in ids:
        done = await client.post(
            f"/api/v1/incidents/{incident_id}/retract", json={}, headers=officer.headers
        )
        assert done.status_code == 200, done.text
    after = (await client.get("/api/v1/zones/town_menaka/risk", headers=officer.headers)).json()
    # Every report retracted: nothing is left to say anything about Ménaka.
    assert (after["level"], after["coverage"]) == (None, "no_data")
    assert after["score"] == 0


async def test_ranking_right_after_a_report_shows_the_new_level(
    client: AsyncTestClient, officer: Caller
) -> None:
    def kidal(ranking: list[dict[str, Any]]) -> dict[str, Any]:
        return next(z for z in ranking if z["zone_id"] == "town_kidal")

    before = kidal((await client.get("/api/v1/risk", headers=officer.headers)).json()["zones"])
    for i in range(6):  # six attacks 12 h apart: six events, none linked to another
        await report(client, officer, at=KIDAL, type="armed_attack", severity=5, days_ago=1 + i / 2)
    # No wait: the read re-scores the zones the reports marked, whatever the worker is doing.
    after = kidal((await client.get("/api/v1/risk", headers=officer.headers)).json()["zones"])
    assert before["level"] is None
    assert before["coverage"] == "no_data"
    assert after["level"] >= 3
    assert after["score"] > before["score"]


async def test_create_zone_assigns_existing_incidents(
    client: AsyncTestClient, officer: Caller
) -> None:
    created = await report(client, officer, at=KIDAL)
    response = await client.post(
        "/api/v1/zones",
        json={"name_fr": "Kidal centre", "code": "kidal_centre", "geometry": square_at_kidal},
        headers=officer.headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["properties"]["kind"] == "custom"
    incident = (
        await client.get(f"/api/v1/incidents/{created['id']}", headers=officer.headers)
    ).json()
    assert "kidal_centre" in codes(incident)
    deleted = await client.delete("/api/v1/zones/kidal_centre", headers=officer.headers)
    assert deleted.status_code == 204
    incident = (
        await client.get(f"/api/v1/incidents/{created['id']}", headers=officer.headers)
    ).json()
    assert "kidal_centre" not in codes(incident)
    assert (
        await client.get("/api/v1/zones/kidal_centre", headers=officer.headers)
    ).status_code == 404


@pytest.mark.parametrize("geometry", [bowtie_at_kidal, open_ring_at_kidal], ids=["bowtie", "open"])
async def test_invalid_polygon_is_repaired_with_a_warning(
    client: AsyncTestClient, officer: Caller, geometry: dict[str, Any]
) -> None:
    response = await client.post(
        "/api/v1/zones",
        json={"name_fr": "Kidal nord", "geometry": geometry},
        headers=officer.headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["warnings"]
    assert response.json()["id"] == "kidal_nord"


async def test_put_zone_bumps_version(client: AsyncTestClient, officer: Caller) -> None:
    body = {"name_fr": "Kidal centre", "code": "kc", "geometry": square_at_kidal}
    assert (
        await client.post("/api/v1/zones", json=body, headers=officer.headers)
    ).status_code == 201
    response = await client.put(
        "/api/v1/zones/kc", json={**body, "name_en": "Kidal centre EN"}, headers=officer.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["properties"]["version"] == 2
    assert response.json()["properties"]["name_en"] == "Kidal centre EN"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name_fr": "x", "geometry": {"type": "Point", "coordinates": [1, 18]}}, "geometry.type"),
        (
            {
                "name_fr": "x",
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[1, 18], [1, 18], [1, 18], [1, 18]]],
                },
            },
            "geometry",
        ),
        (
            {
                "name_fr": "x",
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[1, 98], [2, 98], [2, 99], [1, 98]]],
                },
            },
            "geometry.coordinates",
        ),
        ({"name_fr": "x", "kind": "planet", "geometry": square_at_kidal}, "kind"),
    ],
    ids=["not-polygon", "no-area", "latitude-out-of-range", "bad-kind"],
)
async def test_bad_zone_is_refused_naming_the_field(
    client: AsyncTestClient, officer: Caller, body: dict[str, Any], field: str
) -> None:
    response = await client.post("/api/v1/zones", json=body, headers=officer.headers)
    assert response.status_code == 422, response.text
    assert response.json()["field"].startswith(field)


async def test_reporters_cannot_create_zones(client: AsyncTestClient, factory: Factory) -> None:
    reporter = await factory.caller("reporter")
    response = await client.post(
        "/api/v1/zones",
        json={"name_fr": "x", "geometry": square_at_kidal},
        headers=reporter.headers,
    )
    assert response.status_code == 403


async def test_unknown_zone_is_404(client: AsyncTestClient, officer: Caller) -> None:
    for path in (
        "/api/v1/zones/atlantis",
        "/api/v1/zones/atlantis/risk",
        "/api/v1/zones/atlantis/risk/history",
    ):
        response = await client.get(path, headers=officer.headers)
        assert response.status_code == 404, path


async def test_risk_history_steps(client: AsyncTestClient, officer: Caller) -> None:
    await report(client, officer, at=MENAKA, type="armed_attack", severity=5, days_ago=5)
    response = await client.get(
        "/api/v1/zones/town_menaka/risk/history",
        params={"from": "2020-01-01T00:00:00Z", "to": "2020-01-05T00:00:00Z", "step": "1d"},
        headers=officer.headers,
    )
    assert response.status_code == 200, response.text
    points = response.json()["points"]
    assert len(points) == 5
    assert all(p["score"] == 0 for p in points)
    recent = await client.get(
        "/api/v1/zones/town_menaka/risk/history", params={"step": "1d"}, headers=officer.headers
    )
    scores = [p["score"] for p in recent.json()["points"]]
    assert scores[0] == 0
    assert scores[-1] > 0
    bad = await client.get(
        "/api/v1/zones/town_menaka/risk/history", params={"step": "soon"}, headers=officer.headers
    )
    assert bad.status_code == 422
    assert bad.json()["field"] == "step"


@pytest.mark.parametrize(
    "step",
    ["99999999999999d", "367d", "53w", "8785h", "9" * 5000 + "d"],
    ids=["overflow", "days", "weeks", "hours", "thousands-of-digits"],
)
async def test_risk_history_step_over_a_year_is_refused(
    client: AsyncTestClient, officer: Caller, step: str
) -> None:
    response = await client.get(
        "/api/v1/zones/town_menaka/risk/history", params={"step": step}, headers=officer.headers
    )
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "step"


async def test_risk_at_is_rounded_down_to_its_utc_day(
    client: AsyncTestClient, officer: Caller
) -> None:
    now = datetime.now(UTC)
    occurred = (now - timedelta(days=2)).replace(hour=12, minute=0, second=0, microsecond=0)
    days_ago = (now - occurred) / timedelta(days=1)
    await report(client, officer, at=MENAKA, type="armed_attack", severity=5, days_ago=days_ago)
    path = "/api/v1/zones/town_menaka/risk"

    async def risk_at(at: datetime) -> dict[str, Any]:
        iso = at.isoformat().replace("+00:00", "Z")
        response = await client.get(path, params={"at": iso}, headers=officer.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    # A minute after the incident is still its day, which starts before it: not yet counted.
    just_after = await risk_at(occurred + timedelta(minutes=1))
    day = occurred.replace(hour=0, minute=0, second=0, microsecond=0)
    assert just_after["computed_at"].startswith(day.strftime("%Y-%m-%dT00:00:00"))
    assert just_after["score"] == 0
    assert just_after == await risk_at(day + timedelta(hours=23, minutes=59))
    next_day = await risk_at(day + timedelta(days=1, minutes=1))
    assert next_day["score"] > 0


@pytest.mark.parametrize(
    "at", ["0001-01-01T00:00:00Z", "2000-01-01T00:00:00Z"], ids=["year-one", "before-retention"]
)
async def test_risk_at_older_than_retention_is_refused(
    client: AsyncTestClient, officer: Caller, at: str
) -> None:
    response = await client.get(
        "/api/v1/zones/town_menaka/risk", params={"at": at}, headers=officer.headers
    )
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "at"


async def test_assess_route_gao_menaka(client: AsyncTestClient, officer: Caller) -> None:
    on_road = await report(client, officer, at=(16.3, 1.2), type="armed_attack", severity=5)
    await report(client, officer, at=BAMAKO, type="armed_attack", severity=5)
    response = await client.post(
        "/api/v1/risk/assess",
        json={"geometry": route_gao_menaka, "window_days": 90},
        headers=officer.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["kind"] == "route"
    assert 250 < body["length_km"] < 290  # Gao - Tin Hama area - Ménaka, about 268 km
    assert [i["id"] for i in body["incidents"]] == [on_road["id"]]
    incident = body["incidents"][0]
    assert incident["distance_km"] < 1
    assert 120 < incident["along_km"] < 140
    assert {"town_gao", "town_menaka"} <= {z["code"] for z in body["zones"]}
    segments = body["segments"]
    assert len(segments) == round(body["length_km"] / 25)
    assert segments[-1]["to_km"] == pytest.approx(body["length_km"], abs=0.1)
    assert sum(s["incident_count"] for s in segments) == 1
    hit = next(s for s in segments if s["incident_count"])
    assert hit["from_km"] <= incident["along_km"] <= hit["to_km"]
    assert hit["level"] >= max(s["level"] for s in segments)
    assert body["level"] >= 1


async def test_assess_point_with_radius(client: AsyncTestClient, officer: Caller) -> None:
    await report(client, officer, at=KIDAL, type="armed_attack", severity=5)
    response = await client.post(
        "/api/v1/risk/assess",
        json={
            "geometry": {"type": "Point", "coordinates": [KIDAL[1], KIDAL[0] + 0.1]},
            "radius_km": 20,
        },
        headers=officer.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["incident_count"] == 1
    assert 10 < body["incidents"][0]["distance_km"] < 12
    assert body["segments"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"geometry": {"type": "Point", "coordinates": [1.4, 18.4]}, "radius_km": 0}, "radius_km"),
        (
            {"geometry": {"type": "Point", "coordinates": [1.4, 18.4]}, "radius_km": 501},
            "radius_km",
        ),
        ({"geometry": {"type": "Point", "coordinates": [1.4, 18.4]}}, "radius_km"),
        ({"geometry": {"type": "LineString", "coordinates": [[1.4, 18.4]]}}, "geometry"),
        (
            {"geometry": {"type": "LineString", "coordinates": [[1.4, 18.4], [1.4, 18.4]]}},
            "geometry",
        ),
        ({"geometry": {"type": "Point", "coordinates": [1.4, 98.4]}, "radius_km": 5}, "geometry"),
        ({"geometry": route_gao_menaka, "window_days": 100_000}, "window_days"),
        ({"geometry": route_gao_menaka, "window_days": 0}, "window_days"),
        ({"geometry": route_gao_menaka, "segment_km": 0.001}, "segment_km"),
        ({"geometry": route_gao_menaka, "segment_km": 0.5}, "segment_km"),
        ({"geometry": route_bamako_kidal, "segment_km": 1}, "segment_km"),
    ],
    ids=[
        "radius-zero",
        "radius-too-big",
        "radius-missing",
        "one-point-route",
        "zero-length-route",
        "latitude-out-of-range",
        "window-too-long",
        "window-zero",
        "segment-tiny",
        "segment-under-1km",
        "too-many-segments",
    ],
)
async def test_assess_bad_input(
    client: AsyncTestClient, officer: Caller, body: dict[str, Any], field: str
) -> None:
    response = await client.post("/api/v1/risk/assess", json=body, headers=officer.headers)
    assert response.status_code == 422, response.text
    assert response.json()["field"].startswith(field)


@pytest.mark.parametrize("step", ["12h", "36h"])
async def test_risk_history_in_hours_is_refused(
    client: AsyncTestClient, officer: Caller, step: str
) -> None:
    response = await client.get(
        "/api/v1/zones/town_menaka/risk/history", params={"step": step}, headers=officer.headers
    )
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "step"


async def test_risk_history_points_fall_on_utc_midnights(
    client: AsyncTestClient, officer: Caller
) -> None:
    response = await client.get(
        "/api/v1/zones/town_menaka/risk/history",
        params={"from": "2026-11-01T13:17:00Z", "to": "2026-11-05T09:00:00Z", "step": "1d"},
        headers=officer.headers,
    )
    assert response.status_code == 200, response.text
    times = [p["at"] for p in response.json()["points"]]
    assert times
    assert all(t.endswith("T00:00:00Z") for t in times)
