"""/api/v1/zones and /api/v1/risk: zones, their rolling risk, and area or route assessment."""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, Parameter, QueryParameter
from msgspec import Struct

from api.http.auth import ANY_ROLE, requires
from api.http.routes.common import as_utc, parse_codes, principal_of, utcnow
from api.http.routes.places import HoldingZone, PlaceOut, holding_zones, place_out, search_places
from api.settings import Settings
from geo.geometry import GeometryError, from_wkb, parse_geojson_geometry, to_geojson
from incidents import vocabulary
from incidents.errors import InvalidField
from incidents.records.model import Role
from incidents.risk.assessment import MAX_AREA_VERTICES
from incidents.risk.coverage import HAS_DATA, NO_DATA, ZoneCoverage
from incidents.risk.model import LEVEL_CODES, LEVEL_LABELS
from incidents.risk.past import coverage_on
from incidents.risk.service import Assessment, RiskService, StoredRisk
from incidents.sharing.service import SharingService
from incidents.zones.store import (
    Located,
    ZoneDraft,
    ZoneService,
    parse_zone_geometry,
)
from incidents.zones.tables import ZoneRow

log = logging.getLogger("sentinelle.zones")
GEOJSON = "application/geo+json"
# Who may draw zones: officers and admins (their organisation's custom zones) and the platform
# operator (platform zones); the service decides which zone each may change.
ZONE_EDITORS = requires(Role.OFFICER, Role.ADMIN, Role.OPERATOR)
# Text fields of a zone, as long as their columns.
TEXT_LIMITS = {"name_fr": 200, "name_en": 200, "code": 64, "parent_code": 64, "provenance": 2000}

# --- schemas -----------------------------------------------------------------------------------


class RiskSummary(Struct):
    # None with coverage "no_data": too little recent data to give a level (docs/coverage.md).
    level: int | None
    level_code: str
    level_label: str
    level_label_en: str
    score: float
    trend: str
    computed_at: datetime | None = None
    coverage: str = HAS_DATA
    # With "no_data": the UTC day of the last incident in the zone you see in full, if any.
    last_incident_on: date | None = None


class ZoneProperties(Struct):
    code: str
    name: str
    name_fr: str
    name_en: str
    kind: str
    parent_code: str | None
    provenance: str
    approximate: bool
    version: int
    area_km2: float
    risk: RiskSummary | None = None


class ZoneFeature(Struct):
    type: str
    id: str
    geometry: dict[str, Any]
    properties: ZoneProperties
    warnings: list[str] | None = None
    # With `?q=`: "name" (the zone's name is like q) or "place" (it holds the place q names).
    match: str | None = None


class ZoneCollection(Struct):
    type: str
    features: list[ZoneFeature]


class ZoneIn(Struct, forbid_unknown_fields=True):
    name_fr: str
    geometry: dict[str, Any]
    code: str | None = None
    name_en: str | None = None
    kind: str = "custom"
    parent_code: str | None = None
    provenance: str | None = None
    approximate: bool = False


class Contributor(Struct):
    incident_id: str
    # None for an incident the viewer sees only masked: its exact share would tell its exact
    # type, severity and time; the masked contributors' shares are summed in `masked_share`.
    share: float | None


class ZoneRiskOut(Struct):
    zone_id: str
    code: str
    name: str
    kind: str
    level: int | None
    level_code: str
    level_label: str
    level_label_en: str
    score: float
    sub_scores: dict[str, float]
    trend: str
    expected_incidents: float
    contributors: list[Contributor]
    computed_at: datetime | None
    masked_share: float = 0.0
    coverage: str = HAS_DATA
    last_incident_on: date | None = None
    # Asked by place name: the place, and every zone holding it, narrowest first; the answer is
    # for the first (`zone_id`). `matched`: "id", "place" or "zone_name".
    matched: str = "id"
    place: PlaceOut | None = None
    nested: list[HoldingZone] | None = None


