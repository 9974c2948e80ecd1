"""Area and route assessment over incident columns (pure)."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from incidents.errors import InvalidField
from incidents.risk.assessment import IncidentColumns, assess_area
from incidents.risk.model import RiskConfig

NOW_DAYS = 20_000.0
CONFIG = RiskConfig(
    half_lives_days=(30.0,), half_life_shares=(1.0,), window_days=90.0, spillover=0.0
)
# A 100 km east-west road along latitude 15 (about 107.5 km per degree of longitude there).
road = shapely.LineString([(0.0, 15.0), (0.93, 15.0)])
point_on_road_km_50 = (0.465, 15.0)
point_off_road = (0.465, 15.5)  # about 55 km north


def columns(points: list[tuple[float, float]], ages: list[float]) -> IncidentColumns:
    n = len(points)
    return IncidentColumns(
        ids=np.array([f"i{k}" for k in range(n)], dtype=object),
        lons=np.array([p[0] for p in points], dtype=float),
        lats=np.array([p[1] for p in points], dtype=float),
        t_days=NOW_DAYS - np.array(ages, dtype=float),
        type_codes=np.array(["armed_attack"] * n),
        severity=np.full(n, 4),
        reliability=np.array(["B"] * n),
        credibility=np.full(n, 2),
        status=np.array(["reported"] * n),
    )


def test_route_finds_incidents_in_its_corridor_with_distance_and_position() -> None:
    cols = columns([point_on_road_km_50, point_off_road], [1, 1])
    result = assess_area(
        cols, road, now_days=NOW_DAYS, config=CONFIG, corridor_km=10, segment_km=25
    )
    assert [i.position for i in result.incidents] == [0]
    hit = result.incidents[0]
    assert hit.distance_km == pytest.approx(0, abs=0.1)  # a parallel bows from the chord
    assert hit.along_km == pytest.approx(50, abs=1)
    assert len(result.segments) == 4
    assert [s.incident_count for s in result.segments] == [0, 0, 1, 0]
    assert result.segments[2].score > 0
    assert result.segments[0].score == 0
    assert result.level >= 1
    assert result.score > 0


def test_old_incidents_outside_the_window_do_not_count() -> None:
    cols = columns([point_on_road_km_50], [120])
    result = assess_area(cols, road, now_days=NOW_DAYS, config=CONFIG)
    assert result.incidents == []
    assert result.score == 0


def test_circle_reports_distance_from_the_centre() -> None:
    cols = columns([(0.0, 15.1), (0.0, 16.0)], [1, 1])
    result = assess_area(
        cols, shapely.Point(0.0, 15.0), now_days=NOW_DAYS, config=CONFIG, radius_km=20
    )
    assert [i.position for i in result.incidents] == [0]
    assert result.incidents[0].distance_km == pytest.approx(11.06, abs=0.1)
    assert result.incidents[0].along_km is None
    assert result.area_km2 == pytest.approx(np.pi * 400, rel=0.01)


def test_lines_and_polygons_count_when_they_meet_the_area() -> None:
    cols = columns([(5.0, 5.0), (5.0, 5.0)], [1, 1])
    crossing = shapely.LineString([(0.2, 14.5), (0.2, 15.5)])
    cols = IncidentColumns(
        **{**cols.__dict__, "geometries": np.array([crossing, None], dtype=object)}
    )
    result = assess_area(cols, road, now_days=NOW_DAYS, config=CONFIG)
    assert [i.position for i in result.incidents] == [0]


@pytest.mark.parametrize(
    ("geom", "kw", "field"),
    [
        (shapely.Point(0, 15), {"radius_km": 0}, "radius_km"),
        (shapely.Point(0, 15), {"radius_km": 500.1}, "radius_km"),
        (shapely.Point(0, 15), {}, "radius_km"),
        (shapely.LineString([(0, 15), (0, 15)]), {}, "geometry.coordinates"),
        (road, {"corridor_km": 0}, "corridor_km"),
        (road, {"segment_km": 0}, "segment_km"),
        (shapely.MultiPoint([(0, 15), (1, 15)]), {}, "geometry.type"),
    ],
    ids=[
        "radius-zero",
        "radius-over-500",
        "radius-missing",
        "route-one-place",
        "corridor-zero",
        "segment-zero",
        "multipoint",
    ],
)
def test_bad_input_names_the_field(geom: shapely.Geometry, kw: dict, field: str) -> None:
    with pytest.raises(InvalidField) as err:
        assess_area(columns([], []), geom, now_days=NOW_DAYS, config=CONFIG, **kw)
    assert err.value.field == field
