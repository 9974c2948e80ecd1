"""SMS intake reads places a deployment imported with `sentinelle places import`.

The service built by api.bootstrap (what `sentinelle serve` runs after a restart) gives SMS
intake the packaged gazetteer with the imported places: a village only the import knows is
placed, and its SMS spellings (`kouzaret` for Kouzarette) find it. The place file here is a small
made-up file in the OCHA COD format (invented coordinates), imported by the command's own code.
Through the real database (SQLite, and PostgreSQL when configured).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from api.bootstrap import build
from api.cli.main import main as _cli  # noqa: F401  (registers `places import`)
from api.cli.zones import import_places
from api.settings import Settings
from geo.gazetteer import IMPORTED_PLACES_FILE
from incidents.db import Database
from incidents.intake.service import create_phone_user, set_intake_secret
from incidents.records.model import Role
from incidents.records.tables import IncidentRow
from tests.factories import Factory

PHONE = "+22376123456"
HEADER = (
    '"featureNam","pcode","featureRef","featureAlt","featureA_1","popPlaceCl","popPlace_1",'
    '"admin0Name","admin0Pcod","admin1Name","admin1Pcod","admin2Name","admin2Pcod",'
    '"admin3Name","admin3Pcod","date","validOn","validTo","longitude","latitude"\n'
)


def row(name: str, pcode: str, lon: float, lat: float) -> str:
    return (
        f'"{name}","{pcode}","{name}",NA,NA,4,NA,"Mali","ML","Mopti","ML05","X","ML0599",'
        f'"X","ML059999","2015/02/02","2015/04/24",NA,{lon},{lat}\n'
    )


# Invented names and points (not the COD's): no packaged place has a similar name.
MADE_UP = (
    HEADER
    + row("Kouzarette", "ML059999001", -4.30, 14.70)
    + row("Kolonkoro", "ML059999002", -3.10, 13.30)
)


@pytest.mark.parametrize(
    ("text", "lat", "lon"),
    [
        ("IED a Kolonkoro ce matin, 2 morts", 13.30, -3.10),
        ("braquage a kouzaret ce matin", 14.70, -4.30),
    ],
)
async def test_an_sms_naming_an_imported_place_is_placed_there_after_a_restart(
    settings: Settings,
    db: Database,
    factory: Factory,
    tmp_path: Path,
    text: str,
    lat: float,
    lon: float,
) -> None:
    org_id = await factory.org()
    now = datetime.now(UTC).replace(microsecond=0)
    async with db.transaction() as session:
        secret = await set_intake_secret(session, org_id, now=now)
        await create_phone_user(session, org_id, PHONE, role=Role.REPORTER, now=now)
    cod = tmp_path / "cod.csv"
    cod.write_text(MADE_UP, encoding="utf-8")

    before = await build(settings, db).intake.receive_sms(
        secret, sender=PHONE, text=text, received_at=now, now=now
    )
    assert before.status == "held"  # type: ignore[attr-defined]
    assert before.missing == ["location"]  # type: ignore[attr-defined]

    import_places(cod, settings.var_path / IMPORTED_PLACES_FILE)
    later = now + timedelta(minutes=5)
    after = await build(settings, db).intake.receive_sms(
        secret, sender=PHONE, text=text, received_at=later, now=later
    )

    assert after.status == "created"  # type: ignore[attr-defined]
    async with db.read() as session:
        incident = await session.get(IncidentRow, after.incident_id)  # type: ignore[attr-defined]
    assert incident is not None
    assert (round(incident.lat, 4), round(incident.lon, 4)) == (lat, lon)
