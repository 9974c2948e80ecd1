"""Zones in the database: CRUD, which zones each incident falls in, and re-assignment in batches."""

from __future__ import annotations

import asyncio
import builtins
import json
import re
import time
import unicodedata
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol, cast

import numpy as np
import numpy.typing as npt
import shapely
from rapidfuzz import fuzz
from sqlalchemy import Select, Table, case, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from geo.gazetteer import Gazetteer, Locality, normalize_name
from geo.geometry import GeometryError, from_wkb, parse_geojson_geometry, repair_polygon, to_wkb
from geo.index import ZoneIndex
from geo.measure import geodesic_area_km2
from geo.zones import ZONE_KINDS, Zone, default_zones
from incidents.audit import log as audit
from incidents.db import Database, on_commit
from incidents.errors import Conflict, Forbidden, InvalidField, NotFound
from incidents.identity.accounts import Principal
from incidents.records.events import Placement
from incidents.records.model import Incident
from incidents.records.schemas import ZoneRef
from incidents.records.tables import IncidentRow
from incidents.risk import versions
from incidents.risk.model import zone_neighbours
from incidents.zones.tables import IncidentZoneRow, ZoneRiskRow, ZoneRow

__all__ = [
    "Located",
    "ZoneAssignment",
    "ZoneCache",
    "ZoneMatch",
    "ZoneSettings",
    "ZoneSnapshot",
    "ZoneStore",
    "ensure_default_zones",
    "import_zones",
    "parse_zone_geometry",
    "reassign_all",
    "reassign_zone",
    "snap_points",
    "zone_code",
    "zone_filter",
    "zone_lookup",
    "zone_pairs",
]

# session.info key, read only here: the zones version read (under lock) by this writing
# transaction, so that every incident it writes is placed in the same zones.
ZONES_SEEN_KEY = "sentinelle.zones_seen"
# A zone drawn or sent through the API: 10,000 vertices outline any district of Mali to a few
# metres, and parsing, repairing and assigning such a zone stays well under a second. Official
# boundaries (COD-AB) come through `sentinelle zones import`, which has no such limit.
MAX_ZONE_VERTICES = 10_000
# Rings of a zone (outer rings and holes): each ring is a separate validity and repair problem.
MAX_ZONE_RINGS = 500
# Kinds only the platform operator creates or changes; organisations draw `custom` zones.
PLATFORM_KINDS = frozenset(ZONE_KINDS) - {"custom"}
GRID_DEGREES = 0.25  # settings.mask_grid_degrees by default
# Neighbours (for risk spill-over) are only sought among zones of the same kind: the country
# overlaps every zone and would otherwise pour the whole of Mali into each town.
NEIGHBOUR_KINDS = ("admin1", "admin2", "border_belt", "town", "custom")


class ZoneSettings(Protocol):
    """The settings that shape the default zones (api.settings.Settings has them)."""

    @property
    def town_radius_km(self) -> float: ...
    @property
    def mauritania_belt_km(self) -> float: ...
    @property
    def border_belt_km(self) -> float: ...
    @property
    def tri_border_km(self) -> float: ...


def zone_code(raw: str) -> str:
    """Stable snake_case code from a name or an external code ("Ménaka" -> "menaka")."""
    ascii_ = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", ascii_.strip().lower()).strip("_")[:64]


def zone_values(zone: Zone, now: datetime, owner: uuid.UUID | None = None) -> dict[str, Any]:
    minx, miny, maxx, maxy = (float(v) for v in shapely.bounds(zone.geometry))
    return {
        "id": zone.id,
        "code": zone.code,
        "name_fr": zone.name_fr,
        "name_en": zone.name_en,
        "kind": zone.kind,
        "parent_code": zone.parent_code,
        "geometry_wkb": to_wkb(zone.geometry),
        "min_lon": minx,
        "min_lat": miny,
        "max_lon": maxx,
        "max_lat": maxy,
        "area_km2": geodesic_area_km2(zone.geometry),
        "provenance": zone.provenance,
        "approximate": zone.approximate,
        "version": zone.version,
        "created_at": now,
        "updated_at": now,
        "owner_org_id": owner,
    }


def zone_from_row(row: ZoneRow) -> Zone:
    return Zone(
        id=row.id,
        code=row.code,
        name_fr=row.name_fr,
        name_en=row.name_en,
        kind=row.kind,
        geometry=from_wkb(row.geometry_wkb),
        parent_code=row.parent_code,
        provenance=row.provenance,
        approximate=row.approximate,
        version=row.version,
    )


def _close_rings(obj: Any) -> tuple[Any, list[str]]:
    """Close open polygon rings (a frequent slip in hand-drawn zones), saying which ones."""
    notes: list[str] = []
    if not isinstance(obj, Mapping) or obj.get("type") not in ("Polygon", "MultiPolygon"):
        return obj, notes
    coords = obj.get("coordinates")
    polygons = [coords] if obj["type"] == "Polygon" else coords
    if not isinstance(polygons, list):
        return obj, notes
    fixed_polys = []
    for p, rings in enumerate(polygons):
        if not isinstance(rings, list):
            return obj, notes
        fixed = []
        for r, ring in enumerate(rings):
            if isinstance(ring, list) and len(ring) >= 3 and ring[0] != ring[-1]:
                where = f"ring {r}" if obj["type"] == "Polygon" else f"polygon {p} ring {r}"
                notes.append(f"{where} was not closed: closed it by repeating its first position")
                ring = [*ring, ring[0]]
            fixed.append(ring)
        fixed_polys.append(fixed)
    coords_out = fixed_polys[0] if obj["type"] == "Polygon" else fixed_polys
    return {**obj, "coordinates": coords_out}, notes


def _check_size(obj: Mapping[str, Any], field: str) -> None:
    """Refuse, before any geometry work, a zone with too many rings or vertices (422)."""
    coords = obj.get("coordinates")
    if not isinstance(coords, list):
        return  # the parser names the field
    polygons = [coords] if obj.get("type") == "Polygon" else coords
    rings = vertices = 0
    for rings_of in polygons:
        if not isinstance(rings_of, list):
            return
        rings += len(rings_of)
        vertices += sum(len(r) for r in rings_of if isinstance(r, list))
    if rings > MAX_ZONE_RINGS:
        raise InvalidField(
            f"{field}.coordinates",
            f"too many rings ({rings} > {MAX_ZONE_RINGS} outer rings and holes): drop small "
            "islands and holes, or import official boundaries with `sentinelle zones import`",
        )
    if vertices > MAX_ZONE_VERTICES:
        raise InvalidField(
            f"{field}.coordinates",
            f"too many vertices ({vertices} > {MAX_ZONE_VERTICES}): simplify the zone (e.g. "
            "mapshaper or QGIS 'Simplify' to ~100 m), or import official boundaries with "
            "`sentinelle zones import`",
        )


