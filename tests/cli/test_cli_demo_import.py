"""`sentinelle demo` says demo incidents do not count unless in demo mode, `--remove` deletes them
and what hangs on them; an import says how many of its events are older than the risk window."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from litestar.testing import TestClient
from sqlalchemy import bindparam, func, inspect, select, text

from api.http.app import create_app
from api.settings import Settings
from incidents.db import Database, create_engine
from incidents.records.demo import DEMO_ORGANISATION
from incidents.records.tables import IncidentRow, OrganisationRow
from incidents.sharing.tables import AuditRow
from tests.cli.test_cli_interop import ACLED_HEADER, abduction_near_diema, clash_at_menaka, invoke
from tests.factories import MENAKA, incident_payload


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "SENTINELLE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
        "SENTINELLE_VAR_DIR": str(tmp_path / "var"),
        "SENTINELLE_DISPATCH_IN_PROCESS": "false",
        **extra,
    }


def query(env: dict[str, str], statement: Any) -> list[Any]:
    async def go() -> list[Any]:
        db = Database(create_engine(env["SENTINELLE_DATABASE_URL"], pooled=False))
        try:
            async with db.read() as session:
                return list((await session.execute(statement)).all())
        finally:
            await db.dispose()

    return asyncio.run(go())


def tables_naming_incidents(env: dict[str, str]) -> list[str]:
    async def go() -> list[str]:
        db = Database(create_engine(env["SENTINELLE_DATABASE_URL"], pooled=False))
        try:
            async with db.read() as session:

                def names(sync: Any) -> list[str]:
                    inspector = inspect(sync.connection())
                    return [
                        t
                        for t in inspector.get_table_names()
                        if t != "incident_changes"
                        and any(c["name"] == "incident_id" for c in inspector.get_columns(t))
                    ]

                return await session.run_sync(names)
        finally:
            await db.dispose()

    return asyncio.run(go())


def api(env: dict[str, str]) -> TestClient:
    settings = Settings(
        database_url=env["SENTINELLE_DATABASE_URL"],
        var_dir=env["SENTINELLE_VAR_DIR"],
        token_cache_seconds=0,
        dispatch_in_process=False,
    )
    return TestClient(app=create_app(settings))


def test_demo_says_it_does_not_count_and_remove_deletes_it_all(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    org = invoke(env, "admin", "create-org", "AMSS Ménaka").stdout.strip()
    token = invoke(env, "admin", "create-token", "--org", org, "--role", "officer").stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}
    with api(env) as client:
        real = client.post(
            "/api/v1/incidents", json=incident_payload(at=MENAKA, type="theft"), headers=headers
        )
        assert real.status_code == 201, real.text
        before = client.get("/api/v1/zones/town_menaka/risk", headers=headers).json()

    loaded = invoke(env, "demo", "--count", "120")
    assert loaded.exit_code == 0, loaded.output
    assert "do not count in risk levels" in loaded.stderr
    assert "SENTINELLE_DEMO_MODE=1" in loaded.stderr
    assert "sentinelle demo --remove" in loaded.stderr
    demo_ids = [r[0] for r in query(env, select(IncidentRow.id).where(IncidentRow.is_demo))]
    assert len(demo_ids) == 120
    with api(env) as client:
        # The demo put dozens of incidents around Ménaka: none of them moves its risk.
        during = client.get("/api/v1/zones/town_menaka/risk", headers=headers).json()
        listed = client.get("/api/v1/incidents", params={"limit": 500}, headers=headers).json()
    assert during["score"] == before["score"]
    assert sum(f["properties"].get("demo") is True for f in listed["features"]) == 120

    removed = invoke(env, "demo", "--remove")
    assert removed.exit_code == 0, removed.output
    assert "Removing demo incidents: 120/120" in removed.stderr
    assert "Demo data removed: 120 synthetic incidents deleted." in removed.stderr
    assert query(env, select(func.count()).select_from(IncidentRow).where(IncidentRow.is_demo)) == [
        (0,)
    ]
    # Nothing anywhere still names a demo incident (zone links, alerts, sharing, missions...).
    hexes = [i.hex for i in demo_ids]
    for table in tables_naming_incidents(env):
        left = query(
            env,
            text(
                f"SELECT count(*) FROM {table} WHERE replace(incident_id, '-', '') IN :ids"
            ).bindparams(bindparam("ids", value=hexes, expanding=True)),
        )
        assert left == [(0,)], table
    [(real_id,)] = query(env, select(IncidentRow.id))
    assert str(real_id) == real.json()["id"]
    audited = query(env, select(AuditRow.details).where(AuditRow.action == "demo.removed"))
    assert [d["count"] for (d,) in audited] == [120]
    assert query(env, select(OrganisationRow.id).where(OrganisationRow.name == DEMO_ORGANISATION))
    again = invoke(env, "demo", "--remove")
    assert "No demo incident to remove." in again.stderr


def test_demo_mode_says_demo_incidents_count(tmp_path: Path) -> None:
    loaded = invoke(env_for(tmp_path, SENTINELLE_DEMO_MODE="1"), "demo", "--count", "5")
    assert loaded.exit_code == 0, loaded.output
    assert "they count in risk levels as if they were real" in loaded.stderr


def test_import_says_how_many_events_are_older_than_the_risk_window(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    org = invoke(env, "admin", "create-org", "CSO Kayes").stdout.strip()
    today = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%d")
    recent = clash_at_menaka.replace("MLI9002,9002,2020-12-30", f"MLI9003,9003,{today}")
    path = tmp_path / "acled.csv"
    lines = [ACLED_HEADER, abduction_near_diema.format(killed=0), clash_at_menaka, recent]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = invoke(env, "incidents", "import", str(path), "--org", org)

    assert result.exit_code == 0, result.output
    assert "created 3" in result.stderr
    assert (
        "2 events are older than the 730-day risk window: stored, shown in history, "
        "not counted in today's levels." in result.stderr
    )
    again = invoke(env, "incidents", "import", str(path), "--org", org)
    assert "2 events are older than the 730-day risk window" in again.stderr
    wide = invoke(
        env_for(tmp_path, SENTINELLE_RISK_WINDOW_DAYS="3000"),
        "incidents",
        "import",
        str(path),
        "--org",
        org,
    )
    assert "older than" not in wide.stderr


def test_risk_show_says_no_data_for_zones_nobody_reported_from(tmp_path: Path) -> None:
    env = env_for(tmp_path, COLUMNS="200")
    org = invoke(env, "admin", "create-org", "CSO Kidal").stdout.strip()
    token = invoke(env, "admin", "create-token", "--org", org, "--role", "reporter").stdout.strip()
    with api(env) as client:
        made = client.post(
            "/api/v1/incidents",
            json=incident_payload(at=MENAKA),
            headers={"Authorization": f"Bearer {token}"},
        )
        assert made.status_code == 201, made.text
    shown = invoke(env, "risk", "show")
    assert shown.exit_code == 0, shown.output
    lines = {line.split()[1]: line for line in shown.output.splitlines() if "town_" in line}
    assert "pas de données / no data" in lines["town_kidal"]
    assert "faible" not in lines["town_kidal"]
    assert "pas de données" not in lines["town_menaka"]
