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

    class Server(ThreadingHTTPServer):
        # Set before listen(): assigned after construction it would leave the backlog at 5,
        # and a burst of connections would be reset (measured as failed deliveries).
        request_queue_size = 1024
        daemon_threads = True

    server = Server(("127.0.0.1", 0), Handler)
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
        settings = Settings(
            database_url=database_url,
            var_dir=var_dir,
            dispatch_in_process=False,
            channel_allow_hosts=f"127.0.0.1:{port}",
        )
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


def _sentinelle() -> str:
    return str(Path(sys.executable).parent / "sentinelle")


@contextmanager
def _serve(env: dict[str, str], log: Path) -> Iterator[int]:
    """`sentinelle serve` itself (migrations, in-process dispatcher and all), one process."""
    port = harness.free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [_sentinelle(), "serve", "--port", str(port)],
            cwd=harness.ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            try:
                harness.wait_for_port(port, proc, timeout=60)
            except RuntimeError as exc:
                tail = log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{exc}; server log:\n{tail}") from None
            yield port
        finally:
            _stop([proc])


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def _workers(count: int, env: dict[str, str], log: Path, *, poll_s: float | None) -> Iterator[None]:
    """Standalone `sentinelle dispatch` workers, polling every `poll_s` (None: the default)."""
    if not count:
        yield
        return
    if poll_s is not None:
        env = {**env, "SENTINELLE_DISPATCH_POLL_SECONDS": str(poll_s)}
    with log.open("wb") as out:
        procs = [
            subprocess.Popen(
                [_sentinelle(), "dispatch", "--no-migrate"],
                cwd=harness.ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            for _ in range(count)
        ]
        try:
            deadline = time.monotonic() + 60
            while log.read_bytes().count(b"running; Ctrl-C") < count:
                if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                    tail = log.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"dispatch workers did not start; log:\n{tail}")
                time.sleep(0.1)
            time.sleep(0.5)  # their first pass of chores
            yield
        finally:
            _stop(procs)


def _wait_arrivals(arrivals: _Arrivals, count: int, timeout_s: float = 60) -> dict[str, float]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with arrivals.lock:
            if len(arrivals.times) >= count:
                break
        time.sleep(0.005)
    with arrivals.lock:
        got = dict(arrivals.times)
    if len(got) < count:
        raise RuntimeError(f"only {len(got)} of {count} messages arrived in {timeout_s:.0f} s")
    return got


# --- the reference: a bare sender of the same requests to the same receiver ---------------------

BARE_CONCURRENCY = 100  # as many connections at once as a dispatcher keeps in flight (batch)


async def _bare_send(port: int, count: int) -> int:
    """`count` POSTs of an alert-sized JSON body, one connection each, `BARE_CONCURRENCY` at a
    time: no database, no policy, no rendering — what the receiver and the machine allow."""
    semaphore = asyncio.Semaphore(BARE_CONCURRENCY)
    body = json.dumps(
        {"version": "1.0", "title": "", "message": "x" * 150, "attachments": [], "type": "info"}
    ).encode()

    async def one(i: int) -> bool:
        async with semaphore:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(
                (
                    f"POST /s{i} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                    "Connection: close\r\n\r\n"
                ).encode()
                + body
            )
            line = await reader.readline()
            writer.close()
            return b" 200 " in line

    return sum(await asyncio.gather(*(one(i) for i in range(count))))


