"""Alembic migrations make the whole schema on SQLite and PostgreSQL, and match the table models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from api.migrations.runner import (
    MIGRATIONS,
    alembic_config,
    current_revision,
    target_metadata,
    upgrade,
)
from incidents.db import Database, create_engine

CORE_TABLES = {"organisations", "users", "api_tokens", "incidents", "idempotency_keys"}


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def schema_diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, target_metadata))


def test_migrations_form_one_chain() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1, "two migration heads: give one a down_revision"
    assert len(list(script.walk_revisions())) == len(list((MIGRATIONS / "versions").glob("0*.py")))


async def test_upgrade_from_empty_sqlite_to_head(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "fresh.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        await upgrade(engine)  # also makes the missing parent folder, as `make run` needs
        assert path.exists()
        assert await current_revision(engine) == head_revision()
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
            assert tables >= CORE_TABLES
            assert await conn.run_sync(schema_diff) == []
        await upgrade(engine)  # running it again is harmless
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()


async def test_migrated_database_matches_the_models(db: Database) -> None:
    """Guards every later migration: a model change without its migration shows up here."""
    async with db.engine.connect() as conn:
        diff = await conn.run_sync(schema_diff)
    assert diff == [], f"models and migrations differ; write a migration for: {diff}"
    assert await current_revision(db.engine) == head_revision()


async def test_upgrade_from_empty_postgres_to_head(postgres_url: str) -> None:
    schema = "migration_from_empty"
    admin = create_engine(postgres_url, pooled=False)
    try:
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        # A search_path on the empty schema makes every unqualified name land there.
        fresh = create_async_engine(
            postgres_url,
            poolclass=NullPool,
            connect_args={"server_settings": {"search_path": schema}},
        )
        try:
            assert await current_revision(fresh) is None
            await upgrade(fresh)
            assert await current_revision(fresh) == head_revision()
            async with fresh.connect() as conn:
                tables = set(
                    await conn.run_sync(lambda c: inspect(c).get_table_names(schema=schema))
                )
                assert tables >= CORE_TABLES
                assert await conn.run_sync(schema_diff) == []
        finally:
            await fresh.dispose()
    finally:
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await admin.dispose()


@pytest.mark.parametrize("table", sorted(CORE_TABLES))
def test_every_core_table_is_in_the_metadata(table: str) -> None:
    assert table in target_metadata.tables
