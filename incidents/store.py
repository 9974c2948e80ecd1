"""Incident persistence: rows in and out, the bounding-box/grid prefilter, cursors and idempotency."""

from __future__ import annotations

import base64
import json
import math
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import numpy as np
import shapely
from sqlalchemy import Select, and_, delete, insert, or_, select, union_all, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from geo.geometry import from_wkb, to_geojson
from geo.measure import bbox_around, buffer_km, geodesic_distance_km
from incidents import taxonomy
from incidents.errors import InvalidField
from incidents.model import (
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
from incidents.tables import IdempotencyRow, IncidentRow

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


# Set by the sharing area when the app is built (never at import time); None stores clear text.
_cipher: TextCipher | None = None


def set_cipher(cipher: TextCipher | None) -> None:
    global _cipher
    _cipher = cipher


def _seal(text: str | None) -> str | None:
    return text if text is None or _cipher is None else _cipher.seal(text)


UNREADABLE = "[chiffré, clé absente / encrypted, key missing]"


def _open(stored: str | None) -> str | None:
    if stored is None or _cipher is None:
        return stored
    try:
        return _cipher.open(stored)
    except ValueError:
        # A key was dropped before its narratives were re-encrypted: say so instead of failing.
        return UNREADABLE


def row_values(incident: Incident, geom: shapely.Geometry, *, is_demo: bool = False) -> dict[str, Any]:
    """Column values for an incident row."""
    return rows_values([(incident, geom)], is_demo=is_demo)[0]


def rows_values(
    pairs: Sequence[tuple[Incident, shapely.Geometry]], *, is_demo: bool = False
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
        _values(incident, wkbs[i], type_names[i], bounds[i], xs[i], ys[i], is_demo)
        for i, (incident, _) in enumerate(pairs)
    ]


_GEOM_TYPES = {
    0: "Point", 1: "LineString", 2: "LinearRing", 3: "Polygon", 4: "MultiPoint",
    5: "MultiLineString", 6: "MultiPolygon", 7: "GeometryCollection",
}


def _values(
    incident: Incident,
    wkb: bytes,
    geom_type: str,
    bounds: list[float],
    lon: float,
    lat: float,
    is_demo: bool,
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
        "description": _seal(incident.description),
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


def incident_from_row(row: IncidentRow) -> Incident:
    return Incident(
        id=row.id,
        type=row.type,
        occurred_at=row.occurred_at,
        reported_at=row.reported_at,
        geometry=to_geojson(from_wkb(row.geometry_wkb)),
        org_id=row.org_id,
        user_id=row.user_id,
        time_precision=TimePrecision(row.time_precision),
        location_precision=LocationPrecision(row.location_precision),
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
        perpetrator=Perpetrator(row.perpetrator),
        actor=row.actor,
        description=_open(row.description),
        source_type=SourceType(row.source_type),
        reliability=Reliability(row.reliability),
        credibility=row.credibility,
        status=Status(row.status),
        sharing_level=SharingLevel(row.sharing_level),
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


def encode_cursor(occurred_at: datetime, incident_id: uuid.UUID) -> str:
    raw = json.dumps([occurred_at.isoformat(), str(incident_id)])
    if _cipher is not None:
        # Opaque: a page may end on a masked incident whose exact time and id must not leak.
        return _cipher.seal(raw)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        if _cipher is not None:
            # Only cursors we sealed: a hand-made one would let a caller probe the exact time of
            # incidents it may see only masked.
            if not cursor.startswith("fernet:"):
                raise ValueError("cursor not sealed by this service")
            raw: str | bytes = _cipher.open(cursor)
        else:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        when, ident = json.loads(raw)
        return datetime.fromisoformat(when), uuid.UUID(ident)
    except (ValueError, TypeError) as exc:
        raise InvalidField(
            "cursor", "This cursor is not valid: use the `next_cursor` of the previous page."
        ) from exc


def _spatial_window(query: IncidentQuery) -> tuple[float, float, float, float] | None:
    if query.near is not None:
        lat, lon = query.near
        return bbox_around(lat, lon, query.radius_km or 0.0)
    return query.bbox


def _conditions(query: IncidentQuery, *, with_cells: bool = True) -> list[Any]:
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
    else:
        conds.append(IncidentRow.status != Status.RETRACTED.value)
    window = _spatial_window(query)
    if window is not None:
        minx, miny, maxx, maxy = window
        cells = cells_covering(window)
        if cells is not None and with_cells:
            conds.append(IncidentRow.cell.in_(cells))
        conds += [
            IncidentRow.max_lon >= minx,
            IncidentRow.min_lon <= maxx,
            IncidentRow.max_lat >= miny,
            IncidentRow.min_lat <= maxy,
        ]
    if query.zone_incident_ids is not None:
        conds.append(IncidentRow.id.in_(query.zone_incident_ids))
    conds += query.extra_conditions
    if query.cursor:
        when, ident = decode_cursor(query.cursor)
        conds.append(
            or_(
                IncidentRow.occurred_at < when,
                and_(IncidentRow.occurred_at == when, IncidentRow.id < ident),
            )
        )
    return conds


_NEWEST_FIRST = (IncidentRow.occurred_at.desc(), IncidentRow.id.desc())
# The few columns the exact spatial test needs: candidates are screened before full rows are loaded.
_LIGHT = (
    IncidentRow.id,
    IncidentRow.occurred_at,
    IncidentRow.cell,
    IncidentRow.geometry_type,
    IncidentRow.lon,
    IncidentRow.lat,
    IncidentRow.geometry_wkb,
)


def _select(query: IncidentQuery) -> Select[tuple[IncidentRow]]:
    return select(IncidentRow).where(*_conditions(query)).order_by(*_NEWEST_FIRST)


def _exact_filter(rows: list[IncidentRow], query: IncidentQuery) -> list[IncidentRow]:
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
            others = [from_wkb(r.geometry_wkb) for r, p in zip(rows, is_point, strict=True) if not p]
            keep[~is_point] = shapely.intersects(circle, np.array(others, dtype=object))
    if query.bbox is not None:
        box = shapely.box(*query.bbox)
        geoms = np.array([from_wkb(r.geometry_wkb) for r in rows], dtype=object)
        keep &= shapely.intersects(box, geoms)
    return [r for r, k in zip(rows, keep, strict=True) if k]


class IncidentStore:
    """Domain-named reads and writes of incidents over one session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, incident: Incident, geom: shapely.Geometry, *, is_demo: bool = False) -> None:
        await self.add_many([row_values(incident, geom, is_demo=is_demo)])

    async def add_many(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            # A Core insert on the table: the ORM bulk path costs ~1 ms more per call.
            table = IncidentRow.__table__
            await self.session.execute(table.insert(), rows[0] if len(rows) == 1 else rows)

    async def get_row(self, incident_id: uuid.UUID) -> IncidentRow | None:
        return await self.session.get(IncidentRow, incident_id)

    async def get(self, incident_id: uuid.UUID) -> Incident | None:
        row = await self.get_row(incident_id)
        return None if row is None else incident_from_row(row)

    async def replace_if_version(
        self, incident: Incident, geom: shapely.Geometry, expected_version: int
    ) -> bool:
        """Write the new state only if the stored version is still `expected_version`."""
        values = row_values(incident, geom)
        for key in ("id", "org_id", "user_id", "created_at", "reported_at", "is_demo", "external_id"):
            values.pop(key)
        result = await self.session.execute(
            update(IncidentRow)
            .where(IncidentRow.id == incident.id, IncidentRow.version == expected_version)
            .values(values)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def query_rows(self, query: IncidentQuery) -> tuple[list[IncidentRow], str | None]:
        """One page of rows, newest first, and the cursor of the next page (None at the end)."""
        wanted = query.limit + 1
        window = _spatial_window(query)
        cells = cells_covering(window) if window is not None else None
        if cells is not None:
            ids = await self._spatial_page_ids(query, cells, wanted)
            by_id = {
                r.id: r
                for r in (
                    await self.session.scalars(select(IncidentRow).where(IncidentRow.id.in_(ids)))
                ).all()
            }
            found = [by_id[i] for i in ids if i in by_id]
        else:
            found = await self._scan(query, wanted)
        page = found[: query.limit]
        next_cursor = None
        if len(found) > query.limit:
            last = page[-1]
            next_cursor = encode_cursor(last.occurred_at, last.id)
        return page, next_cursor

    async def _scan(self, query: IncidentQuery, wanted: int) -> list[IncidentRow]:
        stmt = _select(query)
        exact = query.near is not None or query.bbox is not None
        batch = max(wanted * 2, 200) if exact else wanted
        found: list[IncidentRow] = []
        offset = 0
        while len(found) < wanted:
            rows = list((await self.session.scalars(stmt.limit(batch).offset(offset))).all())
            found += _exact_filter(rows, query)
            if len(rows) < batch:
                break
            offset += batch
        return found

    async def _spatial_page_ids(
        self, query: IncidentQuery, cells: list[int], wanted: int
    ) -> list[uuid.UUID]:
        """Ids of the newest `wanted` incidents passing the exact test, grid cell by grid cell.

        Each cell is read newest first with its own LIMIT (an index range scan on (cell,
        occurred_at)), so a query near a busy town never sorts the town's whole history.
        """
        conds = _conditions(query, with_cells=False)
        per_cell = max(wanted * 2, 100)
        while True:
            parts = [
                select(*_LIGHT)
                .where(IncidentRow.cell == cell, *conds)
                .order_by(*_NEWEST_FIRST)
                .limit(per_cell)
                .subquery()
                for cell in cells
            ]
            rows = list((await self.session.execute(union_all(*(select(p) for p in parts)))).all())
            counts: dict[int, int] = {}
            oldest: dict[int, tuple[datetime, uuid.UUID]] = {}
            for r in rows:
                counts[r.cell] = counts.get(r.cell, 0) + 1
                key = (r.occurred_at, r.id)
                if r.cell not in oldest or key < oldest[r.cell]:
                    oldest[r.cell] = key
            rows.sort(key=lambda r: (r.occurred_at, r.id), reverse=True)
            kept = _exact_filter(rows, query)  # type: ignore[arg-type]
            saturated = [oldest[c] for c, n in counts.items() if n >= per_cell]
            if not saturated:
                return [r.id for r in kept[:wanted]]
            # Below the newest "oldest row" of a full cell, rows of that cell may be missing.
            horizon = max(saturated)
            valid = [r for r in kept if (r.occurred_at, r.id) >= horizon]
            if len(valid) >= wanted:
                return [r.id for r in valid[:wanted]]
            per_cell *= 4

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
    session: AsyncSession, org_id: uuid.UUID, key: str, request_hash: str, *, now: datetime
) -> IdempotencyState:
    """Record `key` as in progress, or tell what an earlier request with it became."""
    row = (
        await session.execute(
            select(IdempotencyRow).where(IdempotencyRow.org_id == org_id, IdempotencyRow.key == key)
        )
    ).scalar_one_or_none()
    if row is not None:
        stale = row.state == "pending" and row.created_at < now - PENDING_TIMEOUT
        if not stale:
            return IdempotencyState(row.state, row.request_hash, row.resource_id)
        await session.execute(delete(IdempotencyRow).where(IdempotencyRow.id == row.id))
    try:
        async with session.begin_nested():
            await session.execute(
                insert(IdempotencyRow).values(
                    org_id=org_id, key=key, request_hash=request_hash, state="pending", created_at=now
                )
            )
    except IntegrityError:
        return IdempotencyState("pending", None, None)
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