def parse_zone_geometry(obj: Any, *, field: str = "geometry") -> tuple[shapely.Geometry, list[str]]:
    """A zone's (multi)polygon from GeoJSON, repaired when needed, with the repairs made.

    Raises InvalidField naming the field when it is not a polygon or nothing can be repaired.
    """
    if not isinstance(obj, Mapping) or obj.get("type") not in ("Polygon", "MultiPolygon"):
        raise InvalidField(f"{field}.type", "a zone is a GeoJSON Polygon or MultiPolygon")
    _check_size(obj, field)
    closed, notes = _close_rings(obj)
    try:
        try:
            geom = parse_geojson_geometry(closed, field=field, max_vertices=MAX_ZONE_VERTICES)
        except GeometryError as exc:
            if not exc.message.startswith("invalid polygon"):
                raise
            geom = shapely.from_geojson(json.dumps(closed))
        geom, repairs = repair_polygon(geom, field=field)
    except GeometryError as exc:
        raise InvalidField(exc.field, exc.message) from exc
    return geom, notes + repairs


# --- the zone index cache ----------------------------------------------------------------------


@dataclass(frozen=True)
class ZoneSnapshot:
    """Every zone at one zones version, with the spatial index built over them."""

    version: tuple[Any, ...]
    zones: list[Zone]
    areas_km2: npt.NDArray[np.float64]
    index: ZoneIndex
    position: dict[str, int]
    neighbours: tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]
    # Per zone: the owning organisation as 32 hex digits, "" for a platform zone.
    owners: tuple[str, ...] = ()
    grid_degrees: float = GRID_DEGREES

    @classmethod
    def build(
        cls,
        version: tuple[Any, ...],
        zones: list[Zone],
        areas: Sequence[float],
        owners: Sequence[uuid.UUID | None] | None = None,
        grid_degrees: float = GRID_DEGREES,
    ) -> ZoneSnapshot:
        owner_hex = tuple("" if o is None else o.hex for o in (owners or [None] * len(zones)))
        a_parts: list[npt.NDArray[np.intp]] = []
        b_parts: list[npt.NDArray[np.intp]] = []
        # Neighbours share spill-over: custom zones only among those of the same organisation,
        # or one organisation's zone would carry what another's holds.
        groups = [
            (kind, owner)
            for kind in NEIGHBOUR_KINDS
            for owner in sorted(
                {o for z, o in zip(zones, owner_hex, strict=True) if z.kind == kind}
            )
        ]
        for kind, owner in groups:
            members = np.array(
                [
                    i
                    for i, (z, o) in enumerate(zip(zones, owner_hex, strict=True))
                    if z.kind == kind and o == owner
                ],
                dtype=np.intp,
            )
            if members.size < 2:
                continue
            a, b = zone_neighbours([zones[i].geometry for i in members])
            a_parts.append(members[a])
            b_parts.append(members[b])
        empty = np.empty(0, dtype=np.intp)
        neighbours = (
            np.concatenate(a_parts) if a_parts else empty,
            np.concatenate(b_parts) if b_parts else empty,
        )
        return cls(
            version=version,
            zones=zones,
            areas_km2=np.asarray(areas, dtype=np.float64),
            index=ZoneIndex([(z.id, z.geometry) for z in zones]),
            position={z.id: i for i, z in enumerate(zones)},
            neighbours=neighbours,
            owners=owner_hex,
            grid_degrees=grid_degrees,
        )

    def owner_of(self, zone_id: str) -> str:
        """The owning organisation (32 hex digits) of a zone, "" for a platform zone."""
        k = self.position.get(zone_id)
        return self.owners[k] if k is not None and self.owners else ""

    def around(self, zone_ids: Iterable[str]) -> set[str]:
        """The zones given and their neighbours."""
        wanted = {self.position[z] for z in zone_ids if z in self.position}
        a, b = self.neighbours
        extra = b[np.isin(a, list(wanted))].tolist() if wanted else []
        return {self.zones[i].id for i in wanted | set(extra)}


async def zones_version(session: AsyncSession, *, lock: bool = False) -> tuple[Any, ...]:
    """Changes whenever a zone is added, changed or deleted: the "zones" counter (bumped by
    every zone write, in commit order) and an aggregate of the rows (cheap: zones are few).

    With `lock`, the counter is read under a shared lock held to the end of the transaction
    (PostgreSQL): no zone write commits meanwhile, so links written now use current zones.
    """
    counter = await (versions.lock_shared if lock else versions.read)(session, versions.ZONES)
    row = (
        await session.execute(
            select(func.count(), func.max(ZoneRow.updated_at), func.sum(ZoneRow.version))
        )
    ).one()
    return (counter, *row)


# Bumped by every zone write of this process once it commits or rolls back: each ZoneCache
# then re-reads the zones at once (a rolled-back write may have been read inside its own
# transaction).
_local_zone_writes = [0]


def _local_bump() -> None:
    _local_zone_writes[0] += 1


async def zones_written(session: AsyncSession) -> None:
    """A zone write: bump the "zones" counter in the writing transaction (its lock is held to
    COMMIT, and taken before anything else of risk, so lock order is zones then risk) and tell
    this process's caches once the transaction ends."""
    await versions.bump(session, versions.ZONES)
    _local_bump()
    on_commit(session, "zones_written", _local_bump, rollback=_local_bump)


class ZoneCache:
    """The zone index, rebuilt when the zones version changes (any process may change zones).

    The version is one counter read and one aggregate; it is asked on every use unless
    `recheck_seconds` allows a copy that old (writes of this process invalidate at once).
    Writers pass the version they read under lock (`zones_version(lock=True)`).
    """

    def __init__(self, recheck_seconds: float = 0.0, grid_degrees: float = GRID_DEGREES) -> None:
        self._snapshot: ZoneSnapshot | None = None
        self.recheck_seconds = recheck_seconds
        self.grid_degrees = grid_degrees
        self._checked_at = 0.0
        self._seen_writes = _local_zone_writes[0]

    def invalidate(self) -> None:
        self._snapshot = None

    async def snapshot(
        self, session: AsyncSession, *, version: tuple[Any, ...] | None = None
    ) -> ZoneSnapshot:
        """The zones at `version` (read now when not given): rebuilt when that differs."""
        if self._seen_writes != _local_zone_writes[0]:
            self._seen_writes = _local_zone_writes[0]
            self._snapshot = None
        clock = time.monotonic()
        if version is None:
            if self._snapshot is not None and clock - self._checked_at < self.recheck_seconds:
                return self._snapshot
            version = await zones_version(session)
        self._checked_at = clock
        if self._snapshot is not None and self._snapshot.version == version:
            return self._snapshot
        rows = (await session.scalars(select(ZoneRow).order_by(ZoneRow.id))).all()
        # Off the event loop: parsing every zone and indexing them takes a while for COD-AB.
        # Plain values first: ORM rows stay on the event loop's side.
        plain = [
            (
                {
                    "id": r.id,
                    "code": r.code,
                    "name_fr": r.name_fr,
                    "name_en": r.name_en,
                    "kind": r.kind,
                    "parent_code": r.parent_code,
                    "provenance": r.provenance,
                    "approximate": r.approximate,
                    "version": r.version,
                },
                r.geometry_wkb,
                r.area_km2,
                r.owner_org_id,
            )
            for r in rows
        ]
        self._snapshot = await asyncio.to_thread(_build_snapshot, version, plain, self.grid_degrees)
        return self._snapshot


