"""Check-ins by SMS and API beyond the Done-when: help, delays, several missions, a position only
when given; the kidnapping protocol; the tick starting approved missions at their departure."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from incidents.records.tables import UserRow
from missions.tables import MissionCheckinRow, MissionRow
from tests.factories import incident_payload
from tests.missions.conftest import OFFICER_PHONE, PLANNER_PHONE, TRAVELLER_PHONE, World, mopti_gao


async def _mission(world: World, **extra: object) -> dict:
    created = await world.client.post(
        "/api/v1/missions",
        json=mopti_gao(datetime.now(UTC), **extra),
        headers=world.planner.headers,
    )
    assert created.status_code == 201, created.text
    return created.json()


async def test_help_by_sms_raises_the_alarm_to_every_responder_at_once(world: World) -> None:
    mission = await _mission(world)
    answer = await world.sms(f"AIDE {mission['code']}")
    assert answer["status"] == "help"
    await world.deliver()
    for phone in (PLANNER_PHONE, OFFICER_PHONE):
        assert len(world.to(phone)) == 1
        assert "AIDE" in world.to(phone)[0]
    got = (
        await world.client.get(f"/api/v1/missions/{mission['id']}", headers=world.officer.headers)
    ).json()
    assert got["state"] == "alarm"
    assert got["alarm"]["reason"] == "help"


async def test_late_pushes_the_next_check_in_back(world: World) -> None:
    mission = await _mission(world)
    before = datetime.fromisoformat(mission["next_checkin_by"].replace("Z", "+00:00"))
    late = await world.sms("RETARD 2H")
    assert late["status"] == "checked_in"
    got = (
        await world.client.get(f"/api/v1/missions/{mission['id']}", headers=world.planner.headers)
    ).json()
    after = datetime.fromisoformat(got["next_checkin_by"].replace("Z", "+00:00"))
    assert after - before == timedelta(hours=2)
    assert [s["checked_in"] for s in got["stops"]] == [False, False]
    missing = await world.sms("RETARD")
    assert missing["status"] == "incomplete"


async def test_a_phone_with_several_missions_is_asked_for_the_code(world: World) -> None:
    first = await _mission(world)
    second = await _mission(world)
    asked = await world.sms("OK")
    assert asked["status"] == "which_mission"
    assert first["code"] in asked["reply"]
    assert second["code"] in asked["reply"]
    done = await world.sms(f"OK {second['code']}")
    assert done["status"] == "checked_in"
    async with world.db.read() as session:
        rows = (await session.execute(select(MissionCheckinRow.mission_id))).scalars().all()
    assert [str(r) for r in rows] == [second["id"]]


async def test_an_api_check_in_keeps_a_position_only_when_given(world: World) -> None:
    mission = await _mission(world)
    async with world.db.read() as session:
        traveller = (
            await session.execute(select(UserRow.id).where(UserRow.phone == TRAVELLER_PHONE))
        ).scalar_one()
    # The traveller's own token (a phone user given a token by an administrator).
    from incidents.identity.accounts import create_token

    async with world.db.transaction() as session:
        _, token = await create_token(session, traveller, now=datetime.now(UTC))
    headers = {"Authorization": f"Bearer {token}"}
    plain = await world.client.post(
        f"/api/v1/missions/{mission['id']}/checkins", json={}, headers=headers
    )
    assert plain.status_code == 201, plain.text
    placed = await world.client.post(
        f"/api/v1/missions/{mission['id']}/checkins",
        json={"lat": 15.0, "lon": -2.95},
        headers=headers,
    )
    assert placed.status_code == 201, placed.text
    half = await world.client.post(
        f"/api/v1/missions/{mission['id']}/checkins", json={"lat": 15.0}, headers=headers
    )
    assert half.status_code == 422
    assert half.json()["field"] == "lon"
    async with world.db.read() as session:
        rows = (
            await session.execute(
                select(MissionCheckinRow.lat, MissionCheckinRow.lon).order_by(MissionCheckinRow.id)
            )
        ).all()
    assert [tuple(r) for r in rows] == [(None, None), (15.0, -2.95)]


async def test_an_abduction_of_the_organisations_staff_sends_its_officers_the_protocol(
    world: World,
) -> None:
    reporter = await world.factory.caller("reporter", org_id=world.officer.org_id)
    reported = await world.client.post(
        "/api/v1/incidents",
        json=incident_payload(
            type="kidnapping", days_ago=0.1, impact={"abducted": 2, "aid_workers_affected": True}
        ),
        headers=reporter.headers,
    )
    assert reported.status_code == 201, reported.text
    await world.deliver()
    got = world.to(OFFICER_PHONE)
    assert len(got) == 1
    assert "Protocole" in got[0] or "protocole" in got[0].lower()
    assert world.to(PLANNER_PHONE) == []  # a planner is no officer
    checklist = await world.client.get(
        "/api/v1/missions/protocol/kidnapping", headers=world.officer.headers
    )
    assert checklist.status_code == 200
    assert "autorités compétentes" in checklist.json()["fr"][0]


async def test_the_tick_starts_an_approved_mission_at_departure_only(world: World) -> None:
    now = datetime.now(UTC)
    body = mopti_gao(now)
    body["departure_at"] = (now + timedelta(minutes=30)).isoformat()
    created = await world.client.post("/api/v1/missions", json=body, headers=world.planner.headers)
    mid = uuid.UUID(created.json()["id"])
    await world.tick(now)
    async with world.db.read() as session:
        assert (await session.get(MissionRow, mid)).state == "planned"  # type: ignore[union-attr]
    await world.tick(now + timedelta(minutes=31))
    async with world.db.read() as session:
        row = await session.get(MissionRow, mid, populate_existing=True)
        assert row is not None
        assert row.state == "active"
