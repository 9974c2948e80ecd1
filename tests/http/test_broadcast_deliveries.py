"""Who received a broadcast (GET /api/v1/alerts/broadcasts/{id}/deliveries): the sender's
organisation sees its own recipients and those of organisations it trusts; other organisations
are neither named nor counted (how many of their people an area reaches would map where they
work); anyone else gets the answer of a broadcast that does not exist."""

from __future__ import annotations

import uuid
from typing import Any

from tests.factories import DIEMA, Factory
from tests.trust import trust_network

Client = Any
AREA = {"point": {"lat": DIEMA[0], "lon": DIEMA[1]}, "radius_km": 25}


async def subscribe(client: Client, caller: Any) -> None:
    answer = await client.post(
        "/api/v1/subscriptions",
        json={"channels": ["json://127.0.0.1:9/hook"], "area": AREA},
        headers=caller.headers,
    )
    assert answer.status_code == 201, answer.text


async def test_the_sender_sees_its_own_and_its_trusted_partners_recipients_only(
    client: Client, factory: Factory
) -> None:
    officer = await factory.caller("officer")
    admin = await factory.caller("admin", org_id=officer.org_id)
    partner_admin = await factory.caller("admin")
    await trust_network(client, admin, partner_admin)
    stranger = await factory.caller("officer")
    reporter = await factory.caller("reporter", org_id=officer.org_id)
    for caller in (officer, await factory.caller("reporter", org_id=partner_admin.org_id)):
        await subscribe(client, caller)
    for _ in range(3):  # a stranger's people in the area: never counted for the sender
        await subscribe(client, await factory.caller("reporter", org_id=stranger.org_id))

    sent = await client.post(
        "/api/v1/alerts/broadcast",
        json={"area": {"point": AREA["point"], "radius_km": 10}, "message": {"fr": "Axe fermé"}},
        headers=officer.headers,
    )
    assert sent.status_code == 201, sent.text
    path = f"/api/v1/alerts/broadcasts/{sent.json()['id']}/deliveries"
    officer = await factory.caller("officer", org_id=officer.org_id)  # knows the network now
    seen = await client.get(path, headers=officer.headers)
    assert seen.status_code == 200, seen.text
    body = seen.json()
    orgs = {o["org_id"]: o for o in body["organisations"]}
    assert set(orgs) == {str(officer.org_id), str(partner_admin.org_id)}
    assert orgs[str(officer.org_id)]["own"] is True
    assert orgs[str(officer.org_id)]["figures"]["recipients"] == 1
    assert orgs[str(partner_admin.org_id)]["figures"]["recipients"] == 1
    assert body["total"]["recipients"] == 2  # the stranger's three are not in any figure
    assert body["message"] == {"fr": "Axe fermé"}
    assert str(stranger.org_id) not in seen.text

    unknown = await client.get(
        f"/api/v1/alerts/broadcasts/{uuid.uuid4()}/deliveries", headers=officer.headers
    )
    assert unknown.status_code == 404
    for outsider in (stranger, partner_admin):
        answer = await client.get(path, headers=outsider.headers)
        assert answer.status_code == unknown.status_code, outsider.role
        assert answer.json()["detail"].replace(path.split("/")[-2], "X") == unknown.json()[
            "detail"
        ].replace(unknown.request.url.path.split("/")[-2], "X")
    for role_refused in (reporter, await factory.caller("operator")):  # the role, for any id
        assert (await client.get(path, headers=role_refused.headers)).status_code == 403


async def test_a_broadcast_that_reached_nobody_still_has_its_delivery_view(
    client: Client, factory: Factory
) -> None:
    officer = await factory.caller("officer")
    sent = await client.post(
        "/api/v1/alerts/broadcast",
        json={"area": AREA, "message": {"fr": "Personne ici"}},
        headers=officer.headers,
    )
    assert sent.status_code == 201, sent.text
    seen = await client.get(
        f"/api/v1/alerts/broadcasts/{sent.json()['id']}/deliveries", headers=officer.headers
    )
    assert seen.status_code == 200, seen.text
    assert seen.json()["total"]["recipients"] == 0
