"""Shared fixtures: a migrated database per test on SQLite (always) and PostgreSQL (when configured)."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url

from api.http.app import create_app
from api.migrations.runner import upgrade
from api.settings import Settings
from incidents.db import Database, create_engine
from tests.factories import Factory

PG_ENV = "SENTINELLE_TEST_DATABASE_URL"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
BACKENDS = ["sqlite", "postgres"]


def _migrate(url: str) -> None:
    async def go() -> None:
        engine = create_engine(url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(go())


@pytest.fixture(scope="session", name="sqlite_template")
def fx_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test (migrating every time would be slow)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    _migrate(f"sqlite+aiosqlite:///{path}")
    return path


def _worker_database(url: str) -> str:
    """Under pytest-xdist each worker gets its own database beside the configured one
    (`<name>_gw0`, …), made here; alone, the configured database itself."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    base = make_url(url)
    name = f"{base.database}_{worker}"

    async def create() -> None:
        engine = create_engine(base.set(database="postgres").render_as_string(False), pooled=False)
        try:
            async with engine.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                found = await conn.execute(
                    text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
                )
                if found.first() is None:
                    await conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            await engine.dispose()

    asyncio.run(create())
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session", name="postgres_url")
def fx_postgres_url() -> str:
    configured = os.environ.get(PG_ENV)
    if not configured:
        pytest.skip(f"PostgreSQL tests skipped: set {PG_ENV} (`.ci/run` sets it) to run them.")
    url = _worker_database(configured)

    async def reset() -> None:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.execute(text("DROP SCHEMA public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
        finally:
            await engine.dispose()

    asyncio.run(reset())
    _migrate(url)
    return url


_EMPTYING: dict[str, str] = {}


async def _truncate_postgres(db: Database) -> None:
    """Empty every table between tests. DELETE with foreign-key triggers off for the transaction,
    not TRUNCATE: on the small tables of a test it is ten times faster (TRUNCATE makes new files
    for every table and index), and sequences are restarted as TRUNCATE … RESTART IDENTITY did."""
    url = db.engine.url.render_as_string(hide_password=False)
    async with db.engine.connect() as conn:
        script = _EMPTYING.get(url)
        if script is None:
            tables = (
                await conn.execute(
                    text(
                        "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname='public' "
                        "AND tablename <> 'alembic_version' ORDER BY tablename"
                    )
                )
            ).scalars()
            sequences = (
                await conn.execute(
                    text(
                        "SELECT quote_ident(sequencename) FROM pg_sequences "
                        "WHERE schemaname='public' ORDER BY sequencename"
                    )
                )
            ).scalars()
            script = "; ".join(
                ["BEGIN", "SET LOCAL session_replication_role = replica"]
                + [f"DELETE FROM {t}" for t in tables]
                + [f"ALTER SEQUENCE {q} RESTART" for q in sequences]
                + ["COMMIT"]
            )
            _EMPTYING[url] = script
            await conn.commit()
        # Several statements in one go: asyncpg's simple query protocol, not a prepared statement.
        raw = await conn.get_raw_connection()
        await raw.driver_connection.execute(script)


@pytest.fixture(name="backend", params=BACKENDS)
def fx_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(name="database_url")
def fx_database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if backend == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    template: Path = request.getfixturevalue("sqlite_template")
    path = tmp_path / "sentinelle.db"
    shutil.copy(template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(name="db")
async def fx_db(database_url: str) -> AsyncIterator[Database]:
    database = Database(create_engine(database_url, pooled=False))
    if make_url(database_url).get_backend_name() != "sqlite":
        await _truncate_postgres(database)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture(name="settings")
def fx_settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        var_dir=str(tmp_path / "var"),
        token_cache_seconds=0,
        dispatch_in_process=False,
        rate_limit_per_minute=100_000,
        # The local receivers of the alert tests (tests/alert_receivers.py) listen on loopback.
        channel_allow_hosts="127.0.0.1,localhost",
    )


@pytest.fixture(name="app")
def fx_app(settings: Settings, db: Database) -> Litestar:
    return create_app(settings, db=db)


@pytest.fixture(name="client")
async def fx_client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app) as client:
        yield client


@pytest.fixture(name="factory")
def fx_factory(db: Database) -> Factory:
    return Factory(db)


@pytest.fixture(name="shared_data")
def fx_shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real Mali data not found at {SHARED_DATA} (the ../shared folder is absent)")
    return SHARED_DATA


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def pytest_collection_modifyitems(config: Any, items: list[pytest.Item]) -> None:
    for item in items:
        if "[postgres" in item.nodeid or "-postgres" in item.nodeid:
            item.add_marker(pytest.mark.postgres)
