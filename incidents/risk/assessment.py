"""Risk of an area or a planned route: its incidents, its level, the route in stretches."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import shapely
from shapely import GeometryType

from geo.measure import (
    buffer_km,
    cut_line_km,
    distance_to_line_km,
    geodesic_area_km2,
    geodesic_distance_km,
    geodesic_length_km,
)
from geo.measure import (
    corridor_km as corridor_km_area,
)
from incidents.errors import InvalidField
from incidents.risk.model import RiskConfig, RiskInputs, score_zones
from incidents.sharing.rules import TimeUnit
from incidents.taxonomy import catalogue as taxonomy

__all__ = [
    "MAX_RADIUS_KM",
    "AreaIncident",
    "AreaRisk",
    "IncidentColumns",
    "Segment",
    "assess_area",
    "assessment_area",
    "check_service_area",
]

MAX_RADIUS_KM = 500.0
# 50 km either side is wider than any road-security briefing; wider corridors multiply the
# buffering work (and the incidents examined) without telling a traveller anything more.
MAX_CORRIDOR_KM = 50.0
# Finer stretches or more of them cost time without telling a traveller anything more.
MIN_SEGMENT_KM = 1.0
MAX_SEGMENT_KM = 500.0
MAX_SEGMENTS = 1000
# A route is a traveller's itinerary: 1,000 vertices follow any road of Mali closely (a GPS
# track can be simplified first); buffering cost grows with vertices times corridor width.
MAX_ROUTE_VERTICES = 1_000
# An assessed polygon: as many vertices as a zone (incidents.zones_store.MAX_ZONE_VERTICES).
MAX_AREA_VERTICES = 10_000

# What a masked entry weighs: its category only. Each category counts as its heaviest type
# (the prudent side for a traveller), at the middle severity, as reported, with full
# confidence: a masked viewer learns neither the exact type, nor severity, nor reliability.
MASKED_SEVERITY = 3
MASKED_RELIABILITY = "A"
MASKED_CREDIBILITY = 1
MASKED_STATUS = "reported"


def _category_types() -> dict[str, str]:
    heaviest: dict[str, str] = {}
    for code in sorted(taxonomy.TYPES):
        t = taxonomy.TYPES[code]
        best = heaviest.get(t.category)
        if best is None or t.risk_weight > taxonomy.TYPES[best].risk_weight:
            heaviest[t.category] = code
    return {code: heaviest[t.category] for code, t in taxonomy.TYPES.items()}


CATEGORY_TYPE = _category_types()  # type code -> the type its masked entry counts as


def masked_types(type_codes: npt.ArrayLike) -> npt.NDArray[np.str_]:
    """Each type replaced by the one its category counts as (see MASKED_SEVERITY)."""
    arr = np.asarray(type_codes, dtype=str)
    if arr.size == 0:
        return arr
    uniq, inverse = np.unique(arr, return_inverse=True)
    mapped = np.array([CATEGORY_TYPE.get(str(u), str(u)) for u in uniq], dtype=str)
    out: npt.NDArray[np.str_] = mapped[inverse]
    return out


_PRECISION_RANK = {"exact": 0, "day": 1, "week": 2, "month": 3}


def coarse_days(
    t_days: npt.ArrayLike, precisions: npt.ArrayLike, unit: TimeUnit = TimeUnit.DAY
) -> FloatArray:
    """incidents.sharing.rules.coarsen_time on arrays of days since 1970: the start of the UTC day
    or ISO week (or month, when the report itself was vaguer), as the masked view shows it."""
    t = np.asarray(t_days, dtype=np.float64)
    if t.size == 0:
        return t.copy()
    rank = np.array(
        [_PRECISION_RANK.get(str(p), 0) for p in np.asarray(precisions).tolist()], dtype=np.intp
    )
    wanted = np.maximum(rank, 2 if unit == TimeUnit.WEEK else 1)
    day = np.floor(t)
    out = day.copy()
    week = wanted == 2
    out[week] = day[week] - (day[week] + 3) % 7  # 1970-01-01 was a Thursday (weekday 3)
    month = wanted == 3
    if month.any():
        days = day[month].astype("int64").astype("datetime64[D]")
        out[month] = days.astype("datetime64[M]").astype("datetime64[D]").astype(np.float64)
    return out


def mask_columns(
    columns: IncidentColumns,
    masked: npt.NDArray[np.bool_],
    *,
    grid_degrees: float,
    coarse_t: FloatArray,
) -> IncidentColumns:
    """The rows flagged `masked` replaced by their masked entry: grid-cell centre of their
    representative point, coarse day (`coarse_t`, one per masked row), category weight."""
    if not masked.any():
        return columns
    idx = np.flatnonzero(masked)
    lons, lats = columns.lons.copy(), columns.lats.copy()
    lons[idx] = np.round((np.floor(lons[idx] / grid_degrees) + 0.5) * grid_degrees, 6)
    lats[idx] = np.round((np.floor(lats[idx] / grid_degrees) + 0.5) * grid_degrees, 6)
    t = columns.t_days.copy()
    t[idx] = coarse_t
    types = columns.type_codes.astype(object)
    types[idx] = masked_types(columns.type_codes[idx])
    severity = columns.severity.copy()
    severity[idx] = MASKED_SEVERITY
    reliability = columns.reliability.astype(object)
    reliability[idx] = MASKED_RELIABILITY
    credibility = columns.credibility.copy()
    credibility[idx] = MASKED_CREDIBILITY
    status = columns.status.astype(object)
    status[idx] = MASKED_STATUS
    geometries = None
    if columns.geometries is not None:
        geometries = columns.geometries.copy()
        geometries[idx] = None  # a masked entry is a point: its cell centre
    return IncidentColumns(
        ids=columns.ids,
        lons=lons,
        lats=lats,
        t_days=t,
        type_codes=types.astype(str),
        severity=severity,
        reliability=reliability.astype(str),
        credibility=credibility,
        status=status.astype(str),
        geometries=geometries,
    )


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
    gtype = shapely.get_type_id(geom)
    vertices = int(shapely.get_num_coordinates(geom))
    if gtype == GeometryType.LINESTRING and vertices > MAX_ROUTE_VERTICES:
        raise InvalidField(
            "geometry.coordinates",
            f"a route has at most {MAX_ROUTE_VERTICES} vertices ({vertices} given): simplify "
            "it (e.g. to one point every few hundred metres)",
        )
    if vertices > MAX_AREA_VERTICES:
        raise InvalidField(
            "geometry.coordinates",
            f"an area has at most {MAX_AREA_VERTICES} vertices ({vertices} given): simplify it",
        )
    if gtype == GeometryType.POINT:
        if radius_km is None:
            raise InvalidField(
                "radius_km", "give radius_km (more than 0, at most 500) with a Point"
            )
        if not 0 < radius_km <= MAX_RADIUS_KM or math.isnan(radius_km):
            raise InvalidField("radius_km", "radius_km must be more than 0 and at most 500 km")
        return "circle", buffer_km(geom, radius_km, quad_segs=32)
    if gtype in (GeometryType.POLYGON, GeometryType.MULTIPOLYGON):
        return "polygon", geom
    if gtype == GeometryType.LINESTRING:
        line = cast(shapely.LineString, geom)  # what its type id says
        if len(line.coords) < 2 or geodesic_length_km(line) == 0:
            raise InvalidField("geometry.coordinates", "a route needs at least two distinct points")
        if not 0 < corridor_km <= MAX_CORRIDOR_KM or math.isnan(corridor_km):
            raise InvalidField(
                "corridor_km", f"corridor_km must be more than 0 and at most {MAX_CORRIDOR_KM:g} km"
            )
        return "route", corridor_km_area(line, corridor_km)
    raise InvalidField(
        "geometry.type", "assess a Point (with radius_km), a Polygon or a route LineString"
    )


# Mali spans about 12.3 W to 4.3 E and 10.1 N to 25 N: given as [lat, lon], a Malian place
# lands in the Gulf of Guinea or central Africa, far from any zone.
SWAPPED_MESSAGE = (
    "coordinates look swapped: GeoJSON is [longitude, latitude] (Bamako is [-8.0, 12.65]); "
    "give each point as [lon, lat]"
)
OUTSIDE_MESSAGE = (
    "the geometry lies outside the service area (the zones of GET /api/v1/zones: Mali and "
    "its border belts): check the coordinates, given as [longitude, latitude], or assess a "
    "place inside"
)


def check_service_area(
    geom: shapely.Geometry, area: shapely.Geometry, meets: Callable[[shapely.Geometry], bool]
) -> None:
    """422 for an assessment the service knows nothing about: `area` (what is assessed) meets
    no zone of the service area (`meets` says whether a shape meets one). When the geometry
    with each coordinate pair swapped would meet one, say that the coordinates look swapped.

    Level 1 for a point in the Atlantic, or for a route typed as [lat, lon], would tell a
    traveller "low" about a place nobody reports from."""
    if meets(area):
        return
    swapped = shapely.transform(geom, lambda xy: xy[:, ::-1])
    if meets(swapped):
        raise InvalidField("geometry.coordinates", SWAPPED_MESSAGE)
    raise InvalidField("geometry.coordinates", OUTSIDE_MESSAGE)


def check_segment_km(segment_km: float) -> None:
    if not MIN_SEGMENT_KM <= segment_km <= MAX_SEGMENT_KM:  # NaN fails too
        raise InvalidField(
            "segment_km",
            f"segment_km must be at least {MIN_SEGMENT_KM:g} and at most {MAX_SEGMENT_KM:g} km",
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
    check_segment_km(segment_km)
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
    # A route is assessed from a LineString, a circle from a Point (assessment_area).
    if kind == "route":
        distance, along = distance_to_line_km(
            cast(shapely.LineString, geom), picked.lons, picked.lats
        )
    elif kind == "circle":
        point = cast(shapely.Point, geom)
        distance = geodesic_distance_km(point.x, point.y, picked.lons, picked.lats)
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
        pieces = cut_line_km(cast(shapely.LineString, geom), segment_km)
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
