"""A mission's sharing level: red keeps it to its own people, amber opens it to the officers of the
organisation's trust network, amber_strict (the default) to the organisation alone."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.missions.conftest import World, mopti_gao
from tests.trust import trust_network


async def test_red_missions_are_their_peoples_only_and_amber_reaches_the_trust_network(
    world: World,
) -> None:
    admin = await world.factory.caller("admin", org_id=world.planner.org_id)
    partner_admin = await world.factory.caller("admin")
    partner_officer = await world.factory.caller("officer", org_id=partner_admin.org_id)
    await trust_network(world.client, admin, partner_admin)
    outsider_officer = await world.factory.caller("officer")
    missions = {}
    for level in ("red", "amber_strict", "amber"):
        body = mopti_gao(datetime.now(UTC), sharing_level=level)
        if level == "red":
            body["responders"] = [str(world.planner.user_id)]
        created = await world.client.post(
            "/api/v1/missions", json=body, headers=world.planner.headers
        )
        assert created.status_code == 201, created.text
        missions[level] = created.json()["id"]

    async def seen(who: object) -> set[str]:
        listing = await world.client.get("/api/v1/missions", headers=who.headers)  # type: ignore[attr-defined]
        assert listing.status_code == 200
        ids = {m["id"] for m in listing.json()["items"]}
        return {level for level, mid in missions.items() if mid in ids}

    assert await seen(world.planner) == {"red", "amber_strict", "amber"}
    # The organisation's officer is no responder of the red mission: it does not exist for them.
    assert await seen(world.officer) == {"amber_strict", "amber"}
    red = await world.client.get(
        f"/api/v1/missions/{missions['red']}", headers=world.officer.headers
    )
    assert red.status_code == 404
    assert await seen(partner_officer) == {"amber"}
    assert await seen(outsider_officer) == set()
