"""Authorisation matrix of the zone and risk endpoints: every role of the owning organisation O,
of a trusted organisation T (same trust network, joined by invitation) and of another
organisation X, and the platform operator, × a custom zone of O, a default zone and an imported
official zone, against the expected outcomes written out below.

The rules: a custom zone belongs to the organisation that drew it, does not exist (404) for any
other organisation (trusted ones and the operator included) and is changed only by its
officers and admins; default and imported official (platform) zones are changed only by the
operator (everyone else: 403 problem+json, audited as `authz.denied`); reading platform zones and
their levels is open to every role. A refusal changes nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import shapely
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from geo.zones import Zone
from incidents.db import Database
from incidents.sharing.tables import AuditRow
from incidents.zones.store import import_zones
from incidents.zones.tables import ZoneRow
from tests.factories import DIEMA, Caller, Factory, incident_payload
from tests.trust import trust_network

Client = AsyncTestClient[Litestar]
ZONES = "/api/v1/zones"
ROLES = ("reporter", "officer", "planner", "admin")
RELATIONS = ("own", "trusted", "other")
TARGETS = ("custom", "default", "imported")
DEFAULT_ZONE = "town_diema"  # a default zone (seeded at start-up) around the incident
S, N = "sees", "blind"  # a 200 answer that lists the target zone, or one that does not
F, M, A = "full", "masked", "absent"  # the incident among the risk contributors: by its id,
#                                       under another (masked) id, not at all

Row = tuple[Any, Any, Any, Any]  # reporter, officer, planner, admin
Table = dict[str, tuple[Row, Row, Row, Any]]  # own, trusted, other, operator

READ_ALL: Row = (200, 200, 200, 200)
HIDDEN: Row = (404, 404, 404, 404)
GUARDED: Row = (403, 404, 403, 404)  # the role guard first (403), then the hidden zone (404)
PLATFORM_ONLY: Row = (403, 403, 403, 403)

# The custom zone drawn by an officer of O.
#                         own                   trusted               other                 operator
CUSTOM: Table = {
    "get": (READ_ALL, HIDDEN, HIDDEN, 404),
    "list": ((S, S, S, S), (N, N, N, N), (N, N, N, N), N),
    "list_by_kind": ((S, S, S, S), (N, N, N, N), (N, N, N, N), N),
    "risk": (READ_ALL, HIDDEN, HIDDEN, 404),
    # O's amber incident inside the zone, among the zone's risk contributors.
    "contributors": ((F, F, F, F), HIDDEN, HIDDEN, 404),
    "history": (READ_ALL, HIDDEN, HIDDEN, 404),
    "ranking": ((S, S, S, S), (N, N, N, N), (N, N, N, N), N),
    "assess": ((S, S, S, S), (N, N, N, N), (N, N, N, N), N),
    "incidents_filter": ((F, F, F, F), HIDDEN, HIDDEN, 404),
    "replace": ((403, 200, 403, 200), GUARDED, GUARDED, 404),
    # PUT with an official kind: an organisation's zone stays `custom`.
    "replace_official": ((403, 403, 403, 403), GUARDED, GUARDED, 404),
    "delete": ((403, 204, 403, 204), GUARDED, GUARDED, 404),
    # There is no PATCH: PUT replaces a zone.
    "patch": ((405,) * 4, (405,) * 4, (405,) * 4, 405),
}

# The default zone and the imported official zone alike.
PLATFORM: Table = {
    "get": (READ_ALL, READ_ALL, READ_ALL, 200),
    "list": ((S, S, S, S), (S, S, S, S), (S, S, S, S), S),
    "list_by_kind": ((S, S, S, S), (S, S, S, S), (S, S, S, S), S),
    "risk": (READ_ALL, READ_ALL, READ_ALL, 200),
    # Amber: O and its trusted partners see it in full, outsiders' officers and admins too.
    "contributors": ((F, F, F, F), (F, F, F, F), (M, F, M, F), M),
    "history": (READ_ALL, READ_ALL, READ_ALL, 200),
    "ranking": ((S, S, S, S), (S, S, S, S), (S, S, S, S), S),
    "assess": ((S, S, S, S), (S, S, S, S), (S, S, S, S), S),
    # ?zone= is finer than the masked entry: those who may see the incident only masked do
    # not find it there.
    "incidents_filter": ((F, F, F, F), (F, F, F, F), (A, F, A, F), A),
    "replace": (PLATFORM_ONLY, PLATFORM_ONLY, PLATFORM_ONLY, 200),
    "replace_official": (PLATFORM_ONLY, PLATFORM_ONLY, PLATFORM_ONLY, 200),
    "delete": (PLATFORM_ONLY, PLATFORM_ONLY, PLATFORM_ONLY, 204),
    "patch": ((405,) * 4, (405,) * 4, (405,) * 4, 405),
}

EXPECTED: dict[str, Table] = {"custom": CUSTOM, "default": PLATFORM, "imported": PLATFORM}

# POST /zones, whoever's organisation: a custom zone (officers and admins: their organisation's;
# the operator: a platform zone) and an official one (the operator only).
#                         own                   trusted               other                 operator
CREATE: Table = {
    "create_custom": ((403, 201, 403, 201), (403, 201, 403, 201), (403, 201, 403, 201), 201),
    "create_official": (PLATFORM_ONLY, PLATFORM_ONLY, PLATFORM_ONLY, 201),
}

WRITES = ("replace", "replace_official", "delete", "patch")
ORDER = [f"{role}/{relation}" for relation in ("other", "trusted", "own") for role in ROLES]
ORDER.append("operator")  # last: once it changed the default zone, nobody else acts on it


def expected(table: Table, endpoint: str, who: str) -> Any:
    own, trusted, other, operator = table[endpoint]
    if who == "operator":
        return operator
    role, relation = who.split("/")
    return {"own": own, "trusted": trusted, "other": other}[relation][ROLES.index(role)]


def square(lat: float, lon: float, half: float) -> dict[str, Any]:
    w, s, e, n = lon - half, lat - half, lon + half, lat + half
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


@dataclass
class World:
    client: Client
    db: Database
    factory: Factory
    orgs: dict[str, uuid.UUID]
    callers: dict[str, Caller]
    incident_id: str = ""
    zones: dict[str, str] = field(default_factory=dict)  # target -> zone id

    async def custom_zone(self) -> str:
        """A fresh custom zone of O around Diéma, drawn by an officer of O."""
        made = await self.client.post(
            ZONES,
            headers=self.callers["officer/own"].headers,
            json={
                "name_fr": "Zone de Diéma (O)",
                "code": f"o_{uuid.uuid4().hex[:8]}",
                "geometry": square(*DIEMA, 0.15),
            },
        )
        assert made.status_code == 201, made.text
        return str(made.json()["id"])

    async def imported_zone(self) -> str:
        """A fresh official zone (kind admin2) around Diéma, as `sentinelle zones import` does."""
        code = f"ml_diema_{uuid.uuid4().hex[:6]}"
        zone = Zone(
            id=code,
            code=code,
            name_fr="Cercle de Diéma",
            name_en="Diema circle",
            kind="admin2",
            geometry=shapely.box(DIEMA[1] - 0.3, DIEMA[0] - 0.3, DIEMA[1] + 0.3, DIEMA[0] + 0.3),
            parent_code=None,
            provenance="COD-AB (test)",
            approximate=False,
        )
        await import_zones(self.db, [zone], [], now=datetime.now(UTC))
        return code

    async def fresh(self, target: str) -> str:
        if target == "custom":
            return await self.custom_zone()
        if target == "imported":
            return await self.imported_zone()
        raise AssertionError("the default zone changed before the operator's turn")


async def build_world(client: Client, factory: Factory, db: Database) -> World:
    orgs = {relation: await factory.org() for relation in RELATIONS}
    callers = {
        f"{role}/{relation}": await factory.caller(role, org_id=orgs[relation])
        for relation in RELATIONS
        for role in ROLES
    }
    callers["operator"] = await factory.operator()
    await trust_network(client, callers["admin/own"], callers["admin/trusted"])
    world = World(client=client, db=db, factory=factory, orgs=orgs, callers=callers)
    world.zones = {
        "custom": await world.custom_zone(),
        "default": DEFAULT_ZONE,
        "imported": await world.imported_zone(),
    }
    # After the zones: the report is assigned to all three and re-scores them.
    created = await client.post(
        "/api/v1/incidents",
        headers=callers["reporter/own"].headers,
        json=incident_payload(sharing_level="amber", at=DIEMA),
    )
    assert created.status_code == 201, created.text
    world.incident_id = str(created.json()["id"])
    return world


async def zone_state(db: Database, zone_id: str) -> tuple[Any, ...] | None:
    """Everything a change would touch, read from the database."""
    async with db.read() as session:
        row = await session.get(ZoneRow, zone_id)
        if row is None:
            return None
        return (
            row.code,
            row.name_fr,
            row.kind,
            row.owner_org_id,
            row.version,
            bytes(row.geometry_wkb),
            row.updated_at,
        )


async def zone_count(db: Database) -> int:
    async with db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(ZoneRow)) or 0)


async def denials(db: Database, caller: Caller) -> list[AuditRow]:
    async with db.read() as session:
        rows = await session.scalars(
            select(AuditRow).where(
                AuditRow.action == "authz.denied", AuditRow.actor_user_id == caller.user_id
            )
        )
        return list(rows.all())


def listing(response: Any, zone_id: str, key: str = "features", id_key: str = "id") -> Any:
    if response.status_code != 200:
        return response.status_code
    return S if zone_id in {z[id_key] for z in response.json()[key]} else N


def redraw(target: str, kind: str | None = None) -> dict[str, Any]:
    own_kind = {"custom": "custom", "default": "town", "imported": "admin2"}[target]
    return {
        "name_fr": "Zone redessinée",
        "kind": kind or own_kind,
        "geometry": square(DIEMA[0] + 0.05, DIEMA[1] + 0.05, 0.1),
    }


async def outcome(
    client: Client, endpoint: str, caller: Caller, world: World, target: str, zone_id: str
) -> tuple[Any, Any]:
    """(the outcome as written in the tables, the response)."""
    h = caller.headers
    path = f"{ZONES}/{zone_id}"
    if endpoint == "get":
        r = await client.get(path, headers=h)
        if r.status_code == 200:
            assert r.json()["id"] == zone_id
            assert r.headers["content-type"].startswith("application/geo+json")
        return r.status_code, r
    if endpoint == "list":
        r = await client.get(ZONES, headers=h)
        return listing(r, zone_id), r
    if endpoint == "list_by_kind":
        kind = {"custom": "custom", "default": "town", "imported": "admin2"}[target]
        r = await client.get(ZONES, params={"kind": kind}, headers=h)
        if r.status_code == 200:
            assert {f["properties"]["kind"] for f in r.json()["features"]} <= {kind}
        return listing(r, zone_id), r
    if endpoint in ("risk", "contributors"):
        r = await client.get(f"{path}/risk", headers=h)
        if r.status_code != 200:
            return r.status_code, r
        if endpoint == "risk":
            assert r.json()["zone_id"] == zone_id
            return 200, r
        contributors = [c["incident_id"] for c in r.json()["contributors"]]
        if world.incident_id in contributors:
            return F, r
        return (M if len(contributors) == 1 else A), r
    if endpoint == "history":
        r = await client.get(f"{path}/risk/history", headers=h)
        return r.status_code, r
    if endpoint == "ranking":
        r = await client.get("/api/v1/risk", headers=h)
        return listing(r, zone_id, "zones", "zone_id"), r
    if endpoint == "assess":
        r = await client.post(
            "/api/v1/risk/assess", headers=h, json={"geometry": square(*DIEMA, 0.05)}
        )
        return listing(r, zone_id, "zones"), r
    if endpoint == "incidents_filter":
        r = await client.get("/api/v1/incidents", params={"zone": zone_id}, headers=h)
        if r.status_code != 200:
            return r.status_code, r
        ids = [f["id"] for f in r.json()["features"]]
        return (F if ids == [world.incident_id] else M if len(ids) == 1 else A), r
    if endpoint == "replace":
        r = await client.put(path, headers=h, json=redraw(target))
        return r.status_code, r
    if endpoint == "replace_official":
        r = await client.put(path, headers=h, json=redraw(target, "admin2"))
        return r.status_code, r
    if endpoint == "delete":
        r = await client.delete(path, headers=h)
        return r.status_code, r
    if endpoint == "patch":
        r = await client.patch(path, headers=h, json={"name_fr": "Renommée"})
        return r.status_code, r
    raise AssertionError(endpoint)


async def check_effects(
    world: World,
    endpoint: str,
    caller: Caller,
    zone_id: str,
    before: tuple[Any, ...] | None,
    denied_before: int,
    response: Any,
) -> None:
    """A refusal changes nothing and a 403 is audited once; a success did what it says."""
    status = response.status_code
    after = await zone_state(world.db, zone_id)
    if status >= 400:
        assert after == before, f"{endpoint} refused ({status}) yet the zone changed"
        if status != 405:
            assert response.headers["content-type"].startswith("application/problem+json")
            assert "Diéma (O)" not in response.text  # a hidden zone's name never shows
    elif endpoint not in WRITES:
        assert after == before, f"{endpoint} changed the zone"
    elif endpoint == "delete":
        assert after is None
    else:
        assert before is not None
        assert after is not None
        assert after[4] == before[4] + 1  # version
        assert after[1] == "Zone redessinée"
        assert after[3] == before[3]  # the owner does not change
    refused = await denials(world.db, caller)
    assert len(refused) - denied_before == (1 if status == 403 else 0), (endpoint, status)
    if status == 403:
        details = refused[-1].details
        assert details.get("reason"), details


# One world per group: reads change nothing, so they share one.
GROUPS = {
    "reads": [
        "get",
        "list",
        "list_by_kind",
        "risk",
        "contributors",
        "history",
        "ranking",
        "assess",
        "incidents_filter",
    ],
    "replace": ["replace", "replace_official"],
    "delete": ["patch", "delete"],
}


def test_the_groups_cover_the_tables() -> None:
    endpoints = sorted(e for group in GROUPS.values() for e in group)
    assert endpoints == sorted(CUSTOM) == sorted(PLATFORM)


@pytest.mark.parametrize("group", list(GROUPS))
async def test_zone_authorisation_matrix(
    client: Client, factory: Factory, db: Database, group: str
) -> None:
    world = await build_world(client, factory, db)
    wrong: dict[str, Any] = {}
    for endpoint in GROUPS[group]:
        for target in TARGETS:
            zone_id = world.zones[target]
            for who in ORDER:
                caller = world.callers[who]
                want = expected(EXPECTED[target], endpoint, who)
                before = await zone_state(db, zone_id)
                denied_before = len(await denials(db, caller))
                got, response = await outcome(client, endpoint, caller, world, target, zone_id)
                if got != want:
                    wrong[f"{endpoint} {target} {who}"] = (got, want, response.text[:160])
                await check_effects(
                    world, endpoint, caller, zone_id, before, denied_before, response
                )
                if endpoint in WRITES and response.status_code < 400 and who != "operator":
                    zone_id = await world.fresh(target)  # the next caller: an unchanged zone
                    world.zones[target] = zone_id
    assert wrong == {}, f"{group}: (got, expected, answer) {wrong}"


@pytest.mark.parametrize("endpoint", list(CREATE))
async def test_zone_creation_matrix(
    client: Client, factory: Factory, db: Database, endpoint: str
) -> None:
    orgs = {relation: await factory.org() for relation in RELATIONS}
    callers = {
        f"{role}/{relation}": await factory.caller(role, org_id=orgs[relation])
        for relation in RELATIONS
        for role in ROLES
    }
    callers["operator"] = await factory.operator()
    await trust_network(client, callers["admin/own"], callers["admin/trusted"])
    outsider = await factory.caller("reporter")
    wrong: dict[str, Any] = {}
    for n, who in enumerate(ORDER):
        caller = callers[who]
        kind = "custom" if endpoint == "create_custom" else "admin2"
        count, denied_before = await zone_count(db), len(await denials(db, caller))
        r = await client.post(
            ZONES,
            headers=caller.headers,
            json={
                "name_fr": f"Zone {n}",
                "code": f"z_{uuid.uuid4().hex[:8]}",
                "kind": kind,
                "geometry": square(DIEMA[0], DIEMA[1] + 0.01 * n, 0.05),
            },
        )
        want = expected(CREATE, endpoint, who)
        if r.status_code != want:
            wrong[who] = (r.status_code, want, r.text[:160])
        refused = await denials(db, caller)
        assert len(refused) - denied_before == (1 if r.status_code == 403 else 0), who
        if r.status_code != 201:
            assert await zone_count(db) == count, f"{who}: refused, yet a zone was made"
            assert r.headers["content-type"].startswith("application/problem+json")
            continue
        zone_id = r.json()["id"]
        owner = (await zone_state(db, zone_id) or ())[3]
        assert owner == (None if who == "operator" else caller.org_id), who
        # An organisation's zone exists for its members only; the operator's is a platform zone.
        colleague = (await client.get(f"{ZONES}/{zone_id}", headers=caller.headers)).status_code
        stranger = (await client.get(f"{ZONES}/{zone_id}", headers=outsider.headers)).status_code
        assert (colleague, stranger) == (200, 200 if who == "operator" else 404), who
    assert wrong == {}, f"{endpoint}: (got, expected, answer) {wrong}"


async def test_without_a_token_every_zone_endpoint_is_401(client: Client) -> None:
    path = f"{ZONES}/{DEFAULT_ZONE}"
    answers = [
        await client.get(ZONES),
        await client.get(path),
        await client.get(f"{path}/risk"),
        await client.get(f"{path}/risk/history"),
        await client.get("/api/v1/risk"),
        await client.post("/api/v1/risk/assess", json={"geometry": square(*DIEMA, 0.05)}),
        await client.post(ZONES, json=redraw("custom")),
        await client.put(path, json=redraw("default")),
        await client.delete(path),
    ]
    assert [a.status_code for a in answers] == [401] * len(answers)
