"""Zone risk use cases: incidents as columns, scores, level changes, route assessment."""

from __future__ import annotations

import math
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import numpy as np
import shapely
from sqlalchemy import Float, String, and_, cast, delete, event, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement
from sqlalchemy.util import await_only

from incidents.assessment import AreaRisk, IncidentColumns, assess_area, assessment_area
from incidents.db import Database
from incidents.errors import InvalidField
from incidents.model import Incident
from incidents.risk import RiskConfig, RiskInputs, ZoneRisk, score_zones
from incidents.store import BIG, CELL_DEG, cell_of
from incidents.tables import IncidentRow
from incidents.zone_tables import IncidentZoneRow, ZoneLevelChangeRow, ZoneRiskRow, ZoneRow
from incidents.zones_store import TOUCHED_KEY, ZoneCache, ZoneSnapshot, ZoneStore

__all__ = [
    "Assessment",
    "LevelChange",
    "RiskObserver",
    "RiskService",
    "RiskSettings",
    "StoredRisk",
    "risk_config",
    "to_days",
]

DAY = 86400.0
MAX_HISTORY_STEPS = 1000
MAX_ASSESSED_INCIDENTS = 1000
PENDING_KEY = "sentinelle.risk_pending"


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


def risk_config(settings: RiskSettings) -> RiskConfig:
    """The model's defaults with the deployment's short half-life, window, thresholds, hysteresis.

    The long-memory half-life keeps the model's value (see docs/risk.md).
    """
    base = RiskConfig()
    halves = (float(settings.risk_half_life_days), *base.half_lives_days[1:])
    thresholds = tuple(float(t) for t in settings.risk_thresholds) or base.thresholds
    return replace(
        base,
        half_lives_days=halves,
        window_days=float(settings.risk_window_days),
        thresholds=thresholds,  # type: ignore[arg-type]
        hysteresis=float(settings.risk_hysteresis),
    )


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


ConditionsFn = Callable[[AsyncSession], Awaitable[list[Any]]]


def _columns(rows: Sequence[Any], with_zone: bool) -> dict[str, Any]:
    """Result rows -> numpy columns (one pass; the database sends rows, numpy wants columns)."""
    cols = list(zip(*rows, strict=True)) if rows else []
    names = ["zone_id"] if with_zone else []
    names += ["id", "occurred_at", "type", "severity", "reliability", "credibility", "status"]
    if not cols:
        return {name: [] for name in names}
    return dict(zip(names, cols, strict=False))


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


