"""Apply the Alembic migrations: the only way Sentinelle's schema is made, on SQLite and PostgreSQL.

Several processes may start at once (`sentinelle serve` and `dispatch` migrate first): the upgrade
runs under a lock, so one process migrates and the others, once it has committed, find the
schema at head and do nothing. PostgreSQL: a transaction-level advisory lock taken in the
migration's own transaction (released by its COMMIT or ROLLBACK, even if the process dies).
SQLite: an exclusive lock on a file beside the database (`<database>.migrate.lock`).
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import text
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
    "api.shared_tables",
    "missions.tables",
    "reports.tables",
)
for _name in TABLE_MODULES:
    try:
        importlib.import_module(_name)
    except ModuleNotFoundError as exc:  # a module not written yet
        if exc.name != _name:
            raise

target_metadata = Base.metadata
MIGRATIONS = Path(__file__).parent
# pg_advisory_xact_lock key of the upgrade: any constant no other lock of the service uses
# (int.from_bytes(b"stlmigr", "big")).
MIGRATION_LOCK_KEY = 0x73746C6D696772


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


@asynccontextmanager
async def _file_lock(path: Path) -> AsyncIterator[None]:
    """An exclusive flock on `path`, waited for in a thread (the event loop keeps running)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: SQLite's own locking only
        yield
        return
    with path.open("a+b") as handle:
        await asyncio.to_thread(fcntl.flock, handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database to `revision` (default: the newest), one process at a time."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            async with engine.begin() as conn:
                await conn.run_sync(_upgrade, revision)
            return
        path = Path(url.database)
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = path.with_name(path.name + ".migrate.lock")
        async with _file_lock(lock), engine.begin() as conn:
            await conn.run_sync(_upgrade, revision)
        return
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Held until this transaction (the whole upgrade: DDL is transactional) ends.
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
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
