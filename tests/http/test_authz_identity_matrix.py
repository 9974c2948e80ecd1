"""Authorisation matrix of the identity, organisation, trust-network, invitation and audit
endpoints: every role × own, trusted, invited and other organisation, and the platform operator,
against the expected outcomes written out below.

The objects acted on belong to organisation O ("own"): its tokens, its network N, N's invitation
to organisation I ("invited"). T ("trusted") is a member of N; X ("other") has no relation to O.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from incidents.db import Database
from incidents.identity.accounts import Principal
from incidents.records.model import Role
from incidents.sharing.service import add_member, create_network, invite
from tests.factories import Caller, Factory, incident_payload

ROLES = ("reporter", "officer", "planner", "admin")
RELATIONS = ("own", "trusted", "invited", "other")
S, N = "sees", "blind"  # a 200 list that shows O's object, or one that does not
NARRATIVE = "Récit du poste de Diéma (amber_strict)"

Row = tuple[Any, Any, Any, Any]  # reporter, officer, planner, admin
#                                  own                   trusted               invited               other                 operator
EXPECTED: dict[str, tuple[Row, Row, Row, Row, Any]] = {
    "organisations.create": (
        (403, 403, 403, 403),
        (403, 403, 403, 403),
        (403, 403, 403, 403),
        (403, 403, 403, 403),
        201,
    ),
    "organisations.list": (
        (403, 403, 403, 403),
        (403, 403, 403, 403),
        (403, 403, 403, 403),
        (403, 403, 403, 403),
        S,
    ),
    "organisations.delete": (
        (403, 403, 403, 403),
        (403, 403, 403, 403),
        (403, 403, 403, 403),
        (403, 403, 403, 403),
        200,
    ),
    "organisations.delete_me": (
        (403, 403, 403, 403),
        (403, 403, 403, 403),
        (403, 403, 403, 403),
        (403, 403, 403, 403),
        403,
    ),
    "organisations.export_me": (
        (403, 403, 403, S),
        (403, 403, 403, N),
        (403, 403, 403, N),
        (403, 403, 403, N),
        403,
    ),
    # A reporter token in O (org_id = O).
    "tokens.create_in_o": (
        (403, 403, 403, 201),
        (403, 403, 403, 404),
        (403, 403, 403, 404),
        (403, 403, 403, 404),
        422,
    ),
    # A reporter token, org_id left out: the caller's own organisation.
    "tokens.create_here": (
        (403, 403, 403, 201),
        (403, 403, 403, 201),
        (403, 403, 403, 201),
        (403, 403, 403, 201),
        422,
    ),
    # An operator token, org_id left out.
    "tokens.create_operator": (
        (403, 403, 403, 422),
        (403, 403, 403, 422),
        (403, 403, 403, 422),
        (403, 403, 403, 422),
        201,
    ),
    # The first admin of a new organisation without any admin.
    "tokens.create_first_admin": (
        (403, 403, 403, 404),
        (403, 403, 403, 404),
        (403, 403, 403, 404),
        (403, 403, 403, 404),
        201,
    ),
    # A second admin of O, which has one.
    "tokens.create_admin_in_o": (
        (403, 403, 403, 201),
        (403, 403, 403, 404),
        (403, 403, 403, 404),
        (403, 403, 403, 404),
        409,
    ),
    "tokens.list": (
        (403, 403, 403, S),
        (403, 403, 403, N),
        (403, 403, 403, N),
        (403, 403, 403, N),
        N,
    ),
    "tokens.revoke": (
        (403, 403, 403, 204),
        (403, 403, 403, 404),
        (403, 403, 403, 404),
        (403, 403, 403, 404),
        204,
    ),
    "audit.read": (
        (403, 403, 403, S),
        (403, 403, 403, N),
        (403, 403, 403, N),
        (403, 403, 403, N),
        N,
    ),
    "networks.list": (
        (403, 403, 403, S),
        (403, 403, 403, S),
        (403, 403, 403, N),
        (403, 403, 403, N),
        403,
    ),
    "networks.create": (
        (403, 403, 403, 201),
        (403, 403, 403, 201),
        (403, 403, 403, 201),
        (403, 403, 403, 201),
        403,
    ),
    "networks.get": (
        (403, 403, 403, 200),
        (403, 403, 403, 200),
        (403, 403, 403, 404),
        (403, 403, 403, 404),
        403,
    ),
    # Invite a new organisation into N.
    "networks.invite": (
        (403, 403, 403, 201),
        (403, 403, 403, 403),
        (403, 403, 403, 404),
        (403, 403, 403, 404),
        403,
    ),
    # Remove a third member M of N.
    "networks.remove_member": (
        (403, 403, 403, 200),
        (403, 403, 403, 403),
        (403, 403, 403, 404),
        (403, 403, 403, 404),
        403,
    ),
    # DELETE .../members/{the caller's own organisation}.
    "networks.leave": (
        (403, 403, 403, 200),
        (403, 403, 403, 200),
        (403, 403, 403, 404),
        (403, 403, 403, 404),
        403,
    ),
    "networks.delete": (
        (403, 403, 403, 204),
        (403, 403, 403, 403),
        (403, 403, 403, 404),
        (403, 403, 403, 404),
        403,
    ),
    "invitations.list": (
        (403, 403, 403, S),
        (403, 403, 403, N),
        (403, 403, 403, S),
        (403, 403, 403, N),
        403,
    ),
    "invitations.accept": (
        (403, 403, 403, 404),
        (403, 403, 403, 404),
        (403, 403, 403, 200),
        (403, 403, 403, 404),
        403,
    ),
    "invitations.decline": (
        (403, 403, 403, 404),
        (403, 403, 403, 404),
        (403, 403, 403, 200),
        (403, 403, 403, 404),
        403,
    ),
    "invitations.withdraw": (
        (403, 403, 403, 200),
        (403, 403, 403, 404),
        (403, 403, 403, 403),
        (403, 403, 403, 404),
        403,
    ),
}


def expected(endpoint: str, who: str) -> Any:
    own, trusted, invited, other, operator = EXPECTED[endpoint]
    if who == "operator":
        return operator
    role, relation = who.split("/")
    table = {"own": own, "trusted": trusted, "invited": invited, "other": other}
    return table[relation][ROLES.index(role)]


@dataclass
class World:
    orgs: dict[str, uuid.UUID]
    callers: dict[str, Caller]
    network_id: uuid.UUID
    invitation_id: uuid.UUID
    incident_id: str
    db: Database
    factory: Factory
    made: list[str] = field(default_factory=list)

    @property
    def owner(self) -> Principal:
        admin = self.callers["admin/own"]
        return Principal(user_id=admin.user_id, org_id=admin.org_id, role=Role.ADMIN)

    async def network(self) -> uuid.UUID:
        """A fresh network owned by O, with T a member."""
        now = datetime.now(UTC)
        async with self.db.transaction() as session:
            net = await create_network(
                session, self.owner, f"Réseau {uuid.uuid4().hex[:8]}", [], now=now
            )
            await add_member(session, None, net.id, self.orgs["trusted"], now=now)
        return net.id

    async def invitation(self) -> uuid.UUID:
        """A fresh pending invitation from O's network to I."""
        network_id = await self.network()
        async with self.db.transaction() as session:
            made = await invite(
                session, self.owner, network_id, self.orgs["invited"], now=datetime.now(UTC)
            )
        return made.id


