"""Zone risk use cases: incidents as columns, scores, level changes, route assessment."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import math
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

import numpy as np
import shapely
from shapely import GeometryType
from sqlalchemy import Float, String, and_, case, cast, delete, func, insert, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql import ColumnElement

from incidents.db import Database, before_commit, on_commit
from incidents.errors import InvalidField, NotFound
from incidents.events.linking import risk_credibility
from incidents.records.events import IncidentsImported, IncidentWritten, Placement
from incidents.records.model import Incident
from incidents.records.store import BIG, CELL_DEG, cell_of
from incidents.records.tables import IncidentRow
from incidents.risk import versions
from incidents.risk.assessment import (
    MASKED_CREDIBILITY,
    MASKED_RELIABILITY,
    MASKED_SEVERITY,
    MASKED_STATUS,
    AreaRisk,
    IncidentColumns,
    assess_area,
    assessment_area,
    check_segment_km,
    check_service_area,
    coarse_days,
    mask_columns,
    masked_types,
)
from incidents.risk.coverage import CoverageRule, ZoneCoverage, area_has_data, zones_with_data
from incidents.risk.model import RiskConfig, RiskInputs, ZoneRisk, score_zones
from incidents.sharing.rules import TimeUnit
from incidents.zones.store import (
    ZoneCache,
    ZoneSnapshot,
    ZoneStore,
    incident_cause,
    snapshot_pairs,
    visible_to,
    zones_version,
)
from incidents.zones.tables import (
    IncidentChangeRow,
    IncidentZoneRow,
    RiskPendingRow,
    ZoneLevelChangeRow,
    ZoneRiskRow,
    ZoneRow,
)

__all__ = [
    "Assessment",
    "LevelChange",
    "RiskObserver",
    "RiskService",
    "RiskSettings",
    "RiskStore",
    "StoredRisk",
    "risk_config",
    "to_days",
]

log = logging.getLogger("sentinelle.risk")
DAY = 86400.0
MAX_HISTORY_STEPS = 1000
MAX_ASSESSED_INCIDENTS = 1000
# session.info key, read only by RiskObserver: what the writing transaction hands risk (Pending).
PENDING_KEY = "sentinelle.risk_pending"
# Change-log entries older than this are pruned; a process further behind loads afresh.
CHANGE_LOG_KEEP = timedelta(hours=1)
# Zones claimed for re-scoring per transaction.
PENDING_BATCH = 50_000


class RiskSettings(Protocol):
    @property
    def risk_half_life_days(self) -> float: ...
    @property
    def risk_window_days(self) -> int: ...
    @property
    def risk_thresholds(self) -> tuple[float, ...]: ...
    @property
    def risk_hysteresis(self) -> float: ...
    @property
    def data_retention_days(self) -> int: ...
    @property
    def demo_mode(self) -> bool: ...


def risk_config(settings: RiskSettings) -> RiskConfig:
    """The tuned model (docs/risk.md), with what the deployment chose to override.

    A setting of 0 (or empty) keeps the model's tuned value; a positive short half-life
    replaces the shortest memory of the mixture.
    """
    base = RiskConfig()
    halves = base.half_lives_days
    if settings.risk_half_life_days > 0:
        halves = (float(settings.risk_half_life_days), *base.half_lives_days[1:])
    thresholds = tuple(float(t) for t in settings.risk_thresholds) or base.thresholds
    return replace(
        base,
        half_lives_days=halves,
        window_days=float(settings.risk_window_days or base.window_days),
        thresholds=thresholds,  # type: ignore[arg-type]
        hysteresis=float(settings.risk_hysteresis or base.hysteresis),
    )


def counted_in_risk(demo_mode: bool = False) -> list[ColumnElement[bool]]:
    """Which stored reports count in risk, on every path (zones, areas, history, skill): one
    per event (the canonical report; its further reports, incidents.events, count through it),
    and demo incidents only in demo mode (settings.demo_mode)."""
    conditions: list[ColumnElement[bool]] = [IncidentRow.event_id.is_(None)]
    if not demo_mode:
        conditions.append(IncidentRow.is_demo.is_(False))
    return conditions


def epoch_days(session: AsyncSession) -> ColumnElement[float]:
    """occurred_at as days since 1970 computed by the database: no datetime objects per row."""
    bind = session.bind
    if bind is not None and bind.dialect.name == "sqlite":
        # SQLite keeps DateTimeUTC as ISO text with "+00:00"; julianday reads it exactly.
        return func.julianday(IncidentRow.occurred_at) - 2440587.5
    return cast(func.extract("epoch", IncidentRow.occurred_at), Float) / DAY


def plain_id(value: Any) -> str:
    """An incident id in its usual form (SQLite hands back 32 hex digits without dashes)."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return str(value)


def to_days(when: datetime) -> float:
    return when.timestamp() / DAY


def from_days(days: float) -> datetime:
    return datetime.fromtimestamp(days * DAY, tz=UTC)


@dataclass(frozen=True)
class StoredRisk:
    zone_id: str
    code: str
    name: str
    kind: str
    score: float
    level: int
    sub_scores: dict[str, float]
    trend: str
    expected_incidents: float
    contributors: list[tuple[str, float]]
    computed_at: datetime | None


@dataclass(frozen=True)
class LevelChange:
    zone_id: str
    from_level: int | None
    to_level: int
    score: float
    at: datetime
    cause: str


@dataclass(frozen=True)
class HistoryPoint:
    at: datetime
    score: float
    level: int
    trend: str


@dataclass(frozen=True)
class AssessedIncident:
    id: Any
    type: str
    occurred_at: datetime
    severity: int
    status: str
    distance_km: float
    along_km: float | None


@dataclass(frozen=True)
class Assessment:
    area: AreaRisk
    zones: list[StoredRisk]
    incidents: list[AssessedIncident]
    incident_count: int
    window_days: int
    # Coverage (incidents.risk.coverage): False when the area has too little recent data for
    # its level to mean anything; per crossed zone, the same.
    has_data: bool = True
    zone_coverage: dict[str, ZoneCoverage] = field(default_factory=dict)


ConditionsFn = Callable[[AsyncSession], Awaitable[list[Any]]]
LevelChangeHook = Callable[[AsyncSession, list["LevelChange"]], Awaitable[Any]]


def _columns(rows: Sequence[Any], with_zone: bool) -> dict[str, Any]:
    """Result rows -> numpy columns (one pass; the database sends rows, numpy wants columns)."""
    cols = list(zip(*rows, strict=True)) if rows else []
    names = ["zone_id"] if with_zone else []
    names += ["id", "occurred_at", "type", "severity", "reliability", "credibility", "status"]
    if with_zone:
        names += ["org_id", "precision"]
    if not cols:
        return {name: [] for name in names}
    return dict(zip(names, cols, strict=False))


def _masked_rows(cols: dict[str, Any], masked: np.ndarray, unit: TimeUnit) -> dict[str, Any]:
    """Rows flagged `masked` as their masked entries (category weight, coarse day)."""
    if not masked.any():
        return cols
    idx = np.flatnonzero(masked)
    out = {k: list(v) for k, v in cols.items()}
    t = np.asarray(cols["occurred_at"], dtype=np.float64).ravel()
    coarse = coarse_days(t[idx], np.asarray(cols["precision"], dtype=str)[idx], unit)
    types = masked_types(np.asarray(cols["type"], dtype=str)[idx])
    for j, k in enumerate(idx.tolist()):
        out["occurred_at"][k] = float(coarse[j])
        out["type"][k] = str(types[j])
        out["severity"][k] = MASKED_SEVERITY
        out["reliability"][k] = MASKED_RELIABILITY
        out["credibility"][k] = MASKED_CREDIBILITY
        out["status"][k] = MASKED_STATUS
    return out


def _inputs_from(cols: dict[str, Any], pair_zone: np.ndarray) -> RiskInputs:
    n = len(cols["id"])
    return RiskInputs(
        incident_ids=np.array(cols["id"], dtype=object),
        t_days=np.asarray(cols["occurred_at"], dtype=np.float64).reshape(n),
        type_codes=np.array(cols["type"], dtype=str),
        severity=np.array(cols["severity"], dtype=np.intp),
        reliability=np.array(cols["reliability"], dtype=str),
        credibility=np.array(cols["credibility"], dtype=np.intp),
        status=np.array(cols["status"], dtype=str),
        pair_incident=np.arange(n, dtype=np.intp),
        pair_zone=pair_zone,
    )


