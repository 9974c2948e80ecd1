"""`sentinelle doctor`: each check OK, WARN or FAIL with what to fix, and a non-zero exit on
FAIL — configuration, keys (present, readable, decrypting what is stored), database and
schema, dispatcher heartbeat, channel reachability, disk space."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text

from alerts.delivery import heartbeat
from api.checks import FAIL, OK, WARN, Check, Schema, configuration_checks, disk_check, doctor
from api.settings import Settings
from incidents.db import Database
from tests.factories import Factory, incident_payload

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-c", "from api.cli.main import main; main()"]


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


async def beat(db: Database) -> None:
    async with db.transaction() as session:
        await heartbeat.beat(session, "dispatch-test", datetime.now(UTC))


async def report_narrative(client: AsyncTestClient[Litestar], factory: Factory) -> None:
    reporter = await factory.caller("reporter")
    body = incident_payload(description="Témoin : un chauffeur de l'ONG")
    response = await client.post("/api/v1/incidents", json=body, headers=reporter.headers)
    assert response.status_code == 201, response.text


async def test_a_healthy_deployment_has_no_failure(
    client: AsyncTestClient[Litestar], factory: Factory, db: Database, settings: Settings
) -> None:
    await report_narrative(client, factory)
    await beat(db)
    checks = by_name(await doctor(db, settings, datetime.now(UTC)))
    assert not [c for c in checks.values() if c.status == FAIL], checks
    assert checks["keys"].status == OK
    assert "decrypts stored narratives" in checks["keys"].detail
    assert checks["database"].status == OK
    assert checks["migrations"].status == OK
    assert checks["dispatcher"].status == OK
    assert checks["var_dir disk"].status in (OK, WARN)
    # The generated key is the only copy: doctor says to keep one elsewhere.
    assert checks["keys backup"].status == WARN
    assert "--with-keys" in checks["keys backup"].fix


async def test_keys_that_do_not_decrypt_what_is_stored_fail(
    client: AsyncTestClient[Litestar], factory: Factory, db: Database, settings: Settings
) -> None:
    await report_narrative(client, factory)
    other = replace(settings, secret_keys=Fernet.generate_key().decode())
    keys = by_name(await doctor(db, other, datetime.now(UTC)))["keys"]
    assert keys.status == FAIL
    assert "does not decrypt" in keys.detail
    assert "SENTINELLE_SECRET_KEYS" in keys.fix
    assert other.secret_keys not in keys.detail + keys.fix  # never the key itself


async def test_no_key_while_narratives_are_encrypted_fails(
    client: AsyncTestClient[Litestar],
    factory: Factory,
    db: Database,
    settings: Settings,
    tmp_path: Path,
) -> None:
    await report_narrative(client, factory)
    elsewhere = replace(settings, var_dir=str(tmp_path / "empty-var"))
    keys = by_name(await doctor(db, elsewhere, datetime.now(UTC)))["keys"]
    assert keys.status == FAIL
    assert "holds encrypted narratives" in keys.detail
    assert not (tmp_path / "empty-var" / "secret.key").exists()  # doctor generates nothing


async def test_a_key_that_is_not_a_fernet_key_fails(db: Database, settings: Settings) -> None:
    keys = by_name(await doctor(db, replace(settings, secret_keys="hunter2"), datetime.now(UTC)))
    assert keys["keys"].status == FAIL
    assert "not a Fernet key" in keys["keys"].detail
    assert "hunter2" not in keys["keys"].detail


async def test_a_key_file_others_can_read_warns(
    app: Litestar, db: Database, settings: Settings
) -> None:
    key = Path(settings.var_dir) / "secret.key"
    key.chmod(0o644)
    checks = by_name(await doctor(db, settings, datetime.now(UTC)))
    assert checks["key file"].status == WARN
    assert checks["key file"].fix == f"chmod 600 {key}"


async def test_schema_behind_fails_and_says_to_migrate(db: Database, settings: Settings) -> None:
    async with db.transaction() as session:
        await session.execute(text("UPDATE alembic_version SET version_num = '0014'"))
    try:
        checks = by_name(await doctor(db, settings, datetime.now(UTC)))
    finally:
        async with db.transaction() as session:
            await session.execute(
                text("UPDATE alembic_version SET version_num = :h"), {"h": Schema.load().head}
            )
    assert checks["migrations"].status == FAIL
    assert checks["migrations"].fix == "run `sentinelle db upgrade`"


async def test_no_dispatcher_warns_with_what_to_start(db: Database, settings: Settings) -> None:
    dispatcher = by_name(await doctor(db, settings, datetime.now(UTC)))["dispatcher"]
    assert dispatcher.status == WARN
    assert "never" in dispatcher.detail
    assert "sentinelle dispatch" in dispatcher.fix


async def test_an_unreachable_database_fails(settings: Settings, tmp_path: Path) -> None:
    from incidents.db import create_engine

    url = "postgresql+asyncpg://nobody@127.0.0.1:1/none"
    db = Database(create_engine(url, pooled=False))
    try:
        checks = by_name(await doctor(db, replace(settings, database_url=url), datetime.now(UTC)))
    finally:
        await db.dispose()
    assert checks["database"].status == FAIL
    assert "SENTINELLE_DATABASE_URL" in checks["database"].fix


@pytest.mark.parametrize(
    ("changes", "name", "status"),
    [
        ({}, "public_url", OK),
        ({"public_url": "ftp://example.org"}, "public_url", FAIL),
        ({"host": "0.0.0.0"}, "public_url", WARN),  # links in alerts only this machine opens
        ({"public_url": "http://sentinelle.example.org"}, "public_url", WARN),
        ({"public_url": "https://sentinelle.example.org"}, "public_url", OK),
        ({"cors_origins": ("*",)}, "cors", FAIL),
        ({"cors_origins": ("https://app.example.org/path",)}, "cors", FAIL),
        ({"cors_origins": ("http://app.example.org",)}, "cors", WARN),
        ({"cors_origins": ("https://app.example.org",)}, "cors", OK),
        ({"ready_heartbeat_seconds": 0.5}, "ready_heartbeat", WARN),
    ],
)
def test_configuration(changes: dict[str, Any], name: str, status: str) -> None:
    checks = by_name(configuration_checks(replace(Settings(), **changes)))
    assert checks[name].status == status
    if status != OK:
        assert checks[name].fix


def test_channel_hosts_are_classified() -> None:
    from api.checks import channel_checks

    checks = by_name(
        channel_checks(Settings(channel_allow_hosts="127.0.0.1:8025,10.0.0.5,smtp.lan"))
    )
    assert checks["channel hosts"].status == OK
    assert "127.0.0.1:8025 (loopback)" in checks["channel hosts"].detail
    assert "10.0.0.5 (private)" in checks["channel hosts"].detail
    public = by_name(channel_checks(Settings(channel_allow_hosts="8.8.8.8")))["channel hosts"]
    assert public.status == WARN
    assert "mailto://" in by_name(channel_checks(Settings()))["channel schemes"].detail


def test_low_disk_space(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def usage(free: int) -> Any:
        return lambda _path: shutil._ntuple_diskusage(100_000_000_000, 0, free)  # type: ignore[attr-defined]

    monkeypatch.setattr(shutil, "disk_usage", usage(50_000_000))
    assert disk_check("var_dir disk", tmp_path).status == FAIL
    monkeypatch.setattr(shutil, "disk_usage", usage(500_000_000))
    assert disk_check("var_dir disk", tmp_path).status == WARN
    monkeypatch.setattr(shutil, "disk_usage", usage(50_000_000_000))
    assert disk_check("var_dir disk", tmp_path / "not-yet-made").status == OK


async def run_doctor(settings: Settings, **extra: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINELLE_")}
    env.update(
        SENTINELLE_DATABASE_URL=settings.database_url, SENTINELLE_VAR_DIR=settings.var_dir, **extra
    )
    proc = await asyncio.create_subprocess_exec(
        *CLI,
        "doctor",
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode()


async def test_the_command_prints_a_table_and_exits_1_on_failure(
    client: AsyncTestClient[Litestar], factory: Factory, db: Database, settings: Settings
) -> None:
    await report_narrative(client, factory)
    await beat(db)
    code, out = await run_doctor(settings)
    assert code == 0, out
    assert "OK" in out
    assert "decrypts stored" in out
    code, out = await run_doctor(settings, SENTINELLE_SECRET_KEYS=Fernet.generate_key().decode())
    assert code == 1, out
    assert "FAIL" in out
    assert "check(s) failed" in out


async def test_settings_the_services_refuse_fail_with_the_variable(
    db: Database, settings: Settings
) -> None:
    bad = replace(settings, mask_time_unit="month", sms_reply_segments=3)
    check = by_name(await doctor(db, bad, datetime.now(UTC)))["settings"]
    assert check.status == FAIL
    assert "SENTINELLE_MASK_TIME_UNIT" in check.detail
    too_many = replace(settings, sms_reply_segments=9)
    check = by_name(await doctor(db, too_many, datetime.now(UTC)))["settings"]
    assert check.status == FAIL
    assert "SENTINELLE_SMS_REPLY_SEGMENTS" in check.detail
    assert by_name(await doctor(db, settings, datetime.now(UTC)))["settings"].status == OK