async def build_world(client: AsyncTestClient, factory: Factory, db: Database) -> World:
    orgs = {relation: await factory.org() for relation in RELATIONS}
    callers = {
        f"{role}/{relation}": await factory.caller(role, org_id=orgs[relation])
        for relation in RELATIONS
        for role in ROLES
    }
    callers["operator"] = await factory.operator()
    created = await client.post(
        "/api/v1/incidents",
        headers=callers["reporter/own"].headers,
        json=incident_payload(sharing_level="amber_strict", description=NARRATIVE),
    )
    assert created.status_code == 201, created.text
    world = World(
        orgs=orgs,
        callers=callers,
        network_id=uuid.uuid4(),
        invitation_id=uuid.uuid4(),
        incident_id=created.json()["id"],
        db=db,
        factory=factory,
    )
    world.network_id = await world.network()
    async with db.transaction() as session:
        world.invitation_id = (
            await invite(
                session, world.owner, world.network_id, orgs["invited"], now=datetime.now(UTC)
            )
        ).id
    return world


def seen(response: Any, needle: str) -> Any:
    if response.status_code != 200:
        return response.status_code
    return S if needle in response.text else N


async def outcome(client: AsyncTestClient, endpoint: str, who: str, world: World) -> Any:
    caller = world.callers[who]
    h = caller.headers
    o = world.orgs["own"]
    if endpoint == "organisations.create":
        r = await client.post(
            "/api/v1/organisations", headers=h, json={"name": f"ONG {uuid.uuid4().hex[:8]}"}
        )
        return r.status_code
    if endpoint == "organisations.list":
        return seen(await client.get("/api/v1/organisations", headers=h), str(o))
    if endpoint == "organisations.delete":
        return (await client.delete(f"/api/v1/organisations/{o}", headers=h)).status_code
    if endpoint == "organisations.delete_me":
        return (await client.delete("/api/v1/organisations/me", headers=h)).status_code
    if endpoint == "organisations.export_me":
        return seen(await client.get("/api/v1/organisations/me/export", headers=h), NARRATIVE)
    if endpoint.startswith("tokens.create"):
        body: dict[str, Any] = {
            "tokens.create_in_o": {"org_id": str(o), "role": "reporter"},
            "tokens.create_here": {"role": "reporter"},
            "tokens.create_operator": {"role": "operator"},
            "tokens.create_first_admin": {
                "org_id": str(await world.factory.org()),
                "role": "admin",
            },
            "tokens.create_admin_in_o": {"org_id": str(o), "role": "admin"},
        }[endpoint]
        r = await client.post("/api/v1/tokens", headers=h, json=body)
        if r.status_code == 201:
            made = r.json()
            assert made["org_id"] == body.get("org_id", str(caller.org_id))
            assert (
                await client.get(
                    "/api/v1/incidents", headers={"Authorization": f"Bearer {made['token']}"}
                )
            ).status_code == 200
        return r.status_code
    if endpoint == "tokens.list":
        return seen(
            await client.get("/api/v1/tokens", headers=h),
            str(world.callers["reporter/own"].user_id),
        )
    if endpoint == "tokens.revoke":
        victim = await world.factory.caller("reporter", org_id=o)
        listed = await client.get("/api/v1/tokens", headers=world.callers["admin/own"].headers)
        [token_id] = [t["id"] for t in listed.json() if t["user_id"] == str(victim.user_id)]
        r = await client.delete(f"/api/v1/tokens/{token_id}", headers=h)
        still = (await client.get("/api/v1/incidents", headers=victim.headers)).status_code
        assert still == (401 if r.status_code == 204 else 200)
        return r.status_code
    if endpoint == "audit.read":
        return seen(
            await client.get("/api/v1/audit", params={"limit": 500}, headers=h), world.incident_id
        )
    if endpoint == "networks.list":
        return seen(await client.get("/api/v1/trust-networks", headers=h), str(world.network_id))
    if endpoint == "networks.create":
        r = await client.post(
            "/api/v1/trust-networks", headers=h, json={"name": f"Réseau {uuid.uuid4().hex[:8]}"}
        )
        if r.status_code == 201:
            assert r.json()["owner_org_id"] == str(caller.org_id)
            assert r.json()["org_ids"] == [str(caller.org_id)]
        return r.status_code
    if endpoint == "networks.get":
        return (
            await client.get(f"/api/v1/trust-networks/{world.network_id}", headers=h)
        ).status_code
    if endpoint == "networks.invite":
        r = await client.post(
            f"/api/v1/trust-networks/{world.network_id}/invitations",
            headers=h,
            json={"org_id": str(await world.factory.org())},
        )
        return r.status_code
    if endpoint == "networks.remove_member":
        network_id = await world.network()
        member = await world.factory.org()
        async with world.db.transaction() as session:
            await add_member(session, None, network_id, member, now=datetime.now(UTC))
        return (
            await client.delete(f"/api/v1/trust-networks/{network_id}/members/{member}", headers=h)
        ).status_code
    if endpoint == "networks.leave":
        network_id = await world.network()
        return (
            await client.delete(
                f"/api/v1/trust-networks/{network_id}/members/{caller.org_id}", headers=h
            )
        ).status_code
    if endpoint == "networks.delete":
        network_id = await world.network()
        return (await client.delete(f"/api/v1/trust-networks/{network_id}", headers=h)).status_code
    if endpoint == "invitations.list":
        return seen(
            await client.get("/api/v1/trust-network-invitations", headers=h),
            str(world.invitation_id),
        )
    invitation_id = await world.invitation()
    path = f"/api/v1/trust-network-invitations/{invitation_id}"
    if endpoint == "invitations.withdraw":
        return (await client.delete(path, headers=h)).status_code
    verb = endpoint.split(".")[1]
    return (await client.post(f"{path}/{verb}", headers=h)).status_code


