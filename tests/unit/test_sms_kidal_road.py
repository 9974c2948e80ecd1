"""`on Kidal Tessalit road` is the road from Kidal to Tessalit, not the village "Kal Tessalit"
that the OCHA COD places (imported) hold a near spelling of."""

from __future__ import annotations

from datetime import UTC, datetime

from geo.gazetteer import Gazetteer
from incidents.intake.sms import parse_sms
from tests.unit.sms_gazetteers import fx_cod_gazetteer

__all__ = ["fx_cod_gazetteer"]
NOW = datetime(2026, 11, 14, 9, 40, tzinfo=UTC)
TEXT = "kidnapping of our driver on Kidal Tessalit road last night"  # corpus t057


def test_kidal_tessalit_road_with_the_cod_places_imported(cod_gazetteer: Gazetteer) -> None:
    parsed = parse_sms(TEXT, now=NOW, gazetteer=cod_gazetteer)
    assert parsed.road == ("Kidal", "Tessalit")
    assert parsed.incident["place_name"] == "Kidal - Tessalit"


def test_kidal_tessalit_road_with_the_packaged_gazetteer() -> None:
    parsed = parse_sms(TEXT, now=NOW)
    assert parsed.road == ("Kidal", "Tessalit")
