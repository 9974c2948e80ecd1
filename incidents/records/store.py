"""Incident persistence: rows in and out, the bounding-box/grid prefilter, cursors and idempotency."""

from __future__ import annotations

import base64
import json
import math
import struct
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any, Protocol, TypeVar, cast

import numpy as np
import shapely
from sqlalchemy import (
    Select,
    Table,
    and_,
    delete,
    false,
    insert,
    not_,
    or_,
    select,
    text,
    true,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from geo.geometry import from_wkb, to_geojson
from geo.measure import bbox_around, buffer_km, geodesic_distance_km
from incidents.errors import InvalidField
from incidents.records.model import (
    Impact,
    Incident,
    LocationPrecision,
    Perpetrator,
    Reliability,
    SharingLevel,
    SourceType,
    Status,
    TimePrecision,
)
from incidents.records.tables import IdempotencyRow, IncidentRow
from incidents.sharing.rules import (
    Access,
    ListKey,
    MaskRules,
    Member,
    Sharing,
    TimeUnit,
    access,
    coarse_at_least,
    coarse_at_most,
    coarsen_time,
    effective_precision,
    full_list_key,
    grid_range,
    masked_list_key,
    snap_to_grid,
    whole_categories,
)
from incidents.sharing.tables import IncidentNamedViewerRow
from incidents.taxonomy import catalogue as taxonomy

CELL_DEG = 0.5
_COLS = int(360 / CELL_DEG)
BIG = -1  # geometries whose bounding box spans several cells
MAX_CELLS = 400  # above this many cells the grid no longer narrows a query


def cell_of(lon: float, lat: float) -> int:
    row = min(int((lat + 90.0) // CELL_DEG), int(180 / CELL_DEG) - 1)
    col = min(int((lon + 180.0) // CELL_DEG), _COLS - 1)
    return row * _COLS + col


def grid_cell(bounds: Sequence[float]) -> int:
    """The grid cell holding a bounding box, or BIG when it spans more than one."""
    minx, miny, maxx, maxy = bounds
    first, last = cell_of(minx, miny), cell_of(maxx, maxy)
    return first if first == last else BIG


def cells_covering(bounds: Sequence[float]) -> list[int] | None:
    """Every cell a bounding box touches, plus BIG; None when there are too many to help."""
    minx, miny, maxx, maxy = bounds
    # Same clamping as cell_of, so that lat 90 and lon 180 fall in the last row and column.
    r0, c0 = divmod(cell_of(minx, miny), _COLS)
    r1, c1 = divmod(cell_of(maxx, maxy), _COLS)
    if (r1 - r0 + 1) * (c1 - c0 + 1) > MAX_CELLS:
        return None
    cells = [r * _COLS + c for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)]
    return [*cells, BIG]


class TextCipher(Protocol):
    """Encrypts narratives at rest and makes cursors opaque (see incidents.sharing_service)."""

    def seal(self, text: str) -> str: ...

    def open(self, stored: str) -> str: ...


# The cipher is passed explicitly (IncidentStore(session, cipher), row_values(..., cipher=),
# incident_from_row(row, cipher), encode_cursor/decode_cursor(..., cipher)) by the services the
# composition root (api/bootstrap.py) builds: no module keeps a key. None stores clear text.


def _seal(text: str | None, cipher: TextCipher | None = None) -> str | None:
    return text if text is None or cipher is None else cipher.seal(text)


UNREADABLE = "[chiffré, clé absente / encrypted, key missing]"


def _open(stored: str | None, cipher: TextCipher | None = None) -> str | None:
    if stored is None or cipher is None:
        return stored
    try:
        return cipher.open(stored)
    except ValueError:
        # A key was dropped before its narratives were re-encrypted: say so instead of failing.
        return UNREADABLE


def row_values(
    incident: Incident,
    geom: shapely.Geometry,
    *,
    is_demo: bool = False,
    cipher: TextCipher | None = None,
) -> dict[str, Any]:
    """Column values for an incident row."""
    return rows_values([(incident, geom)], is_demo=is_demo, cipher=cipher)[0]


def rows_values(
    pairs: Sequence[tuple[Incident, shapely.Geometry]],
    *,
    is_demo: bool = False,
    cipher: TextCipher | None = None,
) -> list[dict[str, Any]]:
    """Column values for many incident rows; the geometry work is done once per batch."""
    if not pairs:
        return []
    geoms = np.empty(len(pairs), dtype=object)
    geoms[:] = [g for _, g in pairs]
    bounds = shapely.bounds(geoms).tolist()
    wkbs = shapely.to_wkb(geoms, output_dimension=2).tolist()
    type_ids = shapely.get_type_id(geoms)
    is_point = type_ids == 0
    points = geoms.copy()
    if not is_point.all():
        points[~is_point] = shapely.point_on_surface(geoms[~is_point])
    xs, ys = shapely.get_x(points).tolist(), shapely.get_y(points).tolist()
    type_names = [_GEOM_TYPES[t] for t in type_ids.tolist()]
    return [
        _values(incident, wkbs[i], type_names[i], bounds[i], xs[i], ys[i], is_demo, cipher)
        for i, (incident, _) in enumerate(pairs)
    ]


_GEOM_TYPES = {
    0: "Point",
    1: "LineString",
    2: "LinearRing",
    3: "Polygon",
    4: "MultiPoint",
    5: "MultiLineString",
    6: "MultiPolygon",
    7: "GeometryCollection",
}


def _values(
    incident: Incident,
    wkb: bytes,
    geom_type: str,
    bounds: list[float],
    lon: float,
    lat: float,
    is_demo: bool,
    cipher: TextCipher | None,
) -> dict[str, Any]:
    impact = incident.impact
    return {
        "id": incident.id,
        "type": incident.type,
        "category": taxonomy.get_type(incident.type).category,
        "occurred_at": incident.occurred_at,
        "time_precision": incident.time_precision.value,
        "reported_at": incident.reported_at,
        "geometry_wkb": wkb,
        "geometry_type": geom_type,
        "min_lon": bounds[0],
        "min_lat": bounds[1],
        "max_lon": bounds[2],
        "max_lat": bounds[3],
        "lon": lon,
        "lat": lat,
        "cell": grid_cell(bounds),
        "location_precision": incident.location_precision.value,
        "place_name": incident.place_name,
        "severity": incident.severity,
        "killed": impact.killed,
        "injured": impact.injured,
        "abducted": impact.abducted,
        "detained": impact.detained,
        "missing": impact.missing,
        "aid_workers_affected": impact.aid_workers_affected,
        "perpetrator": incident.perpetrator.value,
        "actor": incident.actor,
        "description": _seal(incident.description, cipher),
        "source_type": incident.source_type.value,
        "reliability": incident.reliability.value,
        "credibility": incident.credibility,
        "status": incident.status.value,
        "sharing_level": incident.sharing_level.value,
        "hide_organisation": incident.hide_organisation,
        "org_id": incident.org_id,
        "user_id": incident.user_id,
        "external_id": incident.external_id,
        "is_demo": is_demo,
        "version": incident.version,
        "created_at": incident.created_at or incident.reported_at,
        "updated_at": incident.updated_at or incident.reported_at,
    }


_POINT_WKB = (struct.Struct("<Idd"), struct.Struct(">Idd"))


def _geojson_of(wkb: bytes) -> dict[str, Any]:
    """to_geojson(from_wkb(wkb)), read directly for a 2D point (most incidents): same output."""
    if len(wkb) == 21 and wkb[0] in (0, 1):
        kind, x, y = _POINT_WKB[wkb[0] == 0].unpack_from(wkb, 1)
        if kind == 1 and math.isfinite(x) and math.isfinite(y):
            return {"type": "Point", "coordinates": [round(x, 6), round(y, 6)]}
    return to_geojson(from_wkb(wkb))


_E = TypeVar("_E", bound=Enum)


def _member(kind: type[_E], value: Any) -> _E:
    """kind(value) by a dict look-up (a row has seven codes; Enum.__call__ is the slow path)."""
    found = kind._value2member_map_.get(value)
    return cast(_E, found) if found is not None else kind(value)


def incident_from_row(row: IncidentRow, cipher: TextCipher | None = None) -> Incident:
    return Incident(
        id=row.id,
        type=row.type,
        occurred_at=row.occurred_at,
        reported_at=row.reported_at,
        geometry=_geojson_of(row.geometry_wkb),
        org_id=row.org_id,
        user_id=row.user_id,
        time_precision=_member(TimePrecision, row.time_precision),
        location_precision=_member(LocationPrecision, row.location_precision),
        place_name=row.place_name,
        severity=row.severity,
        impact=Impact(
            killed=row.killed,
            injured=row.injured,
            abducted=row.abducted,
            detained=row.detained,
            missing=row.missing,
            aid_workers_affected=row.aid_workers_affected,
        ),
        perpetrator=_member(Perpetrator, row.perpetrator),
        actor=row.actor,
        description=_open(row.description, cipher),
        source_type=_member(SourceType, row.source_type),
        reliability=_member(Reliability, row.reliability),
        credibility=row.credibility,
        status=_member(Status, row.status),
        sharing_level=_member(SharingLevel, row.sharing_level),
        hide_organisation=row.hide_organisation,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
        external_id=row.external_id,
    )


# --- queries -----------------------------------------------------------------------------------


@dataclass(slots=True)
class IncidentQuery:
    """Filters of GET /incidents; all optional."""

    since: datetime | None = None
    until: datetime | None = None
    types: frozenset[str] | None = None
    min_severity: int | None = None
    statuses: frozenset[str] | None = None
    bbox: tuple[float, float, float, float] | None = None
    near: tuple[float, float] | None = None  # (lat, lon)
    radius_km: float | None = None
    zone_incident_ids: Any = None  # a SQL subquery of incident ids, set by the zones module
    extra_conditions: list[Any] = field(default_factory=list)
    limit: int = 100
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class Masking:
    """Lists for a viewer who may see some incidents only masked (None: the public).

    Each incident the viewer may not see in full is filtered and ordered by its masked entry
    alone (coarse unit, grid-cell centre, category): see `_masked_match` and `_key`.
    """

    viewer: Member | None
    rules: MaskRules


def encode_cursor(key: ListKey, cipher: TextCipher | None = None) -> str:
    """The position after which the next page starts: (sort time, full/masked, tie-breaker).

    For a masked entry that is its coarse unit and opaque id, never its exact time or real id.
    """
    when, full, ident = key
    raw = json.dumps([when.isoformat(), full, str(ident)])
    if cipher is not None:
        # Opaque: what a page ends on is the service's business, and a hand-made cursor would
        # let a caller probe positions (see decode_cursor).
        return cipher.seal(raw)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, cipher: TextCipher | None = None) -> ListKey:
    try:
        if cipher is not None:
            # Only cursors we sealed: a hand-made one would let a caller probe the exact time of
            # incidents it may see only masked.
            if not cursor.startswith("fernet:"):
                raise ValueError("cursor not sealed by this service")
            raw: str | bytes = cipher.open(cursor)
        else:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = json.loads(raw)
        if len(parts) == 2:  # cursors made before masked entries had their own position
            parts = [parts[0], 1, parts[1]]
        when, full, ident = parts
        if full not in (0, 1):
            raise ValueError("bad cursor")
        at = datetime.fromisoformat(when)
        if at.tzinfo is None:
            raise ValueError("bad cursor")
        return at, int(full), uuid.UUID(ident)
    except (ValueError, TypeError) as exc:
        raise InvalidField(
            "cursor", "This cursor is not valid: use the `next_cursor` of the previous page."
        ) from exc


def _spatial_window(query: IncidentQuery) -> tuple[float, float, float, float] | None:
    if query.near is not None:
        lat, lon = query.near
        return bbox_around(lat, lon, query.radius_km or 0.0)
    return query.bbox


def _grid_window(
    window: tuple[float, float, float, float], degrees: float
) -> tuple[float, float, float, float] | None:
    """[minx, maxx) x [miny, maxy): the points whose grid-cell centre lies in `window`."""
    xs = grid_range(window[0], window[2], degrees)
    ys = grid_range(window[1], window[3], degrees)
    if xs is None or ys is None:
        return None
    return xs[0], ys[0], xs[1], ys[1]


def full_view_condition(viewer: Member | None) -> Any:
    """The SQL twin of incidents.sharing.access(...) == FULL (NULL-safe, so NOT works).

    Used only to keep masked rows out of SQL candidates by their masked entry alone; which rows
    are masked is decided again, row by row, with access() itself (`_masked_flags`).
    """
    level = IncidentRow.sharing_level
    if viewer is None:
        return level == SharingLevel.CLEAR.value
    named = select(IncidentNamedViewerRow.incident_id).where(
        IncidentNamedViewerRow.user_id == viewer.user_id
    )
    amber_orgs = sorted({viewer.org_id, *viewer.trusted_org_ids})
    return or_(
        level.in_([SharingLevel.GREEN.value, SharingLevel.CLEAR.value]),
        and_(
            level == SharingLevel.AMBER.value,
            true() if viewer.is_officer else IncidentRow.org_id.in_(amber_orgs),
        ),
        and_(level == SharingLevel.AMBER_STRICT.value, IncidentRow.org_id == viewer.org_id),
        and_(
            level == SharingLevel.RED.value,
            or_(
                and_(IncidentRow.user_id.is_not(None), IncidentRow.user_id == viewer.user_id),
                IncidentRow.id.in_(named),
            ),
        ),
    )


def _by_precision(unit: TimeUnit) -> dict[TimePrecision, list[str]]:
    groups: dict[TimePrecision, list[str]] = {}
    for p in TimePrecision:
        groups.setdefault(effective_precision(p, unit), []).append(p.value)
    return groups


def _coarse_since(bound: datetime, unit: TimeUnit) -> Any:
    """Rows whose coarse start is at or after `bound`, exactly, as ranges on occurred_at."""
    return or_(
        *(
            and_(
                IncidentRow.time_precision.in_(values),
                IncidentRow.occurred_at >= coarse_at_least(bound, shown, unit),
            )
            for shown, values in _by_precision(unit).items()
        )
    )


def _coarse_until(bound: datetime, unit: TimeUnit) -> Any:
    """Rows whose coarse start is at or before `bound`, exactly."""
    return or_(
        *(
            and_(
                IncidentRow.time_precision.in_(values),
                IncidentRow.occurred_at < coarse_at_most(bound, shown, unit),
            )
            for shown, values in _by_precision(unit).items()
        )
    )


# A masked entry's sort time is at most this much before its exact time (a month, reported vaguely).
_LONGEST_UNIT = timedelta(days=32)


# Degree lengths no larger than the WGS84 ones anywhere (see geo.measure.bbox_around).
_KM_PER_DEG_LAT_MIN = 110.57
_KM_PER_DEG_LON_EQUATOR = 111.32


def near_ellipse(
    lat: float, lon: float, radius_km: float, window: tuple[float, float, float, float]
) -> tuple[float, float] | None:
    """(kx, ky) such that kx²·dlon² + ky²·dlat² ≤ (1.01·r + 0.01)² holds for every point within
    `radius_km` (geodesic) of (lat, lon), inside its bounding box `window`; None near a pole or
    the antimeridian, where the box spans every longitude.

    The shortest degree lengths over the box make this plane distance never exceed the geodesic
    one (tests/unit/test_near_prefilter.py checks it), so the test only drops points beyond the
    radius; the exact geodesic test still runs on those kept (`_exact_filter`).
    """
    if window[2] - window[0] >= 360.0:
        return None
    widest = max(abs(window[1]), abs(window[3]))
    return math.cos(math.radians(widest)) * _KM_PER_DEG_LON_EQUATOR, _KM_PER_DEG_LAT_MIN


def _near_circle(query: IncidentQuery, window: tuple[float, float, float, float]) -> Any:
    """Points outside `near_ellipse` are farther than the radius: SQL leaves them out."""
    if query.near is None:
        return None
    lat0, lon0 = query.near
    radius = float(query.radius_km or 0.0)
    ks = near_ellipse(lat0, lon0, radius, window)
    if ks is None:
        return None
    kx, ky = ks
    reach = radius * 1.01 + 0.01
    dx, dy = IncidentRow.lon - lon0, IncidentRow.lat - lat0
    return or_(
        IncidentRow.geometry_type != "Point",
        dx * dx * (kx * kx) + dy * dy * (ky * ky) <= reach * reach,
    )


def _full_conditions(query: IncidentQuery, cursor: ListKey | None) -> list[Any]:
    """Filters on the exact values: for incidents the viewer sees in full."""
    conds: list[Any] = []
    if query.since is not None:
        conds.append(IncidentRow.occurred_at >= query.since)
    if query.until is not None:
        conds.append(IncidentRow.occurred_at <= query.until)
    if query.types:
        conds.append(IncidentRow.type.in_(sorted(query.types)))
    if query.min_severity is not None:
        conds.append(IncidentRow.severity >= query.min_severity)
    if query.statuses:
        conds.append(IncidentRow.status.in_(sorted(query.statuses)))
    window = _spatial_window(query)
    if window is not None:
        minx, miny, maxx, maxy = window
        conds += [
            IncidentRow.max_lon >= minx,
            IncidentRow.min_lon <= maxx,
            IncidentRow.max_lat >= miny,
            IncidentRow.min_lat <= maxy,
        ]
        circle = _near_circle(query, window)
        if circle is not None:
            conds.append(circle)
    if query.zone_incident_ids is not None:
        conds.append(IncidentRow.id.in_(query.zone_incident_ids))
    if cursor is not None:
        when, full, ident = cursor
        # A full row's key is (occurred_at, 1, id): below the cursor when earlier, or at the same
        # time with a smaller id (only if the cursor itself is a full row's).
        conds.append(
            or_(
                IncidentRow.occurred_at < when,
                and_(IncidentRow.occurred_at == when, IncidentRow.id < ident) if full else false(),
            )
        )
    return conds


def _masked_conditions(query: IncidentQuery, rules: MaskRules, cursor: ListKey | None) -> list[Any]:
    """The same filters on the masked entry only, exactly: candidates depend on nothing finer."""
    if query.min_severity is not None or query.statuses or query.zone_incident_ids is not None:
        # Severity, status and zones are not in the masked entry: masked entries never match.
        return [false()]
    conds: list[Any] = []
    unit = rules.time_unit
    if query.since is not None:
        conds.append(_coarse_since(query.since, unit))
    if query.until is not None:
        conds.append(_coarse_until(query.until, unit))
    if query.types:
        whole = whole_categories(query.types)
        conds.append(IncidentRow.category.in_(sorted(whole)) if whole else false())
    window = _spatial_window(query)
    if window is not None:
        grid = _grid_window(window, rules.grid_degrees)
        if grid is None:
            return [false()]
        minx, miny, maxx, maxy = grid
        conds += [
            IncidentRow.lon >= minx,
            IncidentRow.lon < maxx,
            IncidentRow.lat >= miny,
            IncidentRow.lat < maxy,
        ]
    if cursor is not None:
        conds.append(_coarse_until(cursor[0], unit))  # sort time at or before the cursor's
    return conds


# `until` beyond this is the same as no bound (and keeps `until + a month` from overflowing).
_FAR_FUTURE = datetime(9000, 1, 1, tzinfo=UTC)


def _conditions(
    query: IncidentQuery, masking: Masking | None = None, cipher: TextCipher | None = None
) -> list[Any]:
    cursor = decode_cursor(query.cursor, cipher) if query.cursor else None
    if query.until is not None and query.until > _FAR_FUTURE:
        query.until = _FAR_FUTURE
    conds: list[Any] = []
    if not query.statuses:
        # Retracted incidents leave every list (masked entries too) unless asked for.
        conds.append(IncidentRow.status != Status.RETRACTED.value)
    conds += query.extra_conditions
    full = _full_conditions(query, cursor)
    if masking is None:
        return conds + full
    # Plain ranges both branches satisfy, so that the occurred_at index still bounds the scan.
    if query.since is not None:
        conds.append(IncidentRow.occurred_at >= query.since)
    if query.until is not None:
        conds.append(IncidentRow.occurred_at < query.until + _LONGEST_UNIT)
    if cursor is not None:
        conds.append(IncidentRow.occurred_at < cursor[0] + _LONGEST_UNIT)
    masked = _masked_conditions(query, masking.rules, cursor)
    if full or masked:
        visible = full_view_condition(masking.viewer)
        conds.append(or_(and_(visible, *full), and_(not_(visible), *masked)))
    return conds


_NEWEST_FIRST = (IncidentRow.occurred_at.desc(), IncidentRow.id.desc())


def _select(
    query: IncidentQuery, masking: Masking | None = None, cipher: TextCipher | None = None
) -> Select[IncidentRow]:
    """Candidates newest first by exact time; the page order is the list key's (see _scan)."""
    return select(IncidentRow).where(*_conditions(query, masking, cipher)).order_by(*_NEWEST_FIRST)


_T = cast(Table, IncidentRow.__table__)
_CORE_NEWEST_FIRST = (_T.c.occurred_at.desc(), _T.c.id.desc())
# The columns the exact tests, the masking decision and the order need: candidates are screened
# before full rows are loaded. Core columns, not ORM attributes: building the per-cell union
# costs a quarter as much.
_LIGHT = tuple(
    _T.c[name]
    for name in (
        "id",
        "occurred_at",
        "time_precision",
        "cell",
        "geometry_type",
        "lon",
        "lat",
        "geometry_wkb",
        "type",
        "category",
        "severity",
        "status",
        "sharing_level",
        "org_id",
        "user_id",
    )
)
# Without masking the SQL conditions are the exact ones: only the geometry is tested again.
_LIGHT_PLAIN = tuple(
    _T.c[name]
    for name in ("id", "occurred_at", "cell", "geometry_type", "lon", "lat", "geometry_wkb")
)


def _exact_filter(rows: list[Any], query: IncidentQuery) -> list[Any]:
    """Drop prefilter candidates that the exact geometry test rejects."""
    if not rows or (query.near is None and query.bbox is None):
        return rows
    keep = np.ones(len(rows), dtype=bool)
    is_point = np.array([r.geometry_type == "Point" for r in rows])
    if query.near is not None:
        lat, lon = query.near
        radius = float(query.radius_km or 0.0)
        if is_point.any():
            lons = np.array([r.lon for r in rows])[is_point]
            lats = np.array([r.lat for r in rows])[is_point]
            keep[is_point] = geodesic_distance_km(lon, lat, lons, lats) <= radius
        if (~is_point).any():
            circle = buffer_km(shapely.Point(lon, lat), radius, quad_segs=32)
            others = [
                from_wkb(r.geometry_wkb) for r, p in zip(rows, is_point, strict=True) if not p
            ]
            keep[~is_point] = shapely.intersects(circle, np.array(others, dtype=object))
    if query.bbox is not None:
        box = shapely.box(*query.bbox)
        geoms = np.array([from_wkb(r.geometry_wkb) for r in rows], dtype=object)
        keep &= shapely.intersects(box, geoms)
    return [r for r, k in zip(rows, keep, strict=True) if k]


def _full_match(row: Any, query: IncidentQuery) -> bool:
    """The exact filters again, in Python (SQL may have let the row in by the other branch)."""
    if query.since is not None and row.occurred_at < query.since:
        return False
    if query.until is not None and row.occurred_at > query.until:
        return False
    if query.types and row.type not in query.types:
        return False
    if query.min_severity is not None and row.severity < query.min_severity:
        return False
    if query.statuses and row.status not in query.statuses:
        return False
    return bool(query.statuses) or row.status != Status.RETRACTED.value


def _masked_match(row: Any, query: IncidentQuery, rules: MaskRules) -> bool:
    """Whether the masked entry of `row` passes the filters: decided on that entry alone."""
    if query.min_severity is not None or query.statuses or query.zone_incident_ids is not None:
        return False
    if row.status == Status.RETRACTED.value:
        return False
    shown, _ = coarsen_time(row.occurred_at, TimePrecision(row.time_precision), rules.time_unit)
    if query.since is not None and shown < query.since:
        return False
    if query.until is not None and shown > query.until:
        return False
    if query.types and row.category not in whole_categories(query.types):
        return False
    x, y = snap_to_grid(row.lon, row.lat, rules.grid_degrees)
    if query.bbox is not None:
        minx, miny, maxx, maxy = query.bbox
        if not (minx <= x <= maxx and miny <= y <= maxy):
            return False
    if query.near is not None:
        lat, lon = query.near
        distance = float(geodesic_distance_km(lon, lat, np.array([x]), np.array([y]))[0])
        if distance > float(query.radius_km or 0.0):
            return False
    return True


def _older_than(after: tuple[datetime, uuid.UUID]) -> Any:
    """Rows after `after` (occurred_at, id) in newest-first order: where a batch continues."""
    return or_(
        IncidentRow.occurred_at < after[0],
        and_(IncidentRow.occurred_at == after[0], IncidentRow.id < after[1]),
    )


def _page_decided(found: list[Any], wanted: int, after: tuple[datetime, uuid.UUID]) -> bool:
    """Whether the best `wanted` of `found` (key first, sorted here best first) are known:
    every row not read yet has a key below (after time, 1, after id)."""
    if len(found) < wanted:
        return False
    found.sort(key=lambda kr: kr[0], reverse=True)
    return bool(found[wanted - 1][0] >= (after[0], 1, after[1]))


def _key(row: Any, masked: bool, rules: MaskRules | None) -> ListKey:
    if masked and rules is not None:
        return masked_list_key(row.id, row.occurred_at, TimePrecision(row.time_precision), rules)
    return full_list_key(row.id, row.occurred_at)


class IncidentStore:
    """Domain-named reads and writes of incidents over one session.

    `cipher` encrypts narratives at rest and seals cursors."""

    def __init__(self, session: AsyncSession, cipher: TextCipher | None = None) -> None:
        self.session = session
        self.cipher = cipher

    async def add(
        self, incident: Incident, geom: shapely.Geometry, *, is_demo: bool = False
    ) -> None:
        await self.add_many([row_values(incident, geom, is_demo=is_demo, cipher=self.cipher)])

    async def add_many(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            # A Core insert on the table: the ORM bulk path costs ~1 ms more per call.
            table = cast(Table, IncidentRow.__table__)
            await self.session.execute(table.insert(), rows[0] if len(rows) == 1 else rows)

    async def get_row(self, incident_id: uuid.UUID) -> IncidentRow | None:
        return await self.session.get(IncidentRow, incident_id)

    async def get(self, incident_id: uuid.UUID) -> Incident | None:
        row = await self.get_row(incident_id)
        return None if row is None else incident_from_row(row, self.cipher)

    async def replace_if_version(
        self, incident: Incident, geom: shapely.Geometry, expected_version: int
    ) -> bool:
        """Write the new state only if the stored version is still `expected_version`."""
        values = row_values(incident, geom, cipher=self.cipher)
        for key in (
            "id",
            "org_id",
            "user_id",
            "created_at",
            "reported_at",
            "is_demo",
            "external_id",
        ):
            values.pop(key)
        result = await self.session.execute(
            update(IncidentRow)
            .where(IncidentRow.id == incident.id, IncidentRow.version == expected_version)
            .values(values)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def query_rows(
        self, query: IncidentQuery, masking: Masking | None = None
    ) -> tuple[list[IncidentRow], str | None]:
        """One page of rows, newest first, and the cursor of the next page (None at the end).

        With `masking`, an incident the viewer may see only masked is filtered on its masked
        entry and sorted by its coarse unit and opaque id (see incidents.sharing.masked_list_key).
        """
        wanted = query.limit + 1
        window = _spatial_window(query)
        if window is not None and masking is not None:
            grid = _grid_window(window, masking.rules.grid_degrees)
            if grid is not None:
                window = (
                    min(window[0], grid[0]),
                    min(window[1], grid[1]),
                    max(window[2], grid[2]),
                    max(window[3], grid[3]),
                )
        cells = cells_covering(window) if window is not None else None
        if cells is not None:
            keyed = await self._spatial_page(query, masking, cells, wanted)
            ids = [i for _, i in keyed]
            by_id = {
                r.id: r
                for r in (
                    await self.session.scalars(select(IncidentRow).where(IncidentRow.id.in_(ids)))
                ).all()
            }
            found = [(k, by_id[i]) for k, i in keyed if i in by_id]
        else:
            found = await self._scan(query, masking, wanted)
        page = found[: query.limit]
        next_cursor = None
        if len(found) > query.limit:
            next_cursor = encode_cursor(page[-1][0], self.cipher)
        return [row for _, row in page], next_cursor

    async def _masked_flags(self, rows: Sequence[Any], masking: Masking | None) -> list[bool]:
        """Which rows the viewer sees only masked: incidents.sharing.access, the presenter's rule.

        The named-viewer look-up runs for every batch, red rows or not, so that its cost says
        nothing about the sharing levels in the batch.
        """
        if masking is None or not rows:
            return [False] * len(rows)
        viewer = masking.viewer
        named: set[uuid.UUID] = set()
        if viewer is not None:
            named = set(
                (
                    await self.session.scalars(
                        select(IncidentNamedViewerRow.incident_id).where(
                            IncidentNamedViewerRow.user_id == viewer.user_id,
                            IncidentNamedViewerRow.incident_id.in_([r.id for r in rows]),
                        )
                    )
                ).all()
            )
        flags = []
        for r in rows:
            sharing = Sharing(
                level=SharingLevel(r.sharing_level),
                org_id=r.org_id,
                user_id=r.user_id,
                named_user_ids=frozenset({viewer.user_id})
                if viewer and r.id in named
                else frozenset(),
            )
            flags.append(access(viewer, sharing) == Access.MASKED)
        return flags

    async def _keep(
        self,
        rows: Sequence[Any],
        query: IncidentQuery,
        masking: Masking | None,
        cursor: ListKey | None,
    ) -> list[tuple[ListKey, Any]]:
        """The rows passing the filters of their own view, with their list keys."""
        flags = await self._masked_flags(rows, masking)
        full = [r for r, m in zip(rows, flags, strict=True) if not m]
        if masking is None:  # the SQL conditions were the exact ones: only geometry is left
            full_ok = {r.id for r in _exact_filter(full, query)}
        else:
            full_ok = {r.id for r in _exact_filter(full, query) if _full_match(r, query)}
        rules = masking.rules if masking is not None else None
        kept: list[tuple[ListKey, Any]] = []
        for row, masked in zip(rows, flags, strict=True):
            if masked:
                assert rules is not None
                if not _masked_match(row, query, rules):
                    continue
            elif row.id not in full_ok:
                continue
            key = _key(row, masked, rules)
            if cursor is None or key < cursor:
                kept.append((key, row))
        return kept

    async def _scan(
        self, query: IncidentQuery, masking: Masking | None, wanted: int
    ) -> list[tuple[ListKey, IncidentRow]]:
        """Rows newest first by exact time (the occurred_at index), re-ordered by list key.

        A list key's time is never after the exact time (masked: the start of its unit), so once
        the scan is below the `wanted`-th best key found, no later row can enter the page.
        """
        cursor = decode_cursor(query.cursor, self.cipher) if query.cursor else None
        stmt = _select(query, masking, self.cipher)
        batch = max(wanted * 2, 200) if query.near is not None or query.bbox is not None else wanted
        found: list[tuple[ListKey, IncidentRow]] = []
        after: tuple[datetime, uuid.UUID] | None = None
        while True:
            page = stmt
            if after is not None:
                page = stmt.where(_older_than(after))
            rows = list((await self.session.scalars(page.limit(batch))).all())
            found += await self._keep(rows, query, masking, cursor)
            if len(rows) < batch:
                break
            after = (rows[-1].occurred_at, rows[-1].id)
            if _page_decided(found, wanted, after):
                break
            batch = min(batch * 2, 2000)
        found.sort(key=lambda kr: kr[0], reverse=True)
        return found[:wanted]

    async def _spatial_page(
        self, query: IncidentQuery, masking: Masking | None, cells: list[int], wanted: int
    ) -> list[tuple[ListKey, uuid.UUID]]:
        """Keys and ids of the best `wanted` incidents passing the filters, grid cell by cell.

        Each cell is read newest first with its own LIMIT (an index range scan on (cell,
        occurred_at)), so a query near a busy town never sorts the town's whole history; the
        database merges the cells newest first and sends only one batch of the merge, continued
        from where it stopped until the page is decided (as in `_scan`).
        """
        cursor = decode_cursor(query.cursor, self.cipher) if query.cursor else None
        conds = _conditions(query, masking, self.cipher)
        light = _LIGHT if masking is not None else _LIGHT_PLAIN
        # SQL keeps little outside the exact circle (`_near_circle`): one batch usually decides.
        batch = wanted + wanted // 8 + 8
        found: list[tuple[ListKey, Any]] = []
        after: tuple[datetime, uuid.UUID] | None = None
        while True:
            bound = []
            if after is not None:
                bound.append(_older_than(after))
            one = select(*light).where(*conds, *bound).order_by(*_CORE_NEWEST_FIRST).limit(batch)
            parts = [one.where(_T.c.cell == cell).subquery() for cell in cells]
            merged = union_all(*(select(p) for p in parts)).subquery()
            stmt = select(merged).order_by(text("occurred_at DESC, id DESC")).limit(batch)
            rows = list((await self.session.execute(stmt)).all())
            found += await self._keep(rows, query, masking, cursor)
            if len(rows) < batch:
                break
            after = (rows[-1].occurred_at, rows[-1].id)
            if _page_decided(found, wanted, after):
                break
            batch = min(batch * 2, 2000)
        found.sort(key=lambda kr: kr[0], reverse=True)
        return [(k, r.id) for k, r in found[:wanted]]

    async def existing_external_ids(self, org_id: uuid.UUID, ids: Iterable[str]) -> set[str]:
        ids = list(ids)
        if not ids:
            return set()
        result = await self.session.scalars(
            select(IncidentRow.external_id).where(
                IncidentRow.org_id == org_id, IncidentRow.external_id.in_(ids)
            )
        )
        return {x for x in result.all() if x is not None}


# --- idempotency ---------------------------------------------------------------------------------

PENDING_TIMEOUT = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class IdempotencyState:
    state: str  # "new" | "pending" | "done"
    request_hash: str | None = None
    resource_id: uuid.UUID | None = None


async def claim_idempotency_key(
    session: AsyncSession,
    org_id: uuid.UUID,
    key: str,
    request_hash: str,
    *,
    now: datetime,
    resource_id: uuid.UUID | None = None,
) -> IdempotencyState:
    """Record `key`, or tell what an earlier request with it became.

    With `resource_id` the key is recorded as done, for that resource, in the caller's
    transaction, which writes the resource too: both commit or neither does, so a crash
    leaves nothing behind and the retry proceeds at once. A concurrent request with the same
    key waits on the unique index (PostgreSQL) and then replays. A pending key (left by a
    two-step claim, e.g. an older version that crashed) is taken over.

    Without it, a two-step claim: "pending" until complete_idempotency_key (stale after
    PENDING_TIMEOUT).
    """
    where = (IdempotencyRow.org_id == org_id, IdempotencyRow.key == key)
    row = (await session.execute(select(IdempotencyRow).where(*where))).scalar_one_or_none()
    if row is not None:
        stale = row.state == "pending" and (
            resource_id is not None or row.created_at < now - PENDING_TIMEOUT
        )
        if not stale:
            return IdempotencyState(row.state, row.request_hash, row.resource_id)
        await session.execute(delete(IdempotencyRow).where(IdempotencyRow.id == row.id))
    # "On conflict do nothing" rather than a savepoint: on PostgreSQL it waits for a
    # concurrent transaction holding the same key and then skips; pysqlite would commit at a
    # savepoint's release when no write came before it.
    values = {
        "org_id": org_id,
        "key": key,
        "request_hash": request_hash,
        "state": "pending" if resource_id is None else "done",
        "resource_id": resource_id,
        "status_code": None if resource_id is None else 201,
        "created_at": now,
    }
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(IdempotencyRow).values(values).on_conflict_do_nothing()
    else:
        stmt = insert(IdempotencyRow).prefix_with("OR IGNORE").values(values)
    made = await session.execute(stmt)
    if not made.rowcount:  # type: ignore[attr-defined]
        # Another transaction recorded it meanwhile (and committed): what did it become?
        row = (await session.execute(select(IdempotencyRow).where(*where))).scalar_one_or_none()
        if row is None:
            return IdempotencyState("pending", None, None)
        return IdempotencyState(row.state, row.request_hash, row.resource_id)
    return IdempotencyState("new")


async def complete_idempotency_key(
    session: AsyncSession, org_id: uuid.UUID, key: str, resource_id: uuid.UUID, status_code: int
) -> None:
    await session.execute(
        update(IdempotencyRow)
        .where(IdempotencyRow.org_id == org_id, IdempotencyRow.key == key)
        .values(state="done", resource_id=resource_id, status_code=status_code)
    )


async def release_idempotency_key(session: AsyncSession, org_id: uuid.UUID, key: str) -> None:
    await session.execute(
        delete(IdempotencyRow).where(
            IdempotencyRow.org_id == org_id,
            IdempotencyRow.key == key,
            IdempotencyRow.state == "pending",
        )
    )


def radius_ok(radius_km: float | None) -> float:
    if radius_km is None:
        raise InvalidField("radius_km", "Give `radius_km` with `near` (0 < radius_km ≤ 500).")
    if not (0 < radius_km <= 500) or math.isnan(radius_km):
        raise InvalidField("radius_km", "radius_km must be more than 0 and at most 500 km.")
    return radius_km
