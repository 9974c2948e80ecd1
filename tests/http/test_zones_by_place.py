"""Zones by name and by place (issue 18, item 5): `GET /zones?q=`, `GET /zones/{place}/risk`,
`GET /places?q=`; and what another organisation, another role or the operator learns from them.
"""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.factories import MENAKA, Caller, Factory, incident_payload


def box(min_lon: float, min_lat: float, max_lon: float, max_lat: float) -> dict[str, Any]:
    return {
        "type": "Polygon",
        "coordinates": [
            [
                [min_lon, min_lat],
                [max_lon, min_lat],
                [max_lon, max_lat],
                [min_lon, max_lat],
                [min_lon, min_lat],
            ]
        ],
    }


# Ménaka's cercle and région, roughly (the official ones come from COD-AB): three zones that a
# planner asking for "Ménaka" may mean, besides the default 20 km town circle.
cercle_menaka = box(1.6, 15.2, 4.2, 16.9)
region_menaka = box(0.6, 14.6, 4.24, 17.6)
# An organisation's own area of interest around Ménaka: nobody else may learn it exists.
custom_near_menaka = box(2.3, 15.8, 2.5, 16.0)
CUSTOM_NAME = "Ménaka quartier Secret-B"


@pytest.fixture(name="operator")
async def fx_operator(factory: Factory) -> Caller:
    return await factory.operator()


@pytest.fixture(name="planner")
async def fx_planner(factory: Factory) -> Caller:
    return await factory.caller("planner")


@pytest.fixture(name="other_officer")
async def fx_other_officer(factory: Factory) -> Caller:
    return await factory.caller("officer")


async def official_menaka(client: AsyncTestClient, operator: Caller) -> None:
    for code, kind, name, geometry in (
        ("ml0801", "admin2", "Ménaka", cercle_menaka),
        ("ml08", "admin1", "Ménaka", region_menaka),
    ):
        response = await client.post(
            "/api/v1/zones",
            json={"name_fr": name, "code": code, "kind": kind, "geometry": geometry},
            headers=operator.headers,
        )
        assert response.status_code == 201, response.text


async def custom_zone(client: AsyncTestClient, officer: Caller) -> str:
    response = await client.post(
        "/api/v1/zones",
        json={"name_fr": CUSTOM_NAME, "geometry": custom_near_menaka},
        headers=officer.headers,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def search(client: AsyncTestClient, caller: Caller, q: str) -> list[tuple[str, str]]:
    response = await client.get("/api/v1/zones", params={"q": q}, headers=caller.headers)
    assert response.status_code == 200, response.text
    return [(f["id"], f["match"]) for f in response.json()["features"]]


async def test_menaka_risk_by_name_answers_with_the_nested_zones(
    client: AsyncTestClient, operator: Caller, planner: Caller
) -> None:
    """Was 404; "Ménaka" named three zones (town, cercle, région) with three answers."""
    await official_menaka(client, operator)
    response = await client.get("/api/v1/zones/Ménaka/risk", headers=planner.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["matched"] == "place"
    assert body["place"]["name"] == "Ménaka"
    assert abs(body["place"]["lat"] - MENAKA[0]) < 0.05
    nested = [z["zone_id"] for z in body["nested"]]
    # Narrowest first: the answer is for the town circle, and says so.
    assert body["zone_id"] == nested[0] == "town_menaka"
    assert nested.index("town_menaka") < nested.index("ml0801") < nested.index("ml08")
    assert nested[-1] == "mli"
    areas = [z["area_km2"] for z in body["nested"]]
    assert areas == sorted(areas)
    # The same answer whatever the spelling; an id still answers for that zone alone.
    for spelling in ("menaka", "MENAKA", "Ménakka"):
        again = await client.get(f"/api/v1/zones/{spelling}/risk", headers=planner.headers)
        assert again.status_code == 200, (spelling, again.text)
        assert again.json()["zone_id"] == "town_menaka"
        assert [z["zone_id"] for z in again.json()["nested"]] == nested
    by_id = (await client.get("/api/v1/zones/ml0801/risk", headers=planner.headers)).json()
    assert (by_id["zone_id"], by_id["matched"], by_id["nested"]) == ("ml0801", "id", None)
    history = await client.get("/api/v1/zones/Ménaka/risk/history", headers=planner.headers)
    assert history.status_code == 200, history.text
    assert history.json()["zone_id"] == "town_menaka"


async def test_search_finds_zones_by_name_then_the_zones_holding_the_place(
    client: AsyncTestClient, operator: Caller, planner: Caller
) -> None:
    await official_menaka(client, operator)
    found = await search(client, planner, "Menaka")
    named = [z for z, m in found if m == "name"]
    assert set(named) == {"town_menaka", "ml0801", "ml08"}
    assert found[: len(named)] == [(z, "name") for z in named]
    holding = [z for z, m in found if m == "place"]
    assert "mli" in holding
    assert "border_ner" in holding
    # A typo, and a place with no zone of its name (on the Algerian border).
    assert {z for z, m in await search(client, planner, "Ménakka") if m == "name"} == set(named)
    tinza = await search(client, planner, "Tinzawatene")
    assert ("border_dza", "place") in tinza
    assert ("mli", "place") in tinza
    assert await search(client, planner, "zzzz qqqq") == []
    # With a kind: only that kind.
    response = await client.get(
        "/api/v1/zones", params={"q": "Ménaka", "kind": "admin2"}, headers=planner.headers
    )
    assert [f["id"] for f in response.json()["features"]] == ["ml0801"]


async def test_places_lists_the_zones_holding_each_place(
    client: AsyncTestClient, operator: Caller, planner: Caller
) -> None:
    await official_menaka(client, operator)
    response = await client.get(
        "/api/v1/places", params={"q": "Ménaka", "limit": 3}, headers=planner.headers
    )
    assert response.status_code == 200, response.text
    first = response.json()["places"][0]
    assert first["place"]["name"] == "Ménaka"
    assert first["place"]["source"].startswith("geonames:")
    assert first["zones"][0]["zone_id"] == "town_menaka"
    assert {"ml0801", "ml08", "mli"} <= {z["zone_id"] for z in first["zones"]}
    tinza = (
        await client.get("/api/v1/places", params={"q": "Tinzaouatène"}, headers=planner.headers)
    ).json()["places"][0]
    assert tinza["place"]["name"] == "Tinzaouatène"
    assert {"border_dza", "mli"} <= {z["zone_id"] for z in tinza["zones"]}


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/zones", {"q": "   "}, "q"),
        ("/api/v1/zones", {"q": "x" * 101}, "q"),
        ("/api/v1/places", {"q": ""}, "q"),
        ("/api/v1/places", {"q": "Gao", "limit": 0}, "limit"),
        ("/api/v1/places", {"q": "Gao", "limit": 21}, "limit"),
        ("/api/v1/zones/" + "y" * 101 + "/risk", {}, "zone"),
    ],
    ids=["blank", "too-long", "places-empty", "limit-0", "limit-21", "ref-too-long"],
)
async def test_bad_queries_are_refused_naming_the_field(
    client: AsyncTestClient, planner: Caller, path: str, params: dict[str, Any], field: str
) -> None:
    response = await client.get(path, params=params, headers=planner.headers)
    assert response.status_code in (400, 422), response.text
    assert field in response.text


