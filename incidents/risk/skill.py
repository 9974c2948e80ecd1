"""How well the risk model foresees incidents: the walk-forward backtest on the database's data."""

from __future__ import annotations

import asyncio
import dataclasses
import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Float, String, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

from geo.geometry import from_wkb
from geo.zones import ZONE_KINDS
from incidents.db import Database
from incidents.errors import InvalidField
from incidents.events.linking import risk_credibility
from incidents.records.tables import IncidentRow
from incidents.risk.backtest import BacktestResult, Tuning, run_backtest, step_dates
from incidents.risk.model import RiskConfig, RiskInputs, confidence_weights, zone_neighbours
from incidents.risk.service import counted_in_risk
from incidents.zones.tables import IncidentZoneRow, ZoneRow

__all__ = [
    "MAX_STEPS",
    "SkillReport",
    "SkillRequest",
    "ZoneColumns",
    "load_incident_columns",
    "load_zone_columns",
    "measure_skill",
    "parse_skill_request",
]

EPOCH = date(1970, 1, 1)
DAY = 86400.0
# Each step (including the earlier ones the decay is fitted on) scores every zone eight times:
# a cap keeps one request from occupying the server for minutes.
MAX_STEPS = 600
MAX_HORIZON_DAYS = 3650
# A year of history before the first step, when `from` is not given: enough to fit the decay.
DEFAULT_HISTORY_DAYS = 365
MIN_HISTORY_DAYS = 180
_DURATION = re.compile(r"^\s*(\d+)\s*(d|w|mo)?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class SkillRequest:
    """What to backtest: zones of one kind, steps from `start` to `end`, each judged on a horizon.

    `start`/`end` None: chosen from the data; `step_days` None: the 1st of each month; `k` None:
    10, or half the zones when there are fewer than 20.
    """

    zones: str = "admin2"
    start: date | None = None
    end: date | None = None
    horizon_days: int = 30
    step_days: int | None = None
    k: int | None = None

    @property
    def step_label(self) -> str:
        return "1mo" if self.step_days is None else f"{self.step_days}d"


def _duration_days(value: str, name: str, *, month: bool) -> int | None:
    form = "30d, 2w or 1mo" if month else "30d or 4w"
    m = _DURATION.match(value)
    if not m:
        raise InvalidField(name, f"{name} is a number of days or weeks, e.g. {form}")
    n, unit = int(m.group(1)), (m.group(2) or "d").lower()
    if n <= 0:
        raise InvalidField(name, f"{name} must be positive, e.g. {form}")
    if unit == "mo":
        if not month:
            raise InvalidField(name, f"{name} is a number of days or weeks, e.g. {form}")
        if n != 1:
            raise InvalidField(name, "monthly steps are 1mo; give other steps in days, e.g. 60d")
        return None
    return n * (7 if unit == "w" else 1)


def _day(value: str | date | None, name: str) -> date | None:
    if value is None or isinstance(value, date):
        return value
    text = value.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        raise InvalidField(name, f"{name} is a date YYYY-MM-DD, e.g. 2019-01-01") from None


def parse_skill_request(
    *,
    start: str | date | None = None,
    end: str | date | None = None,
    horizon: str = "30d",
    zones: str = "admin2",
    step: str = "1mo",
    k: str | int | None = None,
) -> SkillRequest:
    """The query of `GET /risk/skill` (and the CLI options); errors name the parameter."""
    kind = zones.strip()
    if kind not in ZONE_KINDS:
        raise InvalidField("zones", f"zones is a zone kind: one of {', '.join(ZONE_KINDS)}")
    horizon_days = _duration_days(horizon, "horizon", month=False)
    assert horizon_days is not None
    if horizon_days > MAX_HORIZON_DAYS:
        raise InvalidField("horizon", f"give a horizon of at most {MAX_HORIZON_DAYS} days")
    first, last = _day(start, "from"), _day(end, "to")
    if first is not None and last is not None and last < first:
        raise InvalidField("to", "to must not be before from")
    top: int | None = None
    if k is not None and str(k).strip():
        try:
            top = int(str(k).strip())
        except ValueError:
            raise InvalidField("k", "k is a whole number of zones, e.g. 10") from None
        if top <= 0:
            raise InvalidField("k", "k must be at least 1 zone")
    return SkillRequest(
        zones=kind,
        start=first,
        end=last,
        horizon_days=horizon_days,
        step_days=_duration_days(step, "step", month=True),
        k=top,
    )


@dataclass(frozen=True)
class ZoneColumns:
    """The zones of one kind, in a fixed order (by code): what the backtest ranks."""

    ids: list[str]
    codes: list[str]
    names: list[str]
    areas_km2: npt.NDArray[np.float64]
    neighbours: tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]

    def __len__(self) -> int:
        return len(self.ids)


