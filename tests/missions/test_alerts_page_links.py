"""/web/alerts names the kind of each alert in words and links a mission's alerts to the mission
(a protocol alert to the checklist); the link is only in its recipient's list: a duress alert is
still never in a traveller's list, another organisation and the operator see none of it."""

from __future__ import annotations

from tests.factories import Caller, incident_payload
from tests.http.test_web_vocabulary import sign_in
from tests.missions.conftest import World
from tests.missions.test_alerts_list import alerts_of, plan, traveller_with_a_phone


async def alerts_page(world: World, caller: Caller, lang: str = "fr") -> str:
    world.client.cookies.clear()
    await sign_in(world.client, caller, "/web/alerts")
    page = await world.client.get(f"/web/alerts?lang={lang}")
    assert page.status_code == 200, page.text
    return page.text


async def test_a_mission_alert_is_named_and_links_to_its_mission_for_its_recipients_only(
    world: World,
) -> None:
    traveller = await traveller_with_a_phone(world)
    mission = await plan(world, traveller)
    duress = await world.client.post(
        f"/api/v1/missions/{mission['id']}/checkins",
        json={"kind": "ok", "word": "Mangue"},
        headers=traveller.headers,
    )
    assert duress.status_code == 201, duress.text
    link = f'href="/web/missions/{mission["id"]}?lang=fr"'
    for responder in (world.planner, world.officer):
        (item,) = (await alerts_of(world, responder))["items"]
        assert item["mission_id"] == mission["id"]
        html = await alerts_page(world, responder)
        assert link in html
        assert ">Mission</a>" in html
        assert " · mission · " not in html
        english = await world.client.get("/web/alerts?lang=en")
        assert f'href="/web/missions/{mission["id"]}?lang=en"' in english.text
    # The traveller (an officer of the same organisation) is never shown the duress alert.
    html = await alerts_page(world, traveller)
    assert mission["id"] not in html
    assert "Aucune alerte." in html
    outsider = await world.factory.caller("officer")
    operator = await world.factory.operator()
    for caller in (outsider, operator):
        html = await alerts_page(world, caller)
        assert mission["id"] not in html
        assert "/web/missions/" not in html
        assert (await alerts_of(world, caller))["alerts"] == 0


async def test_a_protocol_alert_is_named_and_links_to_the_checklist(world: World) -> None:
    reporter = await world.factory.caller("reporter", org_id=world.officer.org_id)
    staff = {"abducted": 2, "aid_workers_affected": True}
    reported = await world.client.post(
        "/api/v1/incidents",
        json=incident_payload(type="kidnapping", days_ago=0.1, impact=staff),
        headers=reporter.headers,
    )
    assert reported.status_code == 201, reported.text
    html = await alerts_page(world, world.officer)
    assert 'href="/web/missions/protocol?lang=fr"' in html
    assert ">Protocole enlèvement</a>" in html
    for caller in (reporter, await world.factory.caller("officer")):
        assert "/web/missions/protocol" not in await alerts_page(world, caller)
