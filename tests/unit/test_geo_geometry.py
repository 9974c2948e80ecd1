"""Validation, repair and conversion of user-supplied GeoJSON geometries."""

from __future__ import annotations

from typing import Any

import pytest
import shapely

from geo import MALI_SERVICE_AREA
from geo.geometry import (
    GeometryError,
    bbox,
    from_wkb,
    parse_geojson_geometry,
    point_from_lat_lon,
    repair_polygon,
    to_geojson,
    to_wkb,
)

point_in_kidal = {"type": "Point", "coordinates": [1.40921, 18.44345]}
point_in_bamako = {"type": "Point", "coordinates": [-7.97522, 12.60915]}
kidal_swapped = {"type": "Point", "coordinates": [18.44345, 1.40921]}
bamako_swapped = {"type": "Point", "coordinates": [12.60915, -7.97522]}
route_gao_menaka = {"type": "LineString", "coordinates": [[-0.0447, 16.2717], [2.3961, 15.9199]]}
square_near_mopti = {
    "type": "Polygon",
    "coordinates": [[[-4.3, 14.4], [-4.1, 14.4], [-4.1, 14.6], [-4.3, 14.6], [-4.3, 14.4]]],
}
bowtie_polygon = {
    "type": "Polygon",
    "coordinates": [[[-4.0, 14.0], [-3.0, 15.0], [-3.0, 14.0], [-4.0, 15.0], [-4.0, 14.0]]],
}
unclosed_ring = {
    "type": "Polygon",
    "coordinates": [[[-4.0, 14.0], [-3.0, 14.0], [-3.0, 15.0], [-4.0, 15.0]]],
}
two_points_multipoint = {"type": "MultiPoint", "coordinates": [[-4.0, 14.0], [-3.0, 15.0]]}
two_squares_multipolygon = {
    "type": "MultiPolygon",
    "coordinates": [
        [[[0, 15], [1, 15], [1, 16], [0, 16], [0, 15]]],
        [[[2, 15], [3, 15], [3, 16], [2, 16], [2, 15]]],
    ],
}


@pytest.mark.parametrize(
    ("obj", "geom_type"),
    [
        (point_in_kidal, "Point"),
        (route_gao_menaka, "LineString"),
        (square_near_mopti, "Polygon"),
        (two_points_multipoint, "MultiPoint"),
        ({"type": "MultiLineString", "coordinates": [[[0, 15], [1, 16]]]}, "MultiLineString"),
        (two_squares_multipolygon, "MultiPolygon"),
        ({"type": "Point", "coordinates": [1.4, 18.4, 459.0]}, "Point"),
    ],
)
def test_accepts_every_supported_type(obj: dict[str, Any], geom_type: str) -> None:
    geom = parse_geojson_geometry(obj)
    assert geom.geom_type == geom_type
    assert not shapely.has_z(geom)


def test_point_keeps_lon_lat_order() -> None:
    geom = parse_geojson_geometry(point_in_kidal, service_area=MALI_SERVICE_AREA)
    assert (geom.x, geom.y) == (1.40921, 18.44345)


@pytest.mark.parametrize(
    ("obj", "field", "words"),
    [
        ("POINT (1 2)", "geometry", "GeoJSON geometry object"),
        ({"coordinates": [1, 2]}, "geometry.type", "type must be one of"),
        ({"type": "Circle", "coordinates": [1, 2]}, "geometry.type", "type must be one of"),
        (
            {"type": "GeometryCollection", "geometries": []},
            "geometry.type",
            "GeometryCollection is not supported",
        ),
        ({"type": "Feature", "geometry": point_in_kidal}, "geometry.type", "got a Feature"),
        ({"type": "Point"}, "geometry.coordinates", "missing"),
        ({"type": "Point", "coordinates": ["1.4", 18.4]}, "geometry.coordinates[0]", "number"),
        ({"type": "Point", "coordinates": [True, 18.4]}, "geometry.coordinates[0]", "number"),
        ({"type": "Point", "coordinates": [1.4]}, "geometry.coordinates", "2 numbers"),
        ({"type": "Point", "coordinates": [200.0, 18.4]}, "geometry.coordinates[0]", "-180..180"),
        ({"type": "Point", "coordinates": [100.0, 95.0]}, "geometry.coordinates[1]", "-90..90"),
        ({"type": "LineString", "coordinates": []}, "geometry.coordinates", "empty geometry"),
        ({"type": "MultiPolygon", "coordinates": []}, "geometry.coordinates", "empty geometry"),
        ({"type": "LineString", "coordinates": [[0, 15]]}, "geometry.coordinates", "at least 2"),
        (unclosed_ring, "geometry.coordinates[0]", "not closed"),
        (
            {"type": "Polygon", "coordinates": [[[0, 15], [1, 15], [0, 15]]]},
            "geometry.coordinates[0]",
            "at least 4",
        ),
        (bowtie_polygon, "geometry.coordinates", "Self-intersection"),
        (
            {
                "type": "MultiLineString",
                "coordinates": [[[0, 15], [1, 15]], [[0, 15], [1, "x"]]],
            },
            "geometry.coordinates[1][1][1]",
            "number",
        ),
        (
            {"type": "Polygon", "coordinates": [[[0, 15], [1, 15], [1, 16], [0, 16], [120, 95]]]},
            "geometry.coordinates[0][4][1]",
            "-90..90",
        ),
    ],
)
def test_rejects_with_field_and_advice(obj: Any, field: str, words: str) -> None:
    with pytest.raises(GeometryError) as err:
        parse_geojson_geometry(obj)
    assert err.value.field == field
    assert words in err.value.message