class HistoryPointOut(Struct):
    at: datetime
    # None with coverage "no_data": too little had occurred by that day (docs/coverage.md).
    level: int | None
    level_code: str
    score: float
    trend: str
    coverage: str = HAS_DATA
    # With "no_data": the UTC day of the last incident up to that day that you see in full.
    last_incident_on: date | None = None


class HistoryOut(Struct):
    zone_id: str
    from_: datetime = msgspec.field(name="from")
    to: datetime = msgspec.field(name="to")
    step: str = "1d"
    points: list[HistoryPointOut] = msgspec.field(default_factory=list)


class RankedZone(Struct):
    zone_id: str
    code: str
    name: str
    kind: str
    level: int | None
    level_code: str
    level_label: str
    score: float
    trend: str
    coverage: str = HAS_DATA


class RankingOut(Struct):
    zones: list[RankedZone]


class AssessIn(Struct, forbid_unknown_fields=True):
    geometry: dict[str, Any]
    radius_km: float | None = None
    corridor_km: float = 10.0
    window_days: int | None = None
    segment_km: float = 25.0


class AssessedZone(Struct):
    id: str
    code: str
    name: str
    kind: str
    level: int | None
    level_code: str
    score: float
    coverage: str = HAS_DATA


class AssessedIncidentOut(Struct):
    id: str
    type: str
    occurred_at: datetime
    severity: int
    status: str
    distance_km: float
    along_km: float | None = None


class SegmentOut(Struct):
    index: int
    from_km: float
    to_km: float
    level: int | None
    level_code: str
    score: float
    incident_count: int
    geometry: dict[str, Any]


class AssessmentOut(Struct):
    kind: str
    level: int | None
    level_code: str
    level_label: str
    level_label_en: str
    score: float
    sub_scores: dict[str, float]
    area_km2: float
    length_km: float | None
    window_days: int
    zones: list[AssessedZone]
    incident_count: int
    incidents: list[AssessedIncidentOut]
    segments: list[SegmentOut]
    coverage: str = HAS_DATA
    last_incident_on: date | None = None


# --- conversions -------------------------------------------------------------------------------


def level_words(level: int, has_data: bool) -> tuple[int | None, str, str, str]:
    """(level, code, French label, English label); no level but "no data" without data."""
    if not has_data:
        return (
            None,
            NO_DATA,
            vocabulary.level_label(NO_DATA, "fr"),
            vocabulary.level_label(NO_DATA, "en"),
        )
    fr, en = LEVEL_LABELS[level]
    return level, LEVEL_CODES[level], fr, en


def _summary(risk: StoredRisk | None, coverage: ZoneCoverage | None = None) -> RiskSummary | None:
    if risk is None:
        return None
    has_data = coverage is None or coverage.has_data
    level, code, fr, en = level_words(risk.level, has_data)
    return RiskSummary(
        level=level,
        level_code=code,
        level_label=fr,
        level_label_en=en,
        score=round(risk.score, 4),
        trend=risk.trend,
        computed_at=risk.computed_at,
        coverage=HAS_DATA if has_data else NO_DATA,
        last_incident_on=None if coverage is None else coverage.last_incident_on,
    )


def zone_feature(
    row: ZoneRow,
    risk: StoredRisk | None = None,
    warnings: list[str] | None = None,
    coverage: ZoneCoverage | None = None,
    match: str | None = None,
) -> ZoneFeature:
    return ZoneFeature(
        type="Feature",
        id=row.id,
        geometry=to_geojson(from_wkb(row.geometry_wkb)),
        properties=ZoneProperties(
            code=row.code,
            name=row.name_fr,
            name_fr=row.name_fr,
            name_en=row.name_en,
            kind=row.kind,
            parent_code=row.parent_code,
            provenance=row.provenance,
            approximate=row.approximate,
            version=row.version,
            area_km2=round(row.area_km2, 3),
            risk=_summary(risk, coverage),
        ),
        warnings=warnings,
        match=match,
    )


