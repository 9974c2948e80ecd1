"""Risk of an area or a planned route: its incidents, its level, the route in stretches."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from geo.measure import (
    buffer_km,
    cut_line_km,
    distance_to_line_km,
    geodesic_area_km2,
    geodesic_distance_km,
    geodesic_length_km,
)
from incidents.errors import InvalidField
from incidents.risk import RiskConfig, RiskInputs, score_zones

__all__ = [
    "MAX_RADIUS_KM",
    "AreaIncident",
    "AreaRisk",
    "IncidentColumns",
    "Segment",
    "assess_area",
    "assessment_area",
]

MAX_RADIUS_KM = 500.0
MAX_CORRIDOR_KM = 100.0
# Finer stretches or more of them cost time without telling a traveller anything more.
MIN_SEGMENT_KM = 1.0
MAX_SEGMENTS = 1000

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class IncidentColumns:
    """Incidents as columns; `geometries` holds shapely shapes for non-points (None for points).

    `lons`/`lats` are the point itself or a representative point of a line or polygon.
    """

    ids: npt.NDArray[Any]
    lons: FloatArray
    lats: FloatArray
    t_days: FloatArray
    type_codes: npt.NDArray[np.str_]
    severity: npt.NDArray[np.integer[Any]]
    reliability: npt.NDArray[np.str_]
    credibility: npt.NDArray[np.integer[Any]]
    status: npt.NDArray[np.str_]
    geometries: npt.NDArray[Any] | None = None

    def __len__(self) -> int:
        return len(self.lons)

    def take(self, idx: npt.NDArray[np.intp]) -> IncidentColumns:
        return IncidentColumns(
            ids=self.ids[idx],
            lons=self.lons[idx],
            lats=self.lats[idx],
            t_days=self.t_days[idx],
            type_codes=self.type_codes[idx],
            severity=self.severity[idx],
            reliability=self.reliability[idx],
            credibility=self.credibility[idx],
            status=self.status[idx],
            geometries=None if self.geometries is None else self.geometries[idx],
        )


@dataclass(frozen=True)
class AreaIncident:
    position: int  # row in the IncidentColumns given
    distance_km: float  # from the route, or from the centre of a circle; 0 inside a polygon
    along_km: float | None  # position along the route


@dataclass(frozen=True)
class Segment:
    index: int
    from_km: float
    to_km: float
    geometry: shapely.LineString
    score: float
    level: int
    incident_count: int


@dataclass(frozen=True)
class AreaRisk:
    kind: str  # "circle" | "polygon" | "route"
    area: shapely.Geometry
    area_km2: float
    length_km: float | None
    score: float
    level: int
    sub_scores: dict[str, float]
    incidents: list[AreaIncident]
    segments: list[Segment]


def assessment_area(
    geom: shapely.Geometry,
    *,
    radius_km: float | None = None,
    corridor_km: float = 10.0,
) -> tuple[str, shapely.Geometry]:
    """The area assessed: a circle around a point, a polygon as given, a corridor along a route."""
    gtype = geom.geom_type
    if gtype == "Point":
        if radius_km is None:
            raise InvalidField(
                "radius_km", "give radius_km (more than 0, at most 500) with a Point"
            )
        if not 0 < radius_km <= MAX_RADIUS_KM or math.isnan(radius_km):
            raise InvalidField("radius_km", "radius_km must be more than 0 and at most 500 km")
        return "circle", buffer_km(geom, radius_km, quad_segs=32)
    if gtype in ("Polygon", "MultiPolygon"):
        return "polygon", geom
    if gtype == "LineString":
        if len(geom.coords) < 2 or geodesic_length_km(geom) == 0:
            raise InvalidField("geometry.coordinates", "a route needs at least two distinct points")
        if not 0 < corridor_km <= MAX_CORRIDOR_KM or math.isnan(corridor_km):
            raise InvalidField(
                "corridor_km", f"corridor_km must be more than 0 and at most {MAX_CORRIDOR_KM:g} km"
            )
        return "route", buffer_km(geom, corridor_km)
    raise InvalidField(
        "geometry.type", "assess a Point (with radius_km), a Polygon or a route LineString"
    )


def _inside(columns: IncidentColumns, area: shapely.Geometry) -> npt.NDArray[np.intp]:
    """Rows whose incident meets the area: a bounding-box mask, then exact tests on the rest."""
    minx, miny, maxx, maxy = shapely.bounds(area)
    lons, lats = columns.lons, columns.lats
    is_point = (
        np.ones(len(columns), dtype=bool)
        if columns.geometries is None
        else np.array([g is None for g in columns.geometries], dtype=bool)
    )
    near = np.flatnonzero(
        is_point & (lons >= minx) & (lons <= maxx) & (lats >= miny) & (lats <= maxy)
    )
    shapely.prepare(area)
    keep = near[shapely.intersects_xy(area, lons[near], lats[near])]
    if columns.geometries is not None and not is_point.all():
        others = np.flatnonzero(~is_point)
        hit = shapely.intersects(area, columns.geometries[others])
        keep = np.sort(np.concatenate([keep, others[hit]]))
    out: npt.NDArray[np.intp] = keep.astype(np.intp)
    return out


def _inputs(columns: IncidentColumns, zone_of_row: npt.NDArray[np.intp]) -> RiskInputs:
    n = len(columns)
    return RiskInputs(
        incident_ids=columns.ids,
        t_days=columns.t_days,
        type_codes=columns.type_codes,
        severity=columns.severity,
        reliability=columns.reliability,
        credibility=columns.credibility,
        status=columns.status,
        pair_incident=np.arange(n, dtype=np.intp),
        pair_zone=zone_of_row,
    )


def assess_area(
    columns: IncidentColumns,
    geom: shapely.Geometry,
    *,
    now_days: float,
    config: RiskConfig,
    radius_km: float | None = None,
    corridor_km: float = 10.0,
    segment_km: float = 25.0,
) -> AreaRisk:
    """Score an area (or route corridor) as if it were one zone, and each route stretch on its own.

    Only incidents within `config.window_days` before `now_days` count (the decay is the zones').
    The route's overall level is the corridor's: a long trip collects the risk of every stretch.
    """
    if not MIN_SEGMENT_KM <= segment_km <= 500:
        raise InvalidField("segment_km", "segment_km must be at least 1 and at most 500 km")
    kind, area = assessment_area(geom, radius_km=radius_km, corridor_km=corridor_km)
    rows = _inside(columns, area)
    age = now_days - columns.t_days[rows]
    rows = rows[(age >= 0) & (age < config.window_days)]
    picked = columns.take(rows)
    area_km2 = geodesic_area_km2(area)
    whole = score_zones(
        _inputs(picked, np.zeros(len(rows), dtype=np.intp)),
        zone_count=1,
        zone_area_km2=np.array([area_km2]),
        now_days=now_days,
        config=config,
        top_contributors=0,
    )[0]
    along: FloatArray | None = None
    if kind == "route":
        distance, along = distance_to_line_km(geom, picked.lons, picked.lats)
    elif kind == "circle":
        distance = geodesic_distance_km(geom.x, geom.y, picked.lons, picked.lats)
    else:
        distance = np.zeros(len(rows))
    segments: list[Segment] = []
    length_km: float | None = None
    if kind == "route" and along is not None:
        length_km = geodesic_length_km(geom)
        if length_km / segment_km > MAX_SEGMENTS:
            raise InvalidField(
                "segment_km",
                f"a {length_km:.0f} km route in {segment_km:g} km stretches is more than "
                f"{MAX_SEGMENTS} stretches: give a longer segment_km",
            )
        pieces = cut_line_km(geom, segment_km)
        n = len(pieces)
        step = length_km / n
        seg_of = (
            np.minimum((along / step).astype(np.intp), n - 1)
            if len(rows)
            else along.astype(np.intp)
        )
        # A stretch's corridor: its length times the width, plus the rounded ends.
        seg_area = step * 2 * corridor_km + math.pi * corridor_km**2
        scored = score_zones(
            _inputs(picked, seg_of),
            zone_count=n,
            zone_area_km2=np.full(n, seg_area),
            now_days=now_days,
            config=config,
            top_contributors=0,
        )
        counts = np.bincount(seg_of, minlength=n)
        segments = [
            Segment(
                index=i,
                from_km=i * step,
                to_km=(i + 1) * step,
                geometry=pieces[i],
                score=scored[i].score,
                level=scored[i].level,
                incident_count=int(counts[i]),
            )
            for i in range(n)
        ]
    incidents = [
        AreaIncident(
            position=int(r),
            distance_km=float(distance[k]),
            along_km=None if along is None else float(along[k]),
        )
        for k, r in enumerate(rows.tolist())
    ]
    return AreaRisk(
        kind=kind,
        area=area,
        area_km2=area_km2,
        length_km=length_km,
        score=whole.score,
        level=whole.level,
        sub_scores=whole.sub_scores,
        incidents=incidents,
        segments=segments,
    )
