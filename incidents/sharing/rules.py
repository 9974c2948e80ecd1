"""Who may see an incident in full (TLP 2.0 sharing levels) and the one masking function."""

from __future__ import annotations

import enum
import hashlib
import hmac
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import msgspec
import shapely
import shapely.errors
import shapely.geometry

from incidents.records.model import Incident, SharingLevel, TimePrecision
from incidents.records.schemas import ImpactOut, IncidentFeature, IncidentProperties, ZoneRef
from incidents.taxonomy import catalogue as taxonomy

# What a viewer outside the reporting organisation reads when the reporter hid it.
HIDDEN_ORGANISATION = "une organisation membre / a member organisation"
# The masked place is a grid cell: `location_precision` says so instead of a real precision.
GRID_PRECISION = "grid"
# Fields a masked view may carry, and nothing else (tests check every masked response against it).
MASKED_PROPERTIES = frozenset(
    {"category", "occurred_at", "time_precision", "location_precision", "masked"}
)


class Access(enum.StrEnum):
    FULL = "full"
    MASKED = "masked"


class TimeUnit(enum.StrEnum):
    DAY = "day"
    WEEK = "week"


class Member(Protocol):
    """A signed-in viewer (incidents.identity.Principal fits): whose organisation, which role."""

    @property
    def user_id(self) -> uuid.UUID: ...
    @property
    def org_id(self) -> uuid.UUID: ...
    @property
    def trusted_org_ids(self) -> frozenset[uuid.UUID]: ...
    @property
    def is_officer(self) -> bool: ...


Viewer = Member | None  # None: the public, without a token


@dataclass(frozen=True, slots=True)
class Sharing:
    """What decides who sees an incident: level, reporting org and user, named people."""

    level: SharingLevel
    org_id: uuid.UUID
    user_id: uuid.UUID | None
    named_user_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)
    hide_organisation: bool = False


@dataclass(frozen=True, slots=True)
class MaskRules:
    """How coarse a masked incident is; `id_key` makes the opaque ids (secret and stable)."""

    grid_degrees: float = 0.25
    time_unit: TimeUnit = TimeUnit.DAY
    id_key: bytes = b"sentinelle-masked-id"


def access(viewer: Viewer, sharing: Sharing) -> Access:
    """Full or masked: the TLP 2.0 rules, written once.

    red: the reporting user and the people they name; amber_strict: the reporting organisation;
    amber: the reporting organisation, its trust network, and security officers; green: every
    member; clear: everyone, even without a token.
    """
    level = sharing.level
    if level == SharingLevel.CLEAR:
        return Access.FULL
    if viewer is None:
        return Access.MASKED
    if level == SharingLevel.GREEN:
        return Access.FULL
    same_org = viewer.org_id == sharing.org_id
    if level == SharingLevel.AMBER:
        ok = same_org or sharing.org_id in viewer.trusted_org_ids or viewer.is_officer
    elif level == SharingLevel.AMBER_STRICT:
        ok = same_org
    else:  # red
        # Its reporter, and the people named (also when no person reported it: a form sent
        # through Kobo's gateway that the kidnapping protocol made red names the officers).
        readers = sharing.named_user_ids | ({sharing.user_id} - {None})
        ok = viewer.user_id is not None and viewer.user_id in readers
    return Access.FULL if ok else Access.MASKED


def may_see_organisation(viewer: Viewer, sharing: Sharing) -> bool:
    """Whether the reporting organisation is shown (when hidden: only to itself)."""
    if viewer is not None and viewer.org_id == sharing.org_id:
        return True
    return not sharing.hide_organisation


def opaque_id(incident_id: uuid.UUID, key: bytes) -> uuid.UUID:
    """A stable id for a masked entry: tells entries apart, never leads to the incident."""
    digest = hmac.new(key, incident_id.bytes, hashlib.sha256).digest()
    return uuid.UUID(bytes=digest[:16], version=4)


def snap_to_grid(lon: float, lat: float, degrees: float) -> tuple[float, float]:
    """The centre of the grid cell holding (lon, lat); cells are aligned on 0°, `degrees` wide."""
    if not degrees > 0 or math.isnan(degrees):
        raise ValueError("mask_grid_degrees must be more than 0")
    col = math.floor(lon / degrees)
    row = math.floor(lat / degrees)
    # Round away float noise so that equal cells give byte-equal coordinates.
    return round((col + 0.5) * degrees, 6), round((row + 0.5) * degrees, 6)


_TIME_ORDER = {
    TimePrecision.EXACT: 0,
    TimePrecision.DAY: 1,
    TimePrecision.WEEK: 2,
    TimePrecision.MONTH: 3,
}


