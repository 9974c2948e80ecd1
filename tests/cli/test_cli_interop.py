"""`sentinelle incidents import|export` and `sentinelle intake`: reports, idempotency, updates."""

from __future__ import annotations

import asyncio
import csv
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from api.cli.main import main
from incidents.db import Database, create_engine
from incidents.records.tables import IncidentRow, UserRow

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ACLED_HEADER = (
    "data_id,iso,event_id_cnty,event_id_no_cnty,event_date,year,time_precision,event_type,"
    "sub_event_type,actor1,assoc_actor_1,inter1,interaction,region,country,admin1,admin2,admin3,"
    "location,latitude,longitude,geo_precision,source,source_scale,notes,fatalities,timestamp,iso3"
)
# Invented events in ACLED's layout (the real export is never copied into the repository).
abduction_near_diema = (
    '1,466,MLI9001,9001,"31 December 2020",2020,1,"Violence against civilians",'
    '"Abduction/forced disappearance","JNIM: Group for Support of Islam and Muslims",,2,27,'
    '"Western Africa",Mali,Kayes,Dièma,Dièma,Dièma,14.5400,-9.1921,1,"Source",Local,'
    '"Invented: two aid workers abducted near Dièma.",{killed},1622068036,MLI'
)
abduction_second_actor = (
    '1,466,MLI9001,9001,"31 December 2020",2020,1,"Violence against civilians",'
    '"Abduction/forced disappearance","Civilians (Mali)",,7,27,"Western Africa",Mali,Kayes,'
    'Dièma,Dièma,Dièma,14.5400,-9.1921,1,"Source",Local,"Invented: other notes",5,1622068036,MLI'
)
clash_at_menaka = (
    '2,466,MLI9002,9002,2020-12-30,2020,2,"Battles","Armed clash",'
    '"Military Forces of Mali (2013-2020)",,1,12,"Western Africa",Mali,Menaka,Menaka,Menaka,'
    'Menaka,15.9180,2.4022,2,"Source",National,"Invented: clash, 12 killed.",12,1622068036,MLI'
)
undated_clash = (
    '5,466,MLI9005,9005,"not a date",2019,1,"Battles","Armed clash",x,,2,2,"W",Mali,Gao,Gao,'
    'Gao,Gao,16.27,-0.04,1,s,s,"Invented.",0,1,MLI'
)


@pytest.fixture(name="env")
def fx_env(tmp_path: Path) -> dict[str, str]:
    return {
        "SENTINELLE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
        "SENTINELLE_VAR_DIR": str(tmp_path / "var"),
        "SENTINELLE_DISPATCH_IN_PROCESS": "false",
    }


