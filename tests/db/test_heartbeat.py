"""Dispatchers' heartbeats live in the database, so that every API worker sees every dispatcher."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from alerts.core.tables import WorkerHeartbeatRow
from alerts.delivery import heartbeat
from incidents.db import Database

T0 = datetime(2026, 12, 3, 7, 0, tzinfo=UTC)


async def test_a_heartbeat_moves_forward_and_keeps_the_start(db: Database) -> None:
    async with db.transaction() as session:
        assert await heartbeat.latest(session) is None
        await heartbeat.beat(session, "host:1", T0)
    async with db.transaction() as session:
        await heartbeat.beat(session, "host:1", T0 + timedelta(seconds=5))
        await heartbeat.beat(session, "host:2", T0 + timedelta(seconds=2))
    async with db.read() as session:
        assert await heartbeat.latest(session) == T0 + timedelta(seconds=5)
        assert await heartbeat.live_workers(session, T0 + timedelta(seconds=3)) == ["host:1"]
        assert await heartbeat.live_workers(session, T0) == ["host:1", "host:2"]
        row = await session.scalar(
            select(WorkerHeartbeatRow).where(WorkerHeartbeatRow.worker_id == "host:1")
        )
        assert row is not None
        assert row.started_at == T0
