"""Red team, tenant boundary: the admin of organisation B attacks organisation A through a real
server. Each test is an attack that worked before owners and the platform operator existed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from incidents.db import Database
from incidents.sharing.service import create_network
from tests.factories import Caller, Factory, incident_payload

URL = "/api/v1/incidents"
STRICT = "Récit strict: le chef de poste a été menacé à Diéma"
AMBER = "Récit amber: deux agents retenus au poste de Ménaka"
RED = "Récit rouge: le nom de la victime"


@dataclass
class Victim:
    admin: Caller
    reporter: Caller
    strict_id: str
    amber_id: str
    red_id: str


async def report(http: httpx.AsyncClient, caller: Caller, level: str, text: str) -> str:
    response = await http.post(
        URL, json=incident_payload(sharing_level=level, description=text), headers=caller.headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def victim(http: httpx.AsyncClient, factory: Factory) -> Victim:
    admin = await factory.caller("admin")
    reporter = await factory.caller("reporter", org_id=admin.org_id)
    return Victim(
        admin=admin,
        reporter=reporter,
        strict_id=await report(http, reporter, "amber_strict", STRICT),
        amber_id=await report(http, reporter, "amber", AMBER),
        red_id=await report(http, reporter, "red", RED),
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def mint_in(http: httpx.AsyncClient, attacker: Caller, org_id: uuid.UUID) -> httpx.Response:
    return await http.post(
        "/api/v1/tokens",
        headers=attacker.headers,
        json={"org_id": str(org_id), "role": "admin", "name": "intrus"},
    )


async def test_an_admin_cannot_mint_a_token_in_another_organisation(
    http: httpx.AsyncClient, factory: Factory
) -> None:
    a = await victim(http, factory)
    b = await factory.caller("admin")
    response = await mint_in(http, b, a.admin.org_id)
    assert response.status_code == 404, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["field"] == "org_id"
    assert "token" not in response.json()


async def test_strict_narratives_audit_and_export_stay_out_of_reach(
    http: httpx.AsyncClient, factory: Factory
) -> None:
    """Whatever token B can get, A's amber_strict and red narratives, its audit and export stay
    out of reach."""
    a = await victim(http, factory)
    b = await factory.caller("admin")
    tokens = [b.token]
    minted = await mint_in(http, b, a.admin.org_id)
    if minted.status_code == 201:
        tokens.append(minted.json()["token"])
    for token in tokens:
        for incident_id in (a.strict_id, a.red_id):
            got = await http.get(f"{URL}/{incident_id}", headers=bearer(token))
            assert got.status_code == 404, incident_id
        listed = await http.get(URL, headers=bearer(token))
        assert STRICT not in listed.text
        assert RED not in listed.text
        log = await http.get("/api/v1/audit", params={"limit": 500}, headers=bearer(token))
        assert log.status_code == 200
        assert a.strict_id not in log.text
        assert str(a.reporter.user_id) not in log.text
        export = await http.get("/api/v1/organisations/me/export", headers=bearer(token))
        assert export.status_code == 200
        assert export.json()["organisation"]["id"] == str(b.org_id)
        for secret in (STRICT, RED, a.strict_id, str(a.reporter.user_id)):
            assert secret not in export.text


async def test_an_admin_cannot_revoke_another_organisations_token(
    http: httpx.AsyncClient, factory: Factory
) -> None:
    a = await victim(http, factory)
    made = await http.post(
        "/api/v1/tokens",
        headers=a.admin.headers,
        json={"org_id": str(a.admin.org_id), "role": "reporter"},
    )
    assert made.status_code == 201, made.text
    b = await factory.caller("admin")
    revoked = await http.delete(f"/api/v1/tokens/{made.json()['token_id']}", headers=b.headers)
    assert revoked.status_code == 404
    assert (await http.get(URL, headers=bearer(made.json()["token"]))).status_code == 200


async def test_an_admin_cannot_delete_another_organisation(
    http: httpx.AsyncClient, factory: Factory
) -> None:
    a = await victim(http, factory)
    b = await factory.caller("admin")
    by_id = await http.delete(f"/api/v1/organisations/{a.admin.org_id}", headers=b.headers)
    assert by_id.status_code in (403, 404, 405)
    minted = await mint_in(http, b, a.admin.org_id)
    if minted.status_code == 201:  # the old way in: an admin token inside A, then delete "me"
        await http.delete("/api/v1/organisations/me", headers=bearer(minted.json()["token"]))
    mine = await http.get(f"{URL}/{a.strict_id}", headers=a.reporter.headers)
    assert mine.status_code == 200
    assert mine.json()["properties"]["description"] == STRICT


async def test_an_admin_cannot_create_organisations(
    http: httpx.AsyncClient, factory: Factory
) -> None:
    b = await factory.caller("admin")
    response = await http.post(
        "/api/v1/organisations",
        headers=b.headers,
        json={"name": f"Fausse ONG {uuid.uuid4().hex[:6]}"},
    )
    assert response.status_code == 403
    assert "operator" in response.json()["detail"]


async def a_network(
    http: httpx.AsyncClient, factory: Factory, db: Database
) -> tuple[Victim, dict[str, Any], Caller]:
    a = await victim(http, factory)
    partner = await factory.caller("reporter")
    async with db.transaction() as session:
        network = await create_network(
            session,
            None,
            f"Réseau {uuid.uuid4().hex[:6]}",
            [a.admin.org_id, partner.org_id],
            now=datetime.now(UTC),
        )
    seen = await http.get(f"{URL}/{a.amber_id}", headers=partner.headers)
    assert seen.status_code == 200
    return a, {"id": str(network.id), "name": network.name}, partner


async def test_an_admin_lists_only_the_networks_its_organisation_is_in(
    http: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    _, network, _ = await a_network(http, factory, db)
    b = await factory.caller("admin")
    listed = await http.get("/api/v1/trust-networks", headers=b.headers)
    assert listed.status_code == 200
    assert network["id"] not in listed.text
    assert network["name"] not in listed.text
    assert (
        await http.get(f"/api/v1/trust-networks/{network['id']}", headers=b.headers)
    ).status_code in (404, 405)


async def test_an_admin_cannot_add_itself_to_another_network(
    http: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    a, network, _ = await a_network(http, factory, db)
    b = await factory.caller("admin")
    b_reporter = await factory.caller("reporter", org_id=b.org_id)
    body = {"org_id": str(b.org_id)}
    added = await http.post(
        f"/api/v1/trust-networks/{network['id']}/members", json=body, headers=b.headers
    )
    assert added.status_code in (404, 405)
    invited = await http.post(
        f"/api/v1/trust-networks/{network['id']}/invitations", json=body, headers=b.headers
    )
    assert invited.status_code == 404
    seen = await http.get(f"{URL}/{a.amber_id}", headers=b_reporter.headers)
    assert seen.status_code == 404
    assert AMBER not in (await http.get(URL, headers=b_reporter.headers)).text


async def test_an_admin_cannot_remove_a_member_of_another_network(
    http: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    a, network, partner = await a_network(http, factory, db)
    b = await factory.caller("admin")
    removed = await http.delete(
        f"/api/v1/trust-networks/{network['id']}/members/{partner.org_id}", headers=b.headers
    )
    assert removed.status_code == 404
    deleted = await http.delete(f"/api/v1/trust-networks/{network['id']}", headers=b.headers)
    assert deleted.status_code == 404
    assert (await http.get(f"{URL}/{a.amber_id}", headers=partner.headers)).status_code == 200


async def test_an_audit_cursor_past_the_id_column_is_named_not_a_server_error(
    http: httpx.AsyncClient, factory: Factory
) -> None:
    """Audit ids are 32-bit on PostgreSQL: a `before` beyond them was a 500 there."""
    admin = await factory.caller("admin")
    for before in (2**31, 2**62):
        response = await http.get("/api/v1/audit", params={"before": before}, headers=admin.headers)
        assert response.status_code == 400 or response.status_code == 422, response.text
        assert "before" in response.text
    assert (
        await http.get("/api/v1/audit", params={"before": 2**31 - 1}, headers=admin.headers)
    ).status_code == 200


async def test_a_network_name_does_not_reveal_another_organisation_s_network(
    http: httpx.AsyncClient, factory: Factory
) -> None:
    """Names were unique across the platform: B's 409 confirmed that A's hidden network exists."""
    a = await factory.caller("admin")
    b = await factory.caller("admin")
    name = f"Réseau Ménaka {uuid.uuid4().hex[:6]}"
    made = await http.post("/api/v1/trust-networks", json={"name": name}, headers=a.headers)
    assert made.status_code == 201, made.text
    probe = await http.post("/api/v1/trust-networks", json={"name": name}, headers=b.headers)
    assert probe.status_code == 201, probe.text
    assert probe.json()["id"] != made.json()["id"]
    again = await http.post("/api/v1/trust-networks", json={"name": name}, headers=a.headers)
    assert again.status_code == 409
    assert again.json()["field"] == "name" or "name" in again.text