# --- incidents of the risk window, in memory ------------------------------------------------------

# (id as 32 hex digits, t_days, type, severity, reliability, credibility, status, lon, lat,
#  organisation as 32 hex digits, time precision)
StoreRow = tuple[str, float, str, int, str, int, str, float, float, str, str]
# Compact columns: ids as numpy variable-width text (about 50 bytes a row, no Python object;
# reading one gives a str), the codes as object arrays of one shared string per distinct value
# (8 bytes a row), numbers in numpy.
_IDS = np.dtypes.StringDType()
_FIELDS = (
    ("ids", _IDS),
    ("t_days", np.float64),
    ("type_codes", object),
    ("severity", np.intp),
    ("reliability", object),
    ("credibility", np.intp),
    ("status", object),
    ("lons", np.float64),
    ("lats", np.float64),
    ("org_ids", object),
    ("precisions", object),
)
# Rows converted to columns at a time while the store loads: the Python objects of a million
# result rows are never all alive at once (they were most of a serving process's memory).
LOAD_CHUNK = 20_000


def _column(values: Sequence[Any], dtype: Any, shared: dict[Any, Any] | None = None) -> np.ndarray:
    if dtype is object:
        out = np.empty(len(values), dtype=object)
        out[:] = values if shared is None else [shared.setdefault(v, v) for v in values]
        return out
    return np.asarray(values, dtype=dtype)


class RiskStore:
    """The risk inputs of every incident of the window as numpy columns, with their zones.

    Loaded once (one query), then kept current with each committed write: a changed incident
    gets a new row and its old row is left out (`alive`), so nothing is searched or shifted.
    Pairs are (row, zone position) at one zones version; a zone edit means a fresh load.
    `seq` is the "incidents" counter it holds every write up to (see RiskService.store).
    """

    def __init__(
        self,
        zones_version: tuple[Any, ...],
        since_days: float,
        columns: dict[str, np.ndarray],
        pair_incident: np.ndarray,
        pair_zone: np.ndarray,
        shapes: dict[int, shapely.Geometry],
        seq: int,
        zone_position: dict[str, int],
        zone_owners: Sequence[str] = (),
        time_unit: TimeUnit = TimeUnit.DAY,
    ) -> None:
        self.zones_version = zones_version
        self.zone_position = zone_position
        # Per zone position: the owning organisation (32 hex digits), "" for platform zones.
        self.zone_owners = np.asarray(list(zone_owners), dtype=object)
        self.time_unit = time_unit
        self.since_days = since_days
        self.columns = columns
        self.pair_incident = pair_incident
        self.pair_zone = pair_zone
        self.shapes = shapes  # row -> geometry, for the incidents that are not points
        self.alive = np.ones(len(columns["ids"]), dtype=bool)
        self.seq = seq
        self.revision = 0
        self._rows: list[StoreRow] = []
        self._pairs: list[tuple[int, int]] = []
        self._dead: list[int] = []
        self._position: dict[str, int] | None = None
        self._inputs: tuple[int, RiskInputs, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.columns["ids"]) + len(self._rows)

    def upsert(
        self,
        row: StoreRow,
        zone_positions: Sequence[int],
        shape: shapely.Geometry | None,
    ) -> None:
        """Add an incident or replace its row (O(1): the arrays are merged when next read)."""
        self.remove(row[0])
        assert self._position is not None
        at = len(self)
        self._position[row[0]] = at
        self._rows.append(row)
        self._pairs.extend((at, z) for z in zone_positions)
        if shape is not None:
            self.shapes[at] = shape
        self.revision += 1

    def remove(self, incident_hex: str) -> None:
        """Leave an incident's row out (deleted, or about to be replaced)."""
        if self._position is None:
            self._merge()
            self._position = {str(i): k for k, i in enumerate(self.columns["ids"].tolist())}
        old = self._position.pop(incident_hex, None)
        if old is not None:
            self._dead.append(old)
            self.shapes.pop(old, None)
            self.revision += 1

    def _merge(self) -> None:
        if self._rows:
            fresh = list(zip(*self._rows, strict=True))
            for (name, dtype), values in zip(_FIELDS, fresh, strict=True):
                self.columns[name] = np.concatenate([self.columns[name], _column(values, dtype)])
            self.alive = np.concatenate([self.alive, np.ones(len(self._rows), dtype=bool)])
            self._rows = []
        if self._pairs:
            pi, pz = (np.asarray(c, dtype=np.intp) for c in zip(*self._pairs, strict=True))
            self.pair_incident = np.concatenate([self.pair_incident, pi])
            self.pair_zone = np.concatenate([self.pair_zone, pz])
            self._pairs = []
        if self._dead:
            self.alive[np.asarray(self._dead, dtype=np.intp)] = False
            self._dead = []

    def risk_inputs(self, config: RiskConfig) -> tuple[RiskInputs, np.ndarray]:
        """The scoring inputs and, per row, whether it counts (alive, not retracted if void)."""
        if self._inputs is not None and self._inputs[0] == self.revision:
            return self._inputs[1], self._inputs[2]
        self._merge()
        c = self.columns
        counts = self.alive.copy()
        if config.status_factors.get("retracted", 0.0) == 0.0:
            counts &= c["status"] != "retracted"
        keep = counts[self.pair_incident]
        inputs = masked_pair_inputs(
            c, self.pair_incident[keep], self.pair_zone[keep], self.zone_owners, self.time_unit
        )
        self._inputs = (self.revision, inputs, counts)
        return inputs, counts

    def area_columns(
        self,
        bounds: tuple[float, float, float, float],
        since_days: float,
        until_days: float,
        config: RiskConfig,
    ) -> IncidentColumns:
        """Incidents of the time window whose extent meets `bounds` (vectorised, no query)."""
        self._merge()
        c = self.columns
        minx, miny, maxx, maxy = bounds
        t = c["t_days"]
        live = self.alive & (c["status"] != "retracted") & (t > since_days) & (t <= until_days)
        near = (c["lons"] >= minx) & (c["lons"] <= maxx) & (c["lats"] >= miny) & (c["lats"] <= maxy)
        rows = np.flatnonzero(live & near)
        geometries = None
        if self.shapes:
            shaped = np.fromiter(self.shapes, dtype=np.intp, count=len(self.shapes))
            boxes = shapely.bounds(np.array(list(self.shapes.values()), dtype=object))
            meets = (
                (boxes[:, 2] >= minx)
                & (boxes[:, 0] <= maxx)
                & (boxes[:, 3] >= miny)
                & (boxes[:, 1] <= maxy)
            )
            rows = np.union1d(rows, shaped[meets & live[shaped]])
            with_shape = np.isin(rows, shaped)
            if with_shape.any():
                geometries = np.full(len(rows), None, dtype=object)
                geometries[with_shape] = [self.shapes[int(r)] for r in rows[with_shape].tolist()]
        return IncidentColumns(
            ids=c["ids"][rows],
            lons=c["lons"][rows],
            lats=c["lats"][rows],
            t_days=c["t_days"][rows],
            type_codes=c["type_codes"][rows],
            severity=c["severity"][rows],
            reliability=c["reliability"][rows],
            credibility=c["credibility"][rows],
            status=c["status"][rows],
            geometries=geometries,
        )


