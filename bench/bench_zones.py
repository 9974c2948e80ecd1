"""Zones and risk: assignment of 1M points, scoring all zones, a 500 km route, the ACLED ranking."""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from bench import harness
from bench.harness import Row, record
from bench.synthetic import points_in_insecure_areas
from geo.index import ZoneIndex, assign_points_loop
from geo.measure import geodesic_area_km2
from geo.zones import default_zones, zones_from_geojson
from incidents.risk.assessment import IncidentColumns, assess_area
from incidents.risk.model import LEVEL_LABELS, RiskConfig, RiskInputs, score_zones, zone_neighbours

SHARED = harness.ROOT.parent / "shared" / "data"
CERCLES = SHARED / "mli_admbnda_adm2_1m_gov_20211220.geojson"
REGIONS = SHARED / "mli_admbnda_adm1_1m_gov_20211220.geojson"
ACLED = SHARED / "acled_mali_2017-2020.csv"
# Mopti (Sévaré) to Gao by Douentza and Gossi, about 500 km.
ROUTE_MOPTI_GAO = shapely.LineString(
    [(-4.10, 14.53), (-2.95, 15.00), (-1.60, 15.45), (-0.04, 16.27)]
)
TYPES = np.array(["armed_attack", "kidnapping", "ied", "robbery", "checkpoint_illegal"])


def _zones() -> tuple[list[tuple[str, shapely.Geometry]], str]:
    if CERCLES.exists():
        zones, _ = zones_from_geojson(json.loads(CERCLES.read_text(encoding="utf-8")))
        return [(z.id, z.geometry) for z in zones], "the 53 OCHA cercles"
    zones = default_zones()
    return [(z.id, z.geometry) for z in zones], f"the {len(zones)} default zones"


def _timed(fn: Any, repeat: int = 1) -> float:
    best = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best.append(time.perf_counter() - t0)
    return min(best)


def _columns(n: int, rng: np.random.Generator, now_days: float, days: int) -> IncidentColumns:
    lat, lon = points_in_insecure_areas(rng, n)
    valid_types = [t for t in TYPES if _is_type(t)]
    return IncidentColumns(
        ids=np.arange(n),
        lons=lon,
        lats=lat,
        t_days=now_days - rng.uniform(0, days, n),
        type_codes=np.array(valid_types)[rng.integers(0, len(valid_types), n)],
        severity=rng.integers(1, 6, n),
        reliability=np.array(["A", "B", "C", "F"])[rng.integers(0, 4, n)],
        credibility=rng.integers(1, 7, n),
        status=np.array(["reported", "verified", "disputed"])[rng.integers(0, 3, n)],
    )


def _is_type(code: str) -> bool:
    from incidents.taxonomy.catalogue import TYPES as KNOWN

    return code in KNOWN


def measure_assignment(results: dict[str, Any], n: int, loop_n: int) -> list[Row]:
    zones, label = _zones()
    index = ZoneIndex(zones)
    rng = np.random.default_rng(7)
    lat, lon = points_in_insecure_areas(rng, n)
    fast = _timed(lambda: index.assign_points(lon, lat), repeat=3)
    slow = _timed(lambda: assign_points_loop(zones, lon[:loop_n], lat[:loop_n])) * n / loop_n
    harness.note(
        f"Zone assignment: {n:,} points over {label}; the loop reference is "
        f"geo.index.assign_points_loop on {loop_n:,} points, scaled to {n:,}."
    )
    return [
        record(
            results,
            f"zones: assign {n:,} points",
            fast,
            "s",
            reference=slow,
            ratio=slow / fast,
            digits=3,
            target="≥ 20×",
        )
    ]


def _inputs(cols: IncidentColumns, index: ZoneIndex) -> RiskInputs:
    pi, pz = index.assign_points(cols.lons, cols.lats)
    return RiskInputs(
        incident_ids=cols.ids,
        t_days=cols.t_days,
        type_codes=cols.type_codes,
        severity=cols.severity,
        reliability=cols.reliability,
        credibility=cols.credibility,
        status=cols.status,
        pair_incident=pi,
        pair_zone=pz,
    )


def measure_scoring(results: dict[str, Any], n: int) -> list[Row]:
    zones, label = _zones()
    index = ZoneIndex(zones)
    now_days = datetime(2024, 6, 1, tzinfo=UTC).timestamp() / 86400
    cols = _columns(n, np.random.default_rng(8), now_days, 730)
    inputs = _inputs(cols, index)
    areas = np.array([geodesic_area_km2(g) for _, g in zones])
    nb = zone_neighbours([g for _, g in zones])

    def score() -> None:
        score_zones(
            inputs,
            zone_count=len(zones),
            zone_area_km2=areas,
            now_days=now_days,
            neighbours=nb,
            previous_levels=np.ones(len(zones), dtype=np.intp),
        )

    spent = _timed(score, repeat=3)
    harness.note(
        f"Risk: every one of {label} scored from {n:,} incidents "
        f"({len(inputs.pair_zone):,} incident-zone pairs) already in numpy columns."
    )
    return [
        record(
            results,
            f"risk: score all zones, {n:,} incidents",
            spent * 1000,
            "ms",
            reference=1000.0,
            digits=1,
            target="≤ 1",
        )
    ]


