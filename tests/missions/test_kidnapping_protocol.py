"""The kidnapping protocol through HTTP: an abduction of an organisation's staff reported without
a sharing level is red (its reporter and the people they name only), an explicit level is kept;
the organisation's officers get the checklist as a flash alert (in their alerts list, its link
opening the checklist page), nobody else does."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from api.http.app import container_of
from api.web import WebPlugin
from tests.e2e.test_nav_by_role import signed_in
from tests.factories import Caller, incident_payload
from tests.missions.conftest import OFFICER_PHONE, PLANNER_PHONE, World


async def report(world: World, caller: Caller, **extra: Any) -> dict[str, Any]:
    answer = await world.client.post(
        "/api/v1/incidents",
        json=incident_payload(type="kidnapping", days_ago=0.1, **extra),
        headers=caller.headers,
    )
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def props(world: World, caller: Caller, incident_id: str) -> dict[str, Any]:
    answer = await world.client.get(f"/api/v1/incidents/{incident_id}", headers=caller.headers)
    assert answer.status_code == 200, answer.text
    got: dict[str, Any] = answer.json()["properties"]
    return got


async def test_an_abduction_of_staff_without_a_chosen_level_is_red_and_officers_get_the_checklist(
    world: World,
) -> None:
    reporter = await world.factory.caller("reporter", org_id=world.officer.org_id)
    staff = {"abducted": 2, "aid_workers_affected": True}
    secret = "Deux agents enlevés au poste de Diéma, code TANGO-4411"
    taken = await report(world, reporter, impact=staff, description=secret)
    assert (await props(world, reporter, taken["id"]))["sharing_level"] == "red"
    outsider = await world.factory.caller("officer")
    colleague = await world.factory.caller("reporter", org_id=world.officer.org_id)
    # red: another organisation's officer and the reporter's other colleagues see it masked...
    for caller in (outsider, colleague, world.planner):
        alone = await world.client.get(f"/api/v1/incidents/{taken['id']}", headers=caller.headers)
        assert alone.status_code == 404
        listed = await world.client.get("/api/v1/incidents", headers=caller.headers)
        assert secret not in listed.text
        assert "TANGO" not in listed.text
    # ...but the organisation's own officers, who get the checklist, are named and can act.
    assert (await props(world, world.officer, taken["id"]))["description"] == secret

    chosen = await report(world, reporter, impact=staff, sharing_level="amber")
    assert (await props(world, reporter, chosen["id"]))["sharing_level"] == "amber"
    no_staff = await report(world, reporter, impact={"abducted": 1})
    assert (await props(world, reporter, no_staff["id"]))["sharing_level"] == "amber"

    # Each abduction of staff sends the officers the protocol; the planner gets nothing.
    await world.deliver()
    got = world.to(OFFICER_PHONE)
    assert len(got) == 2
    assert all("autorites d'abord" in m for m in got)
    assert world.to(PLANNER_PHONE) == []
    listed = (await world.client.get("/api/v1/alerts", headers=world.officer.headers)).json()
    assert [(a["kind"], a["priority"]) for a in listed["items"]] == [("protocol", "flash")] * 2
    planner_list = (await world.client.get("/api/v1/alerts", headers=world.planner.headers)).json()
    assert planner_list["items"] == []
    outsider_list = (await world.client.get("/api/v1/alerts", headers=outsider.headers)).json()
    assert outsider_list["alerts"] == 0


async def test_the_checklist_page_is_for_officers(world: World) -> None:
    app = world.app
    if not any(isinstance(p, WebPlugin) for p in app.plugins):
        raise AssertionError("the web pages are wired in create_app")
    assert container_of(app).missions is not None
    async with AsyncTestClient(app=app) as client:
        await signed_in(client, world.officer.token)
        page = await client.get("/web/missions/protocol")
        assert page.status_code == 200
        assert "Prévenir d&#39;abord les autorités compétentes" in page.text
        assert "Ne rien publier" in page.text
        english = await client.get("/web/missions/protocol?lang=en")
        assert "Notify the competent authorities first" in english.text
    async with AsyncTestClient(app=app) as client:
        await signed_in(client, world.planner.token)
        refused = await client.get("/web/missions/protocol")
        assert refused.status_code == 403
        assert "autorités compétentes" not in refused.text