def masked_pair_inputs(
    c: dict[str, np.ndarray],
    pair_incident: np.ndarray,
    pair_zone: np.ndarray,
    zone_owners: np.ndarray,
    time_unit: TimeUnit,
) -> RiskInputs:
    """Scoring inputs where an organisation's zone counts other organisations' incidents as
    their masked entries (category weight, coarse day): what the zone's level, trend and
    contributors say then rests on nothing finer than the masked list.

    Those incidents get a second, masked row; the pairs with such zones point at it.
    """
    n = len(c["ids"])
    masked_pairs = np.zeros(len(pair_incident), dtype=bool)
    if zone_owners.size and (zone_owners != "").any() and len(pair_incident):
        owner = zone_owners[pair_zone]
        masked_pairs = (owner != "") & (owner != c["org_ids"][pair_incident])
    if not masked_pairs.any():
        return RiskInputs(
            incident_ids=c["ids"],
            t_days=c["t_days"],
            type_codes=c["type_codes"],
            severity=c["severity"],
            reliability=c["reliability"],
            credibility=c["credibility"],
            status=c["status"],
            pair_incident=pair_incident,
            pair_zone=pair_zone,
        )
    rows, inverse = np.unique(pair_incident[masked_pairs], return_inverse=True)
    k = len(rows)
    redirected = pair_incident.copy()
    redirected[masked_pairs] = n + inverse
    return RiskInputs(
        incident_ids=np.concatenate([c["ids"], c["ids"][rows]]),
        t_days=np.concatenate(
            [c["t_days"], coarse_days(c["t_days"][rows], c["precisions"][rows], time_unit)]
        ),
        type_codes=np.concatenate([c["type_codes"], masked_types(c["type_codes"][rows])]),
        severity=np.concatenate([c["severity"], np.full(k, MASKED_SEVERITY, dtype=np.intp)]),
        reliability=np.concatenate(
            [c["reliability"], np.full(k, MASKED_RELIABILITY, dtype=c["reliability"].dtype)]
        ),
        credibility=np.concatenate(
            [c["credibility"], np.full(k, MASKED_CREDIBILITY, dtype=np.intp)]
        ),
        status=np.concatenate([c["status"].astype(str), np.full(k, MASKED_STATUS)]),
        pair_incident=redirected,
        pair_zone=pair_zone,
    )


def hex_id(column: Any) -> ColumnElement[str]:
    """An id as 32 hex digits on every database (SQLite stores it so, PostgreSQL adds dashes)."""
    return func.replace(cast(column, String), "-", "")


def risk_columns(session: AsyncSession) -> list[ColumnElement[Any] | QueryableAttribute[Any]]:
    """The risk inputs of an incident, in the order every loader reads them: id (32 hex
    digits), occurred_at in days, type, severity, reliability, credibility, status."""
    return [
        hex_id(IncidentRow.id),
        epoch_days(session),
        IncidentRow.type,
        IncidentRow.severity,
        IncidentRow.reliability,
        risk_credibility(),  # 1 for an event confirmed by another organisation (incidents.events)
        IncidentRow.status,
    ]


def store_select(session: AsyncSession, demo_mode: bool = False) -> Any:
    """What the in-memory store holds of an incident: its risk inputs (risk_columns), its
    point, organisation, time precision, and its shape when it is not a point; only the
    reports that count (counted_in_risk)."""
    return select(
        *risk_columns(session),
        IncidentRow.lon,
        IncidentRow.lat,
        hex_id(IncidentRow.org_id),
        IncidentRow.time_precision,
        IncidentRow.geometry_type,
        case((IncidentRow.geometry_type != "Point", IncidentRow.geometry_wkb), else_=None),
    ).where(*counted_in_risk(demo_mode))


def _store_rows(
    snapshot: ZoneSnapshot, rows: Sequence[Any], shared: dict[Any, Any] | None = None
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, dict[int, shapely.Geometry]]:
    """store_select rows -> columns, (row, zone position) pairs and the non-point shapes.

    `shared` maps each code and organisation seen to one string object (kept across chunks)."""
    shared = {} if shared is None else shared
    raw: list[Any] = list(zip(*rows, strict=True)) if rows else [[] for _ in range(13)]
    columns = {
        name: _column(values, dtype, shared)
        for (name, dtype), values in zip(_FIELDS, raw, strict=False)
    }
    columns["org_ids"] = _column([str(o).replace("-", "") for o in raw[9]], object, shared)
    types, wkbs = raw[11], raw[12]
    pi, pz = snapshot_pairs(
        snapshot, types, columns["lons"], columns["lats"], wkbs, columns["org_ids"].tolist()
    )
    others = [k for k, t in enumerate(types) if t != "Point"]
    shapes = dict(zip(others, shapely.from_wkb([wkbs[k] for k in others]), strict=True))
    order = np.argsort(pi, kind="stable")
    return columns, pi[order].astype(np.intp), pz[order].astype(np.intp), shapes