def test_too_many_vertices_names_the_limit() -> None:
    line = {"type": "LineString", "coordinates": [[0.001 * i, 15.0] for i in range(50)]}
    with pytest.raises(GeometryError, match="simplify") as err:
        parse_geojson_geometry(line, max_vertices=49)
    assert err.value.field == "geometry.coordinates"
    assert parse_geojson_geometry(line, max_vertices=50).geom_type == "LineString"


def test_custom_field_prefix_is_used() -> None:
    with pytest.raises(GeometryError) as err:
        parse_geojson_geometry(unclosed_ring, field="area")
    assert err.value.field == "area.coordinates[0]"


def test_latitude_first_detected_when_second_value_cannot_be_a_latitude() -> None:
    # [14.45, 101.44]: 101.44 cannot be a latitude, but read as [lat, lon] it is a valid place.
    bad = {"type": "Point", "coordinates": [14.45, 101.44]}
    with pytest.raises(GeometryError, match=r"\[lat, lon\]; GeoJSON wants \[lon, lat\]") as err:
        parse_geojson_geometry(bad)
    assert err.value.field == "geometry.coordinates"


@pytest.mark.parametrize("swapped", [kidal_swapped, bamako_swapped])
def test_latitude_first_detected_with_service_area(swapped: dict[str, Any]) -> None:
    assert parse_geojson_geometry(swapped).is_valid  # plausible somewhere on Earth
    with pytest.raises(GeometryError, match=r"look like \[lat, lon\]") as err:
        parse_geojson_geometry(swapped, service_area=MALI_SERVICE_AREA)
    assert err.value.field == "geometry"


def test_far_away_geometry_is_not_called_swapped() -> None:
    paris = {"type": "Point", "coordinates": [2.35, 48.85]}
    assert parse_geojson_geometry(paris, service_area=MALI_SERVICE_AREA).x == 2.35


@pytest.mark.parametrize(
    ("lat", "lon", "field", "words"),
    [
        (95.0, 10.0, "lat", "look swapped"),
        (-120.0, 14.0, "lat", "look swapped"),
        (95.0, 120.0, "lat", "-90..90"),
        (14.0, 181.0, "lon", "-180..180"),
        ("nord", -8.0, "lat", "decimal number"),
        (14.0, None, "lon", "number"),
        (float("nan"), -8.0, "lat", "finite"),
        (-7.97522, 12.60915, "lat", "look swapped"),
    ],
)
def test_point_from_lat_lon_rejections(lat: Any, lon: Any, field: str, words: str) -> None:
    with pytest.raises(GeometryError) as err:
        point_from_lat_lon(lat, lon, service_area=MALI_SERVICE_AREA)
    assert err.value.field == field
    assert words in err.value.message


def test_point_from_lat_lon_accepts_numeric_strings() -> None:
    point = point_from_lat_lon("12,60915", " -7.97522 ", service_area=MALI_SERVICE_AREA)
    assert (point.x, point.y) == (-7.97522, 12.60915)


def test_repair_bowtie_reports_and_keeps_area() -> None:
    bowtie = shapely.from_geojson(
        '{"type":"Polygon","coordinates":[[[-4,14],[-3,15],[-3,14],[-4,15],[-4,14]]]}'
    )
    repaired, report = repair_polygon(bowtie)
    assert repaired.is_valid
    assert repaired.geom_type == "MultiPolygon"
    assert repaired.area == pytest.approx(0.5)
    assert any("Self-intersection" in line for line in report)


def test_repair_valid_polygon_is_untouched() -> None:
    square = parse_geojson_geometry(square_near_mopti)
    repaired, report = repair_polygon(square)
    assert repaired.equals(square)
    assert report == []


def test_repair_drops_collapsed_parts() -> None:
    spike = shapely.Polygon([(0, 15), (1, 15), (1, 16), (0, 16), (0, 15)])
    line = shapely.LineString([(5, 15), (6, 16)])
    repaired, report = repair_polygon(shapely.GeometryCollection([spike, line]))
    assert repaired.equals(spike)
    assert any("non-polygonal" in line for line in report)


@pytest.mark.parametrize(
    "geom",
    [
        shapely.Polygon([(0, 15), (1, 15), (2, 15), (0, 15)]),  # zero area
        shapely.LineString([(0, 15), (1, 16)]),
    ],
)
def test_repair_fails_when_nothing_polygonal_is_left(geom: shapely.Geometry) -> None:
    with pytest.raises(GeometryError) as err:
        repair_polygon(geom, field="features[3].geometry")
    assert err.value.field == "features[3].geometry"


def test_wkb_round_trip() -> None:
    geom = parse_geojson_geometry(two_squares_multipolygon)
    assert from_wkb(to_wkb(geom)).equals(geom)


def test_to_geojson_rounds_and_uses_lists() -> None:
    doc = to_geojson(shapely.Point(-7.975217904542157, 12.609154098710343))
    assert doc == {"type": "Point", "coordinates": [-7.975218, 12.609154]}
    poly = to_geojson(parse_geojson_geometry(square_near_mopti))
    assert isinstance(poly["coordinates"][0][0], list)
    assert parse_geojson_geometry(poly).equals(parse_geojson_geometry(square_near_mopti))


def test_bbox_is_lon_lat_order() -> None:
    assert bbox(parse_geojson_geometry(route_gao_menaka)) == (-0.0447, 15.9199, 2.3961, 16.2717)
