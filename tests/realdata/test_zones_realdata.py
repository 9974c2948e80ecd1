"""Real data: COD-AB régions imported by the CLI; ACLED events checked against their admin1."""

from __future__ import annotations

import asyncio
import csv
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from api.cli.main import main
from incidents.db import Database, create_engine
from incidents.interop.acled import acled_to_incidents
from incidents.interop.importer import import_rows
from incidents.records.events import WriteEvents
from incidents.records.tables import IncidentRow
from incidents.zones.store import ZoneAssignment, ZoneCache
from incidents.zones.tables import IncidentZoneRow, ZoneRow

pytestmark = pytest.mark.realdata


def plain(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return folded.strip().lower()


async def load_events_and_regions(url: str, acled: Path) -> dict[str, str]:
    """Store the ACLED events (points only) and return event id -> région zone name."""
    db = Database(create_engine(url))
    try:
        from incidents.identity.accounts import create_organisation

        async with db.transaction() as session:
            org = await create_organisation(session, "ACLED check", now=datetime.now(UTC))
        with acled.open("rb") as fh:
            report = await import_rows(
                db,
                acled_to_incidents(fh),
                org_id=org,
                user_id=None,
                now=datetime.now(UTC),
                events=WriteEvents(placement=ZoneAssignment(ZoneCache())),
            )
        assert report.created > 3000, report.rejected[:5]
        async with db.read() as session:
            rows = (
                await session.execute(
                    select(IncidentRow.external_id, ZoneRow.name_fr)
                    .join(IncidentZoneRow, IncidentZoneRow.incident_id == IncidentRow.id)
                    .join(ZoneRow, ZoneRow.id == IncidentZoneRow.zone_id)
                    .where(ZoneRow.kind == "admin1")
                )
            ).all()
        return {str(ext).removeprefix("acled:"): name for ext, name in rows}
    finally:
        await db.dispose()


def test_acled_events_fall_in_their_own_region(shared_data: Path, tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'real.db'}"
    env = {"SENTINELLE_DATABASE_URL": url, "SENTINELLE_VAR_DIR": str(tmp_path / "var")}
    runner = CliRunner()
    imported = runner.invoke(
        main,
        ["zones", "import", str(shared_data / "mli_admbnda_adm1_1m_gov_20211220.geojson")],
        env=env,
    )
    assert imported.exit_code == 0, imported.output
    assert "10 added" in imported.output

    acled = shared_data / "acled_mali_2017-2020.csv"
    region_of = asyncio.run(load_events_and_regions(url, acled))
    admin1: dict[str, str] = {}
    with acled.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            admin1.setdefault(row["event_id_cnty"], row["admin1"])
    assert len(admin1) == 3314
    same = sum(
        1 for event, name in admin1.items() if plain(region_of.get(event, "")) == plain(name)
    )
    assert same / len(admin1) >= 0.99, f"{same} of {len(admin1)} events in their own région"

    shown = runner.invoke(main, ["risk", "show", "--kind", "admin1"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "Mopti" in shown.output
