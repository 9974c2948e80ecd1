"""The `sentinelle` command on a fresh SQLite file: migrate, organisations, tokens, demo data."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from litestar.testing import TestClient
from sqlalchemy import func, select

from api.cli.main import main
from api.http.app import create_app
from api.settings import Settings
from incidents.db import Database, create_engine
from incidents.records.demo import DEMO_ORGANISATION
from incidents.records.tables import ApiTokenRow, IncidentRow, OrganisationRow
from tests.factories import incident_payload


@pytest.fixture(name="database_url")
def fx_database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'var' / 'sentinelle.db'}"


@pytest.fixture(name="cli")
def fx_cli(database_url: str, tmp_path: Path) -> CliRunner:
    return CliRunner(
        env={"SENTINELLE_DATABASE_URL": database_url, "SENTINELLE_VAR_DIR": str(tmp_path / "var")}
    )


def invoke(cli: CliRunner, *args: str) -> Result:
    return cli.invoke(main, list(args), catch_exceptions=False)


def api(database_url: str, tmp_path: Path) -> TestClient:
    settings = Settings(
        database_url=database_url,
        var_dir=str(tmp_path / "var"),
        token_cache_seconds=0,
        dispatch_in_process=False,
    )
    return TestClient(app=create_app(settings))


def scalar(database_url: str, statement: object) -> object:
    async def go() -> object:
        db = Database(create_engine(database_url))
        try:
            async with db.read() as session:
                return await session.scalar(statement)  # type: ignore[call-overload]
        finally:
            await db.dispose()

    return asyncio.run(go())


def new_org(cli: CliRunner, name: str = "Association Tassaght") -> str:
    result = invoke(cli, "admin", "create-org", name)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def test_db_upgrade_makes_the_database(cli: CliRunner, tmp_path: Path) -> None:
    result = invoke(cli, "db", "upgrade")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "var" / "sentinelle.db").is_file()
    assert result.stdout == ""
    assert invoke(cli, "db", "upgrade").exit_code == 0


def test_create_org_prints_only_its_id(cli: CliRunner, database_url: str) -> None:
    result = invoke(cli, "admin", "create-org", "AMSS Gao")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    org_id = uuid.UUID(lines[0])
    assert scalar(
        database_url, select(OrganisationRow.name).where(OrganisationRow.id == org_id)
    ) == ("AMSS Gao")


def test_an_organisation_name_is_taken_once(cli: CliRunner) -> None:
    new_org(cli, "AMSS")
    again = invoke(cli, "admin", "create-org", "AMSS")
    assert again.exit_code != 0
    assert "AMSS" in again.stderr
    assert again.stdout == ""


def test_create_token_prints_only_a_working_token(
    cli: CliRunner, database_url: str, tmp_path: Path
) -> None:
    org_id = new_org(cli)
    result = invoke(
        cli,
        "admin",
        "create-token",
        "--org",
        org_id,
        "--role",
        "reporter",
        "--name",
        "focal point Ménaka",
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    token = lines[0]
    assert token.startswith("stl_")
    assert token == token.strip()
    with api(database_url, tmp_path) as client:
        response = client.post(
            "/api/v1/incidents",
            json=incident_payload(),
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 201, response.text
        assert response.json()["properties"]["organisation_id"] == org_id
    stored = scalar(
        database_url,
        select(func.count()).select_from(ApiTokenRow).where(ApiTokenRow.token_hash == token),
    )
    assert stored == 0


@pytest.mark.parametrize("org", [str(uuid.UUID(int=7)), "not-a-uuid"])
def test_create_token_for_an_unknown_org_fails_clearly(cli: CliRunner, org: str) -> None:
    invoke(cli, "db", "upgrade")
    result = invoke(cli, "admin", "create-token", "--org", org, "--role", "reporter")
    assert result.exit_code != 0
    assert result.stdout == ""
    assert "create-org" in result.stderr
    assert "Traceback" not in result.output


def test_create_token_refuses_an_unknown_role(cli: CliRunner) -> None:
    org_id = new_org(cli)
    result = invoke(cli, "admin", "create-token", "--org", org_id, "--role", "boss")
    assert result.exit_code != 0
    assert result.stdout == ""


def test_create_token_makes_no_operator_inside_an_organisation(cli: CliRunner) -> None:
    """An operator token in any organisation would bypass the platform organisation's rules."""
    org_id = new_org(cli)
    result = invoke(cli, "admin", "create-token", "--org", org_id, "--role", "operator")
    assert result.exit_code != 0
    assert result.stdout == ""
    phone = invoke(
        cli, "intake", "register-phone", "+22370000001", "--org", org_id, "--role", "operator"
    )
    assert phone.exit_code != 0


