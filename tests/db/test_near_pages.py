"""`near` pages read cell by cell (the merged per-cell union) hold exactly what a brute force
finds, in the list order, page after page; masked or not, the same as a plain scan."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import msgspec
import numpy as np
import pytest
import shapely

from geo.measure import geodesic_distance_km
from incidents.db import Database
from incidents.records.model import Incident
from incidents.records.schemas import IncidentIn
from incidents.records.store import IncidentQuery, IncidentStore, Masking, rows_values
from incidents.records.tables import IncidentRow
from incidents.records.validation import incident_from_input
from incidents.sharing.rules import MaskRules
from tests.factories import GAO, Factory

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
RADIUS_KM = 60.0
LEVELS = ["clear", "green", "amber", "amber_strict", "red"]
PRECISIONS = ["exact", "day", "week", "month"]


def _incidents(org_id: uuid.UUID, n: int) -> list[tuple[Incident, shapely.Geometry]]:
    """A busy town (Gao) and a sparse ring around it that crosses the radius, over 300 days;
    every tenth pair shares its exact time, so the id decides the order."""
    rng = np.random.default_rng(15)
    out = []
    for i in range(n):
        busy = i % 3 != 0
        reach = rng.uniform(0, 25) if busy else rng.uniform(40, 90)
        bearing = rng.uniform(0, 2 * np.pi)
        lat = GAO[0] + reach / 110.6 * np.cos(bearing)
        lon = GAO[1] + reach / 106.5 * np.sin(bearing)
        days = float(rng.uniform(0, 300)) if i % 10 else float(rng.integers(0, 30))
        body = {
            "type": ["armed_attack", "kidnapping", "robbery"][i % 3],
            "occurred_at": (NOW - timedelta(days=days)).isoformat(),
            "lat": float(lat),
            "lon": float(lon),
            "severity": int(rng.integers(1, 6)),
            "sharing_level": LEVELS[i % len(LEVELS)],
            "time_precision": PRECISIONS[i % len(PRECISIONS)],
        }
        data = msgspec.convert(body, IncidentIn, strict=False)
        out.append(incident_from_input(data, org_id=org_id, user_id=None, now=NOW))
    return out


async def _walk(db: Database, query: IncidentQuery, masking: Masking | None) -> list[uuid.UUID]:
    ids: list[uuid.UUID] = []
    for _ in range(100):
        async with db.read() as session:
            rows, cursor = await IncidentStore(session).query_rows(query, masking)
        ids += [r.id for r in rows]
        if cursor is None:
            return ids
        query = dataclasses.replace(query, cursor=cursor, extra_conditions=[])
    raise AssertionError("more pages than incidents")


def _query() -> IncidentQuery:
    return IncidentQuery(near=GAO, radius_km=RADIUS_KM, since=NOW - timedelta(days=200), limit=17)


@pytest.fixture(name="stored")
async def fx_stored(db: Database, factory: Factory) -> list[tuple[Incident, shapely.Geometry]]:
    org = await factory.org()
    pairs = _incidents(org, 420)
    async with db.transaction() as session:
        await IncidentStore(session).add_many(rows_values(pairs))
    return pairs


async def test_near_pages_hold_what_a_brute_force_finds_in_list_order(
    db: Database, stored: list[tuple[Incident, shapely.Geometry]]
) -> None:
    since = NOW - timedelta(days=200)
    lon = shapely.get_x(np.array([g for _, g in stored]))
    lat = shapely.get_y(np.array([g for _, g in stored]))
    near = geodesic_distance_km(GAO[1], GAO[0], lon, lat) <= RADIUS_KM
    expected = sorted(
        (i.occurred_at, i.id)
        for (i, _), ok in zip(stored, near, strict=True)
        if ok and i.occurred_at >= since
    )
    got = await _walk(db, _query(), None)
    assert got == [ident for _, ident in reversed(expected)]
    assert len(got) > 100  # several pages, the busy town's and the ring's


async def test_masked_near_pages_are_those_of_a_plain_scan(
    db: Database, stored: list[tuple[Incident, shapely.Geometry]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The public sees most entries masked (coarse time, grid point): the per-cell merge and
    the scan by time give the same pages, so neither order nor count tells more."""
    masking = Masking(None, MaskRules())
    merged = await _walk(db, _query(), masking)
    import incidents.records.store as store

    monkeypatch.setattr(store, "cells_covering", lambda bounds: None)  # forces the time scan
    scanned = await _walk(db, _query(), masking)
    assert merged == scanned
    assert len(merged) > 50
    async with db.read() as session:
        levels = {
            r.id: r.sharing_level
            for r in (await session.scalars(__import__("sqlalchemy").select(IncidentRow))).all()
        }
    assert {levels[i] for i in merged} >= {"clear", "green"}  # masked entries are in the pages