def risk_out(risk: StoredRisk, coverage: ZoneCoverage | None = None) -> ZoneRiskOut:
    has_data = coverage is None or coverage.has_data
    level, code, fr, en = level_words(risk.level, has_data)
    return ZoneRiskOut(
        zone_id=risk.zone_id,
        code=risk.code,
        name=risk.name,
        kind=risk.kind,
        level=level,
        level_code=code,
        level_label=fr,
        level_label_en=en,
        score=round(risk.score, 4),
        sub_scores={k: round(v, 4) for k, v in risk.sub_scores.items()},
        trend=risk.trend,
        expected_incidents=round(risk.expected_incidents, 3),
        contributors=[Contributor(i, round(c, 4)) for i, c in risk.contributors],
        computed_at=risk.computed_at,
        coverage=HAS_DATA if has_data else NO_DATA,
        last_incident_on=None if coverage is None else coverage.last_incident_on,
    )


def assessment_out(result: Assessment) -> AssessmentOut:
    area = result.area
    level, code, fr, en = level_words(area.level, result.has_data)
    known = [c.last_incident_on for c in result.zone_coverage.values() if c.last_incident_on]

    def zone_level(z: StoredRisk) -> tuple[int | None, str]:
        c = result.zone_coverage.get(z.zone_id)
        return level_words(z.level, c is None or c.has_data)[:2]

    def stretch_level(value: int) -> tuple[int | None, str]:
        return level_words(value, result.has_data)[:2]

    return AssessmentOut(
        kind=area.kind,
        level=level,
        level_code=code,
        level_label=fr,
        level_label_en=en,
        score=round(area.score, 4),
        sub_scores={k: round(v, 4) for k, v in area.sub_scores.items()},
        area_km2=round(area.area_km2, 1),
        length_km=None if area.length_km is None else round(area.length_km, 2),
        window_days=result.window_days,
        zones=[
            AssessedZone(
                z.zone_id,
                z.code,
                z.name,
                z.kind,
                *zone_level(z),
                round(z.score, 4),
                coverage=HAS_DATA if zone_level(z)[0] is not None else NO_DATA,
            )
            for z in result.zones
        ],
        incident_count=result.incident_count,
        incidents=[
            AssessedIncidentOut(
                str(i.id), i.type, i.occurred_at, i.severity, i.status, i.distance_km, i.along_km
            )
            for i in result.incidents
        ],
        segments=[
            SegmentOut(
                index=s.index,
                from_km=round(s.from_km, 2),
                to_km=round(s.to_km, 2),
                level=stretch_level(s.level)[0],
                level_code=stretch_level(s.level)[1],
                score=round(s.score, 4),
                incident_count=s.incident_count,
                geometry=to_geojson(s.geometry),
            )
            for s in area.segments
        ],
        coverage=HAS_DATA if result.has_data else NO_DATA,
        last_incident_on=None if result.has_data or not known else max(known),
    )


_STEP_RE = re.compile(r"^\s*(\d+)\s*([dhw])\s*$")
MAX_STEP = timedelta(days=366)


def parse_step(value: str) -> timedelta:
    m = _STEP_RE.match(value)
    if not m:
        raise InvalidField("step", "step is a number and a unit: 12h, 1d or 2w")
    unit = {"h": "hours", "d": "days", "w": "weeks"}[m.group(2)]
    try:
        n = int(m.group(1))
        delta = timedelta(**{unit: n})
    except (OverflowError, ValueError):  # beyond what a timedelta (or int) holds: too long
        raise InvalidField("step", "step must be at most 366 days, e.g. 1d, 7d or 2w") from None
    if n == 0:
        raise InvalidField("step", "step is a number and a unit: 12h, 1d or 2w")
    if delta > MAX_STEP:
        raise InvalidField("step", "step must be at most 366 days, e.g. 1d, 7d or 2w")
    return delta