def coarsen_time(
    occurred_at: datetime, precision: TimePrecision, unit: TimeUnit
) -> tuple[datetime, TimePrecision]:
    """The start of the UTC day or ISO week, or of the month when the report itself was vaguer."""
    at = occurred_at.astimezone(UTC) if occurred_at.tzinfo else occurred_at.replace(tzinfo=UTC)
    wanted = TimePrecision.WEEK if unit == TimeUnit.WEEK else TimePrecision.DAY
    if _TIME_ORDER[precision] > _TIME_ORDER[wanted]:
        wanted = precision
    day = at.replace(hour=0, minute=0, second=0, microsecond=0)
    if wanted == TimePrecision.MONTH:
        return day.replace(day=1), wanted
    if wanted == TimePrecision.WEEK:
        return day - timedelta(days=day.weekday()), wanted
    return day, wanted


def effective_precision(precision: TimePrecision, unit: TimeUnit) -> TimePrecision:
    """The unit a masked entry shows: the mask's day or week, or the report's own if vaguer."""
    wanted = TimePrecision.WEEK if unit == TimeUnit.WEEK else TimePrecision.DAY
    return precision if _TIME_ORDER[precision] > _TIME_ORDER[wanted] else wanted


def coarse_span(
    at: datetime, precision: TimePrecision, unit: TimeUnit
) -> tuple[datetime, datetime]:
    """[start, end) of the coarse unit (day, ISO week or month) that holds `at` in a masked entry."""
    start, shown = coarsen_time(at, precision, unit)
    if shown == TimePrecision.MONTH:
        return start, (start + timedelta(days=32)).replace(day=1)
    return start, start + timedelta(days=7 if shown == TimePrecision.WEEK else 1)


def coarse_at_least(bound: datetime, precision: TimePrecision, unit: TimeUnit) -> datetime:
    """The earliest exact time whose coarse start is at or after `bound` (for `since`)."""
    start, end = coarse_span(bound, precision, unit)
    return start if start == bound else end


def coarse_at_most(bound: datetime, precision: TimePrecision, unit: TimeUnit) -> datetime:
    """Exact times strictly before this have a coarse start at or before `bound` (for `until`)."""
    return coarse_span(bound, precision, unit)[1]


# How a list orders entries: (sort time, 1 for a full view / 0 for a masked one, tie-breaker).
ListKey = tuple[datetime, int, uuid.UUID]


def full_list_key(incident_id: uuid.UUID, occurred_at: datetime) -> ListKey:
    """A fully visible incident sorts by its exact time, then its id."""
    return (occurred_at, 1, incident_id)


def masked_list_key(
    incident_id: uuid.UUID, occurred_at: datetime, precision: TimePrecision, rules: MaskRules
) -> ListKey:
    """A masked entry sorts by what it shows: the start of its coarse unit, then its opaque id.

    Nothing finer (exact time, severity, place) moves it; at equal sort time full views come
    first (newest-first lists), so moving one's own incident across it reveals only the unit.
    """
    start, _ = coarsen_time(occurred_at, precision, rules.time_unit)
    return (start, 0, opaque_id(incident_id, rules.id_key))


def grid_range(low: float, high: float, degrees: float) -> tuple[float, float] | None:
    """[a, b): the coordinates whose grid-cell centre lies within [low, high], None if none do."""
    first = math.ceil(low / degrees - 0.5)
    last = math.floor(high / degrees - 0.5)
    if last < first:
        return None
    return first * degrees, (last + 1) * degrees


def whole_categories(types: frozenset[str]) -> frozenset[str]:
    """Categories every type of which is in `types`: the only type filters a masked entry meets.

    A masked entry shows its category, not its type: a filter naming only some types of a
    category cannot be decided on it, so masked entries never match such a filter.
    """
    out = set()
    for code in {taxonomy.category_of(t).code for t in types}:
        if {t.code for t in taxonomy.types_in(code)} <= types:
            out.add(code)
    return frozenset(out)


def representative_point(geometry: Mapping[str, Any]) -> tuple[float, float]:
    """(lon, lat) of a point geometry, or a point on the surface of any other geometry: the
    point the incident's row stores, so that the masked view, lists, zones, assessment and
    alerts all snap the same point to the same grid cell."""
    if geometry.get("type") == "Point":
        lon, lat = geometry["coordinates"][:2]
        return float(lon), float(lat)
    try:
        point = shapely.point_on_surface(shapely.geometry.shape(dict(geometry)))
    except (AttributeError, KeyError, TypeError, ValueError, shapely.errors.GEOSException):
        raise ValueError("the geometry has no coordinates") from None
    if point.is_empty:
        raise ValueError("the geometry has no coordinates")
    return float(point.x), float(point.y)


