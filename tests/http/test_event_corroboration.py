"""Corroboration raises confidence: an event another organisation reports on its own is
counted (and shown) as "confirmed by other sources" (Admiralty credibility 1); the same
organisation twice, or the same record imported twice, is one source."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.factories import Caller, Factory, incident_payload

Client = AsyncTestClient[Litestar]
ZONE = "town_diema"


async def score(client: Client, caller: Caller) -> float:
    answer = await client.get("/api/v1/risk", headers=caller.headers)
    assert answer.status_code == 200, answer.text
    return float({z["zone_id"]: z["score"] for z in answer.json()["zones"]}[ZONE])


async def report(client: Client, caller: Caller, **fields: Any) -> str:
    body = incident_payload(type="ambush", **{"credibility": 3, **fields})
    made = await client.post("/api/v1/incidents", json=body, headers=caller.headers)
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def event(client: Client, caller: Caller, incident_id: str) -> dict[str, Any]:
    answer = await client.get(f"/api/v1/incidents/{incident_id}/event", headers=caller.headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_a_second_organisation_confirms_the_event_and_raises_its_weight(
    client: Client, factory: Factory
) -> None:
    a = await factory.caller("reporter")
    b = await factory.caller("reporter")
    outsider = await factory.caller("planner")
    first = await report(client, a, sharing_level="green")
    once = await score(client, outsider)
    second = await report(client, b, sharing_level="green", days_ago=1.0 - 1 / 24)
    confirmed = await score(client, outsider)

    # Counted once, but as confirmed: more than one report, less than two events.
    assert once < confirmed < 2 * once
    for viewer in (a, b, outsider):
        for rid in (first, second):
            seen = await event(client, viewer, rid)
            assert (seen["reports"], seen["sources"], seen["credibility"]) == (2, 2, 1)


async def test_the_same_organisation_twice_or_the_same_record_twice_is_one_source(
    client: Client, factory: Factory
) -> None:
    a = await factory.caller("reporter")
    colleague = await factory.caller("reporter", org_id=a.org_id)
    b = await factory.caller("reporter")
    planner = await factory.caller("planner")
    first = await report(client, a, sharing_level="green", external_id="kobo:aa01")
    once = await score(client, planner)
    await report(client, colleague, sharing_level="green", days_ago=1.0 - 1 / 24)
    await report(client, b, sharing_level="green", external_id="kobo:aa01", at=(14.6, -9.1))

    assert await score(client, planner) == once
    seen = await event(client, planner, first)
    assert (seen["reports"], seen["sources"], seen["credibility"]) == (3, 1, 3)


async def test_retracting_or_splitting_the_confirming_report_takes_the_confirmation_back(
    client: Client, factory: Factory
) -> None:
    a = await factory.caller("reporter")
    b = await factory.caller("officer")
    planner = await factory.caller("planner")
    first = await report(client, a, sharing_level="green")
    once = await score(client, planner)
    second = await report(client, b, sharing_level="green", days_ago=1.0 - 1 / 24)
    confirmed = await score(client, planner)
    assert confirmed > once

    split = await client.post(f"/api/v1/incidents/{second}/split", headers=b.headers)
    assert split.status_code == 200, split.text
    assert (await event(client, planner, first))["sources"] == 1
    apart = await score(client, planner)
    assert apart > confirmed  # two events again, each at its own credibility

    merged = await client.post(
        f"/api/v1/incidents/{second}/merge", json={"into": first}, headers=b.headers
    )
    assert merged.status_code == 200, merged.text
    assert merged.json()["sources"] == 2
    assert await score(client, planner) == confirmed

    gone = await client.post(f"/api/v1/incidents/{second}/retract", json={}, headers=b.headers)
    assert gone.status_code == 200, gone.text
    assert await score(client, planner) == once
    assert (await event(client, planner, first))["sources"] == 1


async def test_a_report_the_viewer_cannot_read_confirms_nothing_it_can_see(
    client: Client, factory: Factory
) -> None:
    """A's green report and B's amber report of one ambush: B's readers differ, so the two are
    never one event. Nobody outside B learns of B's report through A's confirmation: A's event
    stays one source at its own credibility, for A, for a third organisation and for B."""
    a = await factory.caller("reporter")
    b = await factory.caller("reporter")
    outsider = await factory.caller("planner")
    first = await report(client, a, sharing_level="green")
    alone = await event(client, outsider, first)
    hidden = await report(client, b, sharing_level="amber", days_ago=1.0 - 1 / 24)

    for viewer in (a, b, outsider):
        assert await event(client, viewer, first) == alone
    assert (alone["sources"], alone["credibility"]) == (1, 3)
    probe = await client.get(f"/api/v1/incidents/{hidden}/event", headers=outsider.headers)
    assert probe.status_code == 404