def test_revoke_token_locks_it_out(cli: CliRunner, database_url: str, tmp_path: Path) -> None:
    org_id = new_org(cli)
    token = invoke(
        cli, "admin", "create-token", "--org", org_id, "--role", "officer"
    ).stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}
    with api(database_url, tmp_path) as client:
        assert client.get("/api/v1/incidents", headers=headers).status_code == 200
        revoked = invoke(cli, "admin", "revoke-token", token)
        assert revoked.exit_code == 0, revoked.output
        assert client.get("/api/v1/incidents", headers=headers).status_code == 401
    again = invoke(cli, "admin", "revoke-token", token)
    assert again.exit_code != 0
    assert "revoked" in again.stderr


def test_create_operator_prints_a_token_that_runs_the_platform(
    cli: CliRunner, database_url: str, tmp_path: Path
) -> None:
    first = invoke(cli, "admin", "create-operator", "--name", "Ops Bamako")
    assert first.exit_code == 0, first.output
    [token] = first.stdout.splitlines()
    assert token.startswith("stl_")
    second = invoke(cli, "admin", "create-operator")
    assert second.exit_code == 0, second.output
    platforms = select(func.count(func.distinct(OrganisationRow.id))).where(
        OrganisationRow.name == "Plateforme Sentinelle"
    )
    assert scalar(database_url, platforms) == 1
    headers = {"Authorization": f"Bearer {token}"}
    with api(database_url, tmp_path) as client:
        made = client.post("/api/v1/organisations", json={"name": "AMSS"}, headers=headers)
        assert made.status_code == 201, made.text
        org_id = made.json()["id"]
        assert org_id in {
            o["id"] for o in client.get("/api/v1/organisations", headers=headers).json()
        }
        admin = client.post(
            "/api/v1/tokens", json={"org_id": org_id, "role": "admin"}, headers=headers
        )
        assert admin.status_code == 201, admin.text
        admin_headers = {"Authorization": f"Bearer {admin.json()['token']}"}
        # An organisation's admin neither creates nor deletes organisations.
        assert (
            client.post(
                "/api/v1/organisations", json={"name": "Autre"}, headers=admin_headers
            ).status_code
            == 403
        )
        assert client.delete("/api/v1/organisations/me", headers=admin_headers).status_code == 403
        deleted = invoke(cli, "admin", "delete-org", org_id, "--yes")
        assert deleted.exit_code == 0, deleted.output
        assert client.get("/api/v1/incidents", headers=admin_headers).status_code == 401
    again = invoke(cli, "admin", "delete-org", org_id, "--yes")
    assert again.exit_code != 0
    assert "Traceback" not in again.output


def test_demo_loads_labelled_synthetic_data_once(
    cli: CliRunner, database_url: str, tmp_path: Path
) -> None:
    first = invoke(cli, "demo", "--count", "40")
    assert first.exit_code == 0, first.output
    assert "DEMO" in first.stderr
    demo_rows = select(func.count()).select_from(IncidentRow).where(IncidentRow.is_demo.is_(True))
    assert scalar(database_url, demo_rows) == 40
    assert "DEMO" in DEMO_ORGANISATION
    owners = select(func.count(func.distinct(IncidentRow.org_id)))
    assert scalar(database_url, owners) == 1
    demo_org = scalar(
        database_url, select(OrganisationRow.id).where(OrganisationRow.name == DEMO_ORGANISATION)
    )
    assert demo_org is not None
    assert (
        scalar(
            database_url,
            select(func.count()).select_from(IncidentRow).where(IncidentRow.org_id != demo_org),
        )
        == 0
    )

    second = invoke(cli, "demo", "--count", "40")
    assert second.exit_code == 0, second.output
    assert scalar(database_url, select(func.count()).select_from(IncidentRow)) == 40

    token = invoke(cli, "admin", "create-token", "--org", str(demo_org), "--role", "planner").stdout
    with api(database_url, tmp_path) as client:
        page = client.get(
            "/api/v1/incidents",
            params={"limit": 500},
            headers={"Authorization": f"Bearer {token.strip()}"},
        ).json()
    assert len(page["features"]) == 40
    assert all(f["properties"]["demo"] is True for f in page["features"])
    assert all("DEMO" in f["properties"]["description"].upper() for f in page["features"])


def test_reported_incidents_are_not_demo(cli: CliRunner, database_url: str, tmp_path: Path) -> None:
    org_id = new_org(cli)
    token = invoke(
        cli, "admin", "create-token", "--org", org_id, "--role", "reporter"
    ).stdout.strip()
    with api(database_url, tmp_path) as client:
        created = client.post(
            "/api/v1/incidents",
            json=incident_payload(),
            headers={"Authorization": f"Bearer {token}"},
        )
    assert created.status_code == 201
    assert created.json()["properties"].get("demo", False) is False


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "sentinelle"
    if not script.exists():
        pytest.skip("the `sentinelle` console script is not installed in this environment")
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    for command in ("serve", "db", "admin", "demo"):
        assert command in done.stdout
