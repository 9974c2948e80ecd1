"""The grid that prefilters incidents by place: cells of points and boxes, cells a query covers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from incidents.records.store import BIG, MAX_CELLS, cell_of, cells_covering, grid_cell

point_in_kidal = (1.4078, 18.4411)  # (lon, lat)
box_around_gao = (-0.3, 16.0, 0.2, 16.5)

lons = st.floats(min_value=-180, max_value=180, allow_nan=False)
lats = st.floats(min_value=-90, max_value=90, allow_nan=False)


def test_a_point_has_one_cell_and_a_query_box_around_it_covers_it() -> None:
    lon, lat = point_in_kidal
    cell = grid_cell((lon, lat, lon, lat))
    assert cell == cell_of(lon, lat) != BIG
    covered = cells_covering((lon - 0.1, lat - 0.1, lon + 0.1, lat + 0.1))
    assert covered is not None
    assert cell in covered
    assert BIG in covered


def test_a_box_over_several_cells_is_big() -> None:
    assert grid_cell(box_around_gao) == BIG


@pytest.mark.parametrize(
    ("lon", "lat"), [(180.0, 90.0), (-180.0, -90.0), (180.0, -90.0), (-180.0, 90.0), (0.0, 0.0)]
)
def test_the_edges_of_the_world_have_a_cell(lon: float, lat: float) -> None:
    cell = cell_of(lon, lat)
    assert 0 <= cell < 360 * 720
    covered = cells_covering((lon, lat, lon, lat))
    assert covered is not None
    assert cell in covered


def test_a_continent_sized_query_does_not_use_the_grid() -> None:
    assert cells_covering((-20.0, -10.0, 40.0, 30.0)) is None
    small = cells_covering((0.0, 0.0, 1.0, 1.0))
    assert small is not None
    assert len(small) <= MAX_CELLS + 1


@given(lon=lons, lat=lats, dx=st.floats(0, 3), dy=st.floats(0, 3))
def test_every_point_in_a_query_box_has_its_cell_covered(
    lon: float, lat: float, dx: float, dy: float
) -> None:
    box = (max(lon - dx, -180.0), max(lat - dy, -90.0), min(lon + dx, 180.0), min(lat + dy, 90.0))
    covered = cells_covering(box)
    if covered is not None:
        assert cell_of(lon, lat) in covered
