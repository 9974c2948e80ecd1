"""A zone's coverage on past days (`?at=`, the risk history): "no data" when too little had
occurred by that day, with the last incident up to that day that the viewer sees in full."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select

from incidents.records.tables import IncidentRow
from incidents.risk.coverage import ZoneCoverage, zones_with_data
from incidents.risk.service import ConditionsFn, RiskService, _utc_day, counted_in_risk, to_days
from incidents.zones.store import zones_version
from incidents.zones.tables import IncidentZoneRow

__all__ = ["coverage_on"]


async def coverage_on(
    risk: RiskService,
    zone_id: str,
    days: Sequence[datetime],
    *,
    conditions: ConditionsFn | None = None,
    full_view: ColumnElement[bool] | None = None,
) -> list[ZoneCoverage]:
    """Per day of `days`: whether the zone had data on that day (the rule of
    incidents.risk.coverage over the incidents that had occurred by then, in the zone and its
    neighbours, within the coverage period before it) and, when not, the UTC day of the last
    incident in the zone up to that day that the viewer sees in full (`conditions`,
    `full_view`: its read policy). Nothing that occurred after a day ever answers for it."""
    if not days:
        return []
    period = timedelta(days=risk.coverage_rule.period_days(risk.config.window_days))
    async with risk.db.read() as session:
        snapshot = await risk.cache.snapshot(session)
        if zone_id not in snapshot.position:
            snapshot = await risk.cache.snapshot(session, version=await zones_version(session))
        z = snapshot.position[zone_id]
        inputs = await risk.load_inputs(
            session,
            snapshot,
            since=min(days) - period,
            until=max(days),
            zone_ids=snapshot.around([zone_id]),
        )
        has = [
            bool(
                zones_with_data(
                    inputs.t_days,
                    inputs.pair_incident,
                    inputs.pair_zone,
                    zone_count=len(snapshot.zones),
                    now_days=to_days(day),
                    window_days=risk.config.window_days,
                    rule=risk.coverage_rule,
                    neighbours=snapshot.neighbours,
                )[z]
            )
            for day in days
        ]
        out = [ZoneCoverage(True) for _ in days]
        extra: list[Any] = await conditions(session) if conditions is not None else []
        last_known: dict[datetime, datetime | None] = {}
        for k, day in enumerate(days):
            if has[k]:
                continue
            if day not in last_known:
                stmt = (
                    select(func.max(IncidentRow.occurred_at))
                    .join(IncidentZoneRow, IncidentZoneRow.incident_id == IncidentRow.id)
                    .where(
                        IncidentZoneRow.zone_id == zone_id,
                        IncidentRow.occurred_at <= day,
                        IncidentRow.status != "retracted",
                        *counted_in_risk(risk.demo_mode),
                        *extra,
                    )
                )
                if full_view is not None:
                    stmt = stmt.where(full_view)
                last_known[day] = await session.scalar(stmt)
            last = last_known[day]
            out[k] = ZoneCoverage(False, None if last is None else _utc_day(last))
    return out
