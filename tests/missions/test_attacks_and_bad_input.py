"""Another organisation, another role and the platform operator cannot see, list, count, check
in to or export a mission, and their errors say nothing of its existence; bad input is a clear
4xx (or SMS reply) and changes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from missions.tables import MissionCheckinRow, MissionRow
from tests.missions.conftest import TRAVELLER_PHONE, World, mopti_gao


async def _mission(world: World) -> dict:
    created = await world.client.post(
        "/api/v1/missions", json=mopti_gao(datetime.now(UTC)), headers=world.planner.headers
    )
    assert created.status_code == 201, created.text
    return created.json()


async def test_outsiders_cannot_see_list_count_check_in_or_export(world: World) -> None:
    mission = await _mission(world)
    mid = mission["id"]
    other_org = await world.factory.caller("officer")
    operator = await world.factory.operator()
    same_org_reporter = await world.factory.caller("reporter", org_id=world.planner.org_id)
    unknown = str(uuid.uuid4())
    for who in (other_org, operator, same_org_reporter):
        listing = (await world.client.get("/api/v1/missions", headers=who.headers)).json()
        assert (listing["count"], listing["items"]) == (0, [])
        filtered = (
            await world.client.get("/api/v1/missions?state=planned", headers=who.headers)
        ).json()
        assert filtered["count"] == 0
        for path, method in (
            ("", "get"),
            ("/risk", "get"),
            ("/checkins", "post"),
            ("/acknowledge", "post"),
            ("/close", "post"),
            ("/start", "post"),
        ):
            real = await getattr(world.client, method)(
                f"/api/v1/missions/{mid}{path}", headers=who.headers
            )
            fake = await getattr(world.client, method)(
                f"/api/v1/missions/{unknown}{path}", headers=who.headers
            )
            assert real.status_code == fake.status_code == 404, (who.role, path, real.text)
            assert real.json()["detail"].replace(mid, "ID") == fake.json()["detail"].replace(
                unknown, "ID"
            )
    # The export: officers only, their own organisation's missions only, same answer as none.
    real = await world.client.get(f"/api/v1/missions/{mid}/notification", headers=other_org.headers)
    fake = await world.client.get(
        f"/api/v1/missions/{unknown}/notification", headers=other_org.headers
    )
    assert real.status_code == fake.status_code == 404
    planner = await world.client.get(
        f"/api/v1/missions/{mid}/notification", headers=world.planner.headers
    )
    assert planner.status_code == 403
    # Only the mission's travellers check in, even inside the organisation.
    by_officer = await world.client.post(
        f"/api/v1/missions/{mid}/checkins", json={}, headers=world.officer.headers
    )
    assert by_officer.status_code == 403
    async with world.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(MissionCheckinRow)) == 0


async def test_the_export_is_audited_and_says_notification_is_voluntary(world: World) -> None:
    mission = await _mission(world)
    mid = mission["id"]
    csv = await world.client.get(
        f"/api/v1/missions/{mid}/notification", headers=world.officer.headers
    )
    assert csv.status_code == 200, csv.text
    assert "volontaire" in csv.text
    assert "Mopti - Douentza - Hombori - Gao" in csv.text
    assert "Awa" not in csv.text  # no traveller
    pdf = await world.client.get(
        f"/api/v1/missions/{mid}/notification?format=pdf&language=en", headers=world.officer.headers
    )
    assert pdf.status_code == 200, pdf.text  # WeasyPrint is in the test extras
    assert pdf.content.startswith(b"%PDF")
    async with world.db.read() as session:
        from incidents.sharing.tables import AuditRow

        actions = (await session.execute(select(AuditRow.action))).scalars().all()
    assert actions.count("mission.notification_exported") >= 1
    # Off by default: the deployment must turn it on.
    import dataclasses

    from api.http.app import container_of

    missions = container_of(world.app).missions
    assert missions is not None
    missions.config = dataclasses.replace(missions.config, notification_export=False)
    off = await world.client.get(
        f"/api/v1/missions/{mid}/notification", headers=world.officer.headers
    )
    assert off.status_code == 403
    assert "SENTINELLE_MISSIONS_NOTIFICATION_EXPORT" in off.json()["detail"]


async def test_bad_input_is_refused_naming_the_field_and_changes_nothing(world: World) -> None:
    now = datetime.now(UTC)
    cases = [
        (mopti_gao(now, arrival_at=(now - timedelta(hours=2)).isoformat()), "arrival_at"),
        (
            mopti_gao(
                now,
                stops=[{"place": "Kayes", "expected_at": (now + timedelta(hours=1)).isoformat()}],
            ),
            "stops[0]",
        ),
        (
            mopti_gao(
                now, travellers=[{"name": "Awa", "phone": TRAVELLER_PHONE, "duress_word": "ARRIVÉ"}]
            ),
            "travellers[0].duress_word",
        ),
        (
            mopti_gao(
                now, travellers=[{"name": "Awa", "phone": TRAVELLER_PHONE, "duress_word": "ok"}]
            ),
            "travellers[0].duress_word",
        ),
        (mopti_gao(now, route={"places": ["Mopti", "Atlantide"]}), "route.places[1]"),
        (mopti_gao(now, sharing_level="green"), "sharing_level"),
    ]
    for body, field in cases:
        answer = await world.client.post(
            "/api/v1/missions", json=body, headers=world.planner.headers
        )
        assert answer.status_code == 422, (field, answer.text)
        assert answer.json()["field"] == field, answer.json()
        assert answer.headers["content-type"].startswith("application/problem+json")
    async with world.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(MissionRow)) == 0


async def test_closed_missions_and_unknown_codes_by_sms_change_nothing(world: World) -> None:
    mission = await _mission(world)
    mid, code = mission["id"], mission["code"]
    unknown = await world.sms("OK ZZ99")
    assert unknown["status"] == "unknown_mission"
    assert code in unknown["reply"]  # the reply lists this phone's codes
    await world.client.post(f"/api/v1/missions/{mid}/close", headers=world.planner.headers)
    closed = await world.sms(f"OK {code}")
    assert closed["status"] == "mission_closed"
    api = await world.client.post(
        f"/api/v1/missions/{mid}/checkins", json={}, headers=world.planner.headers
    )
    assert api.status_code == 403
    async with world.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(MissionCheckinRow)) == 0
        row = await session.get(MissionRow, uuid.UUID(mid))
        assert row is not None
        assert row.checkin_count == 0
