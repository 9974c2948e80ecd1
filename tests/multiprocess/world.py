"""Real processes on one fresh PostgreSQL database, for the several-workers tests: `World` starts
`sentinelle serve` and `dispatch` processes and kills them; `database` is a fresh migrated
database dropped afterwards; `query` reads it from the test."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url

from api.migrations.runner import upgrade
from incidents.db import create_engine
from incidents.identity import accounts
from incidents.records.model import Role

PG_ENV = "SENTINELLE_TEST_DATABASE_URL"
REPO = Path(__file__).resolve().parents[2]
SENTINELLE = str(Path(sys.executable).parent / "sentinelle")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class World:
    url: str
    env: dict[str, str]
    officer: str = ""
    operator: str = ""
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = open(Path(self.env["SENTINELLE_VAR_DIR"]) / f"{name}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [SENTINELLE, *args], cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        self.processes[name] = proc
        return proc

    def serve(self, name: str) -> None:
        port = self.ports[name] = free_port()
        self.start(name, "serve", "--port", str(port))

    def dispatch(self, name: str) -> None:
        self.start(name, "dispatch", "--no-migrate", "--worker-id", name)

    def base(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def wait_healthy(self, names: list[str], timeout_s: float = 40.0) -> None:
        deadline = time.monotonic() + timeout_s
        pending = set(names)
        while pending and time.monotonic() < deadline:
            for name in list(pending):
                proc = self.processes[name]
                if proc.poll() is not None:
                    raise AssertionError(f"{name} exited with {proc.returncode}: {self.log(name)}")
                try:
                    if httpx.get(f"{self.base(name)}/api/v1/health", timeout=1).status_code == 200:
                        pending.discard(name)
                except httpx.HTTPError:
                    pass
            time.sleep(0.2)
        assert not pending, f"{pending} not healthy: {[self.log(n) for n in pending]}"

    def log(self, name: str) -> str:
        path = Path(self.env["SENTINELLE_VAR_DIR"]) / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def kill(self, name: str) -> None:
        proc = self.processes[name]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def stop_all(self) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.processes.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextmanager
def fresh_database() -> Iterator[str]:
    """A fresh database next to the test one, migrated; dropped afterwards."""
    base = make_url(os.environ[PG_ENV])
    name = f"sentinelle_mp_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        engine = create_engine(base.render_as_string(hide_password=False), pooled=False)
        try:
            async with engine.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text(sql))
        finally:
            await engine.dispose()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)

    async def migrate() -> None:
        engine = create_engine(url, pooled=False)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    try:
        asyncio.run(migrate())
        yield url
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def make_tokens(url: str) -> tuple[str, str]:
    engine = create_engine(url, pooled=False)
    from incidents.db import Database

    db = Database(engine)
    now = datetime.now(UTC)
    try:
        async with db.transaction() as session:
            org = await accounts.create_organisation(session, "ONG multi-processus", now=now)
            _, _, officer = await accounts.create_user_with_token(
                session, org, role=Role.OFFICER, now=now, name="officer"
            )
            platform = await accounts.create_organisation(session, "Plateforme", now=now)
            _, _, operator = await accounts.create_user_with_token(
                session, platform, role=Role.OPERATOR, now=now, name="operator"
            )
        return officer, operator
    finally:
        await engine.dispose()


async def run_query(url: str, fn: Any) -> Any:
    engine = create_engine(url, pooled=False)
    try:
        async with engine.connect() as conn:
            return await fn(conn)
    finally:
        await engine.dispose()


def query(url: str, fn: Any) -> Any:
    return asyncio.run(run_query(url, fn))


async def fetch_all(conn: Any, stmt: Any) -> list[Any]:
    return list((await conn.execute(stmt)).all())


async def fetch_scalar(conn: Any, stmt: Any) -> Any:
    return (await conn.execute(stmt)).scalar()
