"""How a zone name matches a search (incidents.zones.store.name_score, check_query)."""

from __future__ import annotations

import pytest

from geo.gazetteer import normalize_name
from incidents.errors import InvalidField
from incidents.zones.store import LOCATE_CUTOFF, ZONE_NAME_CUTOFF, check_query, name_score


@pytest.mark.parametrize(
    ("query", "names", "at_least", "below"),
    [
        ("Ménaka", ["Ménaka (20 km)", "Menaka (20 km)", "town_menaka"], 100, None),
        ("MENAKA", ["Ménaka"], 100, None),
        ("Ménakka", ["Ménaka"], ZONE_NAME_CUTOFF, None),
        ("Nioro", ["Nioro du Sahel (20 km)"], LOCATE_CUTOFF, None),
        ("Liptako", ["Liptako-Gourma (trois frontières, 150 km)"], LOCATE_CUTOFF, None),
        ("km", ["Ménaka (20 km)"], None, ZONE_NAME_CUTOFF),
        ("Gao", ["Kayes (20 km)"], None, ZONE_NAME_CUTOFF),
        ("Tombouctouu xyz", ["Tombouctou (20 km)"], None, LOCATE_CUTOFF),
    ],
)
def test_name_score(
    query: str, names: list[str], at_least: float | None, below: float | None
) -> None:
    score = name_score(normalize_name(query), names)
    if at_least is not None:
        assert score >= at_least
    if below is not None:
        assert score < below


@pytest.mark.parametrize("query", ["", "   ", "x" * 101])
def test_check_query_refuses_naming_the_field(query: str) -> None:
    with pytest.raises(InvalidField) as caught:
        check_query(query, "zone")
    assert caught.value.field == "zone"


def test_check_query_trims() -> None:
    assert check_query("  Gao ") == "Gao"