def measure_route(results: dict[str, Any], n: int) -> list[Row]:
    now_days = datetime(2024, 6, 1, tzinfo=UTC).timestamp() / 86400
    cols = _columns(n, np.random.default_rng(9), now_days, 5 * 365)
    config = RiskConfig(window_days=365.0)
    samples = []
    result = None
    for _ in range(5):
        t0 = time.perf_counter()
        result = assess_area(
            cols, ROUTE_MOPTI_GAO, now_days=now_days, config=config, corridor_km=10, segment_km=25
        )
        samples.append(time.perf_counter() - t0)
    assert result is not None
    harness.note(
        f"Route: Mopti to Gao ({result.length_km:.0f} km, corridor 10 km, "
        f"{len(result.segments)} stretches of 25 km), {n:,} incidents over 5 years in "
        f"memory, window 365 days: {len(result.incidents):,} incidents in the corridor, "
        f"level {result.level}. Median of 5."
    )
    return [
        record(
            results,
            f"risk: assess a 500 km route, {n:,} incidents",
            statistics.median(samples) * 1000,
            "ms",
            reference=200.0,
            digits=1,
            target="≤ 1",
        )
    ]


async def _db_load(path: Path) -> tuple[float, float, int]:
    from incidents.db import Database, create_engine
    from incidents.risk.service import RiskService
    from incidents.zones.store import ZoneCache

    db = Database(create_engine(f"sqlite+aiosqlite:///{path}"))
    try:
        service = RiskService(db, config=RiskConfig(window_days=365.0), cache=ZoneCache())
        async with db.read() as session:
            snapshot = await service.cache.snapshot(session)
            newest: Any = (
                await session.execute(
                    __import__("sqlalchemy").text("SELECT max(occurred_at) FROM incidents")
                )
            ).scalar_one()
        now = datetime.fromisoformat(str(newest)).replace(tzinfo=UTC) + timedelta(days=1)
        t0 = time.perf_counter()
        async with db.read() as session:
            inputs = await service.load_inputs(session, snapshot, until=now)
        load = time.perf_counter() - t0
        t0 = time.perf_counter()
        await service.assess(ROUTE_MOPTI_GAO, now=now, window_days=365)
        route = time.perf_counter() - t0
        return load, route, len(inputs.pair_zone)
    finally:
        await db.dispose()


def zones_dataset(n: int) -> Path:
    """The near dataset of `n` incidents with the default zones and every incident-zone link,
    cached under bench/out/ (rebuilt when the near dataset is)."""
    from bench.bench_reads import near_dataset

    source, meta = near_dataset(n)
    path = harness.OUT_DIR / f"zones_{n}.db"
    stamp = path.with_suffix(".json")
    if path.exists() and stamp.exists() and json.loads(stamp.read_text()) == meta:
        return path
    path.unlink(missing_ok=True)
    building = path.with_suffix(".building")
    shutil.copy(source, building)
    zones = default_zones()
    asyncio.run(_seed(building))
    index = ZoneIndex([(z.id, z.geometry) for z in zones])
    conn = sqlite3.connect(building)
    ids, lons, lats = zip(*conn.execute("SELECT id, lon, lat FROM incidents"), strict=True)
    pi, pz = index.assign_points(np.array(lons), np.array(lats))
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO incident_zones (incident_id, zone_id) VALUES (?, ?)",
        ((ids[i], index.zone_ids[z]) for i, z in zip(pi.tolist(), pz.tolist(), strict=True)),
    )
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    building.rename(path)
    stamp.write_text(json.dumps(meta))
    return path


def measure_db(results: dict[str, Any], n: int) -> list[Row]:
    """The same work through SQLite: loading the columns, and the route with its DB query."""
    path = zones_dataset(n)
    load, route, pairs = asyncio.run(_db_load(path))
    harness.note(
        f"Through SQLite ({n:,} incidents, default zones): loading the {pairs:,} "
        "incident-zone pairs of the 365-day window as columns (one query), and the "
        "route assessment with its grid-cell query."
    )
    return [
        record(results, f"risk: load columns from SQLite, {n:,} incidents", load, "s", digits=2),
        record(
            results,
            f"risk: assess a 500 km route via SQLite, {n:,} incidents",
            route * 1000,
            "ms",
            reference=200.0,
            digits=1,
        ),
    ]


