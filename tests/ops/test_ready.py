"""GET /api/v1/ready: 200 only with the database up, the schema at head and a dispatcher
beating; otherwise 503 problem+json saying what is not ready and what to do, in the caller's
language, without hosts, paths or revisions. /api/v1/health stays live meanwhile."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text

from alerts.delivery import heartbeat
from api.checks import Schema
from api.settings import Settings
from incidents.db import Database
from tests.factories import Factory

HEAD = Schema.load().head


async def beat(db: Database, seconds_ago: float = 0.0, worker: str = "dispatch-1") -> None:
    async with db.transaction() as session:
        await heartbeat.beat(session, worker, datetime.now(UTC) - timedelta(seconds=seconds_ago))


def no_internals(body: str, settings: Settings) -> None:
    """Nothing of the deployment's insides reaches an anonymous caller."""
    assert settings.database_url not in body
    assert settings.var_dir not in body
    assert "127.0.0.1" not in body
    assert "postgres" not in body.lower()
    assert str(HEAD) not in body  # no migration revision
    assert "dispatch-1" not in body  # no worker id


async def test_ready_with_database_schema_and_a_recent_heartbeat(
    client: AsyncTestClient[Litestar], db: Database
) -> None:
    await beat(db, seconds_ago=5)
    response = await client.get("/api/v1/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert {c["name"]: c["status"] for c in body["checks"]} == {
        "database": "ok",
        "migrations": "ok",
        "dispatcher": "ok",
    }
    assert response.headers["cache-control"] == "no-store"


async def test_no_dispatcher_is_not_ready_but_still_live(
    client: AsyncTestClient[Litestar], settings: Settings
) -> None:
    response = await client.get("/api/v1/ready")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 503
    assert "dispatcher" in problem["detail"]
    assert "sentinelle dispatch" in problem["detail"]
    assert {c["name"]: c["status"] for c in problem["checks"]}["dispatcher"] == "fail"
    no_internals(response.text, settings)
    assert (await client.get("/api/v1/health")).status_code == 200


async def test_a_stale_heartbeat_is_not_ready(
    client: AsyncTestClient[Litestar], db: Database, settings: Settings
) -> None:
    await beat(db, seconds_ago=settings.ready_heartbeat_seconds + 30)
    response = await client.get("/api/v1/ready")
    assert response.status_code == 503
    assert "60 seconds" in response.json()["detail"]
    no_internals(response.text, settings)


async def test_schema_behind_head_is_not_ready_and_says_to_migrate(
    client: AsyncTestClient[Litestar], db: Database, settings: Settings
) -> None:
    await beat(db)
    async with db.transaction() as session:
        await session.execute(text("UPDATE alembic_version SET version_num = '0014'"))
    try:
        response = await client.get("/api/v1/ready")
        assert response.status_code == 503
        checks = {c["name"]: c for c in response.json()["checks"]}
        assert checks["migrations"]["status"] == "fail"
        assert "sentinelle db upgrade" in checks["migrations"]["detail"]
        assert checks["dispatcher"]["status"] == "ok"
        no_internals(response.text, settings)
    finally:
        async with db.transaction() as session:
            await session.execute(text("UPDATE alembic_version SET version_num = :h"), {"h": HEAD})


async def test_schema_from_a_newer_version_is_not_ready(
    client: AsyncTestClient[Litestar], db: Database
) -> None:
    await beat(db)
    async with db.transaction() as session:
        await session.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    try:
        response = await client.get("/api/v1/ready")
        assert response.status_code == 503
        assert "newer version" in response.json()["detail"]
        assert "9999" not in response.text
    finally:
        async with db.transaction() as session:
            await session.execute(text("UPDATE alembic_version SET version_num = :h"), {"h": HEAD})


async def test_not_ready_in_french(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/api/v1/ready", headers={"Accept-Language": "fr"})
    assert response.status_code == 503
    problem: dict[str, Any] = response.json()
    assert problem["detail"].startswith("pas prêt : aucun distributeur d'alertes")
    assert response.headers["content-language"] == "fr"


async def test_a_token_changes_nothing_in_the_answer(
    client: AsyncTestClient[Litestar], factory: Factory, settings: Settings
) -> None:
    """Ready needs no token, and a token (even another organisation's admin) sees the same."""
    anonymous = await client.get("/api/v1/ready")
    admin = await factory.caller("admin")
    signed = await client.get("/api/v1/ready", headers=admin.headers)
    bad = await client.get("/api/v1/ready", headers={"Authorization": "Bearer stl_nope"})
    assert anonymous.status_code == signed.status_code == bad.status_code == 503
    assert anonymous.json() == signed.json() == bad.json()
    no_internals(signed.text, settings)