def invoke(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


@pytest.fixture(name="org")
def fx_org(env: dict[str, str]) -> str:
    result = invoke(env, "admin", "create-org", "CSO Kayes")
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def write_acled(path: Path, *rows: str) -> Path:
    path.write_text("\n".join([ACLED_HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def stored(env: dict[str, str]) -> list[IncidentRow]:
    async def go() -> list[IncidentRow]:
        db = Database(create_engine(env["SENTINELLE_DATABASE_URL"], pooled=False))
        try:
            async with db.read() as session:
                rows = await session.scalars(select(IncidentRow).order_by(IncidentRow.external_id))
                return list(rows.all())
        finally:
            await db.dispose()

    return asyncio.run(go())


def test_acled_import_accounts_for_every_row_and_is_idempotent(
    env: dict[str, str], org: str, tmp_path: Path
) -> None:
    path = write_acled(
        tmp_path / "acled.csv",
        abduction_near_diema.format(killed=0),
        abduction_second_actor,
        clash_at_menaka,
        undated_clash,
    )

    first = invoke(env, "incidents", "import", str(path), "--org", org)
    again = invoke(env, "incidents", "import", str(path), "--org", org)

    assert first.exit_code == 0, first.output
    assert "created 2, updated 0, unchanged 0, duplicates 1, rejected 1" in first.stderr
    assert "rejected row 5 [event_date]" in first.stderr
    assert "created 0, updated 0, unchanged 2, duplicates 1, rejected 1" in again.stderr
    rows = stored(env)
    assert [r.external_id for r in rows] == ["acled:MLI9001", "acled:MLI9002"]
    assert {r.sharing_level for r in rows} == {"green"}


def test_acled_reimport_updates_a_changed_event_instead_of_duplicating(
    env: dict[str, str], org: str, tmp_path: Path
) -> None:
    invoke(
        env,
        "incidents",
        "import",
        str(
            write_acled(tmp_path / "a.csv", abduction_near_diema.format(killed=0), clash_at_menaka)
        ),
        "--org",
        org,
    )

    revised = write_acled(
        tmp_path / "b.csv", abduction_near_diema.format(killed=3), clash_at_menaka
    )
    result = invoke(env, "incidents", "import", str(revised), "--org", org)

    assert "created 0, updated 1, unchanged 1" in result.stderr
    diema = stored(env)[0]
    assert (diema.killed, diema.version) == (3, 2)
    assert len(stored(env)) == 2


def test_events_acled_deleted_are_retracted(env: dict[str, str], org: str, tmp_path: Path) -> None:
    path = write_acled(tmp_path / "a.csv", abduction_near_diema.format(killed=0), clash_at_menaka)
    deleted = tmp_path / "deleted.csv"
    deleted.write_text("event_id_cnty,deleted_timestamp\nMLI9002,1622068036\n", encoding="utf-8")

    result = invoke(env, "incidents", "import", str(path), "--org", org, "--deleted", str(deleted))

    assert "Deleted by ACLED, now retracted: 1." in result.stderr
    statuses = {r.external_id: r.status for r in stored(env)}
    assert statuses == {"acled:MLI9001": "reported", "acled:MLI9002": "retracted"}


def test_a_bad_header_imports_nothing(env: dict[str, str], org: str, tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_text("kind,when,where\nkidnapping,2024-03-01,Gao\n", encoding="utf-8")

    result = invoke(env, "incidents", "import", str(path), "--org", org, "--format", "csv")

    assert result.exit_code == 2
    assert "Nothing was imported" in result.stderr
    assert "type" in result.stderr
    assert stored(env) == []


def test_hxl_fixture_is_detected_and_imported_once(env: dict[str, str], org: str) -> None:
    path = FIXTURES / "incidents_hxl.csv"

    first = invoke(env, "incidents", "import", str(path), "--org", org)
    again = invoke(env, "incidents", "import", str(path), "--org", org)

    assert first.exit_code == 0, first.output
    created = len(stored(env))
    assert created > 0
    assert f"created {created}," in first.stderr
    assert "created 0," in again.stderr
    assert len(stored(env)) == created


@pytest.mark.parametrize("fmt", ["geojson", "csv", "hxl"])
def test_export_then_import_into_another_organisation_round_trips(
    env: dict[str, str], org: str, tmp_path: Path, fmt: str
) -> None:
    invoke(
        env,
        "incidents",
        "import",
        str(
            write_acled(tmp_path / "a.csv", abduction_near_diema.format(killed=2), clash_at_menaka)
        ),
        "--org",
        org,
    )
    out = tmp_path / f"export.{fmt}"

    exported = invoke(env, "incidents", "export", "--format", fmt, "--output", str(out))
    other = invoke(env, "admin", "create-org", "CSO Gao").stdout.strip()
    imported = invoke(env, "incidents", "import", str(out), "--org", other)

    assert "Exported 2 incidents" in exported.stderr
    assert imported.exit_code == 0, imported.output
    assert "created 2," in imported.stderr
    by_org: dict[str, list[tuple[str, int]]] = {}
    for row in stored(env):
        by_org.setdefault(str(row.org_id), []).append((row.type, row.killed))
    assert sorted(by_org[other]) == sorted(by_org[org])


def test_export_to_standard_output_streams_geojson(
    env: dict[str, str], org: str, tmp_path: Path
) -> None:
    invoke(
        env,
        "incidents",
        "import",
        str(write_acled(tmp_path / "a.csv", clash_at_menaka)),
        "--org",
        org,
    )

    result = invoke(env, "incidents", "export", "--org", org)

    document: dict[str, Any] = json.loads(result.stdout)
    assert [f["properties"]["external_id"] for f in document["features"]] == ["acled:MLI9002"]


def test_hxl_export_has_the_hashtag_row(env: dict[str, str], org: str, tmp_path: Path) -> None:
    invoke(
        env,
        "incidents",
        "import",
        str(write_acled(tmp_path / "a.csv", clash_at_menaka)),
        "--org",
        org,
    )

    result = invoke(env, "incidents", "export", "--format", "hxl")

    rows = list(csv.reader(result.stdout.splitlines()))
    assert rows[1][:3] == ["#meta+id", "#meta+id+external", "#event+type"]
    assert rows[2][1] == "acled:MLI9002"


def test_set_secret_prints_a_new_secret_each_time(env: dict[str, str], org: str) -> None:
    first = invoke(env, "intake", "set-secret", "--org", org)
    second = invoke(env, "intake", "set-secret", "--org", org)

    assert first.stdout.strip().startswith("sik_")
    assert first.stdout.strip() != second.stdout.strip()


def test_register_phone_creates_a_reporter_and_refuses_a_second_owner(
    env: dict[str, str], org: str
) -> None:
    made = invoke(env, "intake", "register-phone", "76 12 34 56", "--org", org)
    twice = invoke(env, "intake", "register-phone", "+22376123456", "--org", org)

    assert made.exit_code == 0, made.output
    assert twice.exit_code == 2
    assert "already registered" in twice.stderr

    async def phones() -> list[tuple[str | None, str]]:
        db = Database(create_engine(env["SENTINELLE_DATABASE_URL"], pooled=False))
        try:
            async with db.read() as session:
                return [(u.phone, u.role) for u in (await session.scalars(select(UserRow))).all()]
        finally:
            await db.dispose()

    assert asyncio.run(phones()) == [("+22376123456", "reporter")]


def test_imported_narratives_are_encrypted_at_rest_and_exported_readable(
    env: dict[str, str], org: str, tmp_path: Path
) -> None:
    """The import, re-import (update) and export commands pass the service's cipher themselves:
    no module-wide key any more, so a command that forgot it would store or print clear text."""
    source = write_acled(tmp_path / "a.csv", abduction_near_diema.format(killed=2))
    assert invoke(env, "incidents", "import", str(source), "--org", org).exit_code == 0
    changed = write_acled(tmp_path / "b.csv", abduction_second_actor)
    assert invoke(env, "incidents", "import", str(changed), "--org", org).exit_code == 0
    [row] = stored(env)
    assert row.description is not None
    assert row.description.startswith("fernet:")
    assert "Invented" not in row.description
    out = tmp_path / "export.csv"
    assert (
        invoke(env, "incidents", "export", "--format", "csv", "--output", str(out)).exit_code == 0
    )
    text = out.read_text(encoding="utf-8")
    assert "Invented: other notes" in text
    assert "fernet:" not in text
