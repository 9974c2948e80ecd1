"""Authorisation matrix of the subscription and alert endpoints: every role of organisation O,
of a trusted organisation T (same trust network, joined by invitation) and of another
organisation X, the member of O who owns a personal subscription, and the platform operator,
against the expected outcomes written out below.

The objects acted on belong to O: its organisation's subscription (made by an officer), the
personal subscription of one of its reporters ("owner"), the alerts a broadcast sent to both,
and a custom zone O drew. The rules: an organisation's subscriptions are changed by its officers
and admins (other members: 403, audited), personal ones by their owner only; another
organisation's subscription or alert does not exist (404), for the operator too, who reads no
organisation's subscriptions, channels or alerts; broadcasts are for officers and admins (403,
audited); another organisation's custom zone is unknown to subscriptions and broadcasts (422, as
for no zone). A refusal changes nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from alerts.core.tables import AlertRow, DeliveryRow, SubscriptionRow
from incidents.db import Database
from incidents.sharing.tables import AuditRow
from tests.factories import DIEMA, Caller, Factory
from tests.trust import trust_network

Client = AsyncTestClient[Litestar]
SUBS = "/api/v1/subscriptions"
ALERTS = "/api/v1/alerts"
ROLES = ("reporter", "officer", "planner", "admin")
RELATIONS = ("own", "trusted", "other")
PASSWORD = "s3cretpass"  # in the channel address: stored encrypted, never shown
CHANNEL = f"json://agent:{PASSWORD}@127.0.0.1:9/hook"
AREA = {"point": {"lat": DIEMA[0], "lon": DIEMA[1]}, "radius_km": 25}
S, N = "sees", "blind"  # a 200 list that shows O's object, or one that does not

Row = tuple[Any, Any, Any, Any]  # reporter, officer, planner, admin
Table = dict[str, tuple[Row, Any, Row, Row, Any]]  # own, owner, trusted, other, operator

HIDDEN: Row = (404, 404, 404, 404)
BLIND: Row = (N, N, N, N)
MANAGERS: Row = (403, 201, 403, 201)  # officers and admins; the others 403
#                           own                   owner trusted               other                 operator
EXPECTED: Table = {
    # POST with owner organisation, for the caller's organisation (the operator's: its own).
    "create_org": (MANAGERS, 403, MANAGERS, MANAGERS, 201),
    "create_personal": ((201,) * 4, 201, (201,) * 4, (201,) * 4, 201),
    # A personal subscription over O's custom zone: unknown outside O, as a zone that is not.
    "create_on_o_zone": ((201,) * 4, 201, (422,) * 4, (422,) * 4, 422),
    "list_org": ((S, S, S, S), S, BLIND, BLIND, N),
    "list_personal": (BLIND, S, BLIND, BLIND, N),
    "get_org": ((200,) * 4, 200, HIDDEN, HIDDEN, 404),
    "get_personal": (HIDDEN, 200, HIDDEN, HIDDEN, 404),
    "update_org": ((403, 200, 403, 200), 403, HIDDEN, HIDDEN, 404),
    "update_personal": (HIDDEN, 200, HIDDEN, HIDDEN, 404),
    "delete_org": ((403, 204, 403, 204), 403, HIDDEN, HIDDEN, 404),
    "delete_personal": (HIDDEN, 204, HIDDEN, HIDDEN, 404),
    "test_org": ((403, 201, 403, 201), 403, HIDDEN, HIDDEN, 404),
    "test_personal": (HIDDEN, 201, HIDDEN, HIDDEN, 404),
    "broadcast": (MANAGERS, 403, MANAGERS, MANAGERS, 403),
    "broadcast_on_o_zone": (MANAGERS, 403, (403, 422, 403, 422), (403, 422, 403, 422), 403),
    # GET /alerts: the alert a broadcast sent to O's subscription, to the personal one.
    "alerts_org": ((N, S, N, S), N, BLIND, BLIND, N),
    "alerts_personal": (BLIND, S, BLIND, BLIND, N),
    "deliveries_org": ((404, 200, 404, 200), 404, HIDDEN, HIDDEN, 404),
    "deliveries_personal": (HIDDEN, 200, HIDDEN, HIDDEN, 404),
    "ack_org": ((404, 200, 404, 200), 404, HIDDEN, HIDDEN, 404),
    "ack_personal": (HIDDEN, 200, HIDDEN, HIDDEN, 404),
}

# Endpoints whose 404 is audited too (refusals met in the use case); a 403 always is.
AUDITED_404 = {"update", "delete", "test"}
# Others first: the callers who may act come last (after a success, the next acts on a fresh one).
ORDER = [f"{role}/{relation}" for relation in ("other", "trusted", "own") for role in ROLES]
ORDER += ["operator", "owner"]


def expected(endpoint: str, who: str) -> Any:
    own, owner, trusted, other, operator = EXPECTED[endpoint]
    if who in ("owner", "operator"):
        return owner if who == "owner" else operator
    role, relation = who.split("/")
    return {"own": own, "trusted": trusted, "other": other}[relation][ROLES.index(role)]


def body(**extra: Any) -> dict[str, Any]:
    return {"channels": [CHANNEL], "area": AREA, **extra}


@dataclass
class World:
    client: Client
    db: Database
    callers: dict[str, Caller]
    zone_id: str = ""  # O's custom zone
    subs: dict[str, str] = field(default_factory=dict)  # org | personal -> subscription id
    alerts: dict[str, str] = field(default_factory=dict)  # org | personal -> alert code

    async def subscription(self, target: str) -> str:
        """A fresh subscription of O: the organisation's (by an officer) or the owner's own."""
        if target == "org":
            made = await self.client.post(
                SUBS,
                json=body(owner="organisation", name="Diéma O"),
                headers=self.callers["officer/own"].headers,
            )
        else:
            made = await self.client.post(
                SUBS,
                json=body(owner="user", name="Diéma perso"),
                headers=self.callers["owner"].headers,
            )
        assert made.status_code == 201, made.text
        return str(made.json()["id"])

    async def broadcast(self) -> None:
        """An officer of O broadcasts over Diéma: an alert to each subscription of O there."""
        sent = await self.client.post(
            f"{ALERTS}/broadcast",
            headers=self.callers["officer/own"].headers,
            json={"area": AREA, "message": {"fr": "Axe Diéma-Nioro fermé"}},
        )
        assert sent.status_code == 201, sent.text
        async with self.db.read() as session:
            for target, sub in self.subs.items():
                self.alerts[target] = str(
                    await session.scalar(
                        select(AlertRow.code).where(
                            AlertRow.subscription_id == uuid.UUID(sub),
                            AlertRow.broadcast_id == uuid.UUID(sent.json()["id"]),
                        )
                    )
                )

    async def fresh(self) -> None:
        self.subs = {t: await self.subscription(t) for t in ("org", "personal")}
        await self.broadcast()


async def build_world(client: Client, factory: Factory, db: Database) -> World:
    orgs = {relation: await factory.org() for relation in RELATIONS}
    callers = {
        f"{role}/{relation}": await factory.caller(role, org_id=orgs[relation])
        for relation in RELATIONS
        for role in ROLES
    }
    callers["owner"] = await factory.caller("reporter", org_id=orgs["own"])
    callers["operator"] = await factory.operator()
    await trust_network(client, callers["admin/own"], callers["admin/trusted"])
    world = World(client=client, db=db, callers=callers)
    w, s, e, n = DIEMA[1] - 0.1, DIEMA[0] - 0.1, DIEMA[1] + 0.1, DIEMA[0] + 0.1
    zone = await client.post(
        "/api/v1/zones",
        headers=callers["officer/own"].headers,
        json={
            "name_fr": "Poste de Diéma (O)",
            "code": f"o_{uuid.uuid4().hex[:8]}",
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]],
            },
        },
    )
    assert zone.status_code == 201, zone.text
    world.zone_id = str(zone.json()["id"])
    await world.fresh()
    return world


async def state(db: Database) -> tuple[Any, ...]:
    """Every subscription, alert and delivery: what a refused call must leave as it was."""
    async with db.read() as session:
        subs = (
            await session.execute(
                select(
                    SubscriptionRow.id,
                    SubscriptionRow.paused,
                    SubscriptionRow.updated_at,
                    SubscriptionRow.deleted_at,
                    SubscriptionRow.channels_masked,
                ).order_by(SubscriptionRow.id)
            )
        ).all()
        alerts = (
            await session.execute(
                select(AlertRow.id, AlertRow.acked_at, AlertRow.acked_by).order_by(AlertRow.id)
            )
        ).all()
        deliveries = (
            await session.execute(
                select(DeliveryRow.id, DeliveryRow.status).order_by(DeliveryRow.id)
            )
        ).all()
    return tuple(map(tuple, subs)), tuple(map(tuple, alerts)), tuple(map(tuple, deliveries))


async def denials(db: Database, caller: Caller) -> int:
    async with db.read() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(AuditRow)
                .where(AuditRow.action == "authz.denied", AuditRow.actor_user_id == caller.user_id)
            )
            or 0
        )


def seen(response: Any, needle: str) -> Any:
    if response.status_code != 200:
        return response.status_code
    return S if needle in response.text else N


def unknown_zone(response: Any, world: World) -> Any:
    """A 422 about O's zone reads exactly as about a zone that does not exist."""
    if response.status_code == 422:
        problem = response.json()
        assert problem["field"] == "area.zones[0]"
        assert problem["detail"] == (
            f"area.zones[0]: unknown zone {world.zone_id!r}; choose a "
            "zone id from the list of zones"
        )
    return response