async def load_zone_columns(session: AsyncSession, kind: str) -> ZoneColumns:
    """Zones of `kind` with their areas and neighbours (touching or within 5 km)."""
    rows = (
        await session.execute(
            select(
                ZoneRow.id, ZoneRow.code, ZoneRow.name_fr, ZoneRow.area_km2, ZoneRow.geometry_wkb
            )
            .where(ZoneRow.kind == kind)
            .order_by(ZoneRow.code)
        )
    ).all()
    ids = [r[0] for r in rows]
    geoms = [from_wkb(r[4]) for r in rows]
    empty = np.empty(0, dtype=np.intp)
    return ZoneColumns(
        ids=ids,
        codes=[r[1] for r in rows],
        names=[r[2] for r in rows],
        areas_km2=np.array([float(r[3]) for r in rows], dtype=np.float64),
        neighbours=zone_neighbours(geoms) if len(geoms) >= 2 else (empty, empty),
    )


def _epoch_days(session: AsyncSession) -> ColumnElement[float]:
    """occurred_at as days since 1970, computed by the database (no datetime per row)."""
    bind = session.bind
    if bind is not None and bind.dialect.name == "sqlite":
        # SQLite keeps DateTimeUTC as ISO text with "+00:00"; julianday reads it exactly.
        return func.julianday(IncidentRow.occurred_at) - 2440587.5
    return cast(func.extract("epoch", IncidentRow.occurred_at), Float) / DAY


async def load_incident_columns(
    session: AsyncSession,
    zones: ZoneColumns,
    kind: str,
    *,
    include_retracted: bool = False,
) -> RiskInputs:
    """Every incident in a zone of `kind`, as columns, with its zone memberships: one query.

    The query returns one row per (incident, zone) link; incidents are de-duplicated here so an
    incident on a border counts once per zone it lies in, as in the risk model.
    """
    stmt = (
        select(
            cast(IncidentRow.id, String),
            IncidentZoneRow.zone_id,
            _epoch_days(session),
            IncidentRow.type,
            IncidentRow.severity,
            IncidentRow.reliability,
            risk_credibility(),  # as the service counts it: 1 for a confirmed event
            IncidentRow.status,
        )
        .join(IncidentZoneRow, IncidentZoneRow.incident_id == IncidentRow.id)
        .join(ZoneRow, ZoneRow.id == IncidentZoneRow.zone_id)
        .where(ZoneRow.kind == kind, *counted_in_risk())  # one count per event, no demo
    )
    if not include_retracted:
        stmt = stmt.where(IncidentRow.status != "retracted")
    rows = (await session.execute(stmt)).all()
    n = len(rows)
    cols: list[tuple[Any, ...]] = list(zip(*rows, strict=True)) if rows else [()] * 8
    link_ids = np.array(cols[0], dtype=object)
    ids, first, pair_incident = np.unique(link_ids, return_index=True, return_inverse=True)
    position = {z: i for i, z in enumerate(zones.ids)}
    pair_zone = np.fromiter((position[z] for z in cols[1]), dtype=np.intp, count=n)

    def per_incident(col: tuple[Any, ...], dtype: Any) -> npt.NDArray[Any]:
        return np.asarray(col, dtype=dtype)[first] if n else np.empty(0, dtype=dtype)

    return RiskInputs(
        incident_ids=ids,
        t_days=per_incident(cols[2], np.float64),
        type_codes=per_incident(cols[3], str),
        severity=per_incident(cols[4], np.intp),
        reliability=per_incident(cols[5], str),
        credibility=per_incident(cols[6], np.intp),
        status=per_incident(cols[7], str),
        pair_incident=np.asarray(pair_incident, dtype=np.intp).reshape(n),
        pair_zone=pair_zone,
    )


@dataclass(frozen=True)
class SkillReport:
    """The backtest result with what it ran on, and the adjustments made to the request."""

    result: BacktestResult
    zones: str
    zone_count: int
    incident_count: int
    first_incident: date
    last_incident: date
    start: date
    end: date
    step: str
    window_days: float
    notes: list[str] = field(default_factory=list)


def _date_of(days: float) -> date:
    return EPOCH + timedelta(days=math.floor(days))


def _count_steps(start: date, end: date, step_days: int | None) -> int:
    if step_days is None:
        return (end.year - start.year) * 12 + end.month - start.month + 1
    return (end - start).days // step_days + 1