def _midnight(value: datetime) -> datetime:
    return value.replace(hour=0, minute=0, second=0, microsecond=0)


def risk_day(at: datetime | None, *, now: datetime, retention_days: int) -> datetime | None:
    """`at` rounded down to 00:00 UTC of its day; 422 when it is older than the data retention.

    A whole day per answer: with exact times, an outsider could bisect the moment a masked
    incident raised the score.
    """
    if at is None:
        return None
    if at < now - timedelta(days=retention_days):
        raise InvalidField(
            "at",
            f"`at` is older than the data retention ({retention_days} days): give a time within it",
        )
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


def _draft(data: ZoneIn) -> tuple[ZoneDraft, list[str]]:
    for name, limit in TEXT_LIMITS.items():
        value = getattr(data, name)
        if value is not None and len(value) > limit:
            raise InvalidField(name, f"{name} is at most {limit} characters: shorten it")
    geom, warnings = parse_zone_geometry(data.geometry)
    draft = ZoneDraft(
        name_fr=data.name_fr,
        geometry=geom,
        code=data.code,
        name_en=data.name_en,
        kind=data.kind,
        parent_code=data.parent_code,
        provenance=data.provenance,
        approximate=data.approximate,
    )
    return draft, warnings


async def coverage_for(
    risk_service: RiskService,
    sharing_service: SharingService,
    viewer: Any,
    zone_ids: list[str],
) -> dict[str, ZoneCoverage]:
    """The zones' coverage now, the last incident's day as this viewer's read policy allows."""
    conditions, full_view = read_policy(sharing_service, viewer)
    return await risk_service.coverage(
        zone_ids, now=utcnow(), conditions=conditions, full_view=full_view
    )


def read_policy(sharing_service: SharingService, viewer: Any) -> tuple[Any, Any]:
    """What the viewer may read in full, as the coverage queries take it."""
    visibility = sharing_service.visibility

    async def conditions(session: Any) -> list[Any]:
        return list(await visibility.conditions(session, viewer))

    return conditions, visibility.full_view(viewer)


async def past_coverage(
    risk_service: RiskService,
    sharing_service: SharingService,
    viewer: Any,
    zone_id: str,
    days: list[datetime],
) -> list[ZoneCoverage]:
    """The zone's coverage on each past day, from what had occurred by then."""
    conditions, full_view = read_policy(sharing_service, viewer)
    return await coverage_on(
        risk_service, zone_id, days, conditions=conditions, full_view=full_view
    )


# --- handlers ----------------------------------------------------------------------------------


@get("/api/v1/zones", guards=[ANY_ROLE], tags=["zones"], summary="Zones with their risk level")
async def list_zones(
    request: Request[Any, Any, Any],
    zone_service: NamedDependency[ZoneService],
    risk_service: NamedDependency[RiskService],
    sharing_service: NamedDependency[SharingService],
    kind: Annotated[str | None, Parameter(description="Zone kinds, comma-separated.")] = None,
    q: Annotated[
        str | None,
        Parameter(
            description="A zone or place name (accents, case and small typos ignored): the "
            "zones of about that name, best first, then the zones holding that place."
        ),
    ] = None,
) -> Response[ZoneCollection]:
    viewer = principal_of(request)
    matches: dict[str, str] = {}
    if q is None:
        rows = await zone_service.list(parse_codes(kind) or None, viewer)
    else:
        found = await zone_service.search(q, viewer, parse_codes(kind) or None)
        rows = [m.row for m in found]
        matches = {m.row.id: m.match for m in found}
    ranking = {r.zone_id: r for r in await risk_service.ranking(viewer.org_id)}
    covered = await coverage_for(risk_service, sharing_service, viewer, [r.id for r in rows])
    body = ZoneCollection(
        type="FeatureCollection",
        features=[
            zone_feature(r, ranking.get(r.id), coverage=covered.get(r.id), match=matches.get(r.id))
            for r in rows
        ],
    )
    return Response(body, media_type=GEOJSON)


