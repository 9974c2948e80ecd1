"""Issue 13's Done-when, through HTTP and SMS with real Apprise delivery to a local receiver:
Mopti -> Gao planned, approved, checked in twice, the third check-in missed and the ladder
alerted in order until an officer takes the alarm; duress; an IED 5 km ahead reaches the
traveller; the purge leaves no position."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text

from alerts.core.tables import AlertRow, DeliveryRow
from geo.gazetteer import Gazetteer
from missions.tables import MissionCheckinRow, MissionRow, MissionStopRow
from tests.factories import incident_payload
from tests.missions.conftest import OFFICER_PHONE, PLANNER_PHONE, TRAVELLER_PHONE, World, mopti_gao


def _ahead_of_hombori(km_off: float = 5.0) -> tuple[float, float]:
    """A point between Hombori and Gao, about `km_off` km north of the road."""
    g = Gazetteer.load()
    h, gao = g.resolve("Hombori"), g.resolve("Gao")
    lat, lon = (h.lat + gao.lat) / 2, (h.lon + gao.lon) / 2
    # The road runs north-east: move perpendicular (north-west) by km_off.
    return lat + km_off / 111.0 * 0.7, lon - km_off / 108.0 * 0.7


async def _plan_with_an_ied_near_hombori(world: World) -> dict:
    reporter = await world.factory.caller("reporter")
    g = Gazetteer.load().resolve("Hombori")
    old_ied = await world.client.post(
        "/api/v1/incidents",
        json=incident_payload(
            type="ied", at=(g.lat, g.lon + 0.02), days_ago=3, sharing_level="green"
        ),
        headers=reporter.headers,
    )
    assert old_ied.status_code == 201, old_ied.text
    now = datetime.now(UTC)
    created = await world.client.post(
        "/api/v1/missions", json=mopti_gao(now), headers=world.planner.headers
    )
    assert created.status_code == 201, created.text
    return created.json()


async def test_mopti_gao_planned_approved_checked_in_missed_escalated_and_taken(
    world: World,
) -> None:
    mission = await _plan_with_an_ied_near_hombori(world)
    code, mid = mission["code"], mission["id"]
    assert re.fullmatch(r"[A-Z]{2}[2-9]{2}", code)
    assert mission["needs_approval"] is True
    assert any("IED" in r for r in mission["approval_reasons"])
    assert [s["level"] >= 1 for s in mission["risk"]["segments"]]
    assert any(i["type"] == "ied" for i in mission["route_incidents"])
    # The ladder by default: the planner (focal point), then the organisation's officers.
    assert [[r["user_id"] for r in step] for step in mission["responders"]] == [
        [str(world.planner.user_id)],
        [str(world.officer.user_id)],
    ]

    refused = await world.client.post(
        f"/api/v1/missions/{mid}/start", headers=world.planner.headers
    )
    assert refused.status_code == 409
    assert "approval" in refused.json()["detail"]
    by_planner = await world.client.post(
        f"/api/v1/missions/{mid}/approve", headers=world.planner.headers
    )
    assert by_planner.status_code == 403
    approved = await world.client.post(
        f"/api/v1/missions/{mid}/approve", headers=world.officer.headers
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["approved_by"]["user_id"] == str(world.officer.user_id)

    # Two check-ins by SMS: the first starts the mission (a bare OK: the phone has one mission).
    first = await world.sms("OK")
    assert first["status"] == "checked_in", first
    assert code in first["reply"]
    second = await world.sms(f"ok {code}")
    assert second["status"] == "checked_in"
    got = (await world.client.get(f"/api/v1/missions/{mid}", headers=world.planner.headers)).json()
    assert (got["state"], got["checkin_count"]) == ("active", 2)
    assert [s["checked_in"] for s in got["stops"]] == [True, True]

    # The arrival (six hours after now) is not checked in: past its 30-minute grace, the ladder.
    arrival = datetime.fromisoformat(got["arrival_at"].replace("Z", "+00:00"))
    missed = arrival + timedelta(minutes=30)
    assert await world.tick(missed - timedelta(seconds=1)) == 0
    assert await world.tick(missed) == 1  # step 0: the traveller is reminded
    assert await world.tick(missed) == 0  # never twice
    await world.deliver(missed)
    assert len(world.to(TRAVELLER_PHONE)) == 1
    assert f"OK {code}" in world.to(TRAVELLER_PHONE)[0]
    assert world.to(PLANNER_PHONE) == []

    step = timedelta(minutes=15)
    assert await world.tick(missed + step) == 1  # step 1: the planner (focal point)
    await world.deliver(missed + step)
    assert len(world.to(PLANNER_PHONE)) == 1
    assert "FLASH" in world.to(PLANNER_PHONE)[0]
    assert world.to(OFFICER_PHONE) == []
    assert await world.tick(missed + 2 * step) == 1  # step 2: the officers
    await world.deliver(missed + 2 * step)
    officer_msg = world.to(OFFICER_PHONE)
    assert len(officer_msg) == 1
    alert_code = re.search(r"OK ([A-Z0-9]{5})", officer_msg[0]).group(1)  # type: ignore[union-attr]
    state = (
        await world.client.get(f"/api/v1/missions/{mid}", headers=world.officer.headers)
    ).json()
    assert state["state"] == "alarm"

    taken = await world.sms(f"OK {alert_code}", phone=OFFICER_PHONE)
    assert taken["status"] == "acknowledged", taken
    after = (
        await world.client.get(f"/api/v1/missions/{mid}", headers=world.officer.headers)
    ).json()
    assert after["alarm"]["acknowledged_by"]["user_id"] == str(world.officer.user_id)
    assert after["alarm"]["acknowledged_by"]["name"] == "officer test"
    assert await world.tick(missed + 10 * step) == 0
    # The order the receiver saw: traveller, planner, officer (the planner's unacknowledged
    # flash is also resent by the dispatcher after the ack timeout: "RAPPEL").
    paths = [r.path.rsplit("/", 1)[-1] for r in world.receiver.received]
    firsts = list(dict.fromkeys(paths))
    assert firsts == [p.lstrip("+") for p in (TRAVELLER_PHONE, PLANNER_PHONE, OFFICER_PHONE)]
    assert paths.count(OFFICER_PHONE.lstrip("+")) == 1


async def test_duress_gets_the_ordinary_reply_and_a_silent_flash_to_responders(
    world: World,
) -> None:
    now = datetime.now(UTC)
    created = await world.client.post(
        "/api/v1/missions", json=mopti_gao(now), headers=world.planner.headers
    )
    assert created.status_code == 201, created.text
    mid, code = created.json()["id"], created.json()["code"]
    await world.client.post(f"/api/v1/missions/{mid}/approve", headers=world.officer.headers)
    ordinary = await world.sms(f"OK {code}")
    duress = await world.sms(f"OK {code} mangue")
    # The same reply but for the times: nothing tells whoever holds the phone.
    times = re.compile(r"\d\d:\d\d")
    assert times.sub("HH:MM", duress["reply"]) == times.sub("HH:MM", ordinary["reply"])
    assert duress["status"] == ordinary["status"] == "checked_in"
    assert "contrainte" not in duress["reply"].lower()
    await world.deliver()
    assert world.to(TRAVELLER_PHONE) == []
    for phone in (PLANNER_PHONE, OFFICER_PHONE):
        assert len(world.to(phone)) == 1
        assert "CONTRAINTE" in world.to(phone)[0]
    async with world.db.read() as session:
        priorities = (
            (await session.execute(select(AlertRow.priority).where(AlertRow.kind == "mission")))
            .scalars()
            .all()
        )
    assert list(priorities) == ["flash", "flash"]
    # Officers see it; the traveller's own view does not.
    seen = (await world.client.get(f"/api/v1/missions/{mid}", headers=world.officer.headers)).json()
    assert seen["alarm"]["duress_at"] is not None
    assert seen["state"] == "active"


async def test_an_ied_reported_5_km_ahead_reaches_the_traveller_as_a_flash(world: World) -> None:
    now = datetime.now(UTC)
    created = await world.client.post(
        "/api/v1/missions", json=mopti_gao(now), headers=world.planner.headers
    )
    mid = created.json()["id"]
    await world.client.post(f"/api/v1/missions/{mid}/approve", headers=world.officer.headers)
    assert (await world.sms("OK"))["status"] == "checked_in"  # at Douentza
    reporter = await world.factory.caller("reporter")
    reported = await world.client.post(
        "/api/v1/incidents",
        json=incident_payload(
            type="ied", at=_ahead_of_hombori(5.0), days_ago=0.01, sharing_level="green"
        ),
        headers=reporter.headers,
    )
    assert reported.status_code == 201, reported.text
    far = await world.client.post(
        "/api/v1/incidents",
        json=incident_payload(
            type="ied", at=_ahead_of_hombori(60.0), days_ago=0.01, sharing_level="green"
        ),
        headers=reporter.headers,
    )
    assert far.status_code == 201
    await world.deliver()
    got = world.to(TRAVELLER_PHONE)
    assert len(got) == 1, got
    assert "explosif" in got[0].lower() or "ied" in got[0].lower()
    async with world.db.read() as session:
        rows = (
            await session.execute(
                select(AlertRow.priority, AlertRow.incident_id).where(AlertRow.kind == "incident")
            )
        ).all()
    mine = [p for p, i in rows if str(i) == reported.json()["id"]]
    assert mine
    assert set(mine) == {"flash"}


async def test_purge_leaves_no_position_of_a_closed_mission(world: World) -> None:
    now = datetime.now(UTC)
    created = await world.client.post(
        "/api/v1/missions", json=mopti_gao(now), headers=world.planner.headers
    )
    mid = created.json()["id"]
    await world.client.post(f"/api/v1/missions/{mid}/approve", headers=world.officer.headers)
    checked = await world.client.post(
        f"/api/v1/missions/{mid}/checkins",
        json={"lat": 15.0, "lon": -2.95},
        headers=world.planner.headers,
    )
    assert checked.status_code == 403  # the planner is no traveller
    await world.sms("OK mangue")  # a duress check-in: alerts with messages
    closed = await world.client.post(f"/api/v1/missions/{mid}/close", headers=world.planner.headers)
    assert closed.status_code == 200, closed.text
    result = await world.client.get("/api/v1/health")
    assert result.status_code == 200
    from missions.purge import purge_closed

    report = await purge_closed(
        world.db, now=now + timedelta(days=31), older_than=timedelta(days=30)
    )
    assert report["purged"] == 1
    import uuid as _uuid

    m = _uuid.UUID(mid)
    async with world.db.read() as session:
        row = await session.get(MissionRow, m)
        assert row is not None
        assert (row.route, row.route_wkb, row.min_lon, row.risk, row.code, row.title) == (
            None,
            None,
            None,
            None,
            None,
            "",
        )
        assert row.checkin_count == 1
        for table in (MissionStopRow, MissionCheckinRow):
            assert (
                await session.scalar(
                    select(func.count()).select_from(table).where(table.mission_id == m)
                )
                == 0
            )
        bodies = (await session.execute(select(DeliveryRow.body))).scalars().all()
        assert not any("mission" in b.lower() for b in bodies)
        # No column anywhere still holds a coordinate of the route's places.
        values: list[str] = []
        for table_name in (
            "missions",
            "mission_checkins",
            "mission_stops",
            "mission_escalations",
            "mission_travellers",
        ):
            for r in (await session.execute(text(f"SELECT * FROM {table_name}"))).all():
                values += [str(v) for v in r]
        dump = " ".join(values)
        for coordinate in ("14.48", "15.00", "15.28", "16.27", "-4.18", "-2.95", "-1.7", "-0.04"):
            assert coordinate not in dump
        audit = (await session.execute(text("SELECT action FROM audit_log"))).scalars().all()
    assert "mission.purged" in audit
    gone = (await world.client.get(f"/api/v1/missions/{mid}", headers=world.planner.headers)).json()
    assert gone["purged"] is True
    assert gone["stops"] == []