async def test_unknown_place_is_404_with_suggestions(
    client: AsyncTestClient, planner: Caller
) -> None:
    response = await client.get("/api/v1/zones/Tombouctouu%20xyz/risk", headers=planner.headers)
    assert response.status_code == 404, response.text
    assert "Tombouctou" in response.text
    assert (await client.get("/api/v1/zones/Ménaka/risk")).status_code == 401


async def test_another_organisations_zone_is_never_found_by_name_or_place(
    client: AsyncTestClient,
    factory: Factory,
    operator: Caller,
    planner: Caller,
    other_officer: Caller,
) -> None:
    await official_menaka(client, operator)
    same_role = await factory.caller("officer", org_id=planner.org_id)
    viewers = (planner, same_role, operator)
    probes = (
        "/api/v1/zones/Ménaka/risk",
        f"/api/v1/zones/{CUSTOM_NAME}/risk",
        "/api/v1/zones/menaka_quartier_secret_b/risk",  # the id its name gives
        "/api/v1/zones/menaka_quartier_secret_b/risk/history",
        "/api/v1/places?q=Ménaka",
        f"/api/v1/places?q={CUSTOM_NAME}",
    )

    async def seen(caller: Caller) -> list[Any]:
        out: list[Any] = [await search(client, caller, q) for q in ("Ménaka", "Secret-B")]
        for path in probes:
            response = await client.get(path, headers=caller.headers)
            body = response.json()
            for key in ("computed_at", "score", "sub_scores", "level", "level_code", "trend"):
                body.pop(key, None)  # platform zones count every report: the level may move
            out.append(
                (
                    response.status_code,
                    body
                    if response.status_code != 200
                    else {
                        k: body.get(k) for k in ("zone_id", "matched", "nested", "place", "places")
                    },
                )
            )
        return out

    before = [await seen(c) for c in viewers]
    hidden = await custom_zone(client, other_officer)
    assert hidden == "menaka_quartier_secret_b"
    # The other organisation reports there, in full and restricted.
    for level in ("red", "green"):
        payload = incident_payload(at=(15.9, 2.4), sharing_level=level)
        response = await client.post(
            "/api/v1/incidents", json=payload, headers=other_officer.headers
        )
        assert response.status_code == 201, response.text
    # Its own people find their zone by name, by id and among the zones holding Ménaka.
    assert (hidden, "name") in await search(client, other_officer, "Secret-B")
    own = await client.get("/api/v1/zones/Ménaka/risk", headers=other_officer.headers)
    assert hidden in {z["zone_id"] for z in own.json()["nested"]}
    by_id = await client.get(f"/api/v1/zones/{hidden}/risk", headers=other_officer.headers)
    assert by_id.status_code == 200, by_id.text
    # Nobody else learns anything: every answer as before it existed, in the same order
    # (another organisation of the same role, the platform operator).
    after = [await seen(c) for c in viewers]
    assert after == before
    for caller in viewers:
        for path in probes:
            if "secret" in path.lower():
                continue  # an error message names what was asked
            text = (await client.get(path, headers=caller.headers)).text
            assert hidden not in text
            assert "Secret" not in text