def _plan(
    request: SkillRequest, inputs: RiskInputs, counted: npt.NDArray[np.bool_], kind: str
) -> tuple[date, date, list[str]]:
    """The steps' first and last dates, checked against the data; notes for what was adjusted."""
    first_inc = _date_of(float(inputs.t_days.min()))
    last_inc = _date_of(float(inputs.t_days.max()))
    data_end = last_inc + timedelta(days=1)  # a horizon is complete if it ends by then
    span = (data_end - first_inc).days
    h = request.horizon_days
    data = f"the incidents in {kind} zones run from {first_inc} to {last_inc}"
    if h >= span:
        raise InvalidField(
            "horizon", f"a {h}-day horizon is longer than the data ({data}): choose a shorter one"
        )
    notes: list[str] = []
    latest = data_end - timedelta(days=h)
    end = request.end or latest
    if end > latest:
        notes.append(
            f"steps after {latest} dropped: their {h}-day horizon goes past the last incident "
            f"({last_inc})"
        )
        end = latest
    start = request.start
    if start is None:
        start = first_inc + timedelta(days=DEFAULT_HISTORY_DAYS)
        if start > end:
            start = first_inc + timedelta(days=MIN_HISTORY_DAYS)
    if start > end:
        name = "horizon" if request.end is None or request.end >= start else "to"
        raise InvalidField(
            name,
            f"no step can be judged: {data}, and each step from {start} needs {h} days after "
            "it; choose an earlier from, a shorter horizon or a later to",
        )
    steps = step_dates(start, end, request.step_days)
    if not steps:
        raise InvalidField("to", f"no step between {start} and {end}: widen from..to")
    lo = (steps[0] - EPOCH).days
    hi = (steps[-1] - EPOCH).days + h
    t = inputs.t_days
    if not (counted & (t < lo)).any():
        raise InvalidField(
            "from",
            f"no incident before {steps[0]}, so nothing to forecast from ({data}): "
            "choose a later from",
        )
    if not (counted & (t >= lo) & (t < hi)).any():
        raise InvalidField(
            "from",
            f"no incident between {steps[0]} and {EPOCH + timedelta(days=hi)}, so nothing to "
            f"foresee ({data}): choose from/to within the data",
        )
    history_start = min(steps[0], first_inc + timedelta(days=MIN_HISTORY_DAYS))
    if _count_steps(history_start, steps[-1], request.step_days) > MAX_STEPS:
        raise InvalidField(
            "step",
            f"too many steps (at most {MAX_STEPS}, counting those the model is fitted on since "
            f"{history_start}): choose a longer step or a later from",
        )
    return steps[0], steps[-1], notes


async def measure_skill(
    db: Database,
    request: SkillRequest,
    *,
    config: RiskConfig | None = None,
    tuning: Tuning | None = None,
) -> SkillReport:
    """Load the zones of the requested kind and their incidents, then run the backtest.

    Raises InvalidField naming `zones` (unknown kind, fewer than two zones, no incident),
    `horizon`, `from`, `to`, `step` or `k` when the request cannot be measured on the data.
    """
    tune = tuning or Tuning()
    base = config or RiskConfig()
    # The decay is re-fitted at each step over memories of up to two years: a shorter window
    # would cut the long memories the fit relies on, and judge another model than the one fitted.
    longest = max(tune.half_life_ladder)
    if base.window_days < longest:
        base = dataclasses.replace(base, window_days=float(longest))
    kind = request.zones
    if kind not in ZONE_KINDS:
        raise InvalidField("zones", f"zones is a zone kind: one of {', '.join(ZONE_KINDS)}")
    async with db.read() as session:
        zones = await load_zone_columns(session, kind)
        if len(zones) < 2:
            raise InvalidField(
                "zones",
                f"there are {len(zones)} zones of kind {kind}; ranking needs at least two: "
                "import zones (sentinelle zones import) or choose another kind",
            )
        inputs = await load_incident_columns(
            session,
            zones,
            kind,
            include_retracted=base.status_factors.get("retracted", 0.0) > 0,
        )
    if len(inputs) == 0:
        raise InvalidField(
            "zones",
            f"no incident lies in a zone of kind {kind} ({len(zones)} zones): import incidents "
            "or choose another kind",
        )
    k = request.k if request.k is not None else min(10, max(1, len(zones) // 2))
    if k >= len(zones):
        raise InvalidField(
            "k",
            f"k must be fewer than the {len(zones)} zones of kind {kind}: the top {k} would "
            "capture every incident",
        )
    counted = confidence_weights(inputs, base) > 0
    start, end, notes = _plan(request, inputs, counted, kind)
    result = await asyncio.to_thread(
        run_backtest,
        inputs,
        zone_count=len(zones),
        zone_area_km2=zones.areas_km2,
        neighbours=zones.neighbours,
        start=start,
        end=end,
        step_days=request.step_days,
        horizon_days=request.horizon_days,
        k=k,
        config=base,
        tuning=tune,
        min_history_days=MIN_HISTORY_DAYS,
    )
    return SkillReport(
        result=result,
        zones=kind,
        zone_count=len(zones),
        incident_count=len(inputs),
        first_incident=_date_of(float(inputs.t_days.min())),
        last_incident=_date_of(float(inputs.t_days.max())),
        start=result.steps[0],
        end=result.steps[-1],
        step=request.step_label,
        window_days=base.window_days,
        notes=notes,
    )