@pytest.mark.parametrize("endpoint", list(EXPECTED))
async def test_identity_authorisation_matrix(
    client: AsyncTestClient, factory: Factory, db: Database, endpoint: str
) -> None:
    world = await build_world(client, factory, db)
    order = [f"{role}/{relation}" for relation in RELATIONS for role in ROLES] + ["operator"]
    wrong = {}
    for who in order:
        got = await outcome(client, endpoint, who, world)
        if got != expected(endpoint, who):
            wrong[who] = (got, expected(endpoint, who))
    assert wrong == {}, f"{endpoint}: (got, expected) {wrong}"


# --- what the matrix does not show: effects, audit, bounds -------------------------------------


async def audit_of(client: AsyncTestClient, admin: Caller, **params: Any) -> list[dict[str, Any]]:
    response = await client.get(
        "/api/v1/audit", params={"limit": 500, **params}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


async def test_refusals_and_token_changes_are_audited_without_secrets(
    client: AsyncTestClient, factory: Factory
) -> None:
    victim = await factory.caller("admin")
    admin = await factory.caller("admin")
    reporter = await factory.caller("reporter", org_id=admin.org_id)
    refused = await client.post(
        "/api/v1/tokens",
        headers=admin.headers,
        json={"org_id": str(victim.org_id), "role": "admin"},
    )
    assert refused.status_code == 404
    assert (
        await client.post("/api/v1/organisations", headers=reporter.headers, json={"name": "X"})
    ).status_code == 403
    made = await client.post(
        "/api/v1/tokens", headers=admin.headers, json={"role": "officer", "name": "Fatou"}
    )
    assert made.status_code == 201
    assert (
        await client.delete(f"/api/v1/tokens/{made.json()['token_id']}", headers=admin.headers)
    ).status_code == 204
    entries = await audit_of(client, admin)
    denied = [e for e in entries if e["action"] == "authz.denied"]
    assert {e["details"]["route"] for e in denied} == {"/api/v1/tokens", "/api/v1/organisations"}
    assert {e["actor_user_id"] for e in denied} == {str(admin.user_id), str(reporter.user_id)}
    assert all(e["details"]["reason"] for e in denied)
    [created] = [e for e in entries if e["action"] == "token.created"]
    assert (created["target_id"], created["details"]["role"]) == (
        made.json()["token_id"],
        "officer",
    )
    [revoked] = [e for e in entries if e["action"] == "token.revoked"]
    assert revoked["target_id"] == made.json()["token_id"]
    text = str(entries)
    assert made.json()["token"] not in text
    assert victim.token not in text
    assert admin.token not in text
    # The victim's own log shows no actor of another organisation.
    assert str(admin.user_id) not in str(await audit_of(client, victim))


async def test_the_operator_creates_an_organisation_and_its_first_admin(
    client: AsyncTestClient, factory: Factory
) -> None:
    operator = await factory.operator()
    org = await client.post(
        "/api/v1/organisations", headers=operator.headers, json={"name": "Association Tassaght"}
    )
    assert org.status_code == 201, org.text
    org_id = org.json()["id"]
    listed = await client.get("/api/v1/organisations", headers=operator.headers)
    assert org_id in {o["id"] for o in listed.json()}
    first = await client.post(
        "/api/v1/tokens", headers=operator.headers, json={"org_id": org_id, "role": "admin"}
    )
    assert first.status_code == 201, first.text
    admin = {"Authorization": f"Bearer {first.json()['token']}"}
    second = await client.post(
        "/api/v1/tokens", headers=operator.headers, json={"org_id": org_id, "role": "admin"}
    )
    assert second.status_code == 409
    assert second.json()["field"] == "org_id"
    # The new admin now runs its organisation, and cannot list the others.
    assert (
        await client.post("/api/v1/tokens", headers=admin, json={"role": "reporter"})
    ).status_code == 201
    assert (await client.get("/api/v1/organisations", headers=admin)).status_code == 403
    actions = [e["action"] for e in await audit_of(client, operator)]
    assert {"organisation.created", "token.created"} <= set(actions)
    gone = await client.delete(f"/api/v1/organisations/{org_id}", headers=operator.headers)
    assert gone.status_code == 200
    assert (await client.get("/api/v1/incidents", headers=admin)).status_code == 401
    assert "organisation.deleted" in {e["action"] for e in await audit_of(client, operator)}
    again = await client.delete(f"/api/v1/organisations/{org_id}", headers=operator.headers)
    assert again.status_code == 404
    mine = await client.delete(f"/api/v1/organisations/{operator.org_id}", headers=operator.headers)
    assert mine.status_code == 409


async def test_the_operator_sees_incidents_as_an_outsider(
    client: AsyncTestClient, factory: Factory
) -> None:
    reporter = await factory.caller("reporter")
    operator = await factory.operator()
    for level in ("amber_strict", "amber"):
        created = await client.post(
            "/api/v1/incidents",
            headers=reporter.headers,
            json=incident_payload(sharing_level=level, description=NARRATIVE),
        )
        got = await client.get(
            f"/api/v1/incidents/{created.json()['id']}", headers=operator.headers
        )
        assert got.status_code == 404, level
    assert NARRATIVE not in (await client.get("/api/v1/incidents", headers=operator.headers)).text
    assert created.json()["id"] not in str(await audit_of(client, operator))


async def test_token_list_shows_no_secret(client: AsyncTestClient, factory: Factory) -> None:
    admin = await factory.caller("admin")
    listed = await client.get("/api/v1/tokens", headers=admin.headers)
    assert listed.status_code == 200
    [token] = listed.json()
    assert set(token) == {
        "id",
        "user_id",
        "user_name",
        "role",
        "name",
        "created_at",
        "revoked_at",
        "last_used_at",
    }
    assert admin.token not in listed.text
    assert "hash" not in listed.text


async def test_invitation_lifecycle_and_leaving(client: AsyncTestClient, factory: Factory) -> None:
    owner = await factory.caller("admin")
    guest = await factory.caller("admin")
    guest_reporter = await factory.caller("reporter", org_id=guest.org_id)
    amber = await client.post(
        "/api/v1/incidents",
        headers=owner.headers,
        json=incident_payload(sharing_level="amber", description=NARRATIVE),
    )
    location = f"/api/v1/incidents/{amber.json()['id']}"
    net = await client.post(
        "/api/v1/trust-networks",
        headers=owner.headers,
        json={"name": "Réseau Gao", "org_ids": [str(guest.org_id)]},
    )
    assert net.status_code == 201, net.text
    network_id = net.json()["id"]
    [pending] = net.json()["invitations"]
    twice = await client.post(
        f"/api/v1/trust-networks/{network_id}/invitations",
        headers=owner.headers,
        json={"org_id": str(guest.org_id)},
    )
    assert twice.status_code == 409
    declined = await client.post(
        f"/api/v1/trust-network-invitations/{pending['id']}/decline", headers=guest.headers
    )
    assert declined.json()["state"] == "declined"
    assert (await client.get(location, headers=guest_reporter.headers)).status_code == 404
    again = await client.post(
        f"/api/v1/trust-networks/{network_id}/invitations",
        headers=owner.headers,
        json={"org_id": str(guest.org_id)},
    )
    assert again.status_code == 201
    accepted = await client.post(
        f"/api/v1/trust-network-invitations/{again.json()['id']}/accept", headers=guest.headers
    )
    assert accepted.status_code == 200
    assert (await client.get(location, headers=guest_reporter.headers)).status_code == 200
    seen = await client.get(f"/api/v1/trust-networks/{network_id}", headers=guest.headers)
    assert {m["id"] for m in seen.json()["members"]} == {str(owner.org_id), str(guest.org_id)}
    assert seen.json()["invitations"] == []  # the owner's view only
    # The owner leaves: the network stays, ownerless; nobody can invite any more.
    left = await client.delete(
        f"/api/v1/trust-networks/{network_id}/members/{owner.org_id}", headers=owner.headers
    )
    assert left.status_code == 200
    assert (
        await client.get(f"/api/v1/trust-networks/{network_id}", headers=owner.headers)
    ).status_code == 404
    now = await client.get(f"/api/v1/trust-networks/{network_id}", headers=guest.headers)
    assert now.json()["owner_org_id"] is None
    invite_more = await client.post(
        f"/api/v1/trust-networks/{network_id}/invitations",
        headers=guest.headers,
        json={"org_id": str(owner.org_id)},
    )
    assert invite_more.status_code == 403
    assert (await client.get(location, headers=guest_reporter.headers)).status_code == 404
    last = await client.delete(
        f"/api/v1/trust-networks/{network_id}/members/{guest.org_id}", headers=guest.headers
    )
    assert last.json()["network_deleted"] is True
    actions = {e["action"] for e in await audit_of(client, guest)}
    assert {
        "trust_network.invitation_declined",
        "trust_network.joined",
        "trust_network.left",
    } <= actions
    owner_actions = {e["action"] for e in await audit_of(client, owner)}
    assert {
        "trust_network.created",
        "trust_network.invited",
        "trust_network.left",
        "trust_network.owner_left",
    } <= owner_actions


@pytest.mark.parametrize(
    ("path", "params", "name"),
    [
        ("/api/v1/audit", {"before": "1e21"}, "before"),
        ("/api/v1/audit", {"before": str(2**63)}, "before"),
        ("/api/v1/audit", {"before": "99999999999999999999999"}, "before"),
        ("/api/v1/audit", {"limit": str(10**30)}, "limit"),
        ("/api/v1/tokens", {"limit": str(10**30)}, "limit"),
        ("/api/v1/trust-network-invitations", {"state": "maybe"}, "state"),
    ],
)
async def test_huge_or_wrong_query_numbers_are_422_naming_the_parameter(
    client: AsyncTestClient, factory: Factory, path: str, params: dict[str, str], name: str
) -> None:
    admin = await factory.caller("admin")
    response = await client.get(path, params=params, headers=admin.headers)
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert name in response.json().get("field", "") + response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "name"),
    [
        ({"role": "operator"}, "role"),
        ({"role": "reporter", "org_id": "not-an-id"}, "org_id"),
        ({"role": "reporter", "name": "x" * 201}, "name"),
        ({"role": "chef"}, "role"),
    ],
)
async def test_bad_token_requests_are_4xx_naming_the_field(
    client: AsyncTestClient, factory: Factory, body: dict[str, Any], name: str
) -> None:
    admin = await factory.caller("admin")
    response = await client.post("/api/v1/tokens", headers=admin.headers, json=body)
    assert response.status_code in (400, 422), response.text
    assert response.json()["field"] == name
    listed = await client.get("/api/v1/tokens", headers=admin.headers)
    assert len(listed.json()) == 1  # nothing was made