async def outcome(client: Client, endpoint: str, caller: Caller, world: World) -> Any:
    h = caller.headers
    action, _, target = endpoint.partition("_")
    if endpoint == "create_org":
        r = await client.post(SUBS, json=body(owner="organisation"), headers=h)
        if r.status_code == 201:
            assert (r.json()["owner"], r.json()["owner_org_id"]) == (
                "organisation",
                str(caller.org_id),
            )
        return r
    if endpoint == "create_personal":
        r = await client.post(SUBS, json=body(owner="user"), headers=h)
        if r.status_code == 201:
            assert r.json()["owner_user_id"] == str(caller.user_id)
        return r
    if endpoint == "create_on_o_zone":
        r = await client.post(
            SUBS, json=body(owner="user", area={"zones": [world.zone_id]}), headers=h
        )
        return unknown_zone(r, world)
    if endpoint == "broadcast":
        return await client.post(
            f"{ALERTS}/broadcast", headers=h, json={"area": AREA, "message": {"fr": "Route fermée"}}
        )
    if endpoint == "broadcast_on_o_zone":
        r = await client.post(
            f"{ALERTS}/broadcast",
            headers=h,
            json={"area": {"zones": [world.zone_id]}, "message": {"fr": "Route fermée"}},
        )
        return unknown_zone(r, world)
    sub, code = world.subs[target], world.alerts[target]
    path = f"{SUBS}/{sub}"
    if action == "list":
        return await client.get(SUBS, headers=h)
    if action == "get":
        return await client.get(path, headers=h)
    if action == "update":
        return await client.patch(path, json={"paused": True}, headers=h)
    if action == "delete":
        return await client.delete(path, headers=h)
    if action == "test":
        return await client.post(f"{path}/test", headers=h)
    if action == "alerts":
        return await client.get(ALERTS, params={"limit": 500}, headers=h)
    if action == "deliveries":
        return await client.get(f"{ALERTS}/{code}/deliveries", headers=h)
    if action == "ack":
        return await client.post(f"{ALERTS}/{code}/ack", headers=h)
    raise AssertionError(endpoint)


