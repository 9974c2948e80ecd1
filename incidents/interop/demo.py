"""Removing the synthetic demo data (`sentinelle demo --remove`): every demo incident and what
hangs on it, in one transaction; risk told, like any write, through the change log."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from sqlalchemy import Table, delete, insert, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from incidents.audit import log as audit
from incidents.db import Base, Database
from incidents.records.tables import IncidentRow
from incidents.risk import versions
from incidents.zones.tables import IncidentChangeRow, IncidentZoneRow, RiskPendingRow

__all__ = ["REMOVED_CAUSE", "remove_demo"]

REMOVED_CAUSE = "demo data removed"
BATCH = 500
# Tables that name incidents but are not about one: the change log (written to, not pruned).
NOT_DEPENDENT = frozenset({"incidents", "incident_changes"})


def _dependents(names_in_database: Iterable[str]) -> list[Table]:
    """Every table with an `incident_id` column (or a foreign key to incidents.id).

    Read from the database itself, so that a table added later is never forgotten; each must be
    a table this process knows (imported), or nothing is deleted."""
    known = Base.metadata.tables
    out: list[Table] = []
    unknown: list[str] = []
    for name in sorted(set(names_in_database) - NOT_DEPENDENT):
        table = known.get(name)
        if table is None:
            unknown.append(name)
            continue
        if "incident_id" in table.c or any(
            fk.column.table.name == "incidents" for c in table.c for fk in c.foreign_keys
        ):
            out.append(table)
    if unknown:
        raise RuntimeError(
            f"tables {', '.join(unknown)} may name demo incidents but are not loaded: "
            "run this through the `sentinelle` command, which loads every table"
        )
    return out


def _incident_columns(table: Table) -> list[str]:
    return [
        c.name
        for c in table.c
        if c.name == "incident_id"
        or any(fk.column.table.name == "incidents" for fk in c.foreign_keys)
    ]


async def _with_incident_id(session: AsyncSession) -> list[str]:
    def names(sync: Session) -> list[str]:
        inspector = inspect(sync.connection())
        return [
            t
            for t in inspector.get_table_names()
            if any(c["name"] == "incident_id" for c in inspector.get_columns(t))
            or any(fk["referred_table"] == "incidents" for fk in inspector.get_foreign_keys(t))
        ]

    return await session.run_sync(names)


def _chunks(ids: Sequence[uuid.UUID], size: int) -> Iterable[list[uuid.UUID]]:
    for k in range(0, len(ids), size):
        yield list(ids[k : k + size])


async def remove_demo(
    db: Database, *, now: datetime, progress: Callable[[int, int], None] | None = None
) -> int:
    """Delete every demo incident (`is_demo`) and every row naming one (zone links, alerts and
    their deliveries, alerted state, mission links, sharing requests...); reports of real
    organisations linked to one as their event become their own event again. One transaction:
    all or nothing. The zones they were in are marked for re-scoring; audited. Returns how many
    incidents were deleted. `progress(done, total)` after each batch."""
    async with db.transaction() as session:
        ids = list(
            await session.scalars(select(IncidentRow.id).where(IncidentRow.is_demo.is_(True)))
        )
        if not ids:
            return 0
        dependents = _dependents(await _with_incident_id(session))
        zones: set[str] = set()
        relinked: set[uuid.UUID] = set()
        done = 0
        for chunk in _chunks(ids, BATCH):
            zones.update(
                await session.scalars(
                    select(IncidentZoneRow.zone_id).where(IncidentZoneRow.incident_id.in_(chunk))
                )
            )
            for table in dependents:
                for name in _incident_columns(table):
                    await session.execute(delete(table).where(table.c[name].in_(chunk)))
            linked = IncidentRow.event_id.in_(chunk)
            relinked.update(
                await session.scalars(
                    select(IncidentRow.id).where(linked, IncidentRow.is_demo.is_(False))
                )
            )
            await session.execute(update(IncidentRow).where(linked).values(event_id=None))
            await session.execute(delete(IncidentRow).where(IncidentRow.id.in_(chunk)))
            done += len(chunk)
            if progress is not None:
                progress(done, len(ids))
        # What every process's risk store reads: these incidents changed (deleted or relinked).
        seq = await versions.bump(session, versions.INCIDENTS)
        changed = [*ids, *sorted(relinked)]
        for chunk in _chunks(changed, 5000):
            await session.execute(
                insert(IncidentChangeRow),
                [{"seq": seq, "incident_id": i, "at": now} for i in chunk],
            )
        if zones:
            await session.execute(
                insert(RiskPendingRow),
                [{"zone_id": z, "cause": REMOVED_CAUSE, "at": now} for z in sorted(zones)],
            )
        await audit.write(
            session,
            [audit.event("demo.removed", None, target_type="incident", count=len(ids), via="cli")],
            now=now,
        )
    return len(ids)
