"""A mission on a road nobody reported from says "pas de données / no data", not level 1."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from api.web.missions import _card
from geo.gazetteer import Gazetteer
from tests.factories import incident_payload
from tests.missions.conftest import World, mopti_gao


async def plan(world: World) -> dict[str, Any]:
    created = await world.client.post(
        "/api/v1/missions", json=mopti_gao(datetime.now(UTC)), headers=world.planner.headers
    )
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


async def test_a_mission_on_a_road_without_data_says_no_data(world: World) -> None:
    empty = await plan(world)
    assert empty["risk"]["coverage"] == "no_data"
    card = _card(empty, "fr")
    assert card["level"] is None
    assert card["level_label"] == "pas de données"
    assert {s["label"] for s in card["segments"]} == {"pas de données"}
    assert _card(empty, "en")["level_label"] == "no data"

    reporter = await world.factory.caller("reporter")
    hombori = Gazetteer.load().resolve("Hombori")
    made = await world.client.post(
        "/api/v1/incidents",
        json=incident_payload(type="theft", at=(hombori.lat, hombori.lon), sharing_level="green"),
        headers=reporter.headers,
    )
    assert made.status_code == 201, made.text
    covered = await plan(world)
    assert covered["risk"]["coverage"] == "data"
    assert isinstance(_card(covered, "fr")["level"], int)
