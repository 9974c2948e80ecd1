"""Geodesic and local-metric measures."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import shapely

from geo.measure import (
    bbox_around,
    buffer_km,
    cut_line_km,
    distance_to_line_km,
    geodesic_area_km2,
    geodesic_distance_km,
    geodesic_length_km,
)

gao = (-0.04472, 16.27167)
menaka = (2.39609, 15.91985)
bamako = (-7.97522, 12.60915)
# Straight-line Gao–Ménaka distance by the haversine formula on the mean Earth radius
# (6371.0088 km), computed independently of pyproj; the road is longer (~300 km).
GAO_MENAKA_KM = 263.68
route_gao_menaka = shapely.LineString([gao, menaka])
route_bamako_segou_mopti = shapely.LineString([bamako, (-6.25947, 13.44032), (-4.18296, 14.48430)])


def test_gao_menaka_distance_matches_reference() -> None:
    km = geodesic_distance_km(*gao, *menaka)
    assert float(km) == pytest.approx(GAO_MENAKA_KM, rel=0.02)


def test_one_degree_of_longitude_at_equator() -> None:
    assert float(geodesic_distance_km(0, 0, 1, 0)) == pytest.approx(111.3195, abs=1e-3)


def test_distance_is_vectorised_and_broadcasts() -> None:
    lons = np.array([gao[0], menaka[0], bamako[0]])
    lats = np.array([gao[1], menaka[1], bamako[1]])
    km = geodesic_distance_km(gao[0], gao[1], lons, lats)
    assert km.shape == (3,)
    assert km[0] == 0
    assert km[1] == pytest.approx(float(geodesic_distance_km(*gao, *menaka)))
    assert km[2] > 900


@pytest.mark.parametrize("radius_km", [1.0, 20.0, 150.0])
@pytest.mark.parametrize("centre", [bamako, (1.40921, 18.44345), (10.0, 70.0)])
def test_point_buffer_area_is_pi_r_squared(radius_km: float, centre: tuple[float, float]) -> None:
    circle = buffer_km(shapely.Point(centre), radius_km, quad_segs=64)
    assert geodesic_area_km2(circle) == pytest.approx(math.pi * radius_km**2, rel=0.005)
    ring = np.asarray(circle.exterior.coords)
    radii = geodesic_distance_km(centre[0], centre[1], ring[:, 0], ring[:, 1])
    assert radii == pytest.approx(np.full(radii.shape, radius_km), rel=1e-3)


def test_line_buffer_reaches_the_requested_distance() -> None:
    belt = buffer_km(route_gao_menaka, 50.0)
    mid_lon, mid_lat = route_gao_menaka.interpolate(0.5, normalized=True).coords[0]
    # 49 km north of the route's middle is inside; 60 km is outside.
    assert belt.contains(shapely.Point(mid_lon, mid_lat + 49 / 110.6 * 1.0))
    assert not belt.contains(shapely.Point(mid_lon, mid_lat + 60 / 110.6))


def test_buffer_rejects_negative_distance() -> None:
    with pytest.raises(ValueError, match="zero or positive"):
        buffer_km(shapely.Point(bamako), -1)


def test_area_and_length_of_non_polygons() -> None:
    assert geodesic_area_km2(route_gao_menaka) == 0
    assert geodesic_length_km(shapely.Point(gao)) == 0
    assert geodesic_length_km(route_gao_menaka) == pytest.approx(
        float(geodesic_distance_km(*gao, *menaka)), rel=1e-9
    )


@pytest.mark.parametrize(
    ("lat", "lon", "radius_km"),
    [(12.6, -8.0, 50.0), (18.4, 1.4, 300.0), (69.0, 20.0, 200.0), (-45.0, 170.0, 100.0)],
)
def test_bbox_around_covers_the_geodesic_circle(lat: float, lon: float, radius_km: float) -> None:
    minlon, minlat, maxlon, maxlat = bbox_around(lat, lon, radius_km)
    circle = buffer_km(shapely.Point(lon, lat), radius_km, quad_segs=64)
    assert shapely.box(minlon, minlat, maxlon, maxlat).covers(circle)
    # Not absurdly large: the box is at most ~10 % wider than the circle in latitude.
    assert (maxlat - minlat) < 1.1 * (circle.bounds[3] - circle.bounds[1])


def test_bbox_around_near_the_pole_spans_all_longitudes() -> None:
    minlon, _, maxlon, maxlat = bbox_around(89.5, 0.0, 100.0)
    assert (minlon, maxlon, maxlat) == (-180.0, 180.0, 90.0)


def test_distance_to_line_and_position_along() -> None:
    length = geodesic_length_km(route_bamako_segou_mopti)
    lons = np.array([bamako[0], -6.25947, -4.18296, -6.25947])
    lats = np.array([bamako[1], 13.44032, 14.48430, 13.44032 + 30 / 110.6])
    distance, along = distance_to_line_km(route_bamako_segou_mopti, lons, lats)
    bamako_segou = float(geodesic_distance_km(*bamako, -6.25947, 13.44032))
    assert distance[:3] == pytest.approx([0, 0, 0], abs=0.01)
    assert along[0] == pytest.approx(0, abs=0.01)
    assert along[1] == pytest.approx(bamako_segou, rel=0.005)
    assert along[2] == pytest.approx(length, rel=1e-6)
    assert 20 < distance[3] < 31  # 30 km north of Ségou, nearest route point is off the vertex


def test_cut_line_segments_are_contiguous_and_sized() -> None:
    pieces = cut_line_km(route_bamako_segou_mopti, 50.0)
    total = geodesic_length_km(route_bamako_segou_mopti)
    assert len(pieces) == round(total / 50.0)
    lengths = [geodesic_length_km(p) for p in pieces]
    assert sum(lengths) == pytest.approx(total, rel=1e-3)
    assert all(length == pytest.approx(total / len(pieces), rel=0.01) for length in lengths)
    assert pieces[0].coords[0] == route_bamako_segou_mopti.coords[0]
    assert pieces[-1].coords[-1] == route_bamako_segou_mopti.coords[-1]
    for a, b in itertools.pairwise(pieces):
        assert shapely.Point(a.coords[-1]).distance(shapely.Point(b.coords[0])) < 1e-7


def test_cut_line_shorter_than_segment_is_one_piece() -> None:
    assert len(cut_line_km(route_gao_menaka, 1000.0)) == 1


@pytest.mark.parametrize("bad", [0.0, -5.0])
def test_cut_line_rejects_non_positive_length(bad: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        cut_line_km(route_gao_menaka, bad)
