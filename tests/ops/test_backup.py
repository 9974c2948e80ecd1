"""`sentinelle backup` and `restore` for real: a backup taken while ten clients report through a
live server restores, into a fresh database, every incident acknowledged (201) before it began,
with narratives that decrypt with the keys saved beside it; after a kill -9 of `sentinelle
serve` mid-load, a backup still holds every acknowledged report (the last ones live in the WAL,
which a copy of the .db file misses). SQLite always, PostgreSQL when configured."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import sqlite3
import stat
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from litestar import Litestar
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from api.backup import BackupError, backup, restore, schema_head
from api.migrations.runner import upgrade
from api.settings import Settings
from incidents.db import Database, create_engine
from incidents.records.tables import IncidentRow
from incidents.sharing.cipher import Cipher
from tests.factories import DIEMA, Caller, Factory, incident_payload
from tests.live import fx_http, fx_live_url

__all__ = ["fx_http", "fx_live_url"]  # the live-server fixtures used here

REPO = Path(__file__).resolve().parents[2]
# The CLI from the work tree (what `sentinelle` runs), so that the test needs no reinstall.
CLI = [sys.executable, "-c", "from api.cli.main import main; main()"]
URL = "/api/v1/incidents"
CLIENTS = 10


@dataclass
class Run:
    code: int
    out: str


def cli_env(database_url: str, var_dir: str | Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINELLE_")}
    env.update(SENTINELLE_DATABASE_URL=database_url, SENTINELLE_VAR_DIR=str(var_dir), **extra)
    return env


async def sentinelle(env: dict[str, str], *args: str) -> Run:
    """The command in its own process, while this test's loop keeps its clients going."""
    proc = await asyncio.create_subprocess_exec(
        *CLI,
        *args,
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    return Run(proc.returncode or 0, out.decode())


@dataclass
class Load:
    """Reporters posting distinct incidents (7.2 h apart: each its own event) as fast as the
    server answers; `acked` holds every 201 with its narrative."""

    http: httpx.AsyncClient
    reporters: list[Caller]
    acked: dict[uuid.UUID, str] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    counter: itertools.count[int] = field(default_factory=itertools.count)

    async def client(self, reporter: Caller) -> None:
        while not self.stop.is_set():
            i = next(self.counter)
            narrative = f"Récit confidentiel {i} — {uuid.uuid4()}"
            body = incident_payload(at=DIEMA, days_ago=0.5 + i * 0.3, description=narrative)
            response = await self.http.post(URL, json=body, headers=reporter.headers)
            if response.status_code != 201:
                self.refused.append(response.text)
                continue
            self.acked[uuid.UUID(response.json()["id"])] = narrative

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Load]:
        tasks = [asyncio.create_task(self.client(r)) for r in self.reporters]
        try:
            yield self
        finally:
            self.stop.set()
            await asyncio.gather(*tasks)

    async def until(self, count: int, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.acked) < count:
            assert time.monotonic() < deadline, f"only {len(self.acked)} reports in {timeout_s} s"
            assert not self.refused, self.refused[:3]
            await asyncio.sleep(0.02)