def judged(endpoint: str, response: Any, world: World) -> Any:
    """The outcome as written in the table."""
    action, _, target = endpoint.partition("_")
    if action == "list":
        return seen(response, world.subs[target])
    if action == "alerts":
        return seen(response, world.alerts[target])
    return response.status_code


# One world per group: reads change nothing, so they share one.
GROUPS = {
    "create": ["create_org", "create_personal", "create_on_o_zone"],
    "broadcast": ["broadcast", "broadcast_on_o_zone"],
    "reads": [
        "list_org",
        "list_personal",
        "get_org",
        "get_personal",
        "alerts_org",
        "alerts_personal",
        "deliveries_org",
        "deliveries_personal",
    ],
    "update": ["update_org", "update_personal"],
    "delete": ["delete_org", "delete_personal"],
    "test": ["test_org", "test_personal"],
    "ack": ["ack_org", "ack_personal"],
}


def test_the_groups_cover_the_table() -> None:
    assert sorted(e for group in GROUPS.values() for e in group) == sorted(EXPECTED)


@pytest.mark.parametrize("group", list(GROUPS))
async def test_subscription_authorisation_matrix(
    client: Client, factory: Factory, db: Database, group: str
) -> None:
    world = await build_world(client, factory, db)
    wrong: dict[str, Any] = {}
    for endpoint in GROUPS[group]:
        action = endpoint.partition("_")[0]
        for who in ORDER:
            caller = world.callers[who]
            before, denied_before = await state(db), await denials(db, caller)
            response = await outcome(client, endpoint, caller, world)
            got, want = judged(endpoint, response, world), expected(endpoint, who)
            if got != want:
                wrong[f"{endpoint} {who}"] = (got, want, response.text[:160])
            status = response.status_code
            assert PASSWORD not in response.text, f"{who}: the channel's password shows"
            if status >= 400:
                assert response.headers["content-type"].startswith("application/problem+json")
                assert await state(db) == before, f"{endpoint} refused to {who} yet changed data"
            audited = status == 403 or (status == 404 and action in AUDITED_404)
            assert await denials(db, caller) - denied_before == int(audited), (who, status)
            if status < 300 and action in ("update", "delete", "test", "ack"):
                await world.fresh()  # the next caller acts on subscriptions and alerts as they were
    assert wrong == {}, f"{group}: (got, expected, answer) {wrong}"


