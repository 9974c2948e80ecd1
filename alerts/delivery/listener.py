"""Waking dispatchers when the outbox gets rows: PostgreSQL LISTEN on the outbox's channel."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from alerts.outbox.writer import OUTBOX_CHANNEL
from incidents.db import Database

log = logging.getLogger("sentinelle.dispatch")


class OutboxListener:
    """Calls `wake` whenever a transaction that wrote deliveries commits, in any process.

    PostgreSQL only (the writer sends NOTIFY in the transaction, delivered at its COMMIT); on
    SQLite, or while the listening connection is away, dispatchers fall back to polling.
    `ensure` (re)opens the connection and is cheap when it is up."""

    def __init__(self, db: Database, wake: Callable[[], None]) -> None:
        self.db = db
        self.wake = wake
        self._conn: AsyncConnection | None = None
        self._driver: Any = None

    def _notified(self, *_args: object) -> None:
        self.wake()

    @property
    def listening(self) -> bool:
        return self._driver is not None and not self._driver.is_closed()

    async def ensure(self) -> None:
        if self.db.is_sqlite or self.listening:
            return
        await self.close()
        try:
            conn = await self.db.engine.connect()
            try:
                raw = await conn.get_raw_connection()
                driver = raw.driver_connection
                if driver is None:
                    raise RuntimeError("no asyncpg connection under the pool's connection")
                await driver.add_listener(OUTBOX_CHANNEL, self._notified)
            except BaseException:
                await conn.close()
                raise
        except Exception:  # the poll interval still finds the work
            log.warning("cannot LISTEN for new deliveries; polling only", exc_info=True)
            return
        self._conn, self._driver = conn, driver
        # Rows written while no one listened are found by this pass's claim anyway.
        self.wake()

    async def close(self) -> None:
        conn, driver = self._conn, self._driver
        self._conn = self._driver = None
        if conn is None:
            return
        try:
            if driver is not None and not driver.is_closed():
                await driver.remove_listener(OUTBOX_CHANNEL, self._notified)
        except Exception:
            log.debug("removing the outbox listener failed", exc_info=True)
        try:
            await conn.close()
        except Exception:
            log.debug("closing the outbox listener failed", exc_info=True)
