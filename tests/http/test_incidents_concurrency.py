"""Idempotency-Key and If-Match under real concurrency: a live server, requests in parallel."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import httpx
import msgspec
from litestar import Litestar
from sqlalchemy import func, select

from incidents.db import Database
from incidents.errors import Conflict
from incidents.identity.accounts import Principal
from incidents.records.schemas import IncidentIn
from incidents.records.service import IncidentService
from incidents.records.tables import IdempotencyRow, IncidentRow
from tests.factories import GAO, Factory, incident_payload
from tests.live import fx_http, fx_live_url

__all__ = ["fx_http", "fx_live_url"]  # the live-server fixtures used here

URL = "/api/v1/incidents"
PARALLEL = 10


async def count_incidents(db: Database) -> int:
    async with db.read() as session:
        return int((await session.scalar(select(func.count()).select_from(IncidentRow))) or 0)


async def test_concurrent_duplicates_store_one_incident(
    http: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    reporter = await factory.caller("reporter")
    headers = {**reporter.headers, "Idempotency-Key": f"flaky-3g-{uuid.uuid4()}"}
    body = incident_payload(at=GAO)
    responses = await asyncio.gather(
        *(http.post(URL, json=body, headers=headers) for _ in range(PARALLEL))
    )
    codes = [r.status_code for r in responses]
    assert set(codes) <= {201, 409}, [r.text for r in responses]
    created = {r.json()["id"] for r in responses if r.status_code == 201}
    assert len(created) == 1, codes
    for r in responses:
        if r.status_code == 409:
            assert r.headers["content-type"].startswith("application/problem+json")
    assert await count_incidents(db) == 1
    # Once the first request is done, a retry replays it.
    retry = await http.post(URL, json=body, headers=headers)
    assert retry.status_code == 201
    assert retry.json()["id"] in created
    async with db.read() as session:
        states = (await session.scalars(select(IdempotencyRow.state))).all()
    assert list(states) == ["done"]


async def test_concurrent_distinct_keys_each_store_one(
    http: httpx.AsyncClient,
    factory: Factory,
    db: Database,
) -> None:
    reporter = await factory.caller("reporter")
    body = incident_payload(at=GAO)
    responses = await asyncio.gather(
        *(
            http.post(URL, json=body, headers={**reporter.headers, "Idempotency-Key": f"k-{n}"})
            for n in range(PARALLEL)
        )
    )
    assert [r.status_code for r in responses] == [201] * PARALLEL
    assert len({r.json()["id"] for r in responses}) == PARALLEL
    assert await count_incidents(db) == PARALLEL


async def test_concurrent_patches_with_one_etag_let_exactly_one_through(
    http: httpx.AsyncClient, factory: Factory
) -> None:
    reporter = await factory.caller("reporter")
    created = await http.post(URL, json=incident_payload(severity=1), headers=reporter.headers)
    assert created.status_code == 201, created.text
    location = created.headers["location"]
    responses = await asyncio.gather(
        *(
            http.patch(
                location,
                json={"severity": 1 + n % 5, "actor": f"editor {n}"},
                headers={**reporter.headers, "If-Match": '"1"'},
            )
            for n in range(PARALLEL)
        )
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] + [412] * (PARALLEL - 1), [r.text for r in responses]
    winner = next(r for r in responses if r.status_code == 200)
    assert winner.headers["etag"] == '"2"'
    final = await http.get(location, headers=reporter.headers)
    assert final.headers["etag"] == '"2"'
    assert final.json()["properties"]["actor"] == winner.json()["properties"]["actor"]


async def test_service_level_duplicates_race_to_one_incident(
    app: Litestar, factory: Factory, db: Database
) -> None:
    """The same race driven straight through the service, on the test's own event loop."""
    reporter = await factory.caller("reporter")
    service: IncidentService = app.state.container.incidents
    viewer = Principal(user_id=reporter.user_id, org_id=reporter.org_id, role=reporter.role)
    data = msgspec.convert(incident_payload(), IncidentIn, strict=False)

    async def attempt() -> uuid.UUID | None:
        try:
            done = await service.report(viewer, data, now=datetime.now(UTC), idempotency_key="race")
        except Conflict:
            return None
        return done.incident.id

    results = await asyncio.gather(*(attempt() for _ in range(PARALLEL)))
    ids = {r for r in results if r is not None}
    assert len(ids) == 1, results
    assert await count_incidents(db) == 1
