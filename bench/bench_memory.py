"""Memory: the resident size of a real `sentinelle serve` process, empty and after loading 1M
stored incidents and serving /api/v1/risk (issue 15 target: ≤ 400 MB at 1M)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import harness
from bench.harness import Row, note, record

TARGET_MB = 400.0


def rss_mb(pid: int) -> tuple[float, float]:
    """(resident, peak resident) of a process in MB, from /proc (VmRSS, VmHWM)."""
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = float(rest.split()[0]) / 1024.0  # kB
    return fields["VmRSS"], fields["VmHWM"]


async def _officer_token(path: Path) -> str:
    """A security officer's token in the first organisation of `path` (made if none)."""
    from sqlalchemy import select

    from bench.bench_incidents import sqlite_url
    from incidents.db import Database, create_engine
    from incidents.identity.accounts import create_organisation, create_user_with_token
    from incidents.records.model import Role
    from incidents.records.tables import OrganisationRow

    db = Database(create_engine(sqlite_url(path)))
    try:
        now = datetime.now(UTC)
        async with db.transaction() as session:
            org: uuid.UUID | None = (await session.scalars(select(OrganisationRow.id))).first()
            if org is None:
                org = await create_organisation(session, "Bench CSO", now=now)
            _, _, token = await create_user_with_token(
                session, org, role=Role.OFFICER, now=now, name=f"bench officer {uuid.uuid4().hex}"
            )
    finally:
        await db.dispose()
    return token


def serve_and_measure(path: Path, workdir: Path, *, timeout: float = 900.0) -> dict[str, float]:
    """Start `sentinelle serve` on `path`, ask /api/v1/risk twice, read its RSS; then stop it."""
    token = asyncio.run(_officer_token(path))
    port = harness.free_port()
    env = {
        **os.environ,
        "SENTINELLE_DATABASE_URL": f"sqlite+aiosqlite:///{path}",
        "SENTINELLE_VAR_DIR": str(workdir),
        "SENTINELLE_LOG_LEVEL": "warning",
        # The checkout's packages, as `make`/tests see them (the venv may predate a new one).
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(harness.ROOT), os.environ.get("PYTHONPATH")])
        ),
    }
    sentinelle = shutil.which("sentinelle") or str(Path(sys.executable).parent / "sentinelle")
    log = workdir / f"serve-{path.stem}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sentinelle, "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=harness.ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            harness.wait_for_port(port, proc, timeout=120.0)
            time.sleep(1.0)  # let start-up chores settle before the first figure
            started_mb, _ = rss_mb(proc.pid)
            headers = {"Authorization": f"Bearer {token}"}
            url = f"http://127.0.0.1:{port}/api/v1/risk"
            with httpx.Client(timeout=timeout, headers=headers) as client:
                t0 = time.perf_counter()
                first = client.get(url)
                first_s = time.perf_counter() - t0
                t0 = time.perf_counter()
                second = client.get(url)
                second_s = time.perf_counter() - t0
            for answer in (first, second):
                if answer.status_code != 200:
                    raise RuntimeError(f"/api/v1/risk answered {answer.status_code}: {answer.text}")
            rss, peak = rss_mb(proc.pid)
        except Exception as exc:
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{exc}; server log:\n{tail}") from None
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return {
        "started_mb": started_mb,
        "rss_mb": rss,
        "peak_mb": peak,
        "first_risk_s": first_s,
        "second_risk_s": second_s,
        "zones": float(_zone_count(first.json())),
    }


def _zone_count(body: Any) -> int:
    return len(body) if isinstance(body, list) else len(body.get("zones", body.get("items", [])))


def measure_memory(results: dict[str, Any], n: int) -> list[Row]:
    from bench.bench_incidents import prepare
    from bench.bench_zones import zones_dataset

    label = f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}k"
    source = zones_dataset(n)
    harness.OUT_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="memory-", dir=harness.OUT_DIR) as tmp:
        work = Path(tmp)
        empty = work / "empty.db"
        prepare(empty)
        with harness.progress() as bar:
            task = bar.add_task("sentinelle serve: empty database", total=2)
            quiet = serve_and_measure(empty, work)
            bar.update(task, advance=1, description=f"sentinelle serve: {n:,} incidents")
            full_db = work / "full.db"
            shutil.copy(source, full_db)  # serve writes (levels, tokens): never the cached file
            full = serve_and_measure(full_db, work)
            bar.advance(task)
    rows = [
        record(results, "memory.serve_rss_mb.empty", quiet["rss_mb"], "MB"),
        record(
            results,
            f"memory.serve_rss_mb.{label}",
            full["rss_mb"],
            "MB",
            reference=quiet["rss_mb"],
            target=f"≤ {TARGET_MB:.0f} MB",
        ),
        record(
            results,
            f"memory.serve_peak_rss_mb.{label}",
            full["peak_mb"],
            "MB",
            reference=quiet["peak_mb"],
        ),
        record(results, f"memory.first_risk_s.{label}", full["first_risk_s"], "s", digits=2),
        record(
            results,
            f"memory.second_risk_ms.{label}",
            full["second_risk_s"] * 1000,
            "ms",
            reference=quiet["second_risk_s"] * 1000,
            digits=1,
        ),
    ]
    note(
        f"memory: one `sentinelle serve` (uvicorn, 1 worker, SQLite) read from /proc/PID/status "
        f"(VmRSS now, VmHWM peak) after two GET /api/v1/risk; reference: the same process on an "
        f"empty database in the same run; {n:,} incidents over 5 years with the default zones. "
        f"RSS right after start: {quiet['started_mb']:.0f} MB empty, "
        f"{full['started_mb']:.0f} MB with {n:,}. Target: ≤ {TARGET_MB:.0f} MB."
    )
    return rows


def run(results: dict[str, Any], *, quick: bool = False) -> list[Row]:
    return measure_memory(results, 100_000 if quick else 1_000_000)
