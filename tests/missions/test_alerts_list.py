"""Mission alerts in GET /api/v1/alerts, each in its recipient's list like any alert: the
traveller's reminder and the incident ahead of them, the responder's flash. A duress alert never
reaches a traveller, not even one placed in the ladder, so neither their phone nor their list
shows it; an alarm acknowledged from the alerts list takes the mission's alarm (the ladder stops,
the mission says who took it). Nobody else's list counts a mission alert."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from incidents.intake.service import register_phone
from tests.factories import Caller, incident_payload
from tests.missions.conftest import OFFICER_PHONE, PLANNER_PHONE, World, mopti_gao
from tests.missions.test_done_when import _ahead_of_hombori

TRAVELLER_MEMBER_PHONE = "+22376000009"


async def alerts_of(world: World, caller: Caller) -> dict[str, Any]:
    answer = await world.client.get("/api/v1/alerts", headers=caller.headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def plan(world: World, traveller: Caller) -> dict[str, Any]:
    body = mopti_gao(
        datetime.now(UTC),
        travellers=[{"user_id": str(traveller.user_id), "duress_word": "mangue"}],
        # The traveller is also a responder (a focal point on the road): still never told.
        responders=[
            [str(world.planner.user_id)],
            [str(world.officer.user_id), str(traveller.user_id)],
        ],
    )
    created = await world.client.post("/api/v1/missions", json=body, headers=world.planner.headers)
    assert created.status_code == 201, created.text
    mission: dict[str, Any] = created.json()
    approved = await world.client.post(
        f"/api/v1/missions/{mission['id']}/approve", headers=world.officer.headers
    )
    assert approved.status_code == 200, approved.text
    return mission


async def traveller_with_a_phone(world: World) -> Caller:
    traveller = await world.factory.caller("officer", org_id=world.officer.org_id)
    async with world.db.transaction() as session:
        await register_phone(session, traveller.user_id, TRAVELLER_MEMBER_PHONE)
    return traveller


async def test_a_duress_alert_shows_in_the_responders_lists_never_in_the_travellers(
    world: World,
) -> None:
    traveller = await traveller_with_a_phone(world)
    mission = await plan(world, traveller)
    checked = await world.client.post(
        f"/api/v1/missions/{mission['id']}/checkins",
        json={"kind": "ok", "word": "Mangue"},
        headers=traveller.headers,
    )
    assert checked.status_code == 201, checked.text
    assert checked.json()["state"] == "active"
    assert "alarm" not in checked.json()  # the traveller's own answer says nothing
    await world.deliver()
    assert world.to(TRAVELLER_MEMBER_PHONE) == []
    assert "CONTRAINTE" in world.to(PLANNER_PHONE)[0]
    assert "CONTRAINTE" in world.to(OFFICER_PHONE)[0]

    for responder in (world.planner, world.officer):
        listed = await alerts_of(world, responder)
        assert [(a["kind"], a["priority"]) for a in listed["items"]] == [("mission", "flash")]
        assert listed["alerts"] == 1
    mine = await alerts_of(world, traveller)
    assert (mine["alerts"], mine["sent"], mine["items"]) == (0, 0, [])
    view = await world.client.get(f"/api/v1/missions/{mission['id']}", headers=traveller.headers)
    assert "alarm" not in view.json()  # an officer, but a traveller: no alarm block
    assert "duress_word_set" not in view.json()["travellers"][0]  # nor that a word exists
    seen = await world.client.get(
        f"/api/v1/missions/{mission['id']}", headers=world.officer.headers
    )
    assert seen.json()["travellers"][0]["duress_word_set"] is True

    # Another organisation's officer and the operator: nothing of it, not even a count.
    outsider = await world.factory.caller("officer")
    operator = await world.factory.operator()
    for caller in (outsider, operator):
        theirs = await alerts_of(world, caller)
        assert (theirs["alerts"], theirs["items"]) == (0, [])
    code = (await alerts_of(world, world.planner))["items"][0]["code"]
    stolen = await world.client.post(f"/api/v1/alerts/{code}/ack", headers=outsider.headers)
    assert stolen.status_code == 404


async def test_the_reminder_and_an_incident_ahead_show_in_the_travellers_list(
    world: World,
) -> None:
    traveller = await traveller_with_a_phone(world)
    mission = await plan(world, traveller)
    assert (await world.sms("OK", phone=TRAVELLER_MEMBER_PHONE))["status"] == "checked_in"
    reporter = await world.factory.caller("reporter")
    reported = await world.client.post(
        "/api/v1/incidents",
        json=incident_payload(
            type="ied", at=_ahead_of_hombori(5.0), days_ago=0.01, sharing_level="green"
        ),
        headers=reporter.headers,
    )
    assert reported.status_code == 201, reported.text
    got = (
        await world.client.get(f"/api/v1/missions/{mission['id']}", headers=traveller.headers)
    ).json()
    missed = datetime.fromisoformat(got["next_checkin_by"].replace("Z", "+00:00"))
    assert await world.tick(missed) == 1  # step 0: the traveller is reminded
    listed = await alerts_of(world, traveller)
    kinds = sorted((a["kind"], a["priority"]) for a in listed["items"])
    assert kinds == [("incident", "flash"), ("mission", "urgent")]
    assert (
        next(a for a in listed["items"] if a["kind"] == "incident")["incident_id"]
        == (reported.json()["id"])
    )
    # The planner (a responder of the same organisation) got the incident too, not the reminder.
    planner_kinds = [a["kind"] for a in (await alerts_of(world, world.planner))["items"]]
    assert planner_kinds == ["incident"]


async def test_an_alarm_acknowledged_in_the_alerts_list_takes_the_missions_alarm(
    world: World,
) -> None:
    traveller = await traveller_with_a_phone(world)
    mission = await plan(world, traveller)
    mid = mission["id"]
    got = (await world.client.get(f"/api/v1/missions/{mid}", headers=world.planner.headers)).json()
    missed = datetime.fromisoformat(got["next_checkin_by"].replace("Z", "+00:00"))
    step = timedelta(minutes=15)
    assert await world.tick(missed) == 1  # the reminder
    assert await world.tick(missed + step) == 1  # step 1: the planner
    flash = (await alerts_of(world, world.planner))["items"]
    assert [(a["kind"], a["priority"]) for a in flash] == [("mission", "flash")]
    acked = await world.client.post(
        f"/api/v1/alerts/{flash[0]['code']}/ack", headers=world.planner.headers
    )
    assert acked.status_code == 200, acked.text
    assert await world.tick(missed + 2 * step) == 0  # the officers' step does not fire
    after = (
        await world.client.get(f"/api/v1/missions/{mid}", headers=world.officer.headers)
    ).json()
    assert after["alarm"]["acknowledged_by"]["user_id"] == str(world.planner.user_id)
    assert (await alerts_of(world, world.officer))["items"] == []
    assert await world.tick(missed + 10 * step) == 0