async def test_what_the_allowed_calls_did(client: Client, factory: Factory, db: Database) -> None:
    """The effects behind the 2xx of the matrix, for the organisation's subscription."""
    world = await build_world(client, factory, db)
    officer, admin = world.callers["officer/own"], world.callers["admin/own"]
    sub, code = world.subs["org"], world.alerts["org"]
    changed = await client.patch(f"{SUBS}/{sub}", json={"paused": True}, headers=admin.headers)
    assert changed.json()["paused"] is True
    assert changed.json()["channels"] == ["json://agent:****@127.0.0.1:9/hook"]
    test = await client.post(f"{SUBS}/{sub}/test", headers=officer.headers)
    assert (test.json()["kind"], test.json()["subscription_id"]) == ("test", sub)
    log = await client.get(f"{ALERTS}/{test.json()['code']}/deliveries", headers=admin.headers)
    assert [d["status"] for d in log.json()["items"]] == ["pending"]
    # The test alert is O's: outsiders, the operator and O's reporters do not find it.
    for who in ("reporter/own", "officer/trusted", "admin/other", "operator"):
        assert (
            await client.get(
                f"{ALERTS}/{test.json()['code']}/deliveries", headers=world.callers[who].headers
            )
        ).status_code == 404
    ack = await client.post(f"{ALERTS}/{code}/ack", headers=admin.headers)
    assert (ack.json()["already"], ack.json()["acknowledged_by"]) == (False, str(admin.user_id))
    assert (await client.delete(f"{SUBS}/{sub}", headers=officer.headers)).status_code == 204
    assert (await client.get(f"{SUBS}/{sub}", headers=officer.headers)).status_code == 404
    # The operator's own subscriptions are its platform organisation's, and only those.
    operator = world.callers["operator"]
    mine = await client.post(SUBS, json=body(), headers=operator.headers)
    assert mine.json()["owner_org_id"] == str(operator.org_id)
    listed = await client.get(SUBS, headers=operator.headers)
    assert [s["id"] for s in listed.json()["items"]] == [mine.json()["id"]]


async def test_without_a_token_every_alert_endpoint_is_401(client: Client) -> None:
    sub = uuid.uuid4()
    answers = [
        await client.post(SUBS, json=body()),
        await client.get(SUBS),
        await client.get(f"{SUBS}/{sub}"),
        await client.patch(f"{SUBS}/{sub}", json={}),
        await client.delete(f"{SUBS}/{sub}"),
        await client.post(f"{SUBS}/{sub}/test"),
        await client.post(f"{ALERTS}/broadcast", json={}),
        await client.get(ALERTS),
        await client.get(f"{ALERTS}/ABCDE/deliveries"),
        await client.post(f"{ALERTS}/ABCDE/ack"),
    ]
    assert [a.status_code for a in answers] == [401] * len(answers)