async def stored(database_url: str) -> dict[uuid.UUID, str | None]:
    engine = create_engine(database_url, pooled=False)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(select(IncidentRow.id, IncidentRow.description))).all()
        return {row.id: row.description for row in rows}
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def fresh_database(backend: str, database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of the same kind: a new SQLite file, or a new PostgreSQL database
    beside the configured one (`<name>_restore_<hex>`), dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / f'restored-{uuid.uuid4().hex[:6]}.db'}"
        return
    base = make_url(database_url)
    name = f"{base.database}_restore_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base.set(database="postgres").render_as_string(False), pooled=False)

    async def run(statement: str) -> None:
        async with admin.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(statement))

    await run(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        await run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.dispose()


def keys_of(path: Path) -> list[bytes]:
    return [k.encode() for k in path.read_text().strip().split(",")]


async def test_backup_under_load_restores_every_acknowledged_incident(
    http: httpx.AsyncClient,
    factory: Factory,
    settings: Settings,
    backend: str,
    tmp_path: Path,
) -> None:
    reporters = [await factory.caller("reporter") for _ in range(CLIENTS)]
    target = tmp_path / "sentinelle.backup"
    env = cli_env(settings.database_url, settings.var_dir)
    load = Load(http, reporters)
    async with load.running():
        await load.until(40)
        before = dict(load.acked)  # acknowledged before the backup began
        backup = await sentinelle(env, "backup", "--with-keys", str(target))
        during = len(load.acked) - len(before)
    after = dict(load.acked)
    assert not load.refused, load.refused[:3]
    assert backup.code == 0, backup.out
    assert during > 0, "the clients were not answered while the backup ran"
    assert "Backup written" in backup.out
    assert "100%" in backup.out  # progress shown
    keys_file = target.with_name(target.name + ".keys")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600

    # Into a fresh database on a server that has only the saved keys.
    async with fresh_database(backend, settings.database_url, tmp_path) as restored_url:
        restore_env = cli_env(
            restored_url, tmp_path / "other-var", SENTINELLE_SECRET_KEYS=keys_file.read_text()
        )
        restore = await sentinelle(restore_env, "restore", str(target))
        assert restore.code == 0, restore.out
        assert "at head" in restore.out
        assert "Keys OK" in restore.out
        restored = await stored(restored_url)

    missing = set(before) - set(restored)
    assert not missing, f"{len(missing)} acknowledged reports missing from the backup"
    assert set(restored) <= set(after), "the backup holds reports nobody was told were stored"
    cipher = Cipher(keys_of(keys_file))
    for incident_id, sealed in restored.items():
        assert sealed is not None
        assert sealed.startswith("fernet:")  # stored encrypted, in the backup as well
        assert cipher.open(sealed) == after[incident_id]

    # Once the load has stopped, a backup holds every acknowledged report.
    final = tmp_path / "final.backup"
    assert (await sentinelle(env, "backup", str(final))).code == 0
    async with fresh_database(backend, settings.database_url, tmp_path) as restored_url:
        restore_env = cli_env(restored_url, settings.var_dir)
        assert (await sentinelle(restore_env, "restore", str(final))).code == 0
        assert set(await stored(restored_url)) == set(after)


async def test_backup_refuses_to_overwrite_without_force(
    settings: Settings, factory: Factory, tmp_path: Path
) -> None:
    await factory.caller("reporter")
    target = tmp_path / "existing.backup"
    target.write_bytes(b"last week's backup")
    env = cli_env(settings.database_url, settings.var_dir)
    refused = await sentinelle(env, "backup", str(target))
    assert refused.code == 2
    assert "--force" in refused.out
    assert target.read_bytes() == b"last week's backup"
    replaced = await sentinelle(env, "backup", "--force", str(target))
    assert replaced.code == 0, replaced.out
    assert target.read_bytes() != b"last week's backup"
    left = await asyncio.to_thread(os.listdir, tmp_path)
    assert not [name for name in left if "partial" in name]  # no temporary file left behind


async def test_backup_says_the_keys_are_not_in_it(
    settings: Settings, app: Litestar, factory: Factory, tmp_path: Path
) -> None:
    """The key the server generated under var/ is named, and not copied without --with-keys."""
    await factory.caller("reporter")
    run = await sentinelle(
        cli_env(settings.database_url, settings.var_dir), "backup", str(tmp_path / "b")
    )
    assert run.code == 0, run.out
    assert "NOT in this backup" in run.out
    assert str(Path(settings.var_dir) / "secret.key") in run.out
    assert not (tmp_path / "b.keys").exists()


# The refusals below call the commands' functions in this process (the CLI above prints their
# message and exits 2): quicker, and the same code.


async def test_restore_refuses_a_database_that_is_not_empty(
    settings: Settings, factory: Factory, tmp_path: Path
) -> None:
    """The live database itself: refused, with how to empty one, and nothing changes."""
    await factory.caller("reporter")
    target = tmp_path / "b"
    await backup(settings, target)
    before = await stored(settings.database_url)
    with pytest.raises(BackupError, match="not empty") as refused:
        await restore(settings, target)
    assert "DROP SCHEMA" in str(refused.value) or "move" in str(refused.value)  # how to empty it
    assert await stored(settings.database_url) == before


async def test_restore_refuses_what_is_not_a_backup(
    settings: Settings, backend: str, tmp_path: Path
) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("not a backup")
    async with fresh_database(backend, settings.database_url, tmp_path) as url:
        with pytest.raises(BackupError, match="not a Sentinelle backup"):
            await restore(replace(settings, database_url=url), junk)
        assert await stored_tables(url) == 0


async def test_restore_refuses_a_backup_of_the_other_kind(
    settings: Settings, backend: str, factory: Factory, tmp_path: Path
) -> None:
    """A SQLite backup into PostgreSQL (or the reverse) is refused, saying which is which."""
    await factory.caller("reporter")
    target = tmp_path / "b"
    await backup(settings, target)
    other = (
        "postgresql+asyncpg://nobody@127.0.0.1:1/none"
        if backend == "sqlite"
        else f"sqlite+aiosqlite:///{tmp_path / 'new.db'}"
    )
    with pytest.raises(BackupError, match="restore it into a"):
        await restore(replace(settings, database_url=other), target)


async def test_restore_refuses_a_backup_from_a_newer_version(
    settings: Settings, backend: str, factory: Factory, db: Database, tmp_path: Path
) -> None:
    """Refused before anything is written: the fresh database stays empty."""
    await factory.caller("reporter")
    async with db.transaction() as session:
        await session.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    target = tmp_path / "b"
    try:
        await backup(settings, target)
    finally:
        async with db.transaction() as session:
            await session.execute(
                text("UPDATE alembic_version SET version_num = :h"), {"h": schema_head()}
            )
    async with fresh_database(backend, settings.database_url, tmp_path) as url:
        with pytest.raises(BackupError, match="newer version of Sentinelle"):
            await restore(replace(settings, database_url=url), target)
        assert await stored_tables(url) == 0


async def test_restore_warns_when_the_keys_here_cannot_read_it(
    settings: Settings, backend: str, http: httpx.AsyncClient, factory: Factory, tmp_path: Path
) -> None:
    reporter = await factory.caller("reporter")
    body = incident_payload(description="Nom du témoin: A. Maïga")
    assert (await http.post(URL, json=body, headers=reporter.headers)).status_code == 201
    target = tmp_path / "b"
    await backup(settings, target)
    async with fresh_database(backend, settings.database_url, tmp_path) as url:
        # A server with another key: the narratives are unreadable there.
        other_key = Fernet.generate_key().decode()
        elsewhere = replace(
            settings, database_url=url, var_dir=str(tmp_path / "v2"), secret_keys=other_key
        )
        result = await restore(elsewhere, target)
        assert result.keys_state == "wrong"
        said = " ".join(result.warnings)
        assert "do not decrypt the restored narratives" in said
        assert "A. Maïga" not in said
        assert other_key not in said
        # No key at all on that server: said too, and none is generated by the restore.
        async with fresh_database(backend, settings.database_url, tmp_path) as second:
            bare = replace(elsewhere, database_url=second, secret_keys="")
            result = await restore(bare, target)
        assert result.keys_state == "missing"
        assert "no encryption key on this server" in " ".join(result.warnings)
        assert not (tmp_path / "v2" / "secret.key").exists()


async def stored_tables(database_url: str) -> int:
    engine = create_engine(database_url, pooled=False)
    try:
        async with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                query = "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
            else:
                query = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
            return int(await conn.scalar(text(query)) or 0)
    finally:
        await engine.dispose()


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_kill_9_of_serve_mid_load_then_backup_loses_nothing_acknowledged(
    tmp_path: Path,
) -> None:
    """The issue's loss: `sentinelle serve` on SQLite killed with SIGKILL while ten clients
    report. The reports acknowledged last are in the WAL file; the backup holds all of them."""
    path = tmp_path / "sentinelle.db"
    url = f"sqlite+aiosqlite:///{path}"
    var = tmp_path / "var"
    engine = create_engine(url)
    await upgrade(engine)
    await engine.dispose()
    db = Database(create_engine(url, pooled=False))
    try:
        reporters = [await Factory(db).caller("reporter") for _ in range(CLIENTS)]
    finally:
        await db.dispose()
    port = free_port()
    env = cli_env(
        url,
        var,
        SENTINELLE_RATE_LIMIT_PER_MINUTE="100000",
        SENTINELLE_DISPATCH_IN_PROCESS="false",
        SENTINELLE_LOG_FORMAT="text",
    )
    log = (tmp_path / "serve.log").open("wb")
    server = await asyncio.create_subprocess_exec(
        *CLI, "serve", "--port", str(port), cwd=REPO, env=env, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            while True:
                assert server.returncode is None, (tmp_path / "serve.log").read_text()[-2000:]
                assert time.monotonic() < deadline, "sentinelle serve did not start"
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get("/api/v1/health")).status_code == 200:
                        break
                await asyncio.sleep(0.2)
            load = Load(http, reporters)
            tasks = [asyncio.create_task(_until_killed(load, r)) for r in reporters]
            await load.until(60)
            server.send_signal(signal.SIGKILL)
            await server.wait()
            load.stop.set()
            await asyncio.gather(*tasks)
            acked = dict(load.acked)
    finally:
        if server.returncode is None:
            server.kill()
            await server.wait()
        log.close()
    wal = path.with_name(path.name + "-wal")
    assert wal.exists()
    assert wal.stat().st_size > 0  # the last transactions are in the WAL, not yet in the .db

    target = tmp_path / "after-crash.backup"
    run = await sentinelle(cli_env(url, var), "backup", "--with-keys", str(target))
    assert run.code == 0, run.out
    conn = sqlite3.connect(target)
    try:
        rows = dict(conn.execute("SELECT id, description FROM incidents").fetchall())
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # one file
    finally:
        conn.close()
    in_backup = {uuid.UUID(str(k)): v for k, v in rows.items()}
    missing = set(acked) - set(in_backup)
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged reports lost"
    cipher = Cipher(keys_of(target.with_name(target.name + ".keys")))
    for incident_id, narrative in acked.items():
        assert cipher.open(in_backup[incident_id]) == narrative


async def _until_killed(load: Load, reporter: Caller) -> None:
    """A client that stops at the first request the dead server cannot answer (never
    acknowledged, so never counted)."""
    with contextlib.suppress(httpx.HTTPError):
        await load.client(reporter)


async def test_backup_into_a_missing_folder_says_so(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="does not exist; create it first"):
        await backup(settings, tmp_path / "no-such-folder" / "b.db")