@get("/api/v1/zones/{zone_id:str}", guards=[ANY_ROLE], tags=["zones"], summary="One zone")
async def get_zone(
    request: Request[Any, Any, Any],
    zone_service: NamedDependency[ZoneService],
    risk_service: NamedDependency[RiskService],
    sharing_service: NamedDependency[SharingService],
    zone_id: FromPath[str],
) -> Response[ZoneFeature]:
    viewer = principal_of(request)
    row = await zone_service.get(zone_id, viewer)
    risk = await risk_service.zone_risk(zone_id, at=None, now=utcnow())
    covered = await coverage_for(risk_service, sharing_service, viewer, [zone_id])
    return Response(await _feature(row, risk, coverage=covered.get(zone_id)), media_type=GEOJSON)


async def _feature(
    row: ZoneRow,
    risk: StoredRisk | None,
    warnings: list[str] | None = None,
    coverage: ZoneCoverage | None = None,
) -> ZoneFeature:
    # A zone of 10,000 vertices: its GeoJSON is built off the event loop.
    return await asyncio.to_thread(zone_feature, row, risk, warnings, coverage)


@post(
    "/api/v1/zones",
    guards=[ZONE_EDITORS],
    tags=["zones"],
    summary="Create a zone (officers and admins: custom zones; the operator: platform zones)",
    description="An officer's or admin's zone is a `custom` zone of their organisation: only "
    "its officers and admins change it, and other organisations do not see it. The platform "
    "operator creates platform zones (any kind). At most 10,000 vertices and 500 rings. "
    "Invalid polygons are repaired and the repairs listed in `warnings`; 422 when nothing can "
    "be repaired. Incidents are assigned to the new zone at once.",
    status_code=201,
)
async def create_zone(
    request: Request[Any, Any, Any],
    zone_service: NamedDependency[ZoneService],
    risk_service: NamedDependency[RiskService],
    sharing_service: NamedDependency[SharingService],
    data: JSONBody[ZoneIn],
) -> Response[ZoneFeature]:
    draft, warnings = await asyncio.to_thread(_draft, data)  # parsing and repair: off the loop
    viewer = principal_of(request)
    row = await zone_service.create(draft, now=utcnow(), actor=viewer)
    risk = await risk_service.zone_risk(row.id, at=None, now=utcnow())
    covered = await coverage_for(risk_service, sharing_service, viewer, [row.id])
    return Response(
        await _feature(row, risk, warnings or None, covered.get(row.id)),
        status_code=201,
        headers={"Location": f"/api/v1/zones/{row.id}"},
        media_type=GEOJSON,
    )


@put(
    "/api/v1/zones/{zone_id:str}",
    guards=[ZONE_EDITORS],
    tags=["zones"],
    summary="Replace a zone (its organisation's officers and admins; platform zones: the operator)",
)
async def replace_zone(
    request: Request[Any, Any, Any],
    zone_service: NamedDependency[ZoneService],
    risk_service: NamedDependency[RiskService],
    sharing_service: NamedDependency[SharingService],
    zone_id: FromPath[str],
    data: JSONBody[ZoneIn],
) -> Response[ZoneFeature]:
    draft, warnings = await asyncio.to_thread(_draft, data)
    viewer = principal_of(request)
    row = await zone_service.replace(zone_id, draft, now=utcnow(), actor=viewer)
    risk = await risk_service.zone_risk(row.id, at=None, now=utcnow())
    covered = await coverage_for(risk_service, sharing_service, viewer, [row.id])
    return Response(
        await _feature(row, risk, warnings or None, covered.get(row.id)), media_type=GEOJSON
    )


@delete(
    "/api/v1/zones/{zone_id:str}",
    guards=[ZONE_EDITORS],
    tags=["zones"],
    summary="Delete a zone (its organisation's officers and admins; platform zones: the operator)",
    status_code=204,
)
async def delete_zone(
    request: Request[Any, Any, Any],
    zone_service: NamedDependency[ZoneService],
    zone_id: FromPath[str],
) -> None:
    await zone_service.delete(zone_id, now=utcnow(), actor=principal_of(request))