@dataclass
class RiskService:
    """Scores zones from the stored incidents; keeps each zone's current level and its changes."""

    db: Database
    config: RiskConfig = field(default_factory=RiskConfig)
    cache: ZoneCache = field(default_factory=ZoneCache)
    retention_days: int = 3650

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
        """One query: one row per (incident, zone) link in the window, as numpy columns.

        Each link is its own row of the inputs: scores are sums per zone, so an incident in
        three zones simply counts in each, as the model wants.
        """
        since = since or until - timedelta(days=self.config.window_days)
        stmt = (
            select(
                IncidentZoneRow.zone_id,
                cast(IncidentRow.id, String),
                epoch_days(session),
                IncidentRow.type,
                IncidentRow.severity,
                IncidentRow.reliability,
                IncidentRow.credibility,
                IncidentRow.status,
            )
            .join(IncidentRow, IncidentRow.id == IncidentZoneRow.incident_id)
            .where(IncidentRow.occurred_at > since, IncidentRow.occurred_at <= until)
        )
        if self.config.status_factors.get("retracted", 0.0) == 0.0:
            stmt = stmt.where(IncidentRow.status != "retracted")
        if zone_ids is not None:
            stmt = stmt.where(IncidentZoneRow.zone_id.in_(sorted(set(zone_ids))))
        rows = (await session.execute(stmt)).all()
        cols = _columns(rows, with_zone=True)
        position = snapshot.position
        pair_zone = np.fromiter((position[z] for z in cols["zone_id"]), np.intp, len(rows))
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
        """
        snapshot = await self.cache.snapshot(session)
        if not snapshot.zones:
            return []
        if zone_ids is None:
            targets = {z.id for z in snapshot.zones}
            inputs = await self.load_inputs(session, snapshot, until=now)
        else:
            targets = snapshot.around(zone_ids)
            if not targets:
                return []
            inputs = await self.load_inputs(
                session, snapshot, until=now, zone_ids=snapshot.around(targets)
            )
        stored = dict(
            (
                await session.execute(
                    select(ZoneRiskRow.zone_id, ZoneRiskRow.level).where(
                        ZoneRiskRow.zone_id.in_(sorted(targets))
                    )
                )
            ).all()
        )
        previous = np.zeros(len(snapshot.zones), dtype=np.intp)
        for zid, level in stored.items():
            previous[snapshot.position[zid]] = level
        risks = self._score(snapshot, inputs, now, previous)
        await session.execute(delete(ZoneRiskRow).where(ZoneRiskRow.zone_id.in_(sorted(targets))))
        values: list[dict[str, Any]] = []
        changes: list[LevelChange] = []
        causes = causes or {}
        spill_cause = next(iter(c for cs in causes.values() for c in cs), None)
        for zid in sorted(targets):
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
            if zid in causes:
                cause = _join_causes(causes[zid])
            elif spill_cause is not None:
                cause = f"neighbouring zone: {spill_cause}"
            else:
                cause = default_cause
            changes.append(LevelChange(zid, before, risk.level, risk.score, now, cause))
        if values:
            await session.execute(insert(ZoneRiskRow), values)
        if changes:
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
                    }
                    for c in changes
                ],
            )
        return changes

    async def recompute_all(
        self, *, now: datetime, cause: str = "scheduled re-computation (decay)"
    ) -> list[LevelChange]:
        async with self.db.transaction() as session:
            return await self.recompute(session, now=now, default_cause=cause)

    async def level_changes(
        self, *, since: datetime | None = None, zone_id: str | None = None
    ) -> list[LevelChange]:
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

    async def ranking(self) -> list[StoredRisk]:
        """Every zone, most dangerous first (level, then score); zones never scored come last."""
        async with self.db.read() as session:
            rows = (
                await session.execute(
                    select(ZoneRow, ZoneRiskRow).outerjoin(
                        ZoneRiskRow, ZoneRiskRow.zone_id == ZoneRow.id
                    )
                )
            ).all()
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
        async with self.db.read() as session:
            row = await ZoneStore(session).get(zone_id)
            if at is None:
                current = (await self.current(session, [zone_id]))[zone_id]
                if current.computed_at is not None:
                    return current
                at = now
            if at > now:
                raise InvalidField("at", "`at` is in the future: risk is only known up to now")
            snapshot = await self.cache.snapshot(session)
            inputs = await self.load_inputs(
                session, snapshot, until=at, zone_ids=snapshot.around([zone_id])
            )
            risk = self._score(snapshot, inputs, at, None)[snapshot.position[zone_id]]
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
            snapshot = await self.cache.snapshot(session)
            inputs = await self.load_inputs(
                session,
                snapshot,
                since=start - timedelta(days=self.config.window_days),
                until=end,
                zone_ids=snapshot.around([zone_id]),
            )
        z = snapshot.position[zone_id]
        previous = np.zeros(len(snapshot.zones), dtype=np.intp)
        out: list[HistoryPoint] = []
        for k in range(steps):
            at = start + k * step
            risks = self._score(snapshot, inputs, at, previous)
            previous = np.array([r.level for r in risks], dtype=np.intp)
            out.append(HistoryPoint(at, risks[z].score, risks[z].level, risks[z].trend))
        return out

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
    ) -> Assessment:
        """Assess an area or a route from the incidents of the last `window_days` days."""
        window = int(window_days if window_days is not None else self.config.window_days)
        if window <= 0:
            raise InvalidField("window_days", "window_days must be a positive number of days")
        if window > self.retention_days:
            raise InvalidField(
                "window_days",
                f"window_days is longer than the data retention ({self.retention_days} days)",
            )
        _, area = assessment_area(geom, radius_km=radius_km, corridor_km=corridor_km)
        config = replace(self.config, window_days=float(window))
        async with self.db.read() as session:
            extra = await conditions(session) if conditions is not None else []
            columns = await load_area_columns(
                session, area, since=now - timedelta(days=window), until=now, conditions=extra
            )
            snapshot = await self.cache.snapshot(session)
            crossed_geom = geom if geom.geom_type == "LineString" else area
            crossed = snapshot.index.zones_for(crossed_geom)
            zones = await self.current(session, crossed)
        result = assess_area(
            columns,
            geom,
            now_days=to_days(now),
            config=config,
            radius_km=radius_km,
            corridor_km=corridor_km,
            segment_km=segment_km,
        )
        order = sorted(
            result.incidents,
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
        return Assessment(result, ranked, incidents, len(result.incidents), window)


def _join_causes(causes: list[str]) -> str:
    unique = list(dict.fromkeys(causes))
    if len(unique) <= 3:
        return "; ".join(unique)
    return f"{len(unique)} incidents reported or changed (first: {unique[0]})"


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
) -> IncidentColumns:
    """Incidents of the time window in the grid cells the area meets, as columns (one query)."""
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
        cast(IncidentRow.id, String),
        epoch_days(session),
        IncidentRow.type,
        IncidentRow.severity,
        IncidentRow.reliability,
        IncidentRow.credibility,
        IncidentRow.status,
        IncidentRow.lon,
        IncidentRow.lat,
        IncidentRow.geometry_type,
        IncidentRow.geometry_wkb,
    ).where(
        where_place,
        IncidentRow.occurred_at > since,
        IncidentRow.occurred_at <= until,
        IncidentRow.status != "retracted",
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
    """Incident observer: re-scores the touched zones once, just before the transaction commits.

    A bulk import writes thousands of incidents in one transaction; scoring once per
    transaction instead of once per incident keeps that linear.
    """

    service: RiskService

    async def incident_written(
        self,
        session: AsyncSession,
        incident: Incident,
        geom: shapely.Geometry,
        previous: Incident | None,
        now: datetime,
    ) -> None:
        if session.info.get(PENDING_KEY) is not None:
            session.info[PENDING_KEY] = max(session.info[PENDING_KEY], now)
            return
        session.info[PENDING_KEY] = now
        service = self.service

        def before_commit(_sync_session: Any) -> None:
            when = session.info.pop(PENDING_KEY, None)
            zones = session.info.pop(TOUCHED_KEY, {})
            if when is None or not zones:
                return
            # Runs inside SQLAlchemy's greenlet: await_only drives our async code from here.
            await_only(service.recompute(session, now=when, zone_ids=list(zones), causes=zones))

        event.listen(session.sync_session, "before_commit", before_commit, once=True)