def _give_back_freed_memory() -> None:
    """Hand the heap pages the load freed back to the system: glibc keeps them otherwise, and a
    million streamed rows leave ~60 MB of free but resident heap (no effect elsewhere)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


async def load_store(
    session: AsyncSession,
    snapshot: ZoneSnapshot,
    *,
    since: datetime,
    time_unit: TimeUnit = TimeUnit.DAY,
    demo_mode: bool = False,
) -> RiskStore:
    """Every incident that occurred after `since`: one query for the columns, zones in memory.

    Zones come from the same index that assigned the stored links, so they agree with them.
    The "incidents" counter is read first: the store holds at least every write up to it.
    Rows are streamed and turned into compact columns LOAD_CHUNK at a time.
    """
    seq = await versions.read(session, versions.INCIDENTS)
    days = epoch_days(session)
    since_days = to_days(since)
    # An expression, not the index: most rows are wanted.
    result = await session.stream(store_select(session, demo_mode).where(days > since_days))
    shared: dict[Any, Any] = {}
    parts: list[tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, dict[int, Any]]] = []
    async for chunk in result.partitions(LOAD_CHUNK):
        # Off the event loop: zone assignment of a chunk takes a while.
        parts.append(await asyncio.to_thread(_store_rows, snapshot, chunk, shared))
        del chunk

    def build() -> RiskStore:
        if not parts:
            columns, pi, pz, shapes = _store_rows(snapshot, [])
        else:
            sizes = np.cumsum([0] + [len(p[0]["ids"]) for p in parts])
            columns = {name: np.concatenate([p[0][name] for p in parts]) for name, _ in _FIELDS}
            pi = np.concatenate([p[1] + start for p, start in zip(parts, sizes, strict=False)])
            pz = np.concatenate([p[2] for p in parts])
            shapes = {
                k + int(start): g
                for p, start in zip(parts, sizes, strict=False)
                for k, g in p[3].items()
            }
        parts.clear()
        _give_back_freed_memory()
        return RiskStore(
            snapshot.version,
            since_days,
            columns,
            pi.astype(np.intp),
            pz.astype(np.intp),
            shapes,
            seq,
            dict(snapshot.position),
            snapshot.owners,
            time_unit,
        )

    return await asyncio.to_thread(build)


async def catch_up(
    session: AsyncSession, store: RiskStore, snapshot: ZoneSnapshot, demo_mode: bool = False
) -> bool:
    """Bring the store up to the committed "incidents" counter from the change log (writes
    of any process); False when that cannot be done (log pruned past it): load afresh. A
    report that stopped counting (linked to an event, demo) is left out like a deleted one."""
    seq = await versions.read(session, versions.INCIDENTS)
    if seq == store.seq:
        return True
    if store.seq < await versions.read(session, versions.PRUNED):
        return False
    changed = (
        await session.scalars(
            select(IncidentChangeRow.incident_id)
            .where(IncidentChangeRow.seq > store.seq)
            .distinct()
        )
    ).all()
    ids = list(changed)
    found: list[Any] = []
    for k in range(0, len(ids), 5000):
        chunk = ids[k : k + 5000]
        found += (
            await session.execute(store_select(session, demo_mode).where(IncidentRow.id.in_(chunk)))
        ).all()
    columns, pi, pz, shapes = _store_rows(snapshot, found)
    for hex_ in {uuid.UUID(str(i)).hex for i in ids} - {str(r[0]) for r in found}:
        store.remove(hex_)  # deleted meanwhile, or no longer counted
    zones_of_row: dict[int, list[int]] = {}
    for i, z in zip(pi.tolist(), pz.tolist(), strict=True):
        zones_of_row.setdefault(i, []).append(z)
    for k in range(len(found)):
        if columns["t_days"][k] <= store.since_days:
            store.remove(str(columns["ids"][k]))  # moved out of the window held
            continue
        row = tuple(columns[name][k] for name, _ in _FIELDS)
        store.upsert(row, zones_of_row.get(k, []), shapes.get(k))
    store.seq = max(store.seq, seq)
    return True


@dataclass(frozen=True)
class Written:
    """One committed incident write, as the risk store needs it."""

    row: StoreRow
    zones: tuple[tuple[Any, ...], list[str]] | None  # (zones version, zone ids) when assigned
    shape: shapely.Geometry | None
    incident_id: uuid.UUID
    # False: a further report of an event (or a demo incident outside demo mode), left out.
    counts: bool = True


@dataclass
class Pending:
    """What one writing transaction hands risk: its writes, the zones they touched (with why),
    and the "incidents" counter value it commits under (set just before COMMIT)."""

    at: datetime
    writes: list[Written] = field(default_factory=list)
    causes: dict[str, list[str]] = field(default_factory=dict)
    seq: int | None = None
    # Incidents whose event changed with these writes: logged, re-read from the database.
    relinked: set[uuid.UUID] = field(default_factory=set)


def _written(
    incident: Incident, geom: shapely.Geometry, zones: Placement | None, counts: bool = True
) -> Written:
    is_point = shapely.get_type_id(geom) == GeometryType.POINT
    point = geom if is_point else shapely.point_on_surface(geom)
    row: StoreRow = (
        incident.id.hex,
        to_days(incident.occurred_at),
        incident.type,
        int(incident.severity),
        str(incident.reliability.value),
        int(incident.credibility),
        str(incident.status.value),
        float(shapely.get_x(point)),
        float(shapely.get_y(point)),
        incident.org_id.hex,
        str(incident.time_precision.value),
    )
    return Written(
        row,
        None if zones is None else (zones.version, list(zones.zone_ids)),
        None if is_point else geom,
        incident.id,
        counts,
    )


@dataclass
class RiskService:
    """Scores zones from the incidents of the window, held in memory; keeps levels and changes.

    Several processes may serve and write: what they share is the database. A write marks
    its zones in `risk_pending` and bumps the "incidents" counter in its own transaction;
    `flush` (background worker, and before any read of risk) claims pending zones and
    re-scores them under the database's re-scoring lock, from the in-memory store brought up
    to the committed counter first. The store is a cache: every use checks the counter.
    """

    db: Database
    config: RiskConfig = field(default_factory=RiskConfig)
    cache: ZoneCache = field(default_factory=ZoneCache)
    retention_days: int = 3650
    # Called inside the re-scoring transaction with the level changes it recorded.
    level_change_hooks: list[LevelChangeHook] = field(default_factory=list)
    debounce_seconds: float = 0.5
    # How often the worker looks for zones other processes marked (a one-row read).
    check_seconds: float = 1.0
    reload_seconds: float = 900.0
    # How masked entries are dated (settings.mask_time_unit): an organisation's zone counts
    # other organisations' incidents by their masked entries.
    time_unit: TimeUnit = TimeUnit.DAY
    # Demo incidents count only in demo mode (settings.demo_mode, counted_in_risk).
    demo_mode: bool = False
    # When a zone or an area has too little recent data to be given a level.
    coverage_rule: CoverageRule = field(default_factory=CoverageRule)

    def __post_init__(self) -> None:
        self._store: RiskStore | None = None
        self._stale = False
        self._locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}
        self._load_locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    def _lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        return lock

    # --- the in-memory store ------------------------------------------------------------------

    async def store(
        self, session: AsyncSession, snapshot: ZoneSnapshot, since: datetime
    ) -> RiskStore:
        """The in-memory incidents as committed: brought up to the "incidents" counter from
        the change log, loaded afresh when missing, of other zones, or older than `since`.

        One load at a time per process: callers arriving while it runs (a request and the
        background worker at start) wait for it and share it instead of holding a second copy
        of every incident."""
        if await self._current(session, snapshot, since):
            assert self._store is not None
            return self._store
        async with self._load_lock():
            if await self._current(session, snapshot, since):
                assert self._store is not None
                return self._store
            self._stale = False
            self._store = None  # the old copy is not kept alive beside the new one
            store = await load_store(
                session, snapshot, since=since, time_unit=self.time_unit, demo_mode=self.demo_mode
            )
            self._store = store
            return store

    async def _current(
        self, session: AsyncSession, snapshot: ZoneSnapshot, since: datetime
    ) -> bool:
        store = self._store
        return not (
            store is None
            or self._stale
            or store.zones_version != snapshot.version
            or store.since_days > to_days(since)
            or not await catch_up(session, store, snapshot, self.demo_mode)
        )

    def _load_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._load_locks.get(loop)
        if lock is None:
            lock = self._load_locks[loop] = asyncio.Lock()
        return lock

    def incident_committed(
        self, writes: list[Written], seq: int | None, relinked: bool = False
    ) -> None:
        """This process's committed writes go into the store at once (no query); the store's
        counter moves only when it held every write before this one (else the next use
        catches up from the change log), and never past a write that relinked incidents
        (those are re-read from the change log)."""
        store = self._store
        if store is not None:
            for written in writes:
                if not written.counts:
                    store.remove(written.row[0])
                    continue
                if written.zones is None or written.zones[0] != store.zones_version:
                    continue  # zones of another version: the next use loads afresh
                position = store.zone_position
                store.upsert(
                    written.row,
                    [position[z] for z in written.zones[1] if z in position],
                    written.shape,
                )
            if seq is not None and store.seq == seq - 1 and not relinked:
                store.seq = seq
        if self._wake is not None:
            self._wake.set()

    def log_writes(self, sync: Any, pending: Pending) -> None:
        """Before COMMIT of a transaction that wrote incidents: its zones marked for
        re-scoring, its incidents logged under the bumped "incidents" counter."""
        writes, causes, now = pending.writes, pending.causes, pending.at
        if causes:
            sync.execute(
                insert(RiskPendingRow),
                [
                    {"zone_id": zone_id, "cause": cause, "at": now}
                    for zone_id, why in causes.items()
                    for cause in _pending_causes(why)
                ],
            )
        if writes or pending.relinked:
            seq = pending.seq = versions.bump_sync(sync, versions.INCIDENTS)
            changed = [w.incident_id for w in writes] + sorted(pending.relinked)
            sync.execute(
                insert(IncidentChangeRow),
                [{"seq": seq, "incident_id": i, "at": now} for i in dict.fromkeys(changed)],
            )

    # --- loading ------------------------------------------------------------------------------

    async def load_inputs(
        self,
        session: AsyncSession,
        snapshot: ZoneSnapshot,
        *,
        until: datetime,
        since: datetime | None = None,
        zone_ids: Iterable[str] | None = None,
    ) -> RiskInputs:
        """The inputs of the window ending at `until`: from memory for the whole window, else one
        query with one row per (incident, zone) link.

        Each link is its own row of the inputs: scores are sums per zone, so an incident in
        three zones simply counts in each, as the model wants.
        """
        if since is None and zone_ids is None:
            store = await self.store(
                session, snapshot, until - timedelta(days=self.config.window_days)
            )
            inputs, _ = store.risk_inputs(self.config)
            return inputs
        since = since or until - timedelta(days=self.config.window_days)
        stmt = (
            select(
                IncidentZoneRow.zone_id,
                *risk_columns(session),
                hex_id(IncidentRow.org_id),
                IncidentRow.time_precision,
            )
            .join(IncidentRow, IncidentRow.id == IncidentZoneRow.incident_id)
            .where(
                IncidentRow.occurred_at > since,
                IncidentRow.occurred_at <= until,
                *counted_in_risk(self.demo_mode),
            )
        )
        if self.config.status_factors.get("retracted", 0.0) == 0.0:
            stmt = stmt.where(IncidentRow.status != "retracted")
        if zone_ids is not None:
            stmt = stmt.where(IncidentZoneRow.zone_id.in_(sorted(set(zone_ids))))
        position = snapshot.position
        # A link to a zone the snapshot does not hold (deleted or drawn since): not counted.
        rows = [r for r in (await session.execute(stmt)).all() if r[0] in position]
        cols = _columns(rows, with_zone=True)
        pair_zone = np.fromiter((position[z] for z in cols["zone_id"]), np.intp, len(rows))
        if any(snapshot.owners) and rows:
            # One row per link: an organisation's zone counts others' incidents masked.
            owners = [snapshot.owner_of(z) for z in cols["zone_id"]]
            masked = np.array(
                [
                    o != "" and o != str(org).replace("-", "")
                    for o, org in zip(owners, cols["org_id"], strict=True)
                ],
                dtype=bool,
            )
            cols = _masked_rows(cols, masked, self.time_unit)
        return _inputs_from(cols, pair_zone)

    def _score(
        self,
        snapshot: ZoneSnapshot,
        inputs: RiskInputs,
        now: datetime,
        previous: np.ndarray | None,
        config: RiskConfig | None = None,
    ) -> list[ZoneRisk]:
        return score_zones(
            inputs,
            zone_count=len(snapshot.zones),
            zone_area_km2=snapshot.areas_km2,
            now_days=to_days(now),
            config=config or self.config,
            previous_levels=previous,
            neighbours=snapshot.neighbours,
        )

    # --- keeping levels current ----------------------------------------------------------------

    async def pending(self) -> bool:
        """Whether any process marked zones for re-scoring (one indexed row read)."""
        async with self.db.read() as session:
            found = await session.execute(select(RiskPendingRow.id).limit(1))
            return found.first() is not None

    async def flush(self) -> list[LevelChange]:
        """Re-score the zones marked by any process (one transaction); their level changes.

        Pending rows are claimed with FOR UPDATE SKIP LOCKED on PostgreSQL (another process
        re-scoring takes the others) and deleted in the same transaction: a crash leaves
        them for the next flush, anywhere.
        """
        if not await self.pending():
            return []
        async with self._lock(), self.db.transaction() as session:
            stmt = select(RiskPendingRow).order_by(RiskPendingRow.id).limit(PENDING_BATCH)
            if not self.db.is_sqlite:
                stmt = stmt.with_for_update(skip_locked=True)
            claimed = (await session.scalars(stmt)).all()
            if not claimed:
                return []  # another process has them
            causes: dict[str, list[str]] = {}
            for row in claimed:
                causes.setdefault(row.zone_id, []).append(row.cause)
            when = max(row.at for row in claimed)
            changes = await self.recompute(session, now=when, zone_ids=list(causes), causes=causes)
            await session.execute(
                delete(RiskPendingRow).where(RiskPendingRow.id.in_([r.id for r in claimed]))
            )
            await self._prune(session, when)
            return changes

    async def _prune(self, session: AsyncSession, now: datetime) -> None:
        """Drop change-log entries older than CHANGE_LOG_KEEP (noting the highest dropped)."""
        cutoff = now - CHANGE_LOG_KEEP
        top = (
            await session.execute(
                select(func.max(IncidentChangeRow.seq)).where(IncidentChangeRow.at < cutoff)
            )
        ).scalar()
        if top is None:
            return
        await versions.lock_exclusive(session, versions.PRUNED)
        await versions.set_value(session, versions.PRUNED, int(top))
        await session.execute(delete(IncidentChangeRow).where(IncidentChangeRow.seq <= top))

    async def refresh(self, *, now: datetime, force: bool = False) -> list[LevelChange]:
        """Re-score what is pending; with `force`, reload the incidents and re-score every
        zone (the periodic decay: levels fall as incidents age, with no write)."""
        if not force:
            return await self.flush()
        async with self._lock():
            self._stale = True
            return await self.recompute_all(now=now, cause="scheduled re-computation (decay)")

    def start(self, clock: Callable[[], datetime]) -> None:
        """Run the background worker: debounced flushes, periodic checks and full re-scoring."""
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(
            self._work(clock), name="sentinelle-risk"
        )

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            # Not `await task`: a worker stuck in a database call must not hold the shutdown.
            await asyncio.wait({task}, timeout=10)
        self._wake = None

    async def _work(self, clock: Callable[[], datetime]) -> None:
        wake = self._wake
        assert wake is not None
        loop = asyncio.get_running_loop()
        checked = reloaded = loop.time()
        try:  # load at start, so that the first report does not wait for it
            async with self.db.read() as session:
                snapshot = await self.cache.snapshot(session)
                await self.store(
                    session, snapshot, clock() - timedelta(days=self.config.window_days)
                )
            await self.rebaseline(now=clock())  # before reports re-score under a new meaning
        except Exception:
            log.exception("loading incidents for risk failed; retrying on the next write")
        while True:
            periods = [p for p in (self.check_seconds, self.reload_seconds) if p > 0]
            timeout = max(0.05, min(periods)) if periods else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=timeout)
            try:
                if wake.is_set():
                    await asyncio.sleep(self.debounce_seconds)  # gather a burst of reports
                    wake.clear()
                    await self.flush()
                now = loop.time()
                if self.reload_seconds > 0 and now - reloaded >= self.reload_seconds:
                    reloaded = checked = now
                    await self.refresh(now=clock(), force=True)
                elif self.check_seconds > 0 and now - checked >= self.check_seconds:
                    checked = now
                    await self.flush()  # zones other processes marked
            except asyncio.CancelledError:
                raise
            except Exception:  # keep the worker alive; the next round retries
                log.exception("risk re-computation failed")

    # --- current state --------------------------------------------------------------------------

    async def recompute(
        self,
        session: AsyncSession,
        *,
        now: datetime,
        zone_ids: Iterable[str] | None = None,
        causes: dict[str, list[str]] | None = None,
        default_cause: str = "scheduled re-computation (decay)",
    ) -> list[LevelChange]:
        """Re-score `zone_ids` (and their neighbours, which share spill-over) or every zone.

        Stores each zone's current risk and records every level change with its cause. A zone's
        first level is recorded as a change only when it is above 1 (low).

        One re-scoring at a time across processes: the zones counter is read under a shared
        lock, then the "risk" counter row is locked (that order everywhere: zones, then risk,
        then incidents), and only then are the incidents brought up to what is committed and
        the stored levels read. So no two processes record the same change, and none scores
        from a copy that misses committed reports; each change is the zone's next `seq`.
        """
        version = await zones_version(session, lock=True)
        await versions.bump(session, versions.RISK)
        # Levels stored under another meaning (an upgrade that changed what the level is cut
        # from): every zone is re-baselined once, recorded as a model change, no alert.
        rebaseline = await versions.level_meaning_changed(session, self.config)
        snapshot = await self.cache.snapshot(session, version=version)
        if not snapshot.zones:
            return []
        if zone_ids is None or rebaseline:
            targets = {z.id for z in snapshot.zones}
        else:
            targets = snapshot.around(zone_ids)
            if not targets:
                return []
        # Every zone is scored from memory (a fraction of a second for a million incidents):
        # the country holds every incident anyway, so a subset would not be cheaper.
        inputs = await self.load_inputs(session, snapshot, until=now)
        wanted = sorted(targets)
        stored = dict(
            (
                await session.execute(
                    select(ZoneRiskRow.zone_id, ZoneRiskRow.level).where(
                        ZoneRiskRow.zone_id.in_(wanted)
                    )
                )
            ).all()
        )
        previous = np.zeros(len(snapshot.zones), dtype=np.intp)
        for zid, level in stored.items() if not rebaseline else ():  # old meaning: no hysteresis
            previous[snapshot.position[zid]] = level
        risks = await asyncio.to_thread(self._score, snapshot, inputs, now, previous)
        values: list[dict[str, Any]] = []
        changes: list[LevelChange] = []
        causes = causes or {}
        spill_cause = next(iter(c for cs in causes.values() for c in cs), None)
        for zid in wanted:
            risk = risks[snapshot.position[zid]]
            values.append(
                {
                    "zone_id": zid,
                    "score": risk.score,
                    "level": risk.level,
                    "sub_scores": risk.sub_scores,
                    "trend": risk.trend,
                    "expected_incidents": risk.expected_incidents,
                    "contributors": [[plain_id(i), c] for i, c in risk.contributors],
                    "computed_at": now,
                }
            )
            before = stored.get(zid)
            if before == risk.level or (before is None and risk.level == 1):
                continue
            if rebaseline:
                cause = versions.MODEL_CHANGE_CAUSE
            elif zid in causes:
                cause = _join_causes(causes[zid])
            elif spill_cause is not None:
                cause = f"neighbouring zone: {spill_cause}"
            else:
                cause = default_cause
            changes.append(LevelChange(zid, before, risk.level, risk.score, now, cause))
        if values:
            await _upsert_zone_risk(session, values)
        if changes:
            last = dict(
                (
                    await session.execute(
                        select(ZoneLevelChangeRow.zone_id, func.max(ZoneLevelChangeRow.seq))
                        .where(ZoneLevelChangeRow.zone_id.in_([c.zone_id for c in changes]))
                        .group_by(ZoneLevelChangeRow.zone_id)
                    )
                ).all()
            )
            await session.execute(
                insert(ZoneLevelChangeRow),
                [
                    {
                        "zone_id": c.zone_id,
                        "from_level": c.from_level,
                        "to_level": c.to_level,
                        "score": c.score,
                        "at": c.at,
                        "cause": c.cause,
                        "seq": int(last.get(c.zone_id) or 0) + 1,
                        "alerted_at": now if rebaseline else None,  # a model change alerts no one
                    }
                    for c in changes
                ],
            )
            if rebaseline:
                return []
            for hook in self.level_change_hooks:
                await hook(session, changes)
        return changes

    async def recompute_all(
        self, *, now: datetime, cause: str = "scheduled re-computation (decay)"
    ) -> list[LevelChange]:
        async with self.db.transaction() as session:
            return await self.recompute(session, now=now, default_cause=cause)

    async def rebaseline(self, *, now: datetime) -> bool:
        """Re-score every zone now if the stored levels have another meaning than this model's
        (the first start after an upgrade): one model change, no level-change alert. Done at
        start so that the first report after an upgrade is judged against the new baseline."""
        async with self.db.read() as session:
            if await versions.read(session, versions.LEVEL_MEANING) == self.config.level_meaning:
                return False
        async with self._lock():
            await self.recompute_all(now=now)
        return True

    async def level_changes(
        self, *, since: datetime | None = None, zone_id: str | None = None
    ) -> list[LevelChange]:
        await self.flush()
        stmt = select(ZoneLevelChangeRow).order_by(ZoneLevelChangeRow.at, ZoneLevelChangeRow.id)
        if since is not None:
            stmt = stmt.where(ZoneLevelChangeRow.at >= since)
        if zone_id is not None:
            stmt = stmt.where(ZoneLevelChangeRow.zone_id == zone_id)
        async with self.db.read() as session:
            rows = (await session.scalars(stmt)).all()
        return [
            LevelChange(r.zone_id, r.from_level, r.to_level, r.score, r.at, r.cause) for r in rows
        ]

    async def ranking(self, viewer_org: uuid.UUID | bool | None = True) -> list[StoredRisk]:
        """Every zone, most dangerous first (level, then score); zones never scored come last.

        With `viewer_org`: platform zones and that organisation's own custom zones only.
        """
        await self.flush()
        stmt = select(ZoneRow, ZoneRiskRow).outerjoin(
            ZoneRiskRow, ZoneRiskRow.zone_id == ZoneRow.id
        )
        if viewer_org is not True:
            stmt = stmt.where(visible_to(viewer_org if isinstance(viewer_org, uuid.UUID) else None))
        async with self.db.read() as session:
            rows = (await session.execute(stmt)).all()
        out = [_stored(z, r) for z, r in rows]
        out.sort(key=lambda s: (-s.level, -s.score, s.code))
        return out

    async def current(
        self, session: AsyncSession, zone_ids: Sequence[str]
    ) -> dict[str, StoredRisk]:
        rows = (
            await session.execute(
                select(ZoneRow, ZoneRiskRow)
                .outerjoin(ZoneRiskRow, ZoneRiskRow.zone_id == ZoneRow.id)
                .where(ZoneRow.id.in_(list(zone_ids)))
            )
        ).all()
        return {z.id: _stored(z, r) for z, r in rows}

    async def zone_risk(self, zone_id: str, *, at: datetime | None, now: datetime) -> StoredRisk:
        """The stored current risk, or the risk computed as it was at `at` (no hysteresis then)."""
        if at is None:
            await self.flush()
        async with self.db.read() as session:
            row = await ZoneStore(session).get(zone_id)
            if at is None:
                current = (await self.current(session, [zone_id]))[zone_id]
                if current.computed_at is not None:
                    return current
                at = now
            if at > now:
                raise InvalidField("at", "`at` is in the future: risk is only known up to now")
            snapshot = await self._holding(session, zone_id)
            inputs = await self.load_inputs(
                session, snapshot, until=at, zone_ids=snapshot.around([zone_id])
            )
            risks = await asyncio.to_thread(self._score, snapshot, inputs, at, None)
            risk = risks[snapshot.position[zone_id]]
        return StoredRisk(
            zone_id=row.id,
            code=row.code,
            name=row.name_fr,
            kind=row.kind,
            score=risk.score,
            level=risk.level,
            sub_scores=risk.sub_scores,
            trend=risk.trend,
            expected_incidents=risk.expected_incidents,
            contributors=[(plain_id(i), c) for i, c in risk.contributors],
            computed_at=at,
        )

    async def _holding(self, session: AsyncSession, zone_id: str) -> ZoneSnapshot:
        """The zones, holding `zone_id` (404, never a 500, for a zone deleted meanwhile)."""
        snapshot = await self.cache.snapshot(session)
        if zone_id not in snapshot.position:
            snapshot = await self.cache.snapshot(session, version=await zones_version(session))
        if zone_id not in snapshot.position:
            raise NotFound(f"No zone {zone_id!r}: GET /api/v1/zones lists the zones.", field="zone")
        return snapshot

    async def history(
        self, zone_id: str, *, start: datetime, end: datetime, step: timedelta, now: datetime
    ) -> list[HistoryPoint]:
        """Risk of a zone at start, start + step, ... end; levels carry hysteresis step to step."""
        if end < start:
            raise InvalidField("to", "`to` must not be before `from`")
        if step <= timedelta(0):
            raise InvalidField("step", "step must be positive, e.g. 1d, 7d or 12h")
        if end > now:
            end = now
        steps = int((end - start) / step) + 1 if end >= start else 0
        if steps > MAX_HISTORY_STEPS:
            raise InvalidField(
                "step", f"that is {steps} points; use a longer step (at most {MAX_HISTORY_STEPS})"
            )
        if (now - start).days > self.retention_days:
            raise InvalidField(
                "from", f"`from` is older than the data retention ({self.retention_days} days)"
            )
        async with self.db.read() as session:
            await ZoneStore(session).get(zone_id)
            snapshot = await self._holding(session, zone_id)
            inputs = await self.load_inputs(
                session,
                snapshot,
                since=start - timedelta(days=self.config.window_days),
                until=end,
                zone_ids=snapshot.around([zone_id]),
            )
        z = snapshot.position[zone_id]

        def walk() -> list[HistoryPoint]:  # up to MAX_HISTORY_STEPS scorings: off the loop
            previous = np.zeros(len(snapshot.zones), dtype=np.intp)
            out: list[HistoryPoint] = []
            for k in range(steps):
                at = start + k * step
                risks = self._score(snapshot, inputs, at, previous)
                previous = np.array([r.level for r in risks], dtype=np.intp)
                out.append(HistoryPoint(at, risks[z].score, risks[z].level, risks[z].trend))
            return out

        return await asyncio.to_thread(walk)

    # --- area and route assessment ----------------------------------------------------------------

    async def assess(
        self,
        geom: shapely.Geometry,
        *,
        now: datetime,
        radius_km: float | None = None,
        corridor_km: float = 10.0,
        window_days: int | None = None,
        segment_km: float = 25.0,
        conditions: ConditionsFn | None = None,
        full_view: ColumnElement[bool] | None = None,
        viewer_org: uuid.UUID | None = None,
    ) -> Assessment:
        """Assess an area or a route from the incidents of the last `window_days` days.

        `full_view` (SQL, true for the incidents the viewer sees in full): every other incident
        counts as its masked entry only, included iff its grid-cell centre is in the area,
        weighed by its category, dated by its coarse day; so no sequence of small areas places
        it closer than its cell. Only incidents seen in full are listed. With `viewer_org`,
        zones crossed are platform zones and that organisation's own.
        """
        window = int(window_days if window_days is not None else self.config.window_days)
        if window <= 0:
            raise InvalidField("window_days", "window_days must be a positive number of days")
        if window > self.retention_days:
            raise InvalidField(
                "window_days",
                f"window_days is longer than the data retention ({self.retention_days} days)",
            )
        check_segment_km(segment_km)
        # Buffering a long route is the costly part: off the event loop.
        _, area = await asyncio.to_thread(
            assessment_area, geom, radius_km=radius_km, corridor_km=corridor_km
        )
        config = replace(self.config, window_days=float(window))
        grid = self.cache.grid_degrees
        minx, miny, maxx, maxy = (float(v) for v in shapely.bounds(area))
        if full_view is not None:  # a cell centre may lie in the area while the point is not
            minx, miny, maxx, maxy = minx - grid, miny - grid, maxx + grid, maxy + grid
        await self.flush()
        since, until = now - timedelta(days=window), now
        async with self.db.read() as session:
            extra = await conditions(session) if conditions is not None else []
            snapshot = await self.cache.snapshot(session)
            if snapshot.zones:  # outside every zone of the service, or given as [lat, lon]: 422
                known = ("", viewer_org.hex) if viewer_org is not None else None
                check_service_area(
                    geom,
                    area,
                    lambda g: any(
                        known is None or snapshot.owner_of(z) in known
                        for z in snapshot.index.zones_for(g)
                    ),
                )
            if window <= self.config.window_days:
                store = await self.store(
                    session, snapshot, now - timedelta(days=self.config.window_days)
                )
                columns = store.area_columns(
                    (minx, miny, maxx, maxy), to_days(since), to_days(until), self.config
                )
                if extra:
                    columns = await _visible(session, columns, extra)
            else:  # longer than the window held in memory: ask the database
                columns = await load_area_columns(
                    session,
                    shapely.box(minx, miny, maxx, maxy) if full_view is not None else area,
                    since=since,
                    until=until,
                    conditions=extra,
                    demo_mode=self.demo_mode,
                )
            masked = np.zeros(len(columns), dtype=bool)
            if full_view is not None and len(columns):
                masked, precisions = await _masked_flags(session, columns, full_view)
                coarse = coarse_days(columns.t_days[masked], precisions[masked], self.time_unit)
                columns = mask_columns(columns, masked, grid_degrees=grid, coarse_t=coarse)

        def compute() -> tuple[AreaRisk, list[str]]:
            result = assess_area(
                columns,
                geom,
                now_days=to_days(now),
                config=config,
                radius_km=radius_km,
                corridor_km=corridor_km,
                segment_km=segment_km,
            )
            is_line = shapely.get_type_id(geom) == GeometryType.LINESTRING
            crossed_geom = geom if is_line else area
            return result, snapshot.index.zones_for(crossed_geom)

        result, crossed = await asyncio.to_thread(compute)
        if viewer_org is not None:
            known = ("", viewer_org.hex)
            crossed = [z for z in crossed if snapshot.owner_of(z) in known]
        async with self.db.read() as session:
            zones = await self.current(session, crossed)
        order = sorted(
            (i for i in result.incidents if not masked[i.position]),
            key=lambda i: i.along_km if i.along_km is not None else i.distance_km,
        )
        incidents = [
            AssessedIncident(
                id=plain_id(columns.ids[i.position]),
                type=str(columns.type_codes[i.position]),
                occurred_at=from_days(float(columns.t_days[i.position])),
                severity=int(columns.severity[i.position]),
                status=str(columns.status[i.position]),
                distance_km=round(i.distance_km, 3),
                along_km=None if i.along_km is None else round(i.along_km, 3),
            )
            for i in order[:MAX_ASSESSED_INCIDENTS]
        ]
        ranked = sorted(zones.values(), key=lambda s: (-s.level, -s.score, s.code))
        covered = await self.coverage(crossed, now=now, conditions=conditions, full_view=full_view)
        # The country zone has data as soon as anything in Mali is reported: it says nothing
        # about a stretch of road far from every report.
        national = {z.id for z in snapshot.zones if z.kind == "country"}
        has_data = area_has_data(
            len(result.incidents),
            sum(c.has_data for z, c in covered.items() if z not in national),
            self.coverage_rule,
        )
        return Assessment(
            result, ranked, incidents, len(result.incidents), window, has_data, covered
        )

    # --- coverage -----------------------------------------------------------------------------

    async def coverage(
        self,
        zone_ids: Iterable[str],
        *,
        now: datetime,
        conditions: ConditionsFn | None = None,
        full_view: ColumnElement[bool] | None = None,
    ) -> dict[str, ZoneCoverage]:
        """Per zone: whether it has data now (incidents.risk.coverage, from the incidents the
        levels are scored from) and, for a zone without, the day of the last incident in it
        that the viewer sees in full (`conditions`, `full_view`: the viewer's read policy).

        A masked incident never gives that day: a zone filter never returns a masked entry, so
        the date says nothing the viewer's own list of the zone does not."""
        wanted = set(zone_ids)
        if not wanted:
            return {}
        async with self.db.read() as session:
            snapshot = await self.cache.snapshot(session)
            store = await self.store(
                session, snapshot, now - timedelta(days=self.config.window_days)
            )
            inputs, _ = store.risk_inputs(self.config)
            has = zones_with_data(
                inputs.t_days,
                inputs.pair_incident,
                inputs.pair_zone,
                zone_count=len(snapshot.zones),
                now_days=to_days(now),
                window_days=self.config.window_days,
                rule=self.coverage_rule,
                neighbours=snapshot.neighbours,
            )
            out = {
                z.id: ZoneCoverage(bool(has[k]))
                for k, z in enumerate(snapshot.zones)
                if z.id in wanted
            }
            empty = sorted(z for z, c in out.items() if not c.has_data)
            if empty:
                extra = await conditions(session) if conditions is not None else []
                stmt = (
                    select(IncidentZoneRow.zone_id, func.max(IncidentRow.occurred_at))
                    .join(IncidentRow, IncidentRow.id == IncidentZoneRow.incident_id)
                    .where(
                        IncidentZoneRow.zone_id.in_(empty),
                        IncidentRow.status != "retracted",
                        *counted_in_risk(self.demo_mode),
                        *extra,
                    )
                    .group_by(IncidentZoneRow.zone_id)
                )
                if full_view is not None:
                    stmt = stmt.where(full_view)
                for zone_id, last in (await session.execute(stmt)).all():
                    if last is not None:
                        out[zone_id] = ZoneCoverage(False, _utc_day(last))
        return out


def _utc_day(value: datetime) -> date:
    at = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return at.astimezone(UTC).date()


async def _masked_flags(
    session: AsyncSession, columns: IncidentColumns, full_view: ColumnElement[bool]
) -> tuple[np.ndarray, np.ndarray]:
    """Per row: whether the viewer sees it only masked, and its time precision.

    An incident the query does not find (deleted or written meanwhile) counts as masked.
    """
    ids = [uuid.UUID(str(i)) for i in columns.ids.tolist()]
    full: set[str] = set()
    precision: dict[str, str] = {}
    for k in range(0, len(ids), 5000):
        chunk = ids[k : k + 5000]
        found = await session.execute(
            select(
                hex_id(IncidentRow.id),
                case((full_view, 1), else_=0),
                IncidentRow.time_precision,
            ).where(IncidentRow.id.in_(chunk))
        )
        for row in found.all():
            ident, is_full, prec = str(row[0]), row[1], str(row[2])
            precision[ident] = prec
            if is_full:
                full.add(ident)
    keys = [i.hex for i in ids]
    masked = np.array([key not in full for key in keys], dtype=bool)
    precisions = np.array([precision.get(key, "exact") for key in keys], dtype=str)
    return masked, precisions


async def _upsert_zone_risk(session: AsyncSession, values: list[dict[str, Any]]) -> None:
    """Insert or replace each zone's current risk (two writers never collide on the key)."""
    dialect = session.get_bind().dialect.name
    insert_fn: Any = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert_fn(ZoneRiskRow)
    columns = [k for k in values[0] if k != "zone_id"]
    stmt = stmt.on_conflict_do_update(
        index_elements=["zone_id"], set_={k: getattr(stmt.excluded, k) for k in columns}
    )
    await session.execute(stmt, values)


def _join_causes(causes: list[str]) -> str:
    unique = list(dict.fromkeys(causes))
    if len(unique) <= 3:
        return "; ".join(unique)
    return f"{len(unique)} incidents reported or changed (first: {unique[0]})"


def _pending_causes(causes: list[str]) -> list[str]:
    """What a zone's pending row(s) say: up to three causes, else one summary."""
    unique = list(dict.fromkeys(causes))
    return unique if len(unique) <= 3 else [_join_causes(unique)]


def _stored(zone: ZoneRow, risk: ZoneRiskRow | None) -> StoredRisk:
    if risk is None:
        return StoredRisk(
            zone.id, zone.code, zone.name_fr, zone.kind, 0.0, 1, {}, "stable", 0.0, [], None
        )
    return StoredRisk(
        zone_id=zone.id,
        code=zone.code,
        name=zone.name_fr,
        kind=zone.kind,
        score=risk.score,
        level=risk.level,
        sub_scores=dict(risk.sub_scores),
        trend=risk.trend,
        expected_incidents=risk.expected_incidents,
        contributors=[(str(i), float(c)) for i, c in risk.contributors],
        computed_at=risk.computed_at,
    )


async def _visible(
    session: AsyncSession, columns: IncidentColumns, conditions: Sequence[Any]
) -> IncidentColumns:
    """Keep the incidents the read policy's conditions let through (asked in chunks)."""
    ids = [uuid.UUID(hex=str(i)) for i in columns.ids.tolist()]
    allowed: set[str] = set()
    for k in range(0, len(ids), 5000):
        chunk = ids[k : k + 5000]
        found = await session.scalars(
            select(hex_id(IncidentRow.id)).where(IncidentRow.id.in_(chunk), *conditions)
        )
        allowed.update(found.all())
    keep = np.array([str(i) in allowed for i in columns.ids.tolist()], dtype=bool)
    return columns.take(np.flatnonzero(keep))


def cells_meeting(area: shapely.Geometry) -> list[int] | None:
    """Grid cells (see incidents.store) that the area meets; None when there are too many."""
    minx, miny, maxx, maxy = shapely.bounds(area)
    xs = np.arange(math.floor(minx / CELL_DEG) * CELL_DEG, maxx, CELL_DEG)
    ys = np.arange(math.floor(miny / CELL_DEG) * CELL_DEG, maxy, CELL_DEG)
    if len(xs) * len(ys) > 2000:
        return None
    gx, gy = np.meshgrid(xs, ys)
    boxes = shapely.box(gx.ravel(), gy.ravel(), gx.ravel() + CELL_DEG, gy.ravel() + CELL_DEG)
    hit = shapely.intersects(area, boxes)
    return sorted(
        {
            cell_of(float(x) + CELL_DEG / 2, float(y) + CELL_DEG / 2)
            for x, y in zip(gx.ravel()[hit], gy.ravel()[hit], strict=True)
        }
    )


async def load_area_columns(
    session: AsyncSession,
    area: shapely.Geometry,
    *,
    since: datetime,
    until: datetime,
    conditions: Sequence[Any] = (),
    demo_mode: bool = False,
) -> IncidentColumns:
    """Incidents of the time window in the grid cells the area meets, as columns (one query);
    only the reports that count (counted_in_risk)."""
    minx, miny, maxx, maxy = shapely.bounds(area)
    bbox = and_(
        IncidentRow.max_lon >= minx,
        IncidentRow.min_lon <= maxx,
        IncidentRow.max_lat >= miny,
        IncidentRow.min_lat <= maxy,
    )
    cells = cells_meeting(area)
    where_place = (
        bbox
        if cells is None
        else or_(IncidentRow.cell.in_(cells), and_(IncidentRow.cell == BIG, bbox))
    )
    stmt = select(
        *risk_columns(session),
        IncidentRow.lon,
        IncidentRow.lat,
        IncidentRow.geometry_type,
        IncidentRow.geometry_wkb,
    ).where(
        where_place,
        IncidentRow.occurred_at > since,
        IncidentRow.occurred_at <= until,
        IncidentRow.status != "retracted",
        *counted_in_risk(demo_mode),
        *conditions,
    )
    rows = (await session.execute(stmt)).all()
    n = len(rows)
    cols: list[Any] = list(zip(*rows, strict=True)) if rows else [[] for _ in range(11)]
    ids, when, types, sev, rel, cred, status, lons, lats, gtypes, wkbs = cols
    geoms = None
    if any(t != "Point" for t in gtypes):
        geoms = np.array(
            [
                None if t == "Point" else shapely.from_wkb(w)
                for t, w in zip(gtypes, wkbs, strict=True)
            ],
            dtype=object,
        )
    columns = IncidentColumns(
        ids=np.array(ids, dtype=object),
        lons=np.asarray(lons, dtype=np.float64),
        lats=np.asarray(lats, dtype=np.float64),
        t_days=np.asarray(when, dtype=np.float64).reshape(n),
        type_codes=np.array(types, dtype=str),
        severity=np.array(sev, dtype=np.intp),
        reliability=np.array(rel, dtype=str),
        credibility=np.array(cred, dtype=np.intp),
        status=np.array(status, dtype=str),
        geometries=geoms,
    )
    return columns


# --- incident observer -------------------------------------------------------------------------


@dataclass
class RiskObserver:
    """Write handler (incidents.records.events): in the writing transaction, the zones the
    placement found (and those the incident left) are marked for re-scoring and
    the incident logged under the "incidents" counter (just before COMMIT, see log_writes);
    once it commits, the incidents go into this process's in-memory store. Nothing is scored
    inside the write.

    A bulk import writes thousands of incidents in one transaction: each costs one append here.
    """

    service: RiskService

    def _pending(self, session: AsyncSession, at: datetime) -> Pending:
        pending: Pending | None = session.info.get(PENDING_KEY)
        if pending is not None:
            return pending
        pending = session.info[PENDING_KEY] = Pending(at)
        service = self.service

        def committed() -> None:
            done: Pending | None = session.info.pop(PENDING_KEY, None)
            if done is not None:
                service.incident_committed(done.writes, done.seq, bool(done.relinked))

        def rolled_back() -> None:
            session.info.pop(PENDING_KEY, None)

        before_commit(session, "risk", lambda sync: service.log_writes(sync, pending))
        on_commit(session, "risk", committed, rollback=rolled_back)
        return pending

    async def written(self, session: AsyncSession, event: IncidentWritten) -> None:
        pending = self._pending(session, event.at)
        incident, placed = event.incident, event.zones
        counts = event.duplicate_of is None and (self.service.demo_mode or not event.is_demo)
        pending.writes.append(_written(incident, event.geometry, placed, counts))
        # A new further report of an event already counted changes no score.
        if placed is not None and (counts or event.previous is not None):
            cause = incident_cause(incident, event.previous)
            for zone_id in {*placed.left, *placed.zone_ids}:
                pending.causes.setdefault(zone_id, []).append(cause)
        if event.relinked:
            await self._relinked(session, pending, event.relinked)

    async def _relinked(
        self, session: AsyncSession, pending: Pending, ids: Sequence[uuid.UUID]
    ) -> None:
        """Incidents whose event changed: logged (the store re-reads them), zones re-scored."""
        wanted = sorted(set(ids) - pending.relinked)
        pending.relinked.update(wanted)
        for k in range(0, len(wanted), 500):
            zones = await session.scalars(
                select(IncidentZoneRow.zone_id)
                .where(IncidentZoneRow.incident_id.in_(wanted[k : k + 500]))
                .distinct()
            )
            for zone_id in zones.all():
                pending.causes.setdefault(zone_id, []).append("event links changed")

    async def imported(self, session: AsyncSession, event: IncidentsImported) -> None:
        for written in event.written:
            await self.written(session, written)
