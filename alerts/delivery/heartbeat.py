"""Dispatchers' heartbeats in the database: `beat` once per pass of chores, `latest` for the
readiness check and the operator's tools. A row per worker; a worker gone stale simply stops
beating (the reader decides what 'recent' means)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.core.tables import WorkerHeartbeatRow


async def beat(
    session: AsyncSession, worker_id: str, now: datetime, *, kind: str = "dispatch"
) -> None:
    """Record that `worker_id` is alive at `now` (its first beat also records its start)."""
    done = await session.execute(
        update(WorkerHeartbeatRow)
        .where(WorkerHeartbeatRow.worker_id == worker_id)
        .values(beat_at=now, kind=kind)
        .execution_options(synchronize_session=False)
    )
    if not getattr(done, "rowcount", 0):
        await session.execute(
            insert(WorkerHeartbeatRow).values(
                worker_id=worker_id, kind=kind, started_at=now, beat_at=now
            )
        )


async def latest(session: AsyncSession, *, kind: str = "dispatch") -> datetime | None:
    """When the most recent heartbeat of any worker of `kind` was recorded; None if never."""
    found: datetime | None = await session.scalar(
        select(func.max(WorkerHeartbeatRow.beat_at)).where(WorkerHeartbeatRow.kind == kind)
    )
    return found


async def live_workers(
    session: AsyncSession, since: datetime, *, kind: str = "dispatch"
) -> list[str]:
    """The workers of `kind` that beat at or after `since`, by id."""
    rows = await session.scalars(
        select(WorkerHeartbeatRow.worker_id)
        .where(WorkerHeartbeatRow.kind == kind, WorkerHeartbeatRow.beat_at >= since)
        .order_by(WorkerHeartbeatRow.worker_id)
    )
    return list(rows.all())
