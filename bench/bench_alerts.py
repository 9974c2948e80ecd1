"""Alerts: matching one incident against many subscriptions, and report-to-arrival latency."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import shapely

from bench import harness

# Mali, roughly: where subscriptions and incidents are drawn.
LON = (-12.0, 4.0)
LAT = (10.0, 25.0)
DIEMA = (14.5406, -9.1830)


# --- matching ----------------------------------------------------------------------------------


def _subscriptions(n: int, rng: np.random.Generator) -> list[Any]:
    from alerts.core.subscription import PointArea, Subscription

    lats = rng.uniform(*LAT, n)
    lons = rng.uniform(*LON, n)
    radii = rng.uniform(5, 100, n)
    owner = uuid.uuid4()
    return [
        Subscription(
            uuid.uuid4(),
            owner,
            None,
            ["json://127.0.0.1/x"],
            PointArea(float(la), float(lo), float(r)),
        )
        for la, lo, r in zip(lats, lons, radii, strict=True)
    ]


def bench_matching(results: dict[str, Any], sizes: list[int], probes: int) -> list[harness.Row]:
    from alerts.core.matching import SubscriptionIndex
    from alerts.core.subscription import area_geometries

    rng = np.random.default_rng(7)
    rows: list[harness.Row] = []
    for n in sizes:
        subs = _subscriptions(n, rng)
        geometries = np.asarray(area_geometries([s.area for s in subs], {}), dtype=object)
        started = time.perf_counter()
        index = SubscriptionIndex(zip(subs, list(geometries), strict=True))
        build_s = time.perf_counter() - started
        points = shapely.points(rng.uniform(*LON, probes), rng.uniform(*LAT, probes))
        indexed: list[float] = []
        for p in points:
            t = time.perf_counter()
            index.match_incident(p, "kidnapping", 4, "reported")
            indexed.append(time.perf_counter() - t)
        # The reference: no index, one vectorised intersects over every area.
        shapely.prepare(geometries)
        plain: list[float] = []
        for p in points[: max(5, probes // 10)]:
            t = time.perf_counter()
            np.flatnonzero(shapely.intersects(geometries, p))
            plain.append(time.perf_counter() - t)
        target = "≤ 20 ms" if n <= 10_000 else "≤ 100 ms"
        p95 = harness.percentile_ms(indexed, 95)
        rows.append(
            harness.record(
                results,
                f"alerts: match 1 incident, {n:,} subscriptions (p95)",
                p95,
                "ms",
                reference=harness.percentile_ms(plain, 95),
                digits=3,
                target=target,
            )
        )
        rows.append(
            harness.record(
                results,
                f"alerts: build index of {n:,} subscriptions",
                build_s * 1000,
                "ms",
                digits=0,
            )
        )
    harness.note(
        "Matching: STRtree over subscription areas plus numpy filter masks; reference is an "
        "unindexed vectorised shapely.intersects over every area, same incidents, same run."
    )
    return rows


# --- report to arrival -------------------------------------------------------------------------


class _Arrivals:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: dict[str, float] = {}


@contextmanager
def _receiver() -> Iterator[tuple[int, _Arrivals]]:
    arrivals = _Arrivals()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with arrivals.lock:
                arrivals.times.setdefault(self.path, time.perf_counter())
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.request_queue_size = 1024
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], arrivals
    finally:
        server.shutdown()
        server.server_close()


async def _prepare(database_url: str, var_dir: str, port: int, count: int) -> str:
    """Migrate, create a reporter token and `count` subscriptions around Diéma."""
    from api.http.app import create_app
    from api.migrations.runner import upgrade
    from api.settings import Settings
    from incidents.db import Database, create_engine
    from incidents.identity import accounts as identity
    from incidents.records.model import Role

    db = Database(create_engine(database_url))
    try:
        await upgrade(db.engine)
        now = datetime.now(UTC)
        async with db.transaction() as session:
            org = await identity.create_organisation(
                session, f"bench {uuid.uuid4().hex[:6]}", now=now
            )
            user_id, _, token = await identity.create_user_with_token(
                session, org, role=Role.REPORTER, now=now, name="bench"
            )
        settings = Settings(database_url=database_url, var_dir=var_dir, dispatch_in_process=False)
        app = create_app(settings, db=db)
        owner = identity.Principal(user_id, org, Role.REPORTER)
        for i in range(count):
            await app.state.container.alerts.create_subscription(
                owner,
                {
                    "channels": [f"json://127.0.0.1:{port}/s{i}"],
                    "format": "sms",
                    "area": {"point": {"lat": DIEMA[0], "lon": DIEMA[1]}, "radius_km": 40},
                },
                now=now,
            )
        return str(token)
    finally:
        await db.dispose()


@contextmanager
def _workers(count: int, database_url: str, var_dir: Path, log: Path) -> Iterator[None]:
    """Standalone `sentinelle dispatch` workers beside the server's in-process dispatcher."""
    env = {
        **os.environ,
        "SENTINELLE_DATABASE_URL": database_url,
        "SENTINELLE_VAR_DIR": str(var_dir),
        "SENTINELLE_DISPATCH_POLL_SECONDS": "0.05",
    }
    command = [str(Path(sys.executable).parent / "sentinelle"), "dispatch", "--no-migrate"]
    with log.open("wb") as out:
        procs = [
            subprocess.Popen(
                command, cwd=harness.ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            )
            for _ in range(count)
        ]
        try:
            time.sleep(3.0 if count else 0.0)  # let them import and start polling
            yield
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def bench_delivery(
    results: dict[str, Any], count: int, rounds: int, workers: int = 0
) -> list[harness.Row]:
    out = harness.OUT_DIR / "alerts"
    out.mkdir(parents=True, exist_ok=True)
    run_id = uuid.uuid4().hex[:8]
    database = out / f"alerts-{run_id}.db"
    var_dir = out / f"var-{run_id}"
    database_url = f"sqlite+aiosqlite:///{database}"
    latencies: list[float] = []
    posts: list[float] = []
    try:
        with _receiver() as (port, arrivals):
            token = asyncio.run(_prepare(database_url, str(var_dir), port, count))
            with (
                harness.served(
                    ["sentinelle", "--database-url", database_url, "--var-dir", str(var_dir)],
                    log=out / "server.log",
                ) as api_port,
                _workers(workers, database_url, var_dir, out / "workers.log"),
                httpx.Client(
                    base_url=f"http://127.0.0.1:{api_port}",
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=30,
                ) as client,
            ):
                for r in range(rounds):
                    with arrivals.lock:
                        arrivals.times.clear()
                    occurred = datetime.now(UTC) - timedelta(hours=1 + r)
                    body = {
                        "type": "kidnapping",
                        "lat": DIEMA[0],
                        "lon": DIEMA[1],
                        "severity": 4,
                        "occurred_at": occurred.isoformat(),
                    }
                    started = time.perf_counter()
                    answer = client.post(
                        "/api/v1/incidents",
                        content=json.dumps(body),
                        headers={"Content-Type": "application/json"},
                    )
                    posts.append(time.perf_counter() - started)
                    answer.raise_for_status()
                    deadline = time.monotonic() + 60
                    while time.monotonic() < deadline:
                        with arrivals.lock:
                            if len(arrivals.times) >= count:
                                break
                        time.sleep(0.01)
                    with arrivals.lock:
                        got = dict(arrivals.times)
                    if len(got) < count:
                        raise RuntimeError(f"only {len(got)} of {count} alerts arrived in 60 s")
                    latencies += [t - started for t in got.values()]
    finally:
        for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
            path.unlink(missing_ok=True)
        shutil.rmtree(var_dir, ignore_errors=True)  # holds a generated secret key
    setup = "serve" if not workers else f"serve + {workers} dispatch worker{'s' * (workers > 1)}"
    rows = [
        harness.record(
            results,
            f"alerts: POST incident -> arrival, {count:,} subscriptions, {setup} (p95)",
            harness.percentile_ms(latencies, 95),
            "ms",
            reference=harness.percentile_ms(posts, 95),
            digits=0,
            target="≤ 2,000 ms",
        ),
        harness.record(
            results,
            f"alerts: POST incident -> arrival, {count:,} subscriptions, {setup} (p50)",
            harness.percentile_ms(latencies, 50),
            "ms",
            digits=0,
        ),
    ]
    if not workers:
        harness.note(
            f"Delivery: SQLite, `sentinelle serve` with its in-process dispatcher (and, in the "
            f"second setup, standalone `sentinelle dispatch` workers), {count:,} SMS-form json:// "
            f"deliveries (one Apprise call each) to a local HTTP receiver, {rounds} incident(s) "
            "per setup; reference is the POST /api/v1/incidents answer time (the outbox rows "
            "are written in that transaction)."
        )
    return rows


def run(results: dict[str, Any], quick: bool = False) -> list[harness.Row]:
    sizes = [10_000] if quick else [10_000, 100_000]
    rows = bench_matching(results, sizes, probes=50 if quick else 200)
    count, rounds = (200, 1) if quick else (1000, 3)
    rows += bench_delivery(results, count=count, rounds=rounds)
    rows += bench_delivery(results, count=count, rounds=rounds, workers=1)
    return rows
