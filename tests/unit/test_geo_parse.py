"""Free-text locations as field reporters write them."""

from __future__ import annotations

import pytest

from geo import MALI_SERVICE_AREA
from geo.measure import geodesic_distance_km
from geo.parse import LocationParseError, parse_location

diema = (-9.19210, 14.54000)  # lon, lat (GeoNames)
bamako = (-7.97522, 12.60915)
# 14°32'15"N 9°11'30"W written out by hand: 14 + 32/60 + 15/3600, -(9 + 11/60 + 30/3600).
DMS_LAT, DMS_LON = 14.5375, -9.191666666666666
# MGRS of Bamako at 1 m precision (zone 29P, square PP); verified to land within metres of
# GeoNames' Bamako by the test below.
bamako_mgrs = "29PPP 11305 94131"


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        ("14.54, -9.1921", "decimal"),
        ("14.54 -9.1921", "decimal"),
        ("14.54;-9.1921", "decimal"),
        ("  +14.54 ,  -9.1921 ", "decimal"),
        ("POINT (-9.1921 14.54)", "wkt"),
        ("point(-9.1921 14.54)", "wkt"),
        ('{"type": "Point", "coordinates": [-9.1921, 14.54]}', "geojson"),
        (
            '{"type": "Feature", "geometry": {"type": "Point", "coordinates": [-9.1921, 14.54]}}',
            "geojson",
        ),
    ],
)
def test_simple_forms_give_diema(text: str, fmt: str) -> None:
    geom, detected = parse_location(text)
    assert detected == fmt
    assert (geom.x, geom.y) == pytest.approx(diema)


@pytest.mark.parametrize(
    "text",
    [
        "14°32'15\"N 9°11'30\"W",
        "14°32′15″N 9°11′30″W",
        "N 14°32'15\" W 9°11'30\"",
        "14 32 15 N 9 11 30 O",
        "9°11'30\"W 14°32'15\"N",
        "14d32m15sN 9d11m30sW".replace("s", '"'),
    ],
)
def test_degrees_minutes_seconds(text: str) -> None:
    geom, fmt = parse_location(text)
    assert fmt == "dms"
    assert (geom.y, geom.x) == pytest.approx((DMS_LAT, DMS_LON))


@pytest.mark.parametrize(
    ("text", "lat", "lon", "fmt"),
    [
        ("14°32'N 9°11'W", 14 + 32 / 60, -(9 + 11 / 60), "dms"),
        ("N14 32.5 W9 11.2", 14 + 32.5 / 60, -(9 + 11.2 / 60), "ddm"),
        ("N14°32.5' W009°11.2'", 14 + 32.5 / 60, -(9 + 11.2 / 60), "ddm"),
        ("16.27167N 0.04472W", 16.27167, -0.04472, "dms"),
        ("S 1 30 E 10 15", -1.5, 10.25, "dms"),
    ],
)
def test_degree_minute_forms(text: str, lat: float, lon: float, fmt: str) -> None:
    geom, detected = parse_location(text)
    assert detected == fmt
    assert (geom.y, geom.x) == pytest.approx((lat, lon))


@pytest.mark.parametrize("text", [bamako_mgrs, "29PPP1130594131", "29p pp 1130 9413"])
def test_mgrs_of_bamako(text: str) -> None:
    geom, fmt = parse_location(text)
    assert fmt == "mgrs"
    assert float(geodesic_distance_km(geom.x, geom.y, *bamako)) < 0.15


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "empty location"),
        ("Diéma", "not a recognised location"),
        ("14.54", "N/S or E/W"),
        ("95.0, -9.19", "look swapped"),
        ("14.54, -190.5", "-180..180"),
        ("14°32'N", "both a latitude"),
        ("14°32'N 15°11'N", "latitude given twice"),
        ("14°72'N 9°11'W", "below 60"),
        ("14 32 N 9 11", "N/S or E/W"),
        ("POINT (-9.19", "not valid WKT"),
        ('{"type": "Point"', "not valid JSON"),
        ('{"type": "Point", "coordinates": [-190, 14]}', "-180..180"),
        ("29PPP11309", "same number of digits"),
    ],
)
def test_rejections_explain_and_list_forms(text: str, words: str) -> None:
    with pytest.raises(LocationParseError) as err:
        parse_location(text)
    assert words in str(err.value)
    assert err.value.field == "location"
    assert "Accepted forms" in str(err.value)
    assert "MGRS" in str(err.value)


def test_swapped_decimal_caught_with_service_area() -> None:
    # Longitude first: valid numbers, but the point would be in the Gulf of Guinea.
    assert parse_location("-9.1921, 14.54")[0].y == -9.1921
    with pytest.raises(LocationParseError, match=r"\[lat, lon\]"):
        parse_location("-9.1921, 14.54", service_area=MALI_SERVICE_AREA)


def test_field_name_is_carried() -> None:
    with pytest.raises(LocationParseError) as err:
        parse_location("nowhere", field="incident.location")
    assert err.value.field == "incident.location"
    assert str(err.value).startswith("incident.location:")
