"""Two organisations report the same ambush near a mission on the road: its traveller is
alerted once; a further report of that ambush alerts again only when it makes it worse."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from geo.gazetteer import Gazetteer
from missions.nearby import Told, escalates
from tests.factories import Caller, incident_payload
from tests.missions.conftest import TRAVELLER_PHONE, World, mopti_gao


def near_douentza() -> tuple[float, float]:
    place = Gazetteer.load().resolve("Douentza")
    return (place.lat + 0.01, place.lon + 0.01)


async def on_the_road(world: World) -> None:
    created = await world.client.post(
        "/api/v1/missions", json=mopti_gao(datetime.now(UTC)), headers=world.planner.headers
    )
    assert created.status_code == 201, created.text
    mid = created.json()["id"]
    approved = await world.client.post(
        f"/api/v1/missions/{mid}/approve", headers=world.officer.headers
    )
    assert approved.status_code == 200, approved.text
    assert (await world.sms("OK"))["status"] == "checked_in"


async def report(world: World, caller: Caller, minutes: float, **extra: Any) -> str:
    body = incident_payload(
        type="ambush",
        at=near_douentza(),
        days_ago=minutes / 1440,
        sharing_level="green",
        **extra,
    )
    answer = await world.client.post("/api/v1/incidents", json=body, headers=caller.headers)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def ambush_alerts(world: World) -> list[str]:
    await world.deliver()
    return [m for m in world.to(TRAVELLER_PHONE) if "embuscade" in m.lower()]


async def test_two_organisations_report_one_ambush_and_the_traveller_is_told_once(
    world: World,
) -> None:
    await on_the_road(world)
    a = await world.factory.caller("reporter")
    b = await world.factory.caller("reporter")
    first = await report(world, a, minutes=40)
    assert len(await ambush_alerts(world)) == 1
    second = await report(world, b, minutes=30)
    linked = await world.client.get(f"/api/v1/incidents/{second}/event", headers=a.headers)
    assert linked.json()["linked"] == [first]  # one event
    again = await report(world, a, minutes=20)  # the same organisation re-sends it

    assert len(await ambush_alerts(world)) == 1, world.to(TRAVELLER_PHONE)
    assert again != second


async def test_a_further_report_that_makes_the_ambush_worse_alerts_again(world: World) -> None:
    await on_the_road(world)
    a = await world.factory.caller("reporter")
    b = await world.factory.caller("reporter")
    await report(world, a, minutes=40, severity=3)
    await report(world, b, minutes=30, severity=3)
    assert len(await ambush_alerts(world)) == 1
    await report(world, b, minutes=20, severity=5)  # now reported with deaths: worse

    assert len(await ambush_alerts(world)) == 2


def test_what_escalates_an_event_already_told() -> None:
    told = [Told("disappearance", 4, False)]
    assert not escalates("disappearance", 4, False, told)
    assert not escalates("detention", 3, False, told)
    assert escalates("disappearance", 5, False, told)
    assert escalates("kidnapping", 4, False, told)  # the abduction confirmed
    assert escalates("disappearance", 4, True, told)  # aid workers affected
    assert escalates("ambush", 2, False, [Told("clash", 3, False)])
    assert not escalates("ambush", 2, False, [Told("armed_attack", 3, False)])
    assert escalates("clash", 1, False, [])
