"""The mission planning page and the subscriptions page read the same place names as the API:
the packaged gazetteer and the places imported with `sentinelle places import`."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.cli.main import main as _cli  # noqa: F401  (registers `places import`)
from api.cli.zones import import_places
from api.web.account import build_subscription
from api.web.missions import build_mission
from geo.gazetteer import Gazetteer
from tests.unit.test_sms_imported_places import HEADER, row

# Invented places (not the COD's), far from any packaged place of a similar name.
IMPORTED = HEADER + row("Kolonkoro", "ML059999002", -3.10, 13.30)


@pytest.fixture(name="places")
def fx_places(tmp_path: Path) -> Gazetteer:
    cod = tmp_path / "cod.csv"
    cod.write_text(IMPORTED, encoding="utf-8")
    import_places(cod, tmp_path / "places.csv")
    return Gazetteer.load(tmp_path / "places.csv")


MISSION = {
    "title": "Mopti - Kolonkoro, distribution",
    "departure": "2026-12-10 07:00",
    "arrival": "2026-12-10 15:00",
    "route": "Mopti, Kolonkoro",
}


def test_a_mission_route_through_an_imported_place(places: Gazetteer) -> None:
    _, errors, _ = build_mission(dict(MISSION), set(), "fr", places)
    assert "route" not in errors, errors
    _, without, _ = build_mission(dict(MISSION), set(), "fr")
    assert "Kolonkoro" in without["route"]  # the packaged list alone does not know it


def test_a_subscription_around_an_imported_place(places: Gazetteer) -> None:
    values = {"area_kind": "circle", "place": "Kolonkoro", "radius_km": "20", "name": "K"}
    body, errors = build_subscription(values, [], "fr", "json://127.0.0.1:9/a", False, None, places)
    assert "place" not in errors, errors
    assert body is not None
    assert "-3.1" in str(body["area"])
    _, without = build_subscription(values, [], "fr", "json://127.0.0.1:9/a", False)
    assert "place" in without
