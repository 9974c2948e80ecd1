"""Apply the Alembic migrations: the only way Sentinelle's schema is made, on SQLite and PostgreSQL."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from incidents.db import Base

# Every module that defines tables, so that autogenerate and checks see the whole schema.
TABLE_MODULES = (
    "incidents.records.tables",
    "incidents.zones.tables",
    "alerts.core.tables",
    "incidents.sharing.tables",
    "incidents.intake.tables",
)
for _name in TABLE_MODULES:
    try:
        importlib.import_module(_name)
    except ModuleNotFoundError as exc:  # a module not written yet
        if exc.name != _name:
            raise

target_metadata = Base.metadata
MIGRATIONS = Path(__file__).parent


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _upgrade(connection: Connection, revision: str) -> None:
    command.upgrade(alembic_config(connection), revision)


def _current(connection: Connection) -> Any:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database to `revision` (default: the newest)."""
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade, revision)


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        rev: str | None = await conn.run_sync(_current)
        return rev


def sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return Path(parsed.database)