@get(
    "/api/v1/zones/{zone_id:str}/risk",
    guards=[ANY_ROLE],
    tags=["risk"],
    summary="A zone's risk now, or at `at`",
    description="`at` is rounded down to the start of its UTC day (00:00Z): the risk is given "
    "per day, so that stepping `at` cannot reveal when a masked incident happened. `at` must "
    "be within the data retention (`SENTINELLE_DATA_RETENTION_DAYS`) and not in the future.",
)
async def get_zone_risk(
    request: Request[Any, Any, Any],
    zone_service: NamedDependency[ZoneService],
    risk_service: NamedDependency[RiskService],
    settings: NamedDependency[Settings],
    sharing_service: NamedDependency[SharingService],
    zone_id: FromPath[str],
    at: FromQuery[datetime | None] = None,
) -> ZoneRiskOut:
    now = utcnow()
    viewer = principal_of(request)
    # A zone id, or a place name: the narrowest zone holding it (another's custom zone: 404).
    located = await zone_service.locate(zone_id, viewer)
    zone_id = located.zone_id
    retention_days = settings.data_retention_days
    day = risk_day(as_utc(at), now=now, retention_days=retention_days)
    risk = await risk_service.zone_risk(zone_id, at=day, now=now)
    if day is None:
        coverage = (await coverage_for(risk_service, sharing_service, viewer, [zone_id])).get(
            zone_id
        )
    else:  # as known that day: "no data" when too little had occurred by then
        coverage = (await past_coverage(risk_service, sharing_service, viewer, zone_id, [day]))[0]
    if risk.contributors:
        # Contributors name incidents: each under the id the viewer may see it by (sharing).
        shown = await sharing_service.contributors(viewer, risk.contributors)
        out = risk_out(replace(risk, contributors=shown.full), coverage)
        out.contributors += [Contributor(i, None) for i in shown.masked]
        out.masked_share = shown.masked_share
        return _located(out, located)
    return _located(risk_out(risk, coverage), located)


def _located(out: ZoneRiskOut, located: Located) -> ZoneRiskOut:
    out.matched = located.matched
    if located.place is not None:
        out.place = place_out(located.place)
        out.nested = holding_zones(located)
    return out


@get(
    "/api/v1/zones/{zone_id:str}/risk/history",
    guards=[ANY_ROLE],
    tags=["risk"],
    summary="A zone's risk over time",
)
async def get_zone_risk_history(
    request: Request[Any, Any, Any],
    zone_service: NamedDependency[ZoneService],
    risk_service: NamedDependency[RiskService],
    sharing_service: NamedDependency[SharingService],
    zone_id: FromPath[str],
    from_: Annotated[datetime | None, QueryParameter(name="from")] = None,
    to: FromQuery[datetime | None] = None,
    step: FromQuery[str] = "1d",
) -> HistoryOut:
    now = utcnow()
    # A zone id, or a place name (its narrowest zone; another's custom zone: 404).
    viewer = principal_of(request)
    zone_id = (await zone_service.locate(zone_id, viewer)).zone_id
    # Whole days only, like `at`: finer or shifted points would time a masked incident.
    day = timedelta(days=1)
    given_to = as_utc(to)
    end = _midnight(given_to) if given_to is not None else now
    given_from = as_utc(from_)
    start = _midnight(given_from) if given_from is not None else _midnight(end - timedelta(days=90))
    delta = parse_step(step)
    if delta < day or delta % day:
        raise InvalidField(
            "step",
            "step is whole days or weeks (1d, 7d, 2w): finer steps would "
            "reveal the time of incidents you may only see masked",
        )
    points = await risk_service.history(zone_id, start=start, end=end, step=delta, now=now)
    covered = await past_coverage(
        risk_service, sharing_service, viewer, zone_id, [p.at for p in points]
    )
    return HistoryOut(
        zone_id=zone_id,
        from_=start,
        to=end,
        step=step,
        points=[history_point(p, c) for p, c in zip(points, covered, strict=True)],
    )


