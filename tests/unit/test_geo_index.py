"""Batched zone assignment agrees with the per-point reference and handles edges."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import shapely

from geo.index import ZoneIndex, assign_points_loop
from geo.zones import Zone, default_zones, zones_from_geojson

COD_ADM2 = (
    Path(__file__).resolve().parents[2]
    / ".."
    / "shared"
    / "data"
    / "mli_admbnda_adm2_1m_gov_20211220.geojson"
).resolve()

square_a = shapely.box(0.0, 15.0, 1.0, 16.0)
square_b = shapely.box(1.0, 15.0, 2.0, 16.0)  # shares the x = 1 edge with square_a
square_with_hole = shapely.Polygon(
    [(3, 15), (5, 15), (5, 17), (3, 17), (3, 15)],
    [[(3.5, 15.5), (4.5, 15.5), (4.5, 16.5), (3.5, 16.5), (3.5, 15.5)]],
)
point_in_a = (0.5, 15.5)
point_on_shared_edge = (1.0, 15.5)
point_in_hole = (4.0, 16.0)
point_nowhere = (10.0, 10.0)


@pytest.fixture(name="toy_index")
def fx_toy_index() -> ZoneIndex:
    return ZoneIndex([("a", square_a), ("b", square_b), ("holed", square_with_hole)])


def _pairs(result: tuple[np.ndarray, np.ndarray]) -> list[tuple[int, int]]:
    return list(zip(result[0].tolist(), result[1].tolist(), strict=True))


def test_assign_points_on_toy_zones(toy_index: ZoneIndex) -> None:
    pts = np.array([point_in_a, point_on_shared_edge, point_in_hole, point_nowhere, (3.2, 16.0)])
    pairs = _pairs(toy_index.assign_points(pts[:, 0], pts[:, 1]))
    assert pairs == [(0, 0), (1, 0), (1, 1), (4, 2)]


def test_assign_points_empty_input(toy_index: ZoneIndex) -> None:
    items, zones = toy_index.assign_points(np.array([]), np.array([]))
    assert items.size == zones.size == 0


def test_assign_points_rejects_mismatched_arrays(toy_index: ZoneIndex) -> None:
    with pytest.raises(ValueError, match="same length"):
        toy_index.assign_points(np.zeros(3), np.zeros(2))


def test_assign_geometries_semantics(toy_index: ZoneIndex) -> None:
    geoms = np.array(
        [
            shapely.Point(point_on_shared_edge),  # boundary point counts for both
            shapely.LineString([(0.5, 15.5), (1.5, 15.5)]),  # crosses a and b
            shapely.LineString([(1.0, 15.2), (1.0, 15.8)]),  # along the shared edge: touches only
            shapely.box(1.0, 15.2, 1.5, 15.8),  # inside b, touching a's edge
            shapely.Point(point_in_hole),
            shapely.box(4.2, 16.2, 4.8, 16.8),  # overlaps the ring of the holed square
        ]
    )
    pairs = _pairs(toy_index.assign_geometries(geoms))
    assert pairs == [(0, 0), (0, 1), (1, 0), (1, 1), (3, 1), (5, 2)]


def test_zones_for(toy_index: ZoneIndex) -> None:
    assert toy_index.zones_for(shapely.Point(point_on_shared_edge)) == ["a", "b"]
    assert toy_index.zones_for(shapely.Point(point_nowhere)) == []


def test_index_without_zones() -> None:
    index = ZoneIndex([])
    assert index.assign_points(np.array([1.0]), np.array([15.0]))[0].size == 0
    assert index.zones_for(shapely.Point(1, 15)) == []


def _random_points(
    rng: np.random.Generator, bounds: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    minx, miny, maxx, maxy = bounds
    return rng.uniform(minx, maxx, n), rng.uniform(miny, maxy, n)


def _assert_same(index: ZoneIndex, zones: list[tuple[str, shapely.Geometry]], n: int) -> int:
    rng = np.random.default_rng(20261124)
    lons, lats = _random_points(rng, shapely.total_bounds(index.geometries), n)
    fast = index.assign_points(lons, lats)
    slow = assign_points_loop(zones, lons, lats)
    assert _pairs(fast) == _pairs(slow)
    strtree = index.assign_points_strtree(lons, lats)
    assert _pairs(strtree) == _pairs(slow)
    points = shapely.points(lons, lats)
    assert _pairs(index.assign_geometries(points)) == _pairs(slow)
    return len(fast[0])


def test_default_zones_index_matches_loop_reference() -> None:
    zones: list[Zone] = default_zones()
    pairs = [(z.code, z.geometry) for z in zones]
    hits = _assert_same(ZoneIndex(pairs), pairs, 5_000)
    assert hits > 3_000  # most of the box is Mali, and belts/towns overlap it


@pytest.mark.realdata
@pytest.mark.skipif(not COD_ADM2.exists(), reason=f"real data absent: {COD_ADM2}")
def test_cod_cercles_import_and_index_match_loop() -> None:
    fc = json.loads(COD_ADM2.read_text(encoding="utf-8"))
    zones, _report = zones_from_geojson(fc)
    assert len(zones) == 53
    assert {z.kind for z in zones} == {"admin2"}
    assert all(z.parent_code and z.parent_code.startswith("ml") for z in zones)
    pairs = [(z.code, z.geometry) for z in zones]
    hits = _assert_same(ZoneIndex(pairs), pairs, 20_000)
    # Mali fills roughly 44 % of its bounding box (see shared/PERFORMANCE.md).
    assert 0.40 * 20_000 < hits < 0.48 * 20_000
