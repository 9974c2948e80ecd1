"""Turn what a client sent into a valid Incident, or say precisely which field is wrong."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import msgspec
import shapely

from geo.geometry import (
    GeometryError,
    parse_geojson_geometry,
    point_from_lat_lon,
    point_geojson,
    to_geojson,
)
from incidents.errors import InvalidField
from incidents.records.model import Impact, Incident, SharingLevel
from incidents.records.schemas import ImpactIn, IncidentIn, IncidentPatch
from incidents.taxonomy import catalogue as taxonomy

# Mali and a margin: a point outside it whose [lat, lon] swap falls inside was surely swapped.
MALI_SERVICE_AREA = (-13.0, 9.5, 5.0, 25.5)


@dataclass(frozen=True, slots=True)
class Rules:
    """Limits that a deployment may tune (from Settings)."""

    clock_skew: timedelta = timedelta(minutes=5)
    max_vertices: int = 10_000
    service_area: tuple[float, float, float, float] | None = MALI_SERVICE_AREA


DEFAULT_RULES = Rules()


#: The times the service accepts: a report of 1899 or of year 3000 is a typing error, and times
#: near datetime's own limits (0001-01-01, 9999-12-31) overflow once moved to UTC or a day earlier.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2999, 12, 31, 23, 59, 59, tzinfo=UTC)
TIME_RANGE_ADVICE = "give a time between 1900-01-01 and 2999-12-31 (UTC, or with its offset)"


def as_utc(value: datetime) -> datetime:
    """Aware UTC; a naive value is read as UTC, as the API documents."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def check_time(value: datetime, field: str) -> datetime:
    """`value` in UTC, or InvalidField naming `field` when it is outside EARLIEST..LATEST."""
    try:
        moment = as_utc(value)
    except OverflowError:
        moment = None
    if moment is None or not EARLIEST <= moment <= LATEST:
        raise InvalidField(field, f"{field} is out of range: {TIME_RANGE_ADVICE}.")
    return moment


def check_type(code: str) -> taxonomy.IncidentType:
    try:
        return taxonomy.get_type(code)
    except taxonomy.UnknownCodeError as exc:
        raise InvalidField("type", str(exc), suggestions=exc.suggestions) from exc


def check_occurred_at(value: datetime, *, now: datetime, rules: Rules) -> datetime:
    occurred = check_time(value, "occurred_at")
    if occurred > now + rules.clock_skew:
        raise InvalidField(
            "occurred_at",
            f"occurred_at {occurred.isoformat()} is in the future; give the time it happened "
            "(UTC, or with its offset, e.g. 2026-11-24T08:30:00Z).",
        )
    return occurred


def check_geometry(
    geometry: dict[str, Any] | None, lat: Any, lon: Any, *, rules: Rules
) -> shapely.Geometry:
    try:
        if geometry is not None:
            if lat is not None or lon is not None:
                raise InvalidField(
                    "geometry", "Give either `geometry` or `lat` and `lon`, not both."
                )
            return parse_geojson_geometry(
                geometry, max_vertices=rules.max_vertices, service_area=rules.service_area
            )
        if lat is None or lon is None:
            missing = (
                "lat"
                if lat is None and lon is not None
                else "lon"
                if lat is not None
                else "geometry"
            )
            raise InvalidField(
                missing,
                "Say where it happened: a GeoJSON `geometry` ([lon, lat]) or both `lat` and `lon`.",
            )
        return point_from_lat_lon(lat, lon, service_area=rules.service_area)
    except GeometryError as exc:
        raise InvalidField(exc.field, exc.message) from exc


def impact_from(value: ImpactIn | None) -> Impact:
    if value is None:
        return Impact()
    return Impact(**msgspec.structs.asdict(value))


def default_sharing(type_code: str, impact: Impact) -> SharingLevel:
    """The level of a report whose reporter chose none: red for an abduction of aid workers
    (the kidnapping protocol: keep it confidential, publish nothing), amber otherwise."""
    if type_code == "kidnapping" and impact.aid_workers_affected:
        return SharingLevel.RED
    return SharingLevel.AMBER


def incident_from_input(
    data: IncidentIn,
    *,
    org_id: uuid.UUID,
    user_id: uuid.UUID | None,
    now: datetime,
    rules: Rules = Rules(),
) -> tuple[Incident, shapely.Geometry]:
    """A new Incident (version 1) and its shapely geometry, or InvalidField."""
    kind = check_type(data.type)
    occurred = check_occurred_at(data.occurred_at, now=now, rules=rules)
    geom = check_geometry(data.geometry, data.lat, data.lon, rules=rules)
    # A point built from lat/lon is 2D: its GeoJSON is written directly (no mapping/rounding walk).
    if data.geometry is not None:
        geometry = to_geojson(geom)
    else:
        point = cast(shapely.Point, geom)  # check_geometry builds a Point from lat/lon
        geometry = point_geojson(point.x, point.y)
    incident = Incident(
        id=uuid.uuid4(),
        type=kind.code,
        occurred_at=occurred,
        reported_at=now,
        geometry=geometry,
        org_id=org_id,
        user_id=user_id,
        time_precision=data.time_precision,
        location_precision=data.location_precision,
        place_name=data.place_name,
        severity=data.severity if data.severity is not None else kind.default_severity,
        impact=impact_from(data.impact),
        perpetrator=data.perpetrator,
        actor=data.actor,
        description=data.description,
        source_type=data.source_type,
        reliability=data.reliability,
        credibility=data.credibility,
        status=data.status,
        sharing_level=default_sharing(kind.code, impact_from(data.impact))
        if isinstance(data.sharing_level, msgspec.UnsetType)
        else data.sharing_level,
        hide_organisation=data.hide_organisation,
        version=1,
        created_at=now,
        updated_at=now,
        external_id=data.external_id,
    )
    return incident, geom


def apply_patch(
    incident: Incident, patch: IncidentPatch, *, now: datetime, rules: Rules = Rules()
) -> tuple[Incident, shapely.Geometry | None]:
    """The incident with the patch applied (version + 1), and its new geometry if it changed."""
    given = {
        name: value
        for name in patch.__struct_fields__
        if (value := getattr(patch, name)) is not msgspec.UNSET
    }
    if not given:
        raise InvalidField("body", "Nothing to change: send at least one field.")
    changes: dict[str, Any] = {}
    geom = None
    if "geometry" in given or "lat" in given or "lon" in given:
        geom = check_geometry(
            given.pop("geometry", None), given.pop("lat", None), given.pop("lon", None), rules=rules
        )
        changes["geometry"] = to_geojson(geom)
    if "type" in given:
        changes["type"] = check_type(given.pop("type")).code
    if "occurred_at" in given:
        changes["occurred_at"] = check_occurred_at(given.pop("occurred_at"), now=now, rules=rules)
    if "impact" in given:
        changes["impact"] = impact_from(given.pop("impact"))
    changes.update(given)
    updated = replace(incident, **changes, version=incident.version + 1, updated_at=now)
    return updated, geom
