"""Authorisation matrix: every role × every incidents endpoint × every sharing level × own, trusted
and other organisation, against the expected outcomes written out below."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from incidents.db import Database
from incidents.sharing.rules import MASKED_PROPERTIES
from incidents.sharing.service import create_network
from tests.factories import Caller, Factory, incident_payload

URL = "/api/v1/incidents"
LEVELS = ("red", "amber_strict", "amber", "green", "clear")
F, M = "full", "masked"

# Who sees the details (F) or only the masked entry (M), per sharing level:
#                          red  amber_strict amber green clear
VISIBILITY: dict[str, tuple[str, str, str, str, str]] = {
    "author": (F, F, F, F, F),  # the reporter who made the report
    "reporter/own": (M, F, F, F, F),
    "officer/own": (M, F, F, F, F),
    "planner/own": (M, F, F, F, F),
    "admin/own": (M, F, F, F, F),
    "reporter/trusted": (M, M, F, F, F),
    "officer/trusted": (M, M, F, F, F),
    "planner/trusted": (M, M, F, F, F),
    "admin/trusted": (M, M, F, F, F),
    "reporter/other": (M, M, M, F, F),
    "officer/other": (M, M, F, F, F),  # security officers see amber
    "planner/other": (M, M, M, F, F),
    "admin/other": (M, M, F, F, F),
}

# GET /incidents/{id}: the details, or 404 (never 403: a hidden incident is not confirmed).
GET = {who: tuple(200 if v == F else 404 for v in row) for who, row in VISIBILITY.items()}

# PATCH /incidents/{id} and POST /incidents/{id}/retract:
#                       red  amber_strict amber green clear
CHANGE: dict[str, tuple[int, int, int, int, int]] = {
    "author": (200, 200, 200, 200, 200),
    "reporter/own": (404, 200, 200, 200, 200),
    "officer/own": (404, 200, 200, 200, 200),
    "planner/own": (403, 403, 403, 403, 403),  # planners never change incidents
    "admin/own": (404, 200, 200, 200, 200),
    "reporter/trusted": (404, 404, 403, 403, 403),  # may read, not change
    "officer/trusted": (404, 404, 200, 200, 200),
    "planner/trusted": (403, 403, 403, 403, 403),
    "admin/trusted": (404, 404, 200, 200, 200),
    "reporter/other": (404, 404, 404, 403, 403),
    "officer/other": (404, 404, 200, 200, 200),
    "planner/other": (403, 403, 403, 403, 403),
    "admin/other": (404, 404, 200, 200, 200),
}

ENDPOINTS = ("get", "list", "csv", "patch", "retract")


@dataclass
class World:
    author: Caller
    viewers: dict[str, Caller]


async def build_world(factory: Factory, db: Database) -> World:
    own, trusted, other = await factory.org(), await factory.org(), await factory.org()
    async with db.transaction() as session:
        await create_network(session, None, "Réseau test", [own, trusted], now=datetime.now(UTC))
    orgs = {"own": own, "trusted": trusted, "other": other}
    viewers: dict[str, Caller] = {}
    for key in VISIBILITY:
        if key == "author":
            continue
        role, relation = key.split("/")
        viewers[key] = await factory.caller(role, org_id=orgs[relation])
    author = await factory.caller("reporter", org_id=own)
    viewers["author"] = author
    return World(author=author, viewers=viewers)


async def current_version(client: AsyncTestClient, world: World, location: str) -> str:
    response = await client.get(location, headers=world.author.headers)
    return str(response.headers["etag"])


async def outcome(
    client: AsyncTestClient,
    endpoint: str,
    viewer: Caller,
    world: World,
    location: str,
    incident_id: str,
) -> Any:
    if endpoint == "get":
        return (await client.get(location, headers=viewer.headers)).status_code
    if endpoint == "list":
        features = (await client.get(URL, headers=viewer.headers)).json()["features"]
        [feature] = features
        if feature["properties"].get("masked"):
            assert set(feature["properties"]) == MASKED_PROPERTIES
            assert feature["id"] != incident_id
            return M
        assert feature["id"] == incident_id
        return F
    if endpoint == "csv":
        text = (await client.get(URL, params={"format": "csv"}, headers=viewer.headers)).text
        return F if "Groupe X" in text else M
    headers = {**viewer.headers, "If-Match": await current_version(client, world, location)}
    if endpoint == "patch":
        return (await client.patch(location, json={"severity": 2}, headers=headers)).status_code
    response = await client.post(f"{location}/retract", json={}, headers=headers)
    return response.status_code


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("level", LEVELS)
async def test_authorisation_matrix(
    client: AsyncTestClient, factory: Factory, db: Database, level: str, endpoint: str
) -> None:
    world = await build_world(factory, db)
    created = await client.post(
        URL,
        json=incident_payload(sharing_level=level, actor="Groupe X"),
        headers=world.author.headers,
    )
    assert created.status_code == 201, created.text
    incident_id = created.json()["id"]
    location = f"{URL}/{incident_id}"
    column = LEVELS.index(level)
    expected_table: dict[str, tuple[Any, ...]] = {
        "get": GET,
        "list": VISIBILITY,
        "csv": VISIBILITY,
        "patch": CHANGE,
        "retract": CHANGE,
    }[endpoint]
    # A retracted incident can be retracted again (200, unchanged) by whoever may change it.
    order = [k for k in VISIBILITY if k != "author"] + ["author"]
    wrong = {}
    for who in order:
        got = await outcome(client, endpoint, world.viewers[who], world, location, incident_id)
        if got != expected_table[who][column]:
            wrong[who] = (got, expected_table[who][column])
    assert wrong == {}, f"{endpoint} on {level}: (got, expected) {wrong}"


async def test_public_without_token(client: AsyncTestClient, factory: Factory) -> None:
    """The public (no token) gets 401 on every member endpoint and only `clear` in its feed."""
    author = await factory.caller("reporter")
    ids = {}
    for level in LEVELS:
        response = await client.post(
            URL, json=incident_payload(sharing_level=level), headers=author.headers
        )
        ids[level] = response.json()["id"]
    for path in (URL, f"{URL}/{ids['clear']}", f"{URL}?format=csv"):
        assert (await client.get(path)).status_code == 401
    public = (await client.get("/api/v1/public/incidents")).json()["features"]
    assert [f["id"] for f in public] == [ids["clear"]]
