"""The officer's held-SMS page publishes at a place imported with `sentinelle places import`,
as the API does (not only the packaged gazetteer)."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from api.cli.main import main as _cli  # noqa: F401  (registers `places import`)
from api.cli.zones import import_places
from api.http.app import create_app
from api.settings import Settings
from geo.gazetteer import IMPORTED_PLACES_FILE
from incidents.db import Database
from tests.factories import Factory
from tests.http.test_intake_sms import STRANGER, URL, intake_secret, sms
from tests.http.test_web_vocabulary import sign_in
from tests.unit.test_sms_imported_places import HEADER, row

IMPORTED = HEADER + row("Kolonkoro", "ML059999002", -3.10, 13.30)


@pytest.fixture(name="app")
def fx_app(settings: Settings, db: Database, tmp_path: Path) -> Litestar:
    cod = tmp_path / "cod.csv"
    cod.write_text(IMPORTED, encoding="utf-8")
    import_places(cod, settings.var_path / IMPORTED_PLACES_FILE)
    return create_app(settings, db=db)


async def test_a_held_sms_is_published_at_an_imported_place(
    client: AsyncTestClient[Litestar], factory: Factory, db: Database
) -> None:
    officer = await factory.caller("officer")
    secret = await intake_secret(db, officer.org_id)
    held = await client.post(URL, json=sms(STRANGER, "vol ce matin"), params={"secret": secret})
    held_id = held.json()["held_id"]
    csrf = await sign_in(client, officer, "/web/officer/held")

    sent = await client.post(
        f"/web/officer/held/{held_id}/publish",
        data={"csrf": csrf, "type": "theft", "place": "Kolonkoro"},
        follow_redirects=False,
    )

    assert sent.status_code in (200, 303), sent.text
    listed = await client.get("/api/v1/incidents", headers=officer.headers)
    (feature,) = listed.json()["features"]
    assert feature["geometry"]["coordinates"] == pytest.approx([-3.10, 13.30])