async def _seed(path: Path) -> None:
    from api.migrations.runner import upgrade
    from api.settings import Settings
    from incidents.db import Database, create_engine
    from incidents.zones.store import ensure_default_zones

    db = Database(create_engine(f"sqlite+aiosqlite:///{path}"))
    try:
        await upgrade(db.engine)
        # Seed on an empty copy of the links table only: reassigning 1M rows here is not measured.
        async with db.transaction() as session:
            from sqlalchemy import insert

            from incidents.zones.store import zone_values
            from incidents.zones.tables import ZoneRow

            now = datetime.now(UTC)
            zones = default_zones(
                **{
                    k: getattr(Settings(), k)
                    for k in (
                        "town_radius_km",
                        "mauritania_belt_km",
                        "border_belt_km",
                        "tri_border_km",
                    )
                }
            )
            await session.execute(insert(ZoneRow), [zone_values(z, now) for z in zones])
        _ = ensure_default_zones
    finally:
        await db.dispose()


def acled_ranking(results: dict[str, Any]) -> list[Row]:
    """(d) The zones the model ranks highest at the end of the ACLED data (régions and cercles)."""
    if not (ACLED.exists() and CERCLES.exists()):
        harness.note("ACLED ranking skipped: ../shared/data is absent.")
        return []
    from incidents.interop.acled import acled_to_incidents

    with ACLED.open("rb") as fh:
        rows = [r.incident for r in acled_to_incidents(fh) if r.incident is not None]
    lon = np.array([r["geometry"]["coordinates"][0] for r in rows])
    lat = np.array([r["geometry"]["coordinates"][1] for r in rows])
    when = (
        np.array(
            [
                datetime.fromisoformat(r["occurred_at"].replace("Z", "+00:00")).timestamp()
                for r in rows
            ]
        )
        / 86400
    )
    end = float(when.max()) + 1
    out: list[Row] = []
    for label, path in (("régions", REGIONS), ("cercles", CERCLES)):
        zones, _ = zones_from_geojson(json.loads(path.read_text(encoding="utf-8")))
        index = ZoneIndex([(z.id, z.geometry) for z in zones])
        pi, pz = index.assign_points(lon, lat)
        inputs = RiskInputs(
            incident_ids=np.array([r["external_id"] for r in rows]),
            t_days=when,
            type_codes=np.array([r["type"] for r in rows]),
            severity=np.array([r["severity"] for r in rows]),
            reliability=np.array([r["reliability"] for r in rows]),
            credibility=np.array([r["credibility"] for r in rows]),
            status=np.array([r["status"] for r in rows]),
            pair_incident=pi,
            pair_zone=pz,
        )
        risks = score_zones(
            inputs,
            zone_count=len(zones),
            zone_area_km2=np.array([geodesic_area_km2(z.geometry) for z in zones]),
            now_days=end,
            neighbours=zone_neighbours([z.geometry for z in zones]),
        )
        ranked = sorted(risks, key=lambda r: (-r.level, -r.score))[
            : 10 if label == "cercles" else len(zones)
        ]
        lines = [
            f"{i + 1}. {zones[r.zone_index].name_fr}: level {r.level} "
            f"({LEVEL_LABELS[r.level][0]}), score {r.score:.2f}, {r.trend}"
            for i, r in enumerate(ranked)
        ]
        day = datetime.fromtimestamp(end * 86400, tz=UTC).date().isoformat()
        harness.note(f"ACLED ranking of the {label} on {day}: " + "; ".join(lines))
        results[f"zones: ACLED ranking ({label})"] = [
            {
                "zone": zones[r.zone_index].name_fr,
                "level": r.level,
                "score": round(r.score, 3),
                "trend": r.trend,
            }
            for r in ranked
        ]
        top = ranked[0]
        out.append(
            (
                f"risk: top {label[:-1]} at the end of ACLED 2017-2020",
                f"{zones[top.zone_index].name_fr} (level {top.level})",
                "–",
                "–",
            )
        )
    return out


def run(results: dict[str, Any], *, quick: bool = False) -> list[Row]:
    n = 100_000 if quick else 1_000_000
    rows = measure_assignment(results, n, loop_n=5_000 if quick else 20_000)
    rows += measure_scoring(results, n)
    rows += measure_route(results, n)
    try:
        rows += measure_db(results, n)
    except Exception as exc:  # the DB figures are extra; keep the pure ones
        harness.note(f"SQLite measures skipped: {exc!r}")
    rows += acled_ranking(results)
    return rows