def bench_bare(count: int, rounds: int) -> list[float]:
    """Seconds from "go" to each arrival, a bare sender in its own process (as a dispatcher is)."""
    latencies: list[float] = []
    with _receiver() as (port, arrivals):
        for _ in range(rounds):
            with arrivals.lock:
                arrivals.times.clear()
            proc = subprocess.Popen(
                [sys.executable, "-m", "bench.bench_alerts", "bare-send", str(port), str(count)],
                cwd=harness.ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
            assert proc.stdin is not None
            assert proc.stdout is not None
            proc.stdout.readline()  # "ready": imports done
            started = time.perf_counter()
            proc.stdin.write(b"go\n")
            proc.stdin.flush()
            got = _wait_arrivals(arrivals, count)
            latencies += [t - started for t in got.values()]
            proc.wait(timeout=30)
    return latencies


# --- incident to arrival ------------------------------------------------------------------------


def postgres_bench_url() -> str | None:
    """A database of its own for this bench, on the server SENTINELLE_BENCH_DATABASE_URL names
    (`<name>_bench_alerts`, emptied at each run); None when it is not set."""
    configured = os.environ.get("SENTINELLE_BENCH_DATABASE_URL")
    if not configured:
        return None
    from sqlalchemy import make_url, text

    from incidents.db import create_engine

    base = make_url(configured)
    name = f"{base.database}_bench_alerts"

    async def recreate() -> None:
        engine = create_engine(base.set(database="postgres").render_as_string(False), pooled=False)
        try:
            async with engine.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            await engine.dispose()

    asyncio.run(recreate())
    return base.set(database=name).render_as_string(hide_password=False)


def bench_delivery(
    results: dict[str, Any],
    count: int,
    rounds: int,
    workers: int = 0,
    *,
    database_url: str | None = None,
    reference: tuple[float, float] | None = None,
) -> list[harness.Row]:
    """POST an incident that `count` subscriptions match; seconds from the POST to each arrival.
    `workers`: that many `sentinelle dispatch` processes send, serve's own dispatcher off."""
    out = harness.OUT_DIR / "alerts"
    out.mkdir(parents=True, exist_ok=True)
    run_id = uuid.uuid4().hex[:8]
    database = out / f"alerts-{run_id}.db"
    var_dir = out / f"var-{run_id}"
    backend = "PostgreSQL" if database_url else "SQLite"
    database_url = database_url or f"sqlite+aiosqlite:///{database}"
    latencies: list[float] = []
    posts: list[float] = []
    try:
        with _receiver() as (port, arrivals):
            token = asyncio.run(_prepare(database_url, str(var_dir), port, count))
            env = {
                **os.environ,
                # This checkout's code, packages not yet installed in the environment included.
                "PYTHONPATH": os.pathsep.join(
                    p for p in (str(harness.ROOT), os.environ.get("PYTHONPATH")) if p
                ),
                "SENTINELLE_DATABASE_URL": database_url,
                "SENTINELLE_VAR_DIR": str(var_dir),
                "SENTINELLE_CHANNEL_ALLOW_HOSTS": f"127.0.0.1:{port}",
                # A load test is not abuse: keep the API's rate limit far above what it sends.
                "SENTINELLE_RATE_LIMIT_PER_MINUTE": "1000000000",
                "SENTINELLE_DISPATCH_IN_PROCESS": "false" if workers else "true",
            }
            with (
                _serve(env, out / "server.log") as api_port,
                # SQLite: nothing wakes a process that did not write the alerts; it polls.
                # PostgreSQL: the outbox's NOTIFY wakes them, the default poll is kept.
                _workers(
                    workers,
                    env,
                    out / "workers.log",
                    poll_s=None if backend == "PostgreSQL" else 0.05,
                ),
                httpx.Client(
                    base_url=f"http://127.0.0.1:{api_port}",
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=30,
                ) as client,
            ):
                for r in range(rounds):
                    with arrivals.lock:
                        arrivals.times.clear()
                    # 7 h apart: reports of one place within 6 h are one event (alerted once).
                    occurred = datetime.now(UTC) - timedelta(hours=1 + 7 * r)
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
                    got = _wait_arrivals(arrivals, count)
                    latencies += [t - started for t in got.values()]
                    time.sleep(0.5)  # outcomes recorded before the next incident
    finally:
        for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
            path.unlink(missing_ok=True)
        shutil.rmtree(var_dir, ignore_errors=True)  # holds a generated secret key
    setup = (
        "serve (in-process dispatch)"
        if not workers
        else f"serve + {workers} dispatch process{'es' * (workers > 1)}"
    )
    name = f"alerts: POST incident -> arrival, {count:,} subscriptions, {backend}, {setup}"
    ref95, ref50 = reference or (None, None)
    target = "≤ 1,000 ms" if not workers else "≤ 1,000 ms, below one process"
    return [
        harness.record(
            results,
            f"{name} (p95)",
            harness.percentile_ms(latencies, 95),
            "ms",
            reference=ref95,
            digits=0,
            target=target,
        ),
        harness.record(
            results,
            f"{name} (p50)",
            harness.percentile_ms(latencies, 50),
            "ms",
            reference=ref50,
            digits=0,
        ),
        harness.record(
            results, f"{name}: POST answer (p95)", harness.percentile_ms(posts, 95), "ms", digits=0
        ),
    ]


def run(results: dict[str, Any], quick: bool = False) -> list[harness.Row]:
    sizes = [10_000] if quick else [10_000, 100_000]
    rows = bench_matching(results, sizes, probes=50 if quick else 200)
    count, rounds = (200, 1) if quick else (1000, 3)
    bare = bench_bare(count, rounds)
    reference = (harness.percentile_ms(bare, 95), harness.percentile_ms(bare, 50))
    rows.append(
        harness.record(
            results,
            f"alerts: bare sender -> arrival, {count:,} requests (p95; the reference)",
            reference[0],
            "ms",
            digits=0,
        )
    )
    backends: list[str | None] = [None]
    postgres = postgres_bench_url()
    if postgres:
        backends.append(postgres)
    for url in backends:
        for workers in (0, 2):
            rows += bench_delivery(
                results, count, rounds, workers, database_url=url, reference=reference
            )
    harness.note(
        f"Delivery: `sentinelle serve` alone (its in-process dispatcher sends), then serve with "
        f"its dispatcher off and two `sentinelle dispatch` processes; {count:,} SMS-form json:// "
        f"subscriptions to one local HTTP receiver (a thread per connection, in the bench "
        f"process), {rounds} incidents 7 h apart per setup; latency from the POST to each "
        f"arrival. Reference: a bare asyncio sender in its own process posting the same number "
        f"of alert-sized requests, {BARE_CONCURRENCY} at a time, to the same kind of receiver "
        f"(no database, no policy, no rendering)."
        + (
            ""
            if postgres
            else " PostgreSQL: not measured (set SENTINELLE_BENCH_DATABASE_URL to a server URL; "
            "the bench uses its own database `<name>_bench_alerts` there)."
        )
    )
    return rows


def _bare_main(port: int, count: int) -> None:
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdin.readline()
    asyncio.run(_bare_send(port, count))


def _one_main(argv: list[str]) -> None:
    """`python -m bench.bench_alerts one [--workers N] [--postgres] [--count N] [--rounds N]
    [--no-bare]`: one delivery setup (and the bare-sender reference), printed, not stored."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.bench_alerts one")
    parser.add_argument("--workers", type=int, default=0, help="dispatch processes (0: serve's)")
    parser.add_argument(
        "--postgres", action="store_true", help="on SENTINELLE_BENCH_DATABASE_URL's server"
    )
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-bare", action="store_true", help="skip the bare-sender reference")
    args = parser.parse_args(argv)
    url = postgres_bench_url() if args.postgres else None
    if args.postgres and url is None:
        raise SystemExit("--postgres: set SENTINELLE_BENCH_DATABASE_URL to a server URL")
    results: dict[str, Any] = {}
    reference = None
    if not args.no_bare:
        bare = bench_bare(args.count, args.rounds)
        reference = (harness.percentile_ms(bare, 95), harness.percentile_ms(bare, 50))
        print(f"bare sender: p95 {reference[0]:.0f} ms, p50 {reference[1]:.0f} ms")
    rows = bench_delivery(
        results, args.count, args.rounds, args.workers, database_url=url, reference=reference
    )
    for row in rows:
        print(" | ".join(row))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "bare-send":
        _bare_main(int(sys.argv[2]), int(sys.argv[3]))
    elif len(sys.argv) >= 2 and sys.argv[1] == "one":
        _one_main(sys.argv[2:])
