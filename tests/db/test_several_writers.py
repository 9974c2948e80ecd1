"""Several processes on one database, simulated by services that share nothing but it: default
zones seeded once, zone edits seen by the next write anywhere, level changes recorded once."""

from __future__ import annotations

import asyncio
import itertools

import shapely
from sqlalchemy import func, select

from api.settings import Settings
from geo.zones import default_zones
from incidents.db import Database, create_engine
from incidents.risk.service import RiskService
from incidents.zones.store import ZoneCache, ZoneDraft, ZoneService, ensure_default_zones
from incidents.zones.tables import IncidentZoneRow, ZoneLevelChangeRow, ZoneRiskRow, ZoneRow
from tests.db.test_zones_risk import NOW, SIMPLE, Writer
from tests.factories import GAO, MENAKA, Factory


def default_count() -> int:
    s = Settings()
    return len(
        default_zones(
            town_radius_km=s.town_radius_km,
            mauritania_belt_km=s.mauritania_belt_km,
            border_belt_km=s.border_belt_km,
            tri_border_km=s.tri_border_km,
        )
    )


async def test_default_zones_are_seeded_once_by_processes_starting_together(
    database_url: str, db: Database
) -> None:
    others = [Database(create_engine(database_url, pooled=False)) for _ in range(3)]
    try:
        made = await asyncio.gather(*(ensure_default_zones(d, Settings(), now=NOW) for d in others))
    finally:
        for d in others:
            await d.dispose()
    assert sorted(made) == [0, 0, default_count()], "one process seeds, none crashes"
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(ZoneRow)) == default_count()


async def test_a_zone_drawn_or_deleted_by_another_process_is_seen_by_the_next_write(
    db: Database, factory: Factory
) -> None:
    await ensure_default_zones(db, Settings(), now=NOW)
    here = RiskService(db, config=SIMPLE, cache=ZoneCache())  # the process that writes
    writer = Writer(db, await factory.org(), here)
    await writer.report(MENAKA, days_ago=1)  # its zone index is now built and cached
    there = ZoneService(db, ZoneCache(), RiskService(db, config=SIMPLE, cache=ZoneCache()))
    square = shapely.box(MENAKA[1] - 0.2, MENAKA[0] - 0.2, MENAKA[1] + 0.2, MENAKA[0] + 0.2)
    await there.create(ZoneDraft("Carré", square, code="square"), now=NOW)
    inside = await writer.report(MENAKA, days_ago=1)  # at once: no 5 s of stale index
    async with db.read() as session:
        zones = set(
            (
                await session.scalars(
                    select(IncidentZoneRow.zone_id).where(IncidentZoneRow.incident_id == inside)
                )
            ).all()
        )
    assert "square" in zones
    await there.delete("square", now=NOW)
    await writer.report(MENAKA, days_ago=1)  # no foreign-key error from a deleted zone
    async with db.read() as session:
        left = await session.scalar(
            select(func.count())
            .select_from(IncidentZoneRow)
            .where(IncidentZoneRow.zone_id == "square")
        )
    assert left == 0
    assert "square" not in {r.zone_id for r in await here.ranking()}


async def test_two_processes_rescoring_at_once_record_each_level_change_once(
    db: Database, factory: Factory
) -> None:
    await ensure_default_zones(db, Settings(), now=NOW)
    a = RiskService(db, config=SIMPLE, cache=ZoneCache())
    b = RiskService(db, config=SIMPLE, cache=ZoneCache())
    org = await factory.org()
    writers = [Writer(db, org, a), Writer(db, org, b)]

    async def no_flush() -> list[object]:
        return []

    for w in writers:
        w.risk = type("NoFlush", (), {"flush": staticmethod(no_flush)})()  # type: ignore[assignment]
    for k in range(24):
        await writers[k % 2].report(MENAKA if k % 3 else GAO, days_ago=k % 5)
        if k % 4 == 3:
            await asyncio.gather(a.flush(), b.flush(), a.flush())
    await asyncio.gather(a.flush(), b.flush())
    async with db.read() as session:
        changes = (
            await session.execute(
                select(
                    ZoneLevelChangeRow.zone_id,
                    ZoneLevelChangeRow.seq,
                    ZoneLevelChangeRow.from_level,
                    ZoneLevelChangeRow.to_level,
                ).order_by(ZoneLevelChangeRow.zone_id, ZoneLevelChangeRow.seq)
            )
        ).all()
        levels = dict((await session.execute(select(ZoneRiskRow.zone_id, ZoneRiskRow.level))).all())
    assert changes, "the reports raise some levels"
    for zone_id, group in itertools.groupby(changes, key=lambda c: c[0]):
        chain = list(group)
        assert [c[1] for c in chain] == list(range(1, len(chain) + 1))
        for previous, current in itertools.pairwise(chain):
            assert current[2] == previous[3], f"{zone_id}: a change recorded twice: {chain}"
        assert levels[zone_id] == chain[-1][3]
    # Both processes serve what is stored, whichever wrote last.
    assert {r.zone_id: r.score for r in await a.ranking()} == {
        r.zone_id: r.score for r in await b.ranking()
    }
