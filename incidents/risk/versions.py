"""Change counters in the database: what every process checks its in-memory copies against.

A writing transaction bumps its counter ("incidents", "zones") as one of its last statements;
the bump holds the row's lock until COMMIT, so values follow commit order and a process that
holds a copy made at value N knows exactly whether anything committed since.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from incidents.risk.model import LEVEL_MEANINGS, RiskConfig
from incidents.zones.tables import ChangeCounterRow, ZoneRiskRow

__all__ = [
    "INCIDENTS",
    "LEVEL_MEANING",
    "MODEL_CHANGE_CAUSE",
    "PRUNED",
    "RISK",
    "ZONES",
    "bump",
    "bump_sync",
    "level_meaning_changed",
    "lock_exclusive",
    "lock_shared",
    "read",
    "set_value",
]

INCIDENTS = "incidents"  # every transaction that writes incidents
ZONES = "zones"  # every transaction that writes zones
RISK = "risk"  # every re-scoring (its lock makes them one at a time, across processes)
PRUNED = "incident_changes_pruned"  # the highest `incidents` value pruned from the change log
# What the stored levels mean (incidents.risk.model.LEVEL_MEANINGS); 0: from before it was kept.
LEVEL_MEANING = "risk_level_meaning"
# The cause of the level changes recorded when every zone is re-baselined under a new meaning.
MODEL_CHANGE_CAUSE = (
    "model change: what the level is cut from changed with an upgrade (docs/risk.md, "
    "'What the level means'); not a change in the zone"
)
_TABLE = cast(Table, ChangeCounterRow.__table__)


def _create_stmt(session: Session | AsyncSession, name: str) -> Any:
    """Insert the counter at 0 unless it exists (a concurrent creator makes it a no-op)."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        return pg_insert(_TABLE).values(name=name, value=0).on_conflict_do_nothing()
    return insert(_TABLE).prefix_with("OR IGNORE").values(name=name, value=0)


def _bump_stmt(name: str) -> Any:
    return (
        update(_TABLE)
        .where(_TABLE.c.name == name)
        .values(value=_TABLE.c.value + 1)
        .returning(_TABLE.c.value)
    )


def bump_sync(session: Session, name: str) -> int:
    """Add one to the counter (created when missing) and return its new value (sync session:
    for before-commit hooks)."""
    value = session.execute(_bump_stmt(name)).scalar()
    if value is None:
        session.execute(_create_stmt(session, name))
        value = session.execute(_bump_stmt(name)).scalar_one()
    return int(value)


async def bump(session: AsyncSession, name: str) -> int:
    value = (await session.execute(_bump_stmt(name))).scalar()
    if value is None:
        await session.execute(_create_stmt(session, name))
        value = (await session.execute(_bump_stmt(name))).scalar_one()
    return int(value)


async def read(session: AsyncSession, name: str) -> int:
    """The committed value (0 when the counter was never bumped)."""
    value = (await session.execute(select(_TABLE.c.value).where(_TABLE.c.name == name))).scalar()
    return int(value or 0)


async def lock_shared(session: AsyncSession, name: str) -> int:
    """The value, with a shared lock held to the end of the transaction (PostgreSQL): a writer
    bumping it waits for this transaction, and this one for it, so what was read stays true
    until COMMIT. SQLite has one writer at a time: a plain read inside a write transaction."""
    stmt = select(_TABLE.c.value).where(_TABLE.c.name == name).with_for_update(read=True)
    value = (await session.execute(stmt)).scalar()
    if value is None:
        await session.execute(_create_stmt(session, name))
        value = (await session.execute(stmt)).scalar_one()
    return int(value)


async def set_value(session: AsyncSession, name: str, value: int) -> None:
    """Set the counter (created when missing); the caller holds its lock."""
    await session.execute(_create_stmt(session, name))
    await session.execute(update(_TABLE).where(_TABLE.c.name == name).values(value=value))


async def lock_exclusive(session: AsyncSession, name: str) -> int:
    """The value, with the row locked to the end of the transaction without bumping it."""
    stmt = select(_TABLE.c.value).where(_TABLE.c.name == name).with_for_update()
    value = (await session.execute(stmt)).scalar()
    if value is None:
        await session.execute(_create_stmt(session, name))
        value = (await session.execute(stmt)).scalar_one()
    return int(value)


async def level_meaning_changed(session: AsyncSession, config: RiskConfig) -> bool:
    """Whether the stored levels were cut under another meaning than `config`'s; records
    `config`'s meaning either way. The caller holds the "risk" counter's lock (one re-scoring at
    a time), so exactly one re-scoring sees the change and re-baselines.

    A database with no stored level has nothing to re-baseline; one with levels but no meaning
    recorded is from before it was kept, when every level was cut from the weighted score.
    """
    meaning = config.level_meaning
    stored = await read(session, LEVEL_MEANING)
    if stored == meaning:
        return False
    has_levels = (await session.execute(select(ZoneRiskRow.zone_id).limit(1))).first() is not None
    await set_value(session, LEVEL_MEANING, meaning)
    return has_levels and (stored or LEVEL_MEANINGS["weighted"]) != meaning
