"""Default Mali zones and GeoJSON (OCHA COD-AB) zone import."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest
import shapely

from geo.gazetteer import Gazetteer
from geo.geometry import GeometryError
from geo.index import ZoneIndex
from geo.measure import geodesic_area_km2, geodesic_length_km
from geo.zones import (
    BORDER_MARGIN_KM,
    Zone,
    default_zones,
    detect_cod_fields,
    mali_outline,
    zones_from_geojson,
)

BELT_CODES = {"border_mrt", "border_dza", "border_ner", "border_bfa", "liptako_gourma"}


@pytest.fixture(name="zones", scope="module")
def fx_zones() -> list[Zone]:
    return default_zones()


@pytest.fixture(name="index", scope="module")
def fx_index(zones: list[Zone]) -> ZoneIndex:
    return ZoneIndex([(z.code, z.geometry) for z in zones])


def _place(name: str) -> shapely.Point:
    loc = Gazetteer.load().lookup(name)
    assert loc is not None, name
    return shapely.Point(loc.lon, loc.lat)


def test_default_zone_codes_and_kinds(zones: list[Zone]) -> None:
    codes = {z.code for z in zones}
    assert {"mli", *BELT_CODES} <= codes
    towns = {
        "kidal", "menaka", "gao", "tombouctou", "mopti", "bandiagara", "douentza", "segou",
        "kayes", "diema", "nioro", "nara", "tessalit", "ansongo", "bamako",
    }  # fmt: skip
    assert {f"town_{t}" for t in towns} <= codes
    assert len(codes) == len(zones)
    for z in zones:
        assert z.approximate
        assert z.provenance
        assert z.geometry.is_valid
        assert z.geometry.geom_type in ("Polygon", "MultiPolygon")
        assert z.kind in ("country", "border_belt", "town")
        assert (z.parent_code is None) == (z.kind == "country")
        assert z.name_fr
        assert z.name_en


def test_mali_area_is_close_to_official(zones: list[Zone]) -> None:
    assert geodesic_area_km2(mali_outline()) == pytest.approx(1_240_192, rel=0.015)
    # The country zone is the outline widened by the border margin: its perimeter times 3 km.
    mali = next(z for z in zones if z.code == "mli")
    perimeter_km = geodesic_length_km(shapely.boundary(mali_outline()))
    widened = geodesic_area_km2(mali.geometry) - geodesic_area_km2(mali_outline())
    assert widened == pytest.approx(perimeter_km * BORDER_MARGIN_KM, rel=0.05)


def test_belts_lie_inside_mali(zones: list[Zone]) -> None:
    mali = next(z for z in zones if z.code == "mli").geometry
    for z in zones:
        if z.kind == "border_belt":
            assert shapely.area(shapely.difference(z.geometry, mali)) < 1e-9, z.code


@pytest.mark.parametrize(
    ("place", "expected", "absent"),
    [
        ("Diéma", {"mli", "border_mrt", "town_diema"}, set()),
        ("Ménaka", {"mli", "town_menaka"}, {"border_mrt"}),
        ("Kayes", {"border_mrt", "town_kayes"}, set()),
        ("Séfeto", {"border_mrt"}, set()),
        ("Nioro du Sahel", {"border_mrt", "town_nioro"}, set()),
        ("Bamako", {"mli", "town_bamako"}, BELT_CODES),
        ("Kidal", {"town_kidal"}, {"border_mrt", "border_ner", "border_bfa"}),
        ("Tessalit", {"border_dza", "town_tessalit"}, set()),
        ("Mopti", {"town_mopti"}, BELT_CODES),
    ],
)
def test_places_fall_in_expected_zones(
    index: ZoneIndex, place: str, expected: set[str], absent: set[str]
) -> None:
    found = set(index.zones_for(_place(place)))
    assert expected <= found, found
    assert not (absent & found), found


def test_liptako_gourma_covers_the_tri_border_towns(index: ZoneIndex) -> None:
    # Ansongo (~100 km from the tripoint) is in; Gao (~150+ km) is not at 100 km width.
    assert "liptako_gourma" in index.zones_for(_place("Ansongo"))
    narrow = default_zones(tri_border_km=60.0)
    liptako = next(z for z in narrow if z.code == "liptako_gourma").geometry
    assert not liptako.covers(_place("Gao"))


def test_widths_are_configurable() -> None:
    narrow = {z.code: z for z in default_zones(mauritania_belt_km=50.0, town_radius_km=5.0)}
    assert not narrow["border_mrt"].geometry.covers(_place("Diéma"))
    assert geodesic_area_km2(narrow["town_gao"].geometry) == pytest.approx(math.pi * 25, rel=0.01)


def test_town_zone_is_a_20_km_circle(zones: list[Zone]) -> None:
    gao = next(z for z in zones if z.code == "town_gao")
    assert geodesic_area_km2(gao.geometry) == pytest.approx(math.pi * 20**2, rel=0.01)


def test_default_zones_returns_independent_copies() -> None:
    first = default_zones()
    first[0].name_fr = "changed"
    assert default_zones()[0].name_fr == "Mali"


def test_invalid_widths_are_rejected() -> None:
    with pytest.raises(ValueError, match="town_radius_km"):
        default_zones(town_radius_km=0)


# --- import -----------------------------------------------------------------------------------


def _square(x: float, y: float) -> dict[str, Any]:
    return {
        "type": "Polygon",
        "coordinates": [[[x, y], [x + 1, y], [x + 1, y + 1], [x, y + 1], [x, y]]],
    }


cod_adm2_collection = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {
                "ADM2_FR": "Kayes",
                "ADM2_PCODE": "ML0105",
                "ADM1_FR": "Kayes",
                "ADM1_PCODE": "ML01",
                "ADM0_FR": "Mali",
                "ADM0_PCODE": "ML",
                "validOn": "2021-12-20",
            },
            "geometry": _square(-12.0, 14.0),
        },
        {
            "type": "Feature",
            "properties": {
                "ADM2_FR": "Ménaka",
                "ADM2_PCODE": "ML1001",
                "ADM1_FR": "Menaka",
                "ADM1_PCODE": "ML10",
                "ADM0_FR": "Mali",
                "ADM0_PCODE": "ML",
            },
            # Bow-tie: must be repaired, not rejected.
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[2, 15], [3, 16], [3, 15], [2, 16], [2, 15]]],
            },
        },
    ],
}


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        (
            {"ADM2_FR": "a", "ADM2_PCODE": "b", "ADM1_PCODE": "c"},
            ("ADM2_FR", "ADM2_PCODE", "admin2"),
        ),
        (
            {"ADM1_EN": "a", "ADM1_PCODE": "b", "ADM0_EN": "Mali"},
            ("ADM1_EN", "ADM1_PCODE", "admin1"),
        ),
        ({"adm0_fr": "Mali", "adm0_pcode": "ML"}, ("adm0_fr", "adm0_pcode", "country")),
        (
            {"ADM2_EN": "a", "ADM2_FR": "b", "ADM2_PCODE": "c"},
            ("ADM2_FR", "ADM2_PCODE", "admin2"),
        ),
    ],
)
def test_detect_cod_fields(props: dict[str, str], expected: tuple[str, str, str]) -> None:
    assert detect_cod_fields(props) == expected


def test_detect_cod_fields_without_cod_properties() -> None:
    with pytest.raises(GeometryError, match="name_field and code_field") as err:
        detect_cod_fields({"name": "x", "id": 3})
    assert err.value.field == "features[0].properties"


def test_zones_from_cod_geojson() -> None:
    zones, report = zones_from_geojson(cod_adm2_collection)
    assert [z.code for z in zones] == ["ml0105", "ml1001"]
    kayes, menaka = zones
    assert kayes.kind == "admin2"
    assert kayes.parent_code == "ml01"
    assert kayes.name_fr == "Kayes"
    assert not kayes.approximate
    assert "2021-12-20" in kayes.provenance
    assert menaka.geometry.is_valid
    assert menaka.name_fr == "Ménaka"
    assert len(report) == 1
    assert report[0].startswith("Ménaka (ML1001): was invalid")


def test_zones_from_geojson_with_explicit_fields() -> None:
    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"nom": "Zone A", "id": "A-1"},
                "geometry": _square(0, 15),
            }
        ],
    }
    zones, report = zones_from_geojson(fc, name_field="nom", code_field="id")
    assert zones[0].code == "a_1"
    assert zones[0].kind == "custom"
    assert zones[0].parent_code is None
    assert report == []


def _with(path: list[Any], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(cod_adm2_collection)
    target: Any = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return doc


@pytest.mark.parametrize(
    ("doc", "field", "words"),
    [
        ({"type": "Feature"}, "type", "FeatureCollection"),
        ({"type": "FeatureCollection", "features": []}, "features", "no features"),
        (
            _with(["features", 1, "geometry"], {"type": "Point", "coordinates": [2, 15]}),
            "features[1].geometry",
            "Polygon or MultiPolygon",
        ),
        (
            _with(["features", 1, "properties", "ADM2_PCODE"], "ML0105"),
            "features[1].properties.ADM2_PCODE",
            "duplicate",
        ),
        (
            _with(["features", 0, "properties", "ADM2_FR"], ""),
            "features[0].properties.ADM2_FR",
            "missing zone name",
        ),
        (
            _with(["features", 1, "geometry", "coordinates", 0, 4], [2.0, 17.0]),
            "features[1].geometry.coordinates[0]",
            "not closed",
        ),
    ],
)
def test_zones_from_geojson_rejections(doc: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(GeometryError) as err:
        zones_from_geojson(doc)
    assert err.value.field == field
    assert words in err.value.message
