"""Database engine, session factory and the declarative base every table module shares."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import MetaData, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.pool import NullPool

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the single writer; NORMAL is durable with WAL except on power
    # loss of the last transactions, which is the usual trade for an embedded service.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_engine(url: str, *, echo: bool = False, pooled: bool = True) -> AsyncEngine:
    """An async engine for SQLite (aiosqlite) or PostgreSQL (asyncpg), configured the same way.

    `pooled=False` opens a connection per session: needed when one engine serves several event
    loops (the test client runs the app in its own loop).
    """
    pool: dict[str, Any] = {} if pooled else {"poolclass": NullPool}
    if is_sqlite(url):
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30}, **pool)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    if pooled:
        pool = {"pool_size": 10, "max_overflow": 10, "pool_pre_ping": True}
    return create_async_engine(url, echo=echo, **pool)


def _transaction_hook(
    session: AsyncSession,
    key: str,
    ending: str,
    callback: Callable[[Session], None],
    other: Callable[[Session], None] | None = None,
) -> bool:
    """`callback` at `ending` ("before_commit" or "after_commit") of the session's outermost
    transaction, `other` if it rolls back instead; once per key and transaction.

    Savepoints (begin_nested) fire the same events: only the real transaction counts.
    """
    flag = f"sentinelle.hook:{ending}:{key}"
    if flag in session.info:
        return False
    token = object()
    session.info[flag] = token

    def ours(sync: Session) -> bool:
        if sync.in_nested_transaction() or session.info.get(flag) is not token:
            return False
        del session.info[flag]
        return True

    def ended(sync: Session) -> None:
        if ours(sync):
            callback(sync)

    def rolled_back(sync: Session) -> None:
        if ours(sync) and other is not None:
            other(sync)

    event.listen(session.sync_session, ending, ended)
    event.listen(session.sync_session, "after_rollback", rolled_back)
    return True


def on_commit(
    session: AsyncSession,
    key: str,
    callback: Callable[[], None],
    *,
    rollback: Callable[[], None] | None = None,
) -> bool:
    """Run `callback` once the session's transaction commits (`rollback` if it rolls back).

    Registered once per `key` and transaction: False when it already was, so callers gather
    their work in `session.info` and register one hook.
    """
    return _transaction_hook(
        session,
        key,
        "after_commit",
        lambda _s: callback(),
        None if rollback is None else (lambda _s: rollback()),
    )


def before_commit(session: AsyncSession, key: str, callback: Callable[[Session], None]) -> bool:
    """Run `callback(sync_session)` just before the transaction commits, once per `key`.

    The callback may execute SQL on the sync session (it runs inside the commit): the last
    statements of the transaction, so the row locks they take are held only until COMMIT.
    """
    return _transaction_hook(session, key, "before_commit", callback)


class Database:
    """The unit of work factory handed to services: `async with db.transaction() as session`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
        self.is_sqlite = engine.dialect.name == "sqlite"
        self._write_locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}

    def _write_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._write_locks.get(loop)
        if lock is None:
            lock = self._write_locks[loop] = asyncio.Lock()
        return lock

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session in one transaction: committed on success, rolled back on any error.

        SQLite has one writer at a time: queueing writers here, in order, beats letting them
        collide on the database lock and sleep in busy_timeout (which made tail latency explode
        under concurrent reports).
        """
        if not self.is_sqlite:
            async with self.sessions() as session, session.begin():
                yield session
            return
        async with self._write_lock(), self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:  # any failure means "not reachable" for a health check
            return False
        return True

    async def dispose(self) -> None:
        await self.engine.dispose()
