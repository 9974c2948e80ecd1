"""/api/v1/incidents: report, list, read, change and retract incidents."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from litestar import Request, Response, get, patch, post
from litestar.di import NamedDependency
from litestar.params import (
    FromPath,
    FromQuery,
    HeaderParameter,
    JSONBody,
    Parameter,
    QueryParameter,
)

from api.bootstrap import Exporter, ZoneFilter
from api.http.auth import ANY_ROLE, WRITERS
from api.http.routes.common import (
    as_utc,
    parse_bbox,
    parse_codes,
    parse_lat_lon,
    principal_of,
    utcnow,
)
from incidents.audit import log as audit
from incidents.errors import InvalidField, PreconditionRequired
from incidents.interop.service import TABLE_EXPORTS
from incidents.records.model import Status
from incidents.records.schemas import (
    IncidentCollection,
    IncidentFeature,
    IncidentIn,
    IncidentPatch,
    RetractIn,
)
from incidents.records.service import IncidentService
from incidents.records.store import IncidentQuery, radius_ok
from incidents.taxonomy import catalogue as taxonomy

GEOJSON = "application/geo+json"
# Litestar adds "; charset=utf-8" to a text/ media type itself.
CSV = "text/csv"


def etag(version: int | None) -> str:
    return f'"{version}"'


def parse_if_match(value: str | None) -> int:
    if value is None:
        raise PreconditionRequired(
            "Send `If-Match` with the incident's ETag (its version) so that concurrent edits are "
            "not lost.",
            field="If-Match",
        )
    raw = value.strip().removeprefix("W/").strip('"')
    try:
        return int(raw)
    except ValueError:
        raise InvalidField(
            "If-Match", 'If-Match must be the ETag you received, e.g. "3".'
        ) from None


@post(
    "/api/v1/incidents",
    guards=[WRITERS],
    tags=["incidents"],
    summary="Report an incident",
    description=(
        "Creates an incident and answers 201 with it as a GeoJSON Feature. Send an "
        "`Idempotency-Key` header to make retries on a weak connection safe: the same key and body "
        "replay the first answer; the same key with another body is refused (422); a duplicate "
        "still in progress answers 409."
    ),
    status_code=201,
)
async def report_incident(
    request: Request[Any, Any, Any],
    incident_service: NamedDependency[IncidentService],
    data: JSONBody[IncidentIn],
    idempotency_key: Annotated[str | None, HeaderParameter(name="Idempotency-Key")] = None,
) -> Response[IncidentFeature]:
    result = await incident_service.report(
        principal_of(request), data, now=utcnow(), idempotency_key=idempotency_key
    )
    # Built from what the caller may see: a masked answer carries neither id nor version.
    headers: dict[str, str] = {}
    if result.location_id is not None:
        headers["Location"] = f"/api/v1/incidents/{result.location_id}"
        headers["ETag"] = etag(result.feature.properties.version or result.incident.version)
    if result.replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(result.feature, status_code=201, headers=headers, media_type=GEOJSON)


@get(
    "/api/v1/incidents",
    guards=[ANY_ROLE],
    tags=["incidents"],
    summary="Find incidents by time, type, place",
    description=(
        "Newest first, as a GeoJSON FeatureCollection; `format=csv` (Sentinelle's columns), "
        "`hxl` (the same with HXL hashtags) or `acled` (ACLED's columns and codes, without "
        "masked entries) for the same page as CSV. Retracted incidents are left out unless "
        "`status` asks for them. Page with `next_cursor`."
    ),
)
async def list_incidents(
    request: Request[Any, Any, Any],
    incident_service: NamedDependency[IncidentService],
    zone_filter: NamedDependency[ZoneFilter],
    exporter: NamedDependency[Exporter],
    since: FromQuery[datetime | None] = None,
    until: FromQuery[datetime | None] = None,
    type_: Annotated[
        str | None,
        QueryParameter(name="type", description="Type or category codes, comma-separated."),
    ] = None,
    min_severity: Annotated[int | None, Parameter(ge=1, le=5)] = None,
    status: Annotated[
        str | None,
        Parameter(description="reported, verified, disputed, retracted; comma-separated."),
    ] = None,
    bbox: Annotated[str | None, Parameter(description="minLon,minLat,maxLon,maxLat")] = None,
    near: Annotated[str | None, Parameter(description="lat,lon (with radius_km)")] = None,
    radius_km: Annotated[
        float | None, Parameter(description="0 < radius_km ≤ 500, geodesic")
    ] = None,
    zone: Annotated[
        str | None, Parameter(description="A zone id: incidents that fall in it.")
    ] = None,
    limit: Annotated[int, Parameter(ge=1, le=500)] = 100,
    cursor: FromQuery[str | None] = None,
    format_: Annotated[
        str,
        QueryParameter(name="format", description="geojson (default), csv, hxl or acled"),
    ] = "geojson",
) -> Response[IncidentCollection]:
    query = IncidentQuery(limit=limit, cursor=cursor)
    query.since, query.until = as_utc(since), as_utc(until)
    if type_:
        try:
            query.types = taxonomy.expand_codes(parse_codes(type_))
        except taxonomy.UnknownCodeError as exc:
            raise InvalidField("type", str(exc), suggestions=exc.suggestions) from exc
    query.min_severity = min_severity
    if status:
        codes = parse_codes(status)
        valid = {s.value for s in Status}
        for code in codes:
            if code not in valid:
                raise InvalidField(
                    "status", f"Unknown status {code!r}; use {', '.join(sorted(valid))}."
                )
        query.statuses = frozenset(codes)
    if bbox:
        query.bbox = parse_bbox(bbox)
    if near:
        query.near = parse_lat_lon(near)
        query.radius_km = radius_ok(radius_km)
    elif radius_km is not None:
        raise InvalidField("near", "Give `near=lat,lon` with `radius_km`.")
    if zone:
        query.zone_incident_ids = await zone_filter(zone, principal_of(request))
    if format_ != "geojson" and format_ not in TABLE_EXPORTS:
        raise InvalidField("format", "format must be geojson, csv, hxl or acled.")
    features, next_cursor = await incident_service.list(principal_of(request), query)
    if format_ != "geojson":
        audit.later(
            audit.event(
                "incidents.exported", principal_of(request), format=format_, count=len(features)
            )
        )
    if format_ in TABLE_EXPORTS:
        return Response(exporter(features, format_), media_type=CSV)  # type: ignore[arg-type]
    body = IncidentCollection(type="FeatureCollection", features=features, next_cursor=next_cursor)
    return Response(body, media_type=GEOJSON)


@get(
    "/api/v1/incidents/{incident_id:uuid}",
    guards=[ANY_ROLE],
    tags=["incidents"],
    summary="One incident",
)
async def get_incident(
    request: Request[Any, Any, Any],
    incident_service: NamedDependency[IncidentService],
    incident_id: FromPath[uuid.UUID],
) -> Response[IncidentFeature]:
    feature = await incident_service.get(principal_of(request), incident_id)
    headers = {"ETag": etag(feature.properties.version)} if feature.properties.version else {}
    return Response(feature, headers=headers, media_type=GEOJSON)


@patch(
    "/api/v1/incidents/{incident_id:uuid}",
    guards=[WRITERS],
    tags=["incidents"],
    summary="Change an incident (If-Match required)",
    description="Send `If-Match` with the ETag you read; a stale version answers 412.",
)
async def patch_incident(
    request: Request[Any, Any, Any],
    incident_service: NamedDependency[IncidentService],
    incident_id: FromPath[uuid.UUID],
    data: JSONBody[IncidentPatch],
    if_match: Annotated[str | None, HeaderParameter(name="If-Match")] = None,
) -> Response[IncidentFeature]:
    version = parse_if_match(if_match)
    svc = incident_service
    viewer = principal_of(request)
    updated = await svc.patch(viewer, incident_id, data, if_match=version, now=utcnow())
    feature = await svc.get(viewer, incident_id)
    return Response(feature, headers={"ETag": etag(updated.version)}, media_type=GEOJSON)


@post(
    "/api/v1/incidents/{incident_id:uuid}/retract",
    guards=[WRITERS],
    tags=["incidents"],
    summary="Retract an incident (kept, marked retracted)",
    status_code=200,
)
async def retract_incident(
    request: Request[Any, Any, Any],
    incident_service: NamedDependency[IncidentService],
    incident_id: FromPath[uuid.UUID],
    data: JSONBody[RetractIn | None] = None,
) -> Response[IncidentFeature]:
    svc = incident_service
    viewer = principal_of(request)
    updated = await svc.retract(
        viewer, incident_id, now=utcnow(), reason=data.reason if data else None
    )
    feature = await svc.get(viewer, incident_id)
    return Response(feature, headers={"ETag": etag(updated.version)}, media_type=GEOJSON)


ROUTES = [report_incident, list_incidents, get_incident, patch_incident, retract_incident]