def full_feature(
    incident: Incident,
    *,
    zones: Sequence[ZoneRef] = (),
    organisation: str | None = None,
    demo: bool = False,
    language: str = "fr",
) -> IncidentFeature:
    """Every field: for viewers entitled to the incident's details."""
    impact = incident.impact
    props = IncidentProperties(
        category=taxonomy.get_type(incident.type).category,
        occurred_at=incident.occurred_at,
        time_precision=incident.time_precision.value,
        location_precision=incident.location_precision.value,
        type=incident.type,
        type_label=taxonomy.get_type(incident.type).label(language),
        reported_at=incident.reported_at,
        place_name=incident.place_name,
        severity=incident.severity,
        impact=ImpactOut(
            killed=impact.killed,
            injured=impact.injured,
            abducted=impact.abducted,
            detained=impact.detained,
            missing=impact.missing,
            aid_workers_affected=impact.aid_workers_affected,
        ),
        perpetrator=incident.perpetrator.value,
        actor=incident.actor,
        description=incident.description,
        source_type=incident.source_type.value,
        reliability=incident.reliability.value,
        credibility=incident.credibility,
        status=incident.status.value,
        sharing_level=incident.sharing_level.value,
        organisation_id=incident.org_id,
        organisation=organisation,
        reported_by=incident.user_id,
        version=incident.version,
        created_at=incident.created_at,
        updated_at=incident.updated_at,
        zones=list(zones),
        demo=demo,
    )
    return IncidentFeature(
        type="Feature", id=incident.id, geometry=incident.geometry, properties=props
    )


def mask(
    incident_id: uuid.UUID,
    *,
    incident_type: str,
    occurred_at: datetime,
    time_precision: TimePrecision,
    lon: float,
    lat: float,
    rules: MaskRules,
) -> IncidentFeature:
    """The masked view: category, grid-cell centre, day or week, `masked: true`; nothing else."""
    when, precision = coarsen_time(occurred_at, time_precision, rules.time_unit)
    x, y = snap_to_grid(lon, lat, rules.grid_degrees)
    props = IncidentProperties(
        category=taxonomy.get_type(incident_type).category,
        occurred_at=when,
        time_precision=precision.value,
        location_precision=GRID_PRECISION,
        masked=True,
    )
    return IncidentFeature(
        type="Feature",
        id=opaque_id(incident_id, rules.id_key),
        geometry={"type": "Point", "coordinates": [x, y]},
        properties=props,
    )


def mask_incident(incident: Incident, rules: MaskRules) -> IncidentFeature:
    lon, lat = representative_point(incident.geometry)
    return mask(
        incident.id,
        incident_type=incident.type,
        occurred_at=incident.occurred_at,
        time_precision=incident.time_precision,
        lon=lon,
        lat=lat,
        rules=rules,
    )


def sharing_of(incident: Incident, named_user_ids: frozenset[uuid.UUID] = frozenset()) -> Sharing:
    return Sharing(
        level=incident.sharing_level,
        org_id=incident.org_id,
        user_id=incident.user_id,
        named_user_ids=named_user_ids,
        hide_organisation=incident.hide_organisation,
    )


def redact_full(
    feature: IncidentFeature, viewer: Viewer, sharing: Sharing, organisation: str | None
) -> IncidentFeature:
    """A full view with the reporter's identity kept or hidden ("hide my organisation")."""
    props = feature.properties
    if may_see_organisation(viewer, sharing):
        props.organisation = organisation
        same_org = viewer is not None and viewer.org_id == sharing.org_id
        if not same_org:
            # Which person reported is the organisation's business, not other members'.
            props.reported_by = msgspec.UNSET
    else:
        props.organisation_id = msgspec.UNSET
        props.organisation = HIDDEN_ORGANISATION
        props.reported_by = msgspec.UNSET
    return feature


def view_for(
    viewer: Viewer,
    incident: Incident,
    *,
    rules: MaskRules,
    named_user_ids: frozenset[uuid.UUID] = frozenset(),
    organisation: str | None = None,
    zones: Sequence[ZoneRef] = (),
    language: str = "fr",
) -> dict[str, Any]:
    """The fields a recipient (e.g. of an alert) may see, as a GeoJSON Feature mapping."""
    import msgspec

    sharing = sharing_of(incident, named_user_ids)
    if access(viewer, sharing) == Access.MASKED:
        feature = mask_incident(incident, rules)
    else:
        feature = full_feature(incident, zones=zones, language=language)
        feature = redact_full(feature, viewer, sharing, organisation)
    result: dict[str, Any] = msgspec.to_builtins(feature)
    return result