def _build_snapshot(
    version: tuple[Any, ...],
    plain: Sequence[tuple[dict[str, Any], bytes, float, uuid.UUID | None]],
    grid_degrees: float,
) -> ZoneSnapshot:
    zones = [Zone(**fields, geometry=from_wkb(wkb)) for fields, wkb, _, _ in plain]
    return ZoneSnapshot.build(
        version, zones, [a for _, _, a, _ in plain], [o for _, _, _, o in plain], grid_degrees
    )


# --- CRUD --------------------------------------------------------------------------------------


def visible_to(org_id: uuid.UUID | None) -> Any:
    """SQL: the zones an organisation may know of, platform zones and its own custom zones.

    An organisation's custom zone is its area of interest: to anyone else it does not exist.
    """
    if org_id is None:
        return ZoneRow.owner_org_id.is_(None)
    return ZoneRow.owner_org_id.is_(None) | (ZoneRow.owner_org_id == org_id)


def may_know(row: ZoneRow, org_id: uuid.UUID | None) -> bool:
    return row.owner_org_id is None or row.owner_org_id == org_id


class ZoneStore:
    """Domain-named reads and writes of zones over one session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def count(self) -> int:
        return int(
            (await self.session.execute(select(func.count()).select_from(ZoneRow))).scalar_one()
        )

    async def rows(
        self, kinds: Sequence[str] | None = None, *, org_id: uuid.UUID | bool | None = True
    ) -> list[ZoneRow]:
        """Zones by kind; with `org_id`, only platform zones and that organisation's own."""
        stmt = select(ZoneRow).order_by(ZoneRow.kind, ZoneRow.code)
        if kinds:
            stmt = stmt.where(ZoneRow.kind.in_(list(kinds)))
        if org_id is not True:
            stmt = stmt.where(visible_to(org_id if isinstance(org_id, uuid.UUID) else None))
        return list((await self.session.scalars(stmt)).all())

    async def get(self, zone_id: str) -> ZoneRow:
        row = await self.session.get(ZoneRow, zone_id)
        if row is None:
            raise NotFound(f"No zone {zone_id!r}: GET /api/v1/zones lists the zones.", field="zone")
        return row

    async def add(self, zone: Zone, now: datetime, owner: uuid.UUID | None = None) -> ZoneRow:
        await zones_written(self.session)
        clash = await self.session.scalar(
            select(ZoneRow.id).where((ZoneRow.id == zone.id) | (ZoneRow.code == zone.code))
        )
        if clash is not None:
            raise Conflict(
                f"A zone with code {zone.code!r} exists: choose another code or PUT to change it.",
                field="code",
            )
        await self.session.execute(insert(ZoneRow).values(zone_values(zone, now, owner)))
        return await self.get(zone.id)

    async def replace(self, zone: Zone, now: datetime) -> ZoneRow:
        await zones_written(self.session)
        current = await self.get(zone.id)
        if zone.code != current.code:
            clash = await self.session.scalar(
                select(ZoneRow.id).where(ZoneRow.code == zone.code, ZoneRow.id != zone.id)
            )
            if clash is not None:
                raise Conflict(f"Another zone already has code {zone.code!r}.", field="code")
        values = zone_values(zone, now, current.owner_org_id)
        values.pop("created_at")
        values.pop("id")
        values["version"] = current.version + 1
        await self.session.execute(update(ZoneRow).where(ZoneRow.id == zone.id).values(values))
        await self.session.refresh(current)
        return current

    async def delete(self, zone_id: str) -> None:
        await zones_written(self.session)
        await self.get(zone_id)
        # Links go explicitly: SQLite only cascades when foreign keys are switched on.
        await self.session.execute(
            delete(IncidentZoneRow).where(IncidentZoneRow.zone_id == zone_id)
        )
        await self.session.execute(delete(ZoneRiskRow).where(ZoneRiskRow.zone_id == zone_id))
        await self.session.execute(delete(ZoneRow).where(ZoneRow.id == zone_id))

    async def upsert_many(self, zones: Sequence[Zone], now: datetime) -> tuple[int, int]:
        """Add new zones and replace those whose code exists; returns (created, updated)."""
        await zones_written(self.session)
        existing = {
            r.code: r
            for r in (
                await self.session.scalars(
                    select(ZoneRow).where(ZoneRow.code.in_([z.code for z in zones]))
                )
            ).all()
        }
        created = updated = 0
        for zone in zones:
            row = existing.get(zone.code)
            if row is None:
                await self.session.execute(insert(ZoneRow).values(zone_values(zone, now)))
                created += 1
                continue
            values = zone_values(zone, now)
            for key in ("id", "created_at"):
                values.pop(key)
            values["version"] = row.version + 1
            await self.session.execute(update(ZoneRow).where(ZoneRow.id == row.id).values(values))
            updated += 1
        return created, updated


# --- assignment --------------------------------------------------------------------------------


