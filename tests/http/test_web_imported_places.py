"""The report and route-check pages read the same place names as the API: the packaged
gazetteer and the places imported with `sentinelle places import` (built once in bootstrap)."""

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
from tests.http.test_web_vocabulary import sign_in
from tests.unit.test_sms_imported_places import HEADER, row

# Invented places (not the COD's), far from any packaged place of a similar name.
IMPORTED = HEADER + row("Kolonkoro", "ML059999002", -3.10, 13.30)


@pytest.fixture(name="app")
def fx_app(settings: Settings, db: Database, tmp_path: Path) -> Litestar:
    cod = tmp_path / "cod.csv"
    cod.write_text(IMPORTED, encoding="utf-8")
    import_places(cod, settings.var_path / IMPORTED_PLACES_FILE)
    return create_app(settings, db=db)


async def test_an_imported_place_is_suggested_and_reported_from_the_page(
    client: AsyncTestClient[Litestar], factory: Factory
) -> None:
    reporter = await factory.caller("reporter")
    csrf = await sign_in(client, reporter, "/web/report")
    suggested = await client.get("/web/places?q=Kolon")
    assert {"name": "Kolonkoro", "region": "Mopti"} in suggested.json()["places"]
    sent = await client.post(
        "/web/report",
        data={"csrf": csrf, "type": "theft", "when": "today", "place": "Kolonkoro"},
        follow_redirects=False,
    )
    assert sent.status_code == 303, sent.text
    listed = await client.get("/api/v1/incidents", headers=reporter.headers)
    (feature,) = listed.json()["features"]
    assert feature["geometry"]["coordinates"] == pytest.approx([-3.10, 13.30])
    assert feature["properties"]["place_name"] == "Kolonkoro"


async def test_the_route_check_finds_an_imported_place(
    client: AsyncTestClient[Litestar], factory: Factory
) -> None:
    planner = await factory.caller("planner")
    await sign_in(client, planner, "/web/route")
    page = await client.get("/web/route?place=Mopti&place=Kolonkoro&go=1")
    assert page.status_code == 200, page.text
    assert "Kolonkoro" in page.text
    assert "Lieu inconnu" not in page.text
