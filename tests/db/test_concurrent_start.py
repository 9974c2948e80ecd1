"""Three `sentinelle serve` processes started at once on an empty database all come up, and the
schema is migrated once (api.migrations.runner takes a lock around the upgrade)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from alembic.script import ScriptDirectory
from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlalchemy.engine import make_url

from api.migrations.runner import alembic_config
from incidents.db import create_engine
from tests.live import free_port

REPO = Path(__file__).resolve().parents[2]
PROCESSES = 3
START_SECONDS = 180  # three cold starts on a loaded machine


def serve(database_url: str, var_dir: Path, port: int, key: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SENTINELLE_DATABASE_URL": database_url,
        "SENTINELLE_VAR_DIR": str(var_dir),
        "SENTINELLE_SECRET_KEYS": key,
        "SENTINELLE_DISPATCH_IN_PROCESS": "false",
    }
    command = [
        str(Path(sys.executable).parent / "sentinelle"),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    return subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


@pytest.fixture(name="empty_database_url", params=["sqlite", "postgres"])
async def fx_empty_database_url(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[str]:
    """A database with nothing in it: a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh' / 'sentinelle.db'}"
        return
    base = os.environ.get("SENTINELLE_TEST_DATABASE_URL")
    if not base:
        pytest.skip("PostgreSQL tests skipped: set SENTINELLE_TEST_DATABASE_URL to run them.")
    name = f"sentinelle_h2_{uuid.uuid4().hex[:10]}"
    admin_url = make_url(base).set(database="postgres")
    admin = create_engine(admin_url.render_as_string(hide_password=False), pooled=False)
    try:
        async with admin.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def _wait_healthy(ports: list[int], processes: list[subprocess.Popen[bytes]]) -> None:
    pending = set(ports)
    deadline = time.monotonic() + START_SECONDS
    async with httpx.AsyncClient(timeout=5) as http:
        while pending:
            for index, process in enumerate(processes):
                if process.poll() is not None:
                    error = process.stderr.read().decode(errors="replace") if process.stderr else ""
                    pytest.fail(f"process {index} exited ({process.returncode}):\n{error[-3000:]}")
            for port in sorted(pending):
                try:
                    answer = await http.get(f"http://127.0.0.1:{port}/api/v1/health")
                except httpx.HTTPError:
                    continue
                if answer.status_code == 200:
                    pending.discard(port)
            if time.monotonic() > deadline:
                pytest.fail(f"ports {sorted(pending)} did not answer /api/v1/health in time")
            await asyncio.sleep(0.3)


async def test_three_servers_started_together_on_an_empty_database_all_come_up(
    empty_database_url: str, tmp_path: Path
) -> None:
    key = Fernet.generate_key().decode()
    ports = [free_port() for _ in range(PROCESSES)]
    processes = [
        serve(empty_database_url, tmp_path / f"var{i}", port, key) for i, port in enumerate(ports)
    ]
    try:
        await _wait_healthy(ports, processes)
        for process in processes:
            assert process.poll() is None  # still serving
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    engine = create_engine(empty_database_url, pooled=False)
    try:
        async with engine.connect() as conn:
            versions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
            zones = (await conn.execute(text("SELECT count(*) FROM zones"))).scalar_one()
    finally:
        await engine.dispose()
    assert [v[0] for v in versions] == [head]
    assert zones > 0  # the default zones were made
