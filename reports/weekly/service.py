"""The weekly report's use case: read the period's incidents as the viewer may see them, the
zones and their levels, the followed roads' levels, and make the report (figures, map, chart)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
import shapely

from geo.gazetteer import Gazetteer
from geo.zones import DEFAULT_TOWNS, mali_outline
from incidents.errors import InvalidField
from incidents.identity.accounts import Principal
from incidents.records.schemas import IncidentFeature
from incidents.records.service import IncidentService
from incidents.records.store import IncidentQuery
from incidents.risk.model import score_zones
from incidents.risk.service import RiskService, to_days
from incidents.sharing.rules import representative_point
from incidents.sharing.visibility import OrganisationNames, visible_in_full
from incidents.taxonomy.catalogue import TYPES
from reports.categories import un_category
from reports.config import ReportsConfig
from reports.weekly.charts import weekly_bars
from reports.weekly.figures import (
    Period,
    ReportIncident,
    ReportZone,
    ZoneLevels,
    compute,
    level_name,
    week_starts,
)
from reports.weekly.map import MapPoint, MapTown, MapZone, render_map
from reports.weekly.render import RouteLine, WeeklyReport
from reports.weekly.request import ReportRequest

# The deepest administrative level present is the report's zones (cercles, then régions).
ZONE_KINDS = ("admin2", "admin1", "region")
REGION_KINDS = ("admin1", "region")
MAX_INCIDENTS = 50_000
PAGE = 1000


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def day_end(day: date) -> datetime:
    return day_start(day) + timedelta(days=1) - timedelta(microseconds=1)


@dataclass
class WeeklyReports:
    """Builds weekly reports as one viewer may see them (api/bootstrap.py wires it)."""

    incidents: IncidentService
    risk: RiskService
    gazetteer: Gazetteer
    names: OrganisationNames
    config: ReportsConfig
    demo_mode: bool = False

    async def build(
        self, viewer: Principal, request: ReportRequest, *, now: datetime
    ) -> WeeklyReport:
        period = request.period
        lang = request.lang
        zones, all_zones, snapshot = await self._zones(viewer, request.zones)
        report_zones = [
            ReportZone(z.id, z.name_en if lang == "en" else z.name_fr, z.kind) for z in zones
        ]
        incidents, located = await self._incidents(
            viewer, period, zones, lang, restrict=bool(request.zones)
        )
        levels = await self._levels(snapshot, period, zones)
        figures = compute(period, incidents, report_zones, levels, lang)
        routes = await self._routes(viewer, period, lang)
        level_after = {lv.zone_id: lv.after for lv in levels}
        regions = [z.geometry for z in all_zones if z.kind in REGION_KINDS]
        towns = []
        for _, place, fr, en in DEFAULT_TOWNS:
            loc = self.gazetteer.lookup(place)
            if loc is not None:
                towns.append(MapTown(en if lang == "en" else fr, loc.lon, loc.lat))
        title = "Carte des niveaux" if lang == "fr" else "Map of levels"
        # Only incidents seen in full are drawn; a masked one is in the counts only.
        points = [
            MapPoint(p[0], p[1], i.un_category)
            for i, p in located
            if period.holds(i.occurred_at) and not i.masked
        ]
        outline = mali_outline()
        map_svg = await asyncio.to_thread(
            render_map,
            outline=outline,
            regions=regions,
            zones=[MapZone(z.geometry, level_after.get(z.id)) for z in zones],
            towns=towns,
            points=points,
            lang=lang,
            width=430.0,
            title=title,
        )
        async with self.incidents.db.read() as session:
            org = (await self.names.get(session, [viewer.org_id])).get(viewer.org_id, "")
        return WeeklyReport(
            figures=figures,
            org_name=org,
            made_at=now,
            map_svg=map_svg,
            chart_svg=weekly_bars(figures.weeks, lang),
            coverage_text=coverage_text(figures, zones, lang),
            routes=routes,
        )

    # --- zones -----------------------------------------------------------------------------

    async def _zones(
        self, viewer: Principal, wanted: Sequence[str]
    ) -> tuple[list[Any], list[Any], Any]:
        """(the report's zones, every zone the viewer may know of, the zones snapshot)."""
        async with self.incidents.db.read() as session:
            snapshot = await self.risk.cache.snapshot(session)
        own = viewer.org_id.hex
        visible = [
            z
            for z, owner in zip(
                snapshot.zones, snapshot.owners or [""] * len(snapshot.zones), strict=True
            )
            if owner in ("", own)
        ]
        if wanted:
            by_key: dict[str, list[Any]] = {}
            for z in visible:
                for key in {z.id, z.code, z.kind}:
                    by_key.setdefault(key.lower(), []).append(z)
            chosen: dict[str, Any] = {}
            for name in wanted:
                found = by_key.get(name.lower())
                if not found:
                    raise InvalidField(
                        "zones",
                        f"No zone {name!r}: give zone ids or codes from GET /api/v1/zones, or a kind (admin1, admin2).",
                    )
                for z in found:
                    chosen[z.id] = z
            return list(chosen.values()), visible, snapshot
        for kind in ZONE_KINDS:
            deepest = [z for z in visible if z.kind == kind]
            if deepest:
                return deepest, visible, snapshot
        return [z for z in visible if z.kind != "country"], visible, snapshot

    # --- incidents -------------------------------------------------------------------------

    async def _incidents(
        self,
        viewer: Principal,
        period: Period,
        zones: Sequence[Any],
        lang: str,
        *,
        restrict: bool = False,
    ) -> tuple[list[ReportIncident], list[tuple[ReportIncident, tuple[float, float]]]]:
        """The incidents of the period, the previous one and the charted weeks as `viewer` may
        see them (IncidentService.list: masked entries stay masked), with the point each is
        drawn or counted at (a masked one: its grid cell's centre)."""
        first = min(period.previous.start, week_starts(period.end)[0])
        features: list[IncidentFeature] = []
        cursor: str | None = None
        while len(features) < MAX_INCIDENTS:
            query = IncidentQuery(
                since=day_start(first), until=day_end(period.end), limit=PAGE, cursor=cursor
            )
            page, cursor = await self.incidents.list(viewer, query)
            features += page
            if cursor is None or not page:
                break
        kept = [f for f in features if _counted(f, self.demo_mode)]
        points = [representative_point(f.geometry) for f in kept]
        zone_ids = _zone_of_points(points, zones)
        out: list[ReportIncident] = []
        located: list[tuple[ReportIncident, tuple[float, float]]] = []
        for feature, point, zone_id in zip(kept, points, zone_ids, strict=True):
            if zone_id is None and restrict:
                continue  # outside the zones asked for (else counted, in no zone's line)
            item = _report_incident(feature, zone_id, lang)
            out.append(item)
            located.append((item, point))
        return out, located

    # --- levels ----------------------------------------------------------------------------

    async def _levels(
        self, snapshot: Any, period: Period, zones: Sequence[Any]
    ) -> list[ZoneLevels]:
        """Each zone's level at the end of the previous period and of this one, scored by the
        risk model from every report (aggregates: a masked incident counts as it does in the
        levels everyone sees), walking week by week so that hysteresis carries as it does live."""
        if not snapshot.zones:
            return []
        end = day_end(period.end)
        before = day_end(period.previous.end)
        steps = [before - timedelta(weeks=k) for k in range(8, 0, -1)] + [before]
        at = before + timedelta(weeks=1)
        while at < end:
            steps.append(at)
            at += timedelta(weeks=1)
        steps.append(end)
        config = self.risk.config
        async with self.incidents.db.read() as session:
            inputs = await self.risk.load_inputs(
                session,
                snapshot,
                since=steps[0] - timedelta(days=config.window_days),
                until=end,
            )

        def walk() -> tuple[np.ndarray, np.ndarray, list[Any]]:
            previous = np.zeros(len(snapshot.zones), dtype=np.intp)
            at_before = previous
            risks: list[Any] = []
            for step in steps:
                risks = score_zones(
                    inputs,
                    zone_count=len(snapshot.zones),
                    zone_area_km2=snapshot.areas_km2,
                    now_days=to_days(step),
                    config=config,
                    previous_levels=previous,
                    neighbours=snapshot.neighbours,
                )
                previous = np.array([r.level for r in risks], dtype=np.intp)
                if step == before:
                    at_before = previous
            return at_before, previous, risks

        at_before, at_end, risks = await asyncio.to_thread(walk)
        out = []
        for z in zones:
            k = snapshot.position[z.id]
            subs = {s: v for s, v in risks[k].sub_scores.items() if v > 0}
            main = max(subs, key=lambda s: subs[s]) if subs else None
            out.append(ZoneLevels(z.id, int(at_before[k]), int(at_end[k]), main))
        return out

    # --- roads -----------------------------------------------------------------------------

    async def _routes(self, viewer: Principal, period: Period, lang: str) -> list[RouteLine]:
        policy = self.incidents.read_policy

        async def conditions(session: Any) -> list[Any]:
            return list(await policy.conditions(session, viewer))

        out = []
        for names in self.config.corridor_names():
            located = [self.gazetteer.lookup(n) for n in names]
            if len(located) < 2 or any(loc is None for loc in located):
                continue
            line = shapely.LineString([(loc.lon, loc.lat) for loc in located if loc is not None])
            result = await self.risk.assess(
                line,
                now=day_end(period.end),
                corridor_km=self.config.corridor_km,
                window_days=max(period.days, 7),
                conditions=conditions,
                full_view=visible_in_full(viewer),
                viewer_org=viewer.org_id,
            )
            area = result.area
            out.append(
                RouteLine(
                    name=" – ".join(loc.name for loc in located if loc is not None),
                    length_km=round(area.length_km or 0),
                    level=level_name(area.level if result.has_data else None, lang),
                    incidents=result.incident_count,
                )
            )
        return out


def _counted(feature: IncidentFeature, demo_mode: bool) -> bool:
    props = feature.properties
    if props.status == "retracted":
        return False
    return not (props.demo is True and not demo_mode)


def _zone_of_points(
    points: Sequence[tuple[float, float]], zones: Sequence[Any]
) -> list[str | None]:
    """The report zone holding each point (the smallest, when zones overlap); one tree query."""
    if not points or not zones:
        return [None] * len(points)
    geoms = [z.geometry for z in zones]
    tree = shapely.STRtree(geoms)
    pts = shapely.points(np.array(points, dtype=np.float64))
    pairs = tree.query(pts, predicate="intersects")
    areas = shapely.area(np.array(geoms, dtype=object))
    best: list[str | None] = [None] * len(points)
    best_area = [float("inf")] * len(points)
    for p, g in zip(pairs[0].tolist(), pairs[1].tolist(), strict=True):
        if areas[g] < best_area[p]:
            best[p], best_area[p] = zones[g].id, float(areas[g])
    return best


def _report_incident(feature: IncidentFeature, zone_id: str | None, lang: str) -> ReportIncident:
    props = feature.properties
    type_code = props.type if isinstance(props.type, str) else None
    if props.masked:
        # Only what the masked entry shows: category, coarse day, the zone of its cell. The
        # opaque id keeps the order of equal entries independent of the hidden fields.
        return ReportIncident(
            key=str(feature.id),
            un_category=un_category(None, props.category),
            occurred_at=props.occurred_at,
            masked=True,
            zone_id=zone_id,
        )
    known = TYPES.get(type_code or "")
    return ReportIncident(
        key=str(feature.id),
        un_category=un_category(type_code, props.category),
        occurred_at=props.occurred_at,
        masked=False,
        zone_id=zone_id,
        type_label=known.label(lang) if known is not None else type_code,
        place=props.place_name if isinstance(props.place_name, str) else None,
        severity=props.severity if isinstance(props.severity, int) else None,
        sharing_level=props.sharing_level if isinstance(props.sharing_level, str) else None,
        source=props.source_type if isinstance(props.source_type, str) else None,
        demo=props.demo is True,
    )


def coverage_text(figures: Any, zones: Sequence[Any], lang: str) -> str:
    total, masked = figures.total_now, figures.masked_now
    sources = ", ".join(f"{name} ({n})" for name, n in figures.sources) or "—"
    provenance = "; ".join(
        dict.fromkeys(z.provenance for z in zones[:1] if getattr(z, "provenance", None))
    )
    if lang == "en":
        return (
            f"{total} reports you may see in the period, {masked} of them restricted (category, "
            f"day and area only). Sources of those seen in full: {sources}. Levels count every "
            f"report, those you see only masked included. Zones: {len(zones)} ({provenance or '—'})."
        )
    return (
        f"{total} signalements visibles sur la période, dont {masked} à diffusion restreinte "
        f"(catégorie, jour et zone seulement). Sources de ceux vus en entier : {sources}. Les "
        f"niveaux comptent tous les signalements, y compris ceux que vous ne voyez que masqués. "
        f"Zones : {len(zones)} ({provenance or '—'})."
    )


__all__ = ["WeeklyReports", "coverage_text", "day_end", "day_start"]