def history_point(point: Any, coverage: ZoneCoverage) -> HistoryPointOut:
    """A point of the history; a day without data has no level (never "1 low")."""
    if not coverage.has_data:
        return HistoryPointOut(
            point.at,
            None,
            NO_DATA,
            round(point.score, 4),
            point.trend,
            NO_DATA,
            coverage.last_incident_on,
        )
    return HistoryPointOut(
        point.at, point.level, LEVEL_CODES[point.level], round(point.score, 4), point.trend
    )


@get("/api/v1/risk", guards=[ANY_ROLE], tags=["risk"], summary="All zones, most dangerous first")
async def get_ranking(
    request: Request[Any, Any, Any],
    risk_service: NamedDependency[RiskService],
    sharing_service: NamedDependency[SharingService],
    kind: Annotated[str | None, Parameter(description="Zone kinds, comma-separated.")] = None,
) -> RankingOut:
    kinds = set(parse_codes(kind))
    viewer = principal_of(request)
    ranking = await risk_service.ranking(viewer.org_id)
    ranked = [r for r in ranking if not kinds or r.kind in kinds]
    covered = await coverage_for(risk_service, sharing_service, viewer, [r.zone_id for r in ranked])

    def ranked_zone(r: StoredRisk) -> RankedZone:
        c = covered.get(r.zone_id)
        level, code, fr, _ = level_words(r.level, c is None or c.has_data)
        coverage = NO_DATA if level is None else HAS_DATA
        return RankedZone(
            r.zone_id, r.code, r.name, r.kind, level, code, fr, round(r.score, 4), r.trend, coverage
        )

    return RankingOut(zones=[ranked_zone(r) for r in ranked])


@post(
    "/api/v1/risk/assess",
    guards=[ANY_ROLE],
    tags=["risk"],
    status_code=200,
    summary="Risk of an area or a route",
    description="`geometry`: a Point with `radius_km` (0-500), a Polygon (at most 10,000 "
    "vertices), or a route LineString (at most 1,000 vertices) with `corridor_km` (0-50, "
    "default 10) cut into stretches of `segment_km` (1-500, at most 1,000 stretches). "
    "`window_days` defaults to the risk window. Incidents you may only see masked count as "
    "their masked entry: in the area when their grid-cell centre is, weighed by their "
    "category, dated by their day; only incidents you see in full are listed.",
)
async def assess(
    request: Request[Any, Any, Any],
    risk_service: NamedDependency[RiskService],
    sharing_service: NamedDependency[SharingService],
    data: JSONBody[AssessIn],
) -> AssessmentOut:
    geom = await asyncio.to_thread(_assessed_geometry, data.geometry)
    viewer = principal_of(request)
    visibility = sharing_service.visibility

    async def conditions(session: Any) -> list[Any]:
        return list(await visibility.conditions(session, viewer))

    result = await risk_service.assess(
        geom,
        now=utcnow(),
        radius_km=data.radius_km,
        corridor_km=data.corridor_km,
        window_days=data.window_days,
        segment_km=data.segment_km,
        conditions=conditions,
        full_view=visibility.full_view(viewer),
        viewer_org=viewer.org_id,
    )
    return assessment_out(result)


def _assessed_geometry(obj: dict[str, Any]) -> Any:
    try:
        return parse_geojson_geometry(obj, field="geometry", max_vertices=MAX_AREA_VERTICES)
    except GeometryError as exc:
        raise InvalidField(exc.field, exc.message) from exc


ROUTES = [
    list_zones,
    get_zone,
    create_zone,
    replace_zone,
    delete_zone,
    get_zone_risk,
    get_zone_risk_history,
    get_ranking,
    assess,
    search_places,
]