def snap_points(
    lons: npt.ArrayLike, lats: npt.ArrayLike, degrees: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """incidents.sharing.rules.snap_to_grid on arrays: the centres of the grid cells holding the points."""
    x = np.asarray(lons, dtype=np.float64)
    y = np.asarray(lats, dtype=np.float64)
    return (
        np.round((np.floor(x / degrees) + 0.5) * degrees, 6),
        np.round((np.floor(y / degrees) + 0.5) * degrees, 6),
    )


def zone_pairs(
    index: ZoneIndex,
    types: Sequence[str],
    lons: npt.NDArray[np.float64],
    lats: npt.NDArray[np.float64],
    wkbs: Sequence[bytes | None],
    *,
    owners: Sequence[str] | None = None,
    org_ids: Sequence[str] | None = None,
    grid_degrees: float = GRID_DEGREES,
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """(item, zone) pairs: points through the coordinate arrays, other shapes through shapely.

    With `owners` (per zone, "" for platform zones) and `org_ids` (per item, 32 hex digits), a
    zone drawn by an organisation holds that organisation's incidents by their geometry and
    every other organisation's by the grid cell of its masked entry only (`lons`/`lats` are the
    incidents' representative points, as the masked view snaps them): a tiny zone drawn around
    a suspected place then tells no more than the masked list does.
    """
    items, zones = _exact_pairs(index, types, lons, lats, wkbs)
    if owners is None or org_ids is None or not any(owners):
        return items, zones
    items, zones = _by_owner(index, owners, grid_degrees, items, zones, lons, lats, org_ids)
    order = np.lexsort((zones, items))
    return items[order], zones[order]


def _by_owner(
    index: ZoneIndex,
    owners: Sequence[str],
    grid_degrees: float,
    items: npt.NDArray[np.intp],
    zones: npt.NDArray[np.intp],
    lons: npt.ArrayLike,
    lats: npt.ArrayLike,
    org_ids: Sequence[str],
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Exact (item, zone) pairs -> pairs where organisations' zones take others' grid cells."""
    own = np.asarray(list(owners), dtype=object)
    orgs = np.asarray(list(org_ids), dtype=object)
    owned = own != ""
    keep = ~owned[zones] | (own[zones] == orgs[items])
    items, zones = items[keep], zones[keep]
    owned_at = np.flatnonzero(owned)
    sub = ZoneIndex([(index.zone_ids[j], index.geometries[j]) for j in owned_at.tolist()])
    cx, cy = snap_points(lons, lats, grid_degrees)
    i2, z2 = sub.assign_points(cx, cy)
    z2 = owned_at[z2]
    other = own[z2] != orgs[i2]
    return (
        np.concatenate([items, i2[other]]).astype(np.intp),
        np.concatenate([zones, z2[other]]).astype(np.intp),
    )


def _exact_pairs(
    index: ZoneIndex,
    types: Sequence[str],
    lons: npt.NDArray[np.float64],
    lats: npt.NDArray[np.float64],
    wkbs: Sequence[bytes | None],
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    is_point = np.array([t == "Point" for t in types], dtype=bool)
    pts = np.flatnonzero(is_point)
    others = np.flatnonzero(~is_point)
    items: list[npt.NDArray[np.intp]] = []
    zones: list[npt.NDArray[np.intp]] = []
    if pts.size:
        i, z = index.assign_points(lons[pts], lats[pts])
        items.append(pts[i])
        zones.append(z)
    if others.size:
        geoms = shapely.from_wkb([wkbs[k] for k in others.tolist()])
        i, z = index.assign_geometries(geoms)
        items.append(others[i])
        zones.append(z)
    if not items:
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
    return np.concatenate(items), np.concatenate(zones)


def link_select() -> Select[Any]:
    """What placing an incident in zones needs: id, geometry type, point, organisation, and the
    shape only when it is not a point (a point's WKB is not fetched)."""
    return select(
        IncidentRow.id,
        IncidentRow.geometry_type,
        IncidentRow.lon,
        IncidentRow.lat,
        IncidentRow.org_id,
        case((IncidentRow.geometry_type != "Point", IncidentRow.geometry_wkb), else_=None),
    )


async def reassign_all(
    session: AsyncSession,
    snapshot: ZoneSnapshot,
    *,
    batch_size: int = 50_000,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Rebuild every incident's zones in batches (vectorised per batch); returns the link count."""
    await session.execute(delete(IncidentZoneRow))
    links = 0
    last: uuid.UUID | None = None
    while True:
        stmt = link_select().order_by(IncidentRow.id).limit(batch_size)
        if last is not None:
            stmt = stmt.where(IncidentRow.id > last)
        rows = (await session.execute(stmt)).all()
        if not rows:
            break
        ids, types, lons, lats, orgs, wkbs = (list(c) for c in zip(*rows, strict=True))
        items, zones = await asyncio.to_thread(
            snapshot_pairs, snapshot, types, lons, lats, wkbs, [_hex(o) for o in orgs]
        )
        zone_ids = snapshot.index.zone_ids
        if items.size:
            await session.execute(
                insert(IncidentZoneRow),
                [
                    {"incident_id": ids[i], "zone_id": zone_ids[z]}
                    for i, z in zip(items.tolist(), zones.tolist(), strict=True)
                ],
            )
        links += int(items.size)
        if progress is not None:
            progress(len(ids))
        last = ids[-1]
        if len(ids) < batch_size:
            break
    return links


def _hex(value: Any) -> str:
    """An organisation id as 32 hex digits ("" for none); SQLite may hand back str or UUID."""
    if value is None:
        return ""
    return value.hex if isinstance(value, uuid.UUID) else uuid.UUID(str(value)).hex


def snapshot_pairs(
    snapshot: ZoneSnapshot,
    types: Sequence[str],
    lons: Sequence[float] | npt.NDArray[np.float64],
    lats: Sequence[float] | npt.NDArray[np.float64],
    wkbs: Sequence[bytes | None],
    org_ids: Sequence[str],
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """zone_pairs over every zone of a snapshot, with its owners and mask grid."""
    return zone_pairs(
        snapshot.index,
        types,
        np.asarray(lons, dtype=np.float64),
        np.asarray(lats, dtype=np.float64),
        wkbs,
        owners=snapshot.owners,
        org_ids=org_ids,
        grid_degrees=snapshot.grid_degrees,
    )


async def reassign_zone(
    session: AsyncSession,
    zone: Zone,
    owner: uuid.UUID | None = None,
    grid_degrees: float = GRID_DEGREES,
) -> int:
    """Rebuild the links of one zone: only incidents in its bounding box are examined.

    An organisation's zone takes other organisations' incidents by their grid cell: the box
    is widened by a cell so that every incident whose cell centre falls inside is examined.
    """
    await session.execute(delete(IncidentZoneRow).where(IncidentZoneRow.zone_id == zone.id))
    minx, miny, maxx, maxy = (float(v) for v in shapely.bounds(zone.geometry))
    if owner is not None:
        minx, miny = minx - grid_degrees, miny - grid_degrees
        maxx, maxy = maxx + grid_degrees, maxy + grid_degrees
    rows = (
        await session.execute(
            link_select().where(
                IncidentRow.max_lon >= minx,
                IncidentRow.min_lon <= maxx,
                IncidentRow.max_lat >= miny,
                IncidentRow.min_lat <= maxy,
            )
        )
    ).all()
    if not rows:
        return 0
    ids, types, lons, lats, orgs, wkbs = (list(c) for c in zip(*rows, strict=True))

    def pairs() -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
        index = ZoneIndex([(zone.id, zone.geometry)])
        return zone_pairs(
            index,
            types,
            np.asarray(lons, float),
            np.asarray(lats, float),
            wkbs,
            owners=[_hex(owner)],
            org_ids=[_hex(o) for o in orgs],
            grid_degrees=grid_degrees,
        )

    items, _ = await asyncio.to_thread(pairs)  # a 10,000-vertex zone: off the event loop
    if items.size:
        await session.execute(
            insert(IncidentZoneRow),
            [{"incident_id": ids[i], "zone_id": zone.id} for i in items.tolist()],
        )
    return int(items.size)


async def zones_of_incident(session: AsyncSession, incident_id: uuid.UUID) -> list[str]:
    return list(
        (
            await session.scalars(
                select(IncidentZoneRow.zone_id).where(IncidentZoneRow.incident_id == incident_id)
            )
        ).all()
    )


def incident_cause(incident: Incident, previous: Incident | None) -> str:
    if previous is None:
        return f"incident {incident.id} reported"
    if incident.status.value == "retracted" and previous.status.value != "retracted":
        return f"incident {incident.id} retracted"
    return f"incident {incident.id} changed"


_KIND_RANK = {k: i for i, k in enumerate(ZONE_KINDS)}


def _widest_first(refs: Iterable[ZoneRef]) -> list[ZoneRef]:
    return sorted(refs, key=lambda r: (_KIND_RANK.get(r.kind, len(_KIND_RANK)), r.code))


@dataclass
class ZoneAssignment:
    """The zone placement step of incident writes (incidents.records.events.ZonePlacer):
    stores the zones a new or changed incident falls in and returns them."""

    cache: ZoneCache = field(default_factory=ZoneCache)

    async def current(self, session: AsyncSession) -> ZoneSnapshot:
        """The zones as committed, checked in the writing transaction under a shared lock of
        the zones counter (once per transaction): a zone redrawn or deleted by any process is
        seen before links are written, and none changes until this transaction commits."""
        version = session.info.get(ZONES_SEEN_KEY)
        if version is None:
            version = session.info[ZONES_SEEN_KEY] = await zones_version(session, lock=True)
        return await self.cache.snapshot(session, version=version)

    async def place(
        self,
        session: AsyncSession,
        incident: Incident,
        geometry: shapely.Geometry,
        previous: Incident | None,
    ) -> Placement:
        snapshot = await self.current(session)
        old: list[str] = []
        if previous is not None:
            old = await zones_of_incident(session, incident.id)
            await session.execute(
                delete(IncidentZoneRow).where(IncidentZoneRow.incident_id == incident.id)
            )
        new = zones_of(snapshot, incident.org_id, geometry)
        return (await _store_assignment(session, snapshot, [(incident, new, old)]))[0]

    async def place_new(
        self, session: AsyncSession, written: Sequence[tuple[Incident, shapely.Geometry]]
    ) -> list[Placement]:
        """Batch form for bulk imports of new incidents: one index pass, one insert."""
        if not written:
            return []
        snapshot = await self.current(session)
        geoms = np.empty(len(written), dtype=object)
        geoms[:] = [g for _, g in written]
        found: list[list[str]] = [[] for _ in written]
        items, zone_idx = snapshot.index.assign_geometries(geoms)
        if any(snapshot.owners):
            items, zone_idx = _owned_rule(
                snapshot, items, zone_idx, geoms, [inc.org_id.hex for inc, _ in written]
            )
        for item, j in sorted(zip(items.tolist(), zone_idx.tolist(), strict=True)):
            # Index order per incident, as zones_for gives it.
            found[item].append(snapshot.index.zone_ids[j])
        return await _store_assignment(
            session, snapshot, [(inc, found[i], []) for i, (inc, _) in enumerate(written)]
        )


def _representative(geoms: npt.NDArray[Any]) -> tuple[npt.NDArray[np.float64], ...]:
    """The point an incident row stores (lon, lat): itself, or a point on its surface."""
    points = geoms.copy()
    not_point = shapely.get_type_id(geoms) != 0
    if not_point.any():
        points[not_point] = shapely.point_on_surface(geoms[not_point])
    return shapely.get_x(points), shapely.get_y(points)


def _owned_rule(
    snapshot: ZoneSnapshot,
    items: npt.NDArray[np.intp],
    zones: npt.NDArray[np.intp],
    geoms: npt.NDArray[Any],
    org_ids: Sequence[str],
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """_by_owner for incidents given as shapes (their stored point: a point on the surface)."""
    lons, lats = _representative(geoms)
    return _by_owner(
        snapshot.index, snapshot.owners, snapshot.grid_degrees, items, zones, lons, lats, org_ids
    )


def zones_of(snapshot: ZoneSnapshot, org_id: uuid.UUID, geom: shapely.Geometry) -> list[str]:
    """The zones an incident of `org_id` falls in, in index order (see zone_pairs)."""
    if not any(snapshot.owners):
        return snapshot.index.zones_for(geom)
    geoms = np.empty(1, dtype=object)
    geoms[0] = geom
    items, zones = snapshot.index.assign_geometries(geoms)
    _, zones = _owned_rule(snapshot, items, zones, geoms, [org_id.hex])
    return [snapshot.index.zone_ids[j] for j in sorted(set(zones.tolist()))]


async def _store_assignment(
    session: AsyncSession,
    snapshot: ZoneSnapshot,
    changes: Sequence[tuple[Incident, list[str], list[str]]],
) -> list[Placement]:
    """Insert (incident, zone) rows; the placements go into the write events."""
    rows = [{"incident_id": inc.id, "zone_id": z} for inc, new, _ in changes for z in new]
    if rows:
        # A Core insert on the table: the ORM bulk path cost ~1 ms on every incident report.
        await session.execute(
            cast(Table, IncidentZoneRow.__table__).insert(), rows[0] if len(rows) == 1 else rows
        )
    placed = []
    for _, new, old in changes:
        zones = [snapshot.zones[snapshot.position[z]] for z in new]
        refs = [ZoneRef(id=z.id, code=z.code, name=z.name_fr, kind=z.kind) for z in zones]
        placed.append(
            Placement(
                snapshot.version,
                tuple(new),
                tuple(_widest_first(refs)),
                {z: snapshot.owner_of(z) for z in new},
                left=tuple(old),
            )
        )
    return placed


# --- reads used by the incident service --------------------------------------------------------


async def zone_lookup(
    session: AsyncSession,
    incident_ids: list[uuid.UUID],
    *,
    org_id: uuid.UUID | None = None,
    all_zones: bool = False,
) -> dict[uuid.UUID, list[ZoneRef]]:
    """The zones each incident falls in, widest first (country, regions, belts, towns): the
    platform zones and `org_id`'s own custom zones (another organisation's custom zone does not
    exist for it, even on its own incidents); every zone only with `all_zones` (server CLI)."""
    if not incident_ids:
        return {}
    out: dict[uuid.UUID, list[ZoneRef]] = {}
    wanted = list(incident_ids)
    stmt = (
        select(IncidentZoneRow.incident_id, ZoneRow.id, ZoneRow.code, ZoneRow.name_fr, ZoneRow.kind)
        .join(ZoneRow, ZoneRow.id == IncidentZoneRow.zone_id)
        .where(IncidentZoneRow.incident_id.in_(wanted))
    )
    if not all_zones:
        stmt = stmt.where(visible_to(org_id))
    rows = (await session.execute(stmt)).all()
    for incident_id, zid, code, name, kind in sorted(
        rows, key=lambda r: (_KIND_RANK.get(r[4], len(_KIND_RANK)), r[2])
    ):
        out.setdefault(incident_id, []).append(ZoneRef(id=zid, code=code, name=name, kind=kind))
    return out


class ZoneSubquery(Protocol):
    def __call__(self, zone_id: str, viewer: Principal | None = None) -> Awaitable[Select[Any]]: ...


def zone_filter(db: Database) -> ZoneSubquery:
    """`?zone=ID` of GET /incidents: a subquery of the zone's incident ids (404 if unknown to
    `viewer`: another organisation's custom zone does not exist for it; None: the server,
    or a caller that checked the zone itself)."""

    async def subquery(zone_id: str, viewer: Principal | None = None) -> Select[Any]:
        async with db.read() as session:
            row = await session.get(ZoneRow, zone_id)
            if row is None or (viewer is not None and not may_know(row, viewer.org_id)):
                raise NotFound(
                    f"No zone {zone_id!r}: GET /api/v1/zones lists the zones.", field="zone"
                )
        return select(IncidentZoneRow.incident_id).where(IncidentZoneRow.zone_id == zone_id)

    return subquery


# --- seeding and import ------------------------------------------------------------------------


async def ensure_default_zones(db: Database, settings: ZoneSettings, *, now: datetime) -> int:
    """Create the default zones when there are no zones at all; returns how many were made.

    Safe when several processes start at once on an empty database: the "zones" counter row
    is locked first (PostgreSQL), and the rows go in with "on conflict do nothing" (SQLite,
    or a database whose counter row was missing), so one creates them and the others see
    them. Incidents already stored (e.g. imported before the first start) are assigned.
    """
    async with db.read() as session:
        if await ZoneStore(session).count() > 0:  # the usual start: no lock taken
            return 0
    async with db.transaction() as session:
        await versions.lock_exclusive(session, versions.ZONES)
        store = ZoneStore(session)
        if await store.count() > 0:
            return 0
        zones = default_zones(
            town_radius_km=settings.town_radius_km,
            mauritania_belt_km=settings.mauritania_belt_km,
            border_belt_km=settings.border_belt_km,
            tri_border_km=settings.tri_border_km,
        )
        made = await session.execute(
            _insert_ignoring(session).values([zone_values(z, now) for z in zones])
        )
        if not made.rowcount:  # type: ignore[attr-defined]
            return 0  # another process made them meanwhile
        await zones_written(session)
        snapshot = await ZoneCache().snapshot(session)
        await reassign_all(session, snapshot)
        return len(zones)


def _insert_ignoring(session: AsyncSession) -> Any:
    """INSERT INTO zones that skips rows whose id or code exists (PostgreSQL and SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(ZoneRow).on_conflict_do_nothing()
    return insert(ZoneRow).prefix_with("OR IGNORE")


@dataclass(frozen=True)
class ZoneImport:
    created: int
    updated: int
    links: int
    repairs: list[str]


async def import_zones(
    db: Database,
    zones: Sequence[Zone],
    repairs: list[str],
    *,
    now: datetime,
    progress: Callable[[int], None] | None = None,
    grid_degrees: float = GRID_DEGREES,
) -> ZoneImport:
    """Store imported zones (same code: replaced) and re-assign every incident, one transaction.

    Imported zones are platform zones (no owner), whatever zone had their code before.
    """
    async with db.transaction() as session:
        created, updated = await ZoneStore(session).upsert_many(zones, now)
        snapshot = await ZoneCache(grid_degrees=grid_degrees).snapshot(session)
        links = await reassign_all(session, snapshot, progress=progress)
    return ZoneImport(created, updated, links, repairs)


def check_kind(kind: str, field_name: str = "kind") -> str:
    if kind not in ZONE_KINDS:
        raise InvalidField(field_name, f"kind must be one of {', '.join(ZONE_KINDS)}")
    return kind


# --- zone use cases ----------------------------------------------------------------------------


class Rescorer(Protocol):
    """Re-scores zones inside a transaction (incidents.risk_service.RiskService)."""

    async def recompute(
        self,
        session: AsyncSession,
        *,
        now: datetime,
        zone_ids: Iterable[str] | None = None,
        causes: dict[str, list[str]] | None = None,
        default_cause: str = ...,
    ) -> Any: ...


@dataclass(frozen=True)
class ZoneDraft:
    """What a client sends to create or replace a zone (geometry already parsed and repaired)."""

    name_fr: str
    geometry: shapely.Geometry
    code: str | None = None
    name_en: str | None = None
    kind: str = "custom"
    parent_code: str | None = None
    provenance: str | None = None
    approximate: bool = False


class Actor(Protocol):
    """Who changes zones (incidents.identity.Principal fits)."""

    @property
    def user_id(self) -> uuid.UUID: ...
    @property
    def org_id(self) -> uuid.UUID: ...
    @property
    def is_operator(self) -> bool: ...


PLATFORM_ONLY = (
    "only the platform operator changes it (an operator token, or `sentinelle zones import` "
    "on the server); draw your organisation's own zone with POST /api/v1/zones, kind `custom`"
)


def _refuse(actor: Actor, action: str, target: str | None, detail: str, field: str) -> Forbidden:
    audit.later(
        audit.event(
            "authz.denied",
            actor,
            target_type="zone",
            target_id=target,
            operation=action,
            reason=field,
        )
    )
    return Forbidden(detail, field=field)


# --- zones by name, places in zones ------------------------------------------------------------

# Longest name or place a search takes (a place name is a few words).
MAX_QUERY_LENGTH = 100
# Below this similarity (0-100, rapidfuzz ratio on normalised names) a zone name is no match.
ZONE_NAME_CUTOFF = 80.0
# A zone answered for by its name alone (no place of that name) must be named closer than that.
LOCATE_CUTOFF = 90.0
_PARENTHESIS = re.compile(r"\([^)]*\)")


@dataclass(frozen=True)
class ZoneMatch:
    """A zone found for a search, and why: "name" (its name is like the query) or "place" (it
    holds the place of that name)."""

    row: ZoneRow
    match: str
    score: float


@dataclass(frozen=True)
class Located:
    """What a zone id or a place name given for a zone designates.

    `zone_id` is the zone an answer refers to; `zones` are the zones holding `place`, narrowest
    first (town ⊂ cercle ⊂ région ⊂ country), only the zone itself for an id.
    """

    zone_id: str
    matched: str  # "id", "place" or "zone_name"
    place: Locality | None
    zones: list[Zone]
    areas_km2: list[float]


def _name_keys(*names: str) -> list[str]:
    """Normalised names, also without the "(20 km)" a default zone's name ends with."""
    keys = []
    for name in names:
        for variant in (name, _PARENTHESIS.sub(" ", name)):
            key = normalize_name(variant)
            if key and key not in keys:
                keys.append(key)
    return keys


def name_score(query_key: str, names: Sequence[str]) -> float:
    """How well a normalised query names a zone (0-100): exact, a run of its words, or a typo.

    >>> name_score("menaka", ["Ménaka (20 km)"])
    100.0
    >>> name_score("nioro", ["Nioro du Sahel (20 km)"]) >= 90
    True
    """
    best = 0.0
    for key in _name_keys(*names):
        if key == query_key:
            return 100.0
        best = max(best, float(fuzz.ratio(query_key, key)))
    for name in names:  # a run of the name's words ("nioro"), not of its "(20 km)"
        if f" {query_key} " in f" {normalize_name(_PARENTHESIS.sub(' ', name))} ":
            best = max(best, 90.0)
    return best


def check_query(query: str, field_name: str = "q") -> str:
    text = query.strip()
    if not text:
        raise InvalidField(field_name, f"{field_name} is empty: give a place or zone name")
    if len(text) > MAX_QUERY_LENGTH:
        raise InvalidField(
            field_name, f"{field_name} is at most {MAX_QUERY_LENGTH} characters: shorten it"
        )
    return text


@dataclass
class ZoneService:
    """Create, replace and delete zones; incidents are re-assigned and risk re-scored at once.

    Platform zones (owner NULL: defaults, COD-AB imports, zones the operator draws) are changed
    by the operator only; a custom zone belongs to the organisation that drew it, and is
    changed by its officers and admins and not seen by anyone else (404).
    """

    db: Database
    cache: ZoneCache
    risk: Rescorer | None = None
    # Place names for zone look-ups by place (the packaged and imported gazetteer).
    places: Gazetteer = field(default_factory=Gazetteer.load)

    def _zone(self, draft: ZoneDraft, zone_id: str | None) -> Zone:
        name = draft.name_fr.strip()
        if not name:
            raise InvalidField("name_fr", "give the zone a name (French)")
        code = zone_code(draft.code or zone_id or name)
        if not code:
            raise InvalidField("code", "give a code of letters, digits and underscores")
        check_kind(draft.kind)
        return Zone(
            id=zone_id or code,
            code=code,
            name_fr=name,
            name_en=(draft.name_en or name).strip(),
            kind=draft.kind,
            geometry=draft.geometry,
            parent_code=draft.parent_code,
            provenance=draft.provenance or "drawn by a user",
            approximate=draft.approximate,
        )

    def _check_kind(self, actor: Actor, draft: ZoneDraft, action: str, target: str | None) -> None:
        if not actor.is_operator and draft.kind in PLATFORM_KINDS:
            raise _refuse(
                actor,
                action,
                target,
                f"Zones of kind {draft.kind!r} are official platform zones: {PLATFORM_ONLY}.",
                "kind",
            )

    async def _hidden_clash(
        self, session: AsyncSession, zone: Zone, org: uuid.UUID | None, own_id: str | None = None
    ) -> Zone:
        """A code already taken by a zone the actor may not know of: a fresh code instead of a
        409 that would tell that organisation's zone exists."""
        stmt = select(ZoneRow).where((ZoneRow.id == zone.id) | (ZoneRow.code == zone.code))
        clashes = [r for r in (await session.scalars(stmt)).all() if r.id != own_id]
        if clashes and not all(may_know(r, org) for r in clashes):
            code = f"{zone.code[:57]}_{uuid.uuid4().hex[:6]}"
            return replace(zone, code=code, id=zone.id if own_id else code)
        return zone

    def _owner_of_new(self, actor: Actor) -> uuid.UUID | None:
        return None if actor.is_operator else actor.org_id

    async def _editable(
        self, session: AsyncSession, zone_id: str, actor: Actor, action: str
    ) -> ZoneRow:
        row = await ZoneStore(session).get(zone_id)
        if not may_know(row, actor.org_id):
            raise _unknown(zone_id)
        if row.owner_org_id is None and not actor.is_operator:
            raise _refuse(
                actor,
                action,
                zone_id,
                f"Zone {zone_id!r} is a platform zone: {PLATFORM_ONLY}.",
                "zone",
            )
        return row

    async def _after(
        self,
        session: AsyncSession,
        zone: Zone | None,
        ids: list[str],
        now: datetime,
        cause: str,
        owner: uuid.UUID | None = None,
    ) -> None:
        self.cache.invalidate()
        if zone is not None:
            await reassign_zone(session, zone, owner, self.cache.grid_degrees)
        if self.risk is not None:
            await self.risk.recompute(
                session, now=now, zone_ids=ids, causes={i: [cause] for i in ids}
            )

    async def create(
        self, draft: ZoneDraft, *, now: datetime, actor: Actor | None = None
    ) -> ZoneRow:
        """A new zone; by an organisation's officer a custom zone of that organisation."""
        zone = self._zone(draft, None)
        owner = None
        if actor is not None:
            self._check_kind(actor, draft, "zone.create", None)
            owner = self._owner_of_new(actor)
        async with self.db.transaction() as session:
            if actor is not None:
                zone = await self._hidden_clash(session, zone, actor.org_id)
            row = await ZoneStore(session).add(zone, now, owner)
            await self._after(session, zone, [zone.id], now, f"zone {zone.code} created", owner)
        return row

    async def replace(
        self, zone_id: str, draft: ZoneDraft, *, now: datetime, actor: Actor | None = None
    ) -> ZoneRow:
        zone = self._zone(draft, zone_id)
        async with self.db.transaction() as session:
            owner = None
            if actor is not None:
                current = await self._editable(session, zone_id, actor, "zone.replace")
                owner = current.owner_org_id
                if owner is not None and draft.kind != "custom":
                    raise _refuse(
                        actor,
                        "zone.replace",
                        zone_id,
                        "An organisation's zone stays of kind `custom`: official kinds are "
                        f"platform zones, and {PLATFORM_ONLY}.",
                        "kind",
                    )
                zone = await self._hidden_clash(session, zone, actor.org_id, own_id=zone_id)
            row = await ZoneStore(session).replace(zone, now)
            await self._after(session, zone, [zone.id], now, f"zone {zone.code} redrawn", owner)
        return row

    async def delete(self, zone_id: str, *, now: datetime, actor: Actor | None = None) -> None:
        async with self.db.transaction() as session:
            if actor is not None:
                await self._editable(session, zone_id, actor, "zone.delete")
            snapshot = await self.cache.snapshot(session)
            neighbours = sorted(snapshot.around([zone_id]) - {zone_id})
            await ZoneStore(session).delete(zone_id)
            await self._after(session, None, neighbours, now, f"zone {zone_id} deleted")

    async def get(self, zone_id: str, viewer: Actor | None = None) -> ZoneRow:
        """A zone; 404 for another organisation's custom zone, exactly as for no zone."""
        async with self.db.read() as session:
            row = await ZoneStore(session).get(zone_id)
        if viewer is not None and not may_know(row, viewer.org_id):
            raise _unknown(zone_id)
        return row

    async def list(
        self, kinds: Sequence[str] | None = None, viewer: Actor | None = None
    ) -> list[ZoneRow]:
        async with self.db.read() as session:
            if viewer is None:
                return await ZoneStore(session).rows(kinds)
            return await ZoneStore(session).rows(kinds, org_id=viewer.org_id)

    async def _visible_snapshot(
        self, viewer: Actor | None
    ) -> tuple[ZoneSnapshot, builtins.list[int]]:
        async with self.db.read() as session:
            snapshot = await self.cache.snapshot(session)
        org = None if viewer is None else viewer.org_id.hex
        owners = snapshot.owners or ("",) * len(snapshot.zones)
        seen = [i for i, o in enumerate(owners) if o == "" or (org is not None and o == org)]
        return snapshot, seen

    def _holding(
        self, snapshot: ZoneSnapshot, seen: Sequence[int], lon: float, lat: float
    ) -> builtins.list[int]:
        """Positions of the visible zones holding a point, narrowest first."""
        _, zones = snapshot.index.assign_points([lon], [lat])
        allowed = set(seen)
        held = [int(z) for z in zones.tolist() if int(z) in allowed]
        return sorted(held, key=lambda k: (float(snapshot.areas_km2[k]), snapshot.zones[k].id))

    async def search(
        self, query: str, viewer: Actor | None = None, kinds: Sequence[str] | None = None
    ) -> builtins.list[ZoneMatch]:
        """Zones the viewer may know of whose name is like `query` (accents, case and small typos
        ignored), best first; then the zones holding the place of that name, narrowest first."""
        key = normalize_name(check_query(query))
        rows = await self.list(kinds, viewer)
        scored = [(name_score(key, [r.name_fr, r.name_en, r.code]), r) for r in rows]
        found = [
            ZoneMatch(r, "name", score)
            for score, r in sorted(scored, key=lambda t: (-t[0], t[1].area_km2, t[1].id))
            if score >= ZONE_NAME_CUTOFF
        ]
        place = self.places.lookup(query)
        if place is not None:
            snapshot, seen = await self._visible_snapshot(viewer)
            by_id = {r.id: r for r in rows}
            named = {m.row.id for m in found}
            for k in self._holding(snapshot, seen, place.lon, place.lat):
                zone_id = snapshot.zones[k].id
                if zone_id in by_id and zone_id not in named:
                    found.append(ZoneMatch(by_id[zone_id], "place", 0.0))
        return found

    def _placed(self, snapshot: ZoneSnapshot, seen: Sequence[int], place: Locality) -> Located:
        held = self._holding(snapshot, seen, place.lon, place.lat)
        return Located(
            snapshot.zones[held[0]].id if held else "",
            "place",
            place,
            [snapshot.zones[k] for k in held],
            [float(snapshot.areas_km2[k]) for k in held],
        )

    async def places_named(
        self, query: str, viewer: Actor | None = None, *, limit: int = 5
    ) -> builtins.list[tuple[Locality, Located]]:
        """Places of about that name, best first, each with the visible zones holding it."""
        text = check_query(query)
        first = self.places.lookup(text)
        candidates = [first] if first is not None else []
        candidates += [p for p in self.places.suggest(text, limit=limit + 1) if p != first]
        snapshot, seen = await self._visible_snapshot(viewer)
        return [(p, self._placed(snapshot, seen, p)) for p in candidates[:limit]]

    async def locate(self, ref: str, viewer: Actor | None = None) -> Located:
        """The zone `ref` designates: a zone id, else a place (the zones holding it, the
        narrowest answering), else a zone name. 404, with suggestions, when none fits; another
        organisation's custom zone is never found, by id or by name."""
        async with self.db.read() as session:
            row = await session.get(ZoneRow, ref)
        if row is not None and (viewer is None or may_know(row, viewer.org_id)):
            return Located(row.id, "id", None, [zone_from_row(row)], [row.area_km2])
        text = check_query(ref, "zone")
        snapshot, seen = await self._visible_snapshot(viewer)
        place = self.places.lookup(text)
        if place is not None:
            located = self._placed(snapshot, seen, place)
            if not located.zones:
                raise NotFound(
                    f"{place.name} ({place.lat:.4f}, {place.lon:.4f}) lies in no zone: "
                    "GET /api/v1/zones lists the zones.",
                    field="zone",
                )
            return located
        key = normalize_name(text)
        named = sorted(
            (
                (name_score(key, [z.name_fr, z.name_en, z.code]), float(snapshot.areas_km2[k]), k)
                for k in seen
                for z in [snapshot.zones[k]]
            ),
            key=lambda t: (-t[0], t[1]),
        )
        if named and named[0][0] >= LOCATE_CUTOFF:
            k = named[0][2]
            return Located(
                snapshot.zones[k].id, "zone_name", None, [snapshot.zones[k]], [named[0][1]]
            )
        close = [s.name for s in self.places.suggest(text, limit=3)]
        close += [snapshot.zones[k].name_fr for score, _, k in named[:3] if score >= 60]
        hint = f" Did you mean {', '.join(dict.fromkeys(close))}?" if close else ""
        raise NotFound(
            f"No zone or place {ref!r}.{hint} GET /api/v1/zones?q=NAME finds zones by name.",
            field="zone",
        )

    async def known_ids(self, viewer: Actor) -> set[str]:
        """Ids of the zones the viewer may know of (platform zones and its own)."""
        async with self.db.read() as session:
            found = await session.scalars(select(ZoneRow.id).where(visible_to(viewer.org_id)))
            return set(found.all())


def _unknown(zone_id: str) -> NotFound:
    return NotFound(f"No zone {zone_id!r}: GET /api/v1/zones lists the zones.", field="zone")
