"""Read benches: `near` (50 km, last 90 days) and lists through IncidentService against the same
bare SQL on the same index; the cached datasets other benches reuse."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.dialects import sqlite

from bench import harness
from bench.bench_incidents import _raw, insert_columns, prepare, sqlite_url
from bench.harness import Row, note, record
from bench.synthetic import points_in_insecure_areas, stored_columns

NEAR_RADIUS_KM = 50.0
NEAR_DAYS = 90
DATASET_VERSION = 1  # bump when stored_columns changes, to rebuild cached databases


def schema_fingerprint() -> str:
    """The migrations' head and a digest of their text (revisions get filled in place too)."""
    import hashlib

    from alembic.script import ScriptDirectory

    from api.migrations.runner import MIGRATIONS, alembic_config

    digest = hashlib.sha256()
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        digest.update(path.read_bytes())
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    return f"{head}:{digest.hexdigest()[:16]}"


def near_dataset(count: int, *, directory: Path = harness.OUT_DIR) -> tuple[Path, dict[str, Any]]:
    """A migrated SQLite file holding `count` incidents, cached under bench/out/ between runs.

    The meta file keeps the dataset's own `now`: queries ask for the 90 days before it, so a cached
    file measures the same work whenever it is reused.
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"near_{count}.db"
    meta_path = path.with_suffix(".json")
    head = schema_fingerprint()
    if path.exists() and meta_path.exists():
        meta: dict[str, Any] = json.loads(meta_path.read_text())
        if meta.get("head") == head and meta.get("version") == DATASET_VERSION:
            return path, meta
    building = path.with_suffix(".building")
    for stale in (path, meta_path, building, *directory.glob(f"{building.name}-*")):
        stale.unlink(missing_ok=True)
    org_id, user_id, _ = prepare(building)
    now = datetime.now(UTC).replace(microsecond=0)
    batch = 100_000
    conn = _raw(building)
    try:
        with harness.progress() as bar:
            task = bar.add_task(f"loading {count:,} incidents into {path}", total=count)
            for i, start in enumerate(range(0, count, batch)):
                n = min(batch, count - start)
                columns = stored_columns(n, now=now, org_id=org_id, user_id=user_id, seed=100 + i)
                insert_columns(conn, columns, n, batch=n, loading=True)
                bar.advance(task, n)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    building.rename(path)
    meta = {
        "count": count,
        "head": head,
        "version": DATASET_VERSION,
        "now": now.isoformat(),
        "org_id": str(org_id),
        "user_id": str(user_id),
    }
    meta_path.write_text(json.dumps(meta, indent=2))
    return path, meta


def bare_sql(query: Any) -> tuple[str, list[Any]]:
    """The SQL and parameters IncidentStore sends for the first page of `query` (the reference)."""
    from incidents.records.store import _select
    from incidents.records.tables import IncidentRow

    wanted = query.limit + 1
    stmt = _select(query).limit(max(wanted * 2, 200))
    compiled = stmt.compile(dialect=sqlite.dialect(), compile_kwargs={"render_postcompile": True})
    bind_time = IncidentRow.__table__.c.occurred_at.type.bind_processor(sqlite.dialect())
    params = compiled.construct_params()
    args = [params[name] for name in compiled.positiontup or []]
    args = [bind_time(a) if isinstance(a, datetime) and bind_time else a for a in args]
    return compiled.string, args


async def _near_latencies(
    path: Path, meta: dict[str, Any], points: int, bar: Any, task: Any
) -> tuple[list[float], list[float], list[int]]:
    from incidents.db import Database, create_engine
    from incidents.identity.accounts import Principal
    from incidents.records.model import Role
    from incidents.records.service import IncidentService
    from incidents.records.store import IncidentQuery

    since = datetime.fromisoformat(meta["now"]) - timedelta(days=NEAR_DAYS)
    viewer = Principal(
        user_id=uuid.UUID(meta["user_id"]), org_id=uuid.UUID(meta["org_id"]), role=Role.REPORTER
    )
    lat, lon = points_in_insecure_areas(np.random.default_rng(7), points)
    spots = list(zip(lat.tolist(), lon.tolist(), strict=True))

    def query(i: int) -> Any:
        return IncidentQuery(near=spots[i % points], radius_km=NEAR_RADIUS_KM, since=since)

    db = Database(create_engine(sqlite_url(path)))
    service = IncidentService(db)
    conn = sqlite3.connect(path)
    service_s, sql_s, found = [], [], []
    try:
        for i in range(min(10, points)):  # warm the page cache and the statement cache
            await service.list(viewer, query(i))
            sql, args = bare_sql(query(i))
            conn.execute(sql, args).fetchall()
        # Interleaved, query by query: a change in the machine's load weighs on both alike.
        for i in range(points):
            t0 = time.perf_counter()
            features, _ = await service.list(viewer, query(i))
            service_s.append(time.perf_counter() - t0)
            found.append(len(features))
            sql, args = bare_sql(query(i))
            t0 = time.perf_counter()
            conn.execute(sql, args).fetchall()
            sql_s.append(time.perf_counter() - t0)
            bar.advance(task)
    finally:
        conn.close()
        await db.dispose()
    return service_s, sql_s, found


def _label(count: int) -> str:
    if count >= 1_000_000 and count % 1_000_000 == 0:
        return f"{count // 1_000_000}M"
    return f"{count // 1000}k" if count >= 1000 and count % 1000 == 0 else str(count)


def measure_near(
    results: dict[str, Any],
    *,
    sizes: tuple[int, ...] = (100_000, 1_000_000),
    points: int = 200,
    directory: Path = harness.OUT_DIR,
) -> list[Row]:
    """(c) `near` (50 km, last 90 days) through IncidentService.list against the same bare SQL."""
    rows: list[Row] = []
    for count in sizes:
        path, meta = near_dataset(count, directory=directory)
        with harness.progress() as bar:
            task = bar.add_task(f"near queries over {count:,} incidents", total=points)
            service_s, sql_s, found = asyncio.run(_near_latencies(path, meta, points, bar, task))
        label = _label(count)
        median, sql_median = harness.percentile_ms(service_s, 50), harness.percentile_ms(sql_s, 50)
        rows.append(
            record(
                results,
                f"incidents.near_median_ms.{label}",
                median,
                "ms",
                reference=sql_median,
                digits=1,
                target="≤ 2× the bare SQL",
            )
        )
        rows.append(
            record(
                results,
                f"incidents.near_p95_ms.{label}",
                harness.percentile_ms(service_s, 95),
                "ms",
                reference=harness.percentile_ms(sql_s, 95),
                digits=1,
            )
        )
        note(
            f"near over {count:,}: {points} points around Mali's insecure areas, radius "
            f"{NEAR_RADIUS_KM:.0f} km, last {NEAR_DAYS} days, first page (limit 100); "
            f"median {np.median(found):.0f} incidents returned per query. Reference: the same "
            "SELECT (first prefilter batch) run with sqlite3."
        )
    note(
        f"near datasets: point incidents uniform over 5 years, cached in {directory} "
        "(rebuilt when the migrations change)."
    )
    return rows


def run(results: dict[str, Any], *, quick: bool = False) -> list[Row]:
    return measure_near(
        results,
        sizes=(10_000, 100_000) if quick else (100_000, 1_000_000),
        points=50 if quick else 200,
    )
