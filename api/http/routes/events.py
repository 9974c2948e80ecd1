"""/api/v1/incidents/{id}/event, /merge, /split: the reports of one event (incidents.events)."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from api.http.auth import ANY_ROLE, OFFICERS
from api.http.routes.common import principal_of, utcnow
from incidents.events.service import EventOut, EventService, MergeIn


@get(
    "/api/v1/incidents/{incident_id:uuid}/event",
    guards=[ANY_ROLE],
    tags=["incidents"],
    summary="The other reports of the same event that you may read in full",
    description=(
        "`reports` counts this incident and the linked reports you may read in full "
        '("corroborated by N reports"); reports you may not read in full are neither counted '
        "nor named. 404 for an incident you may not read in full."
    ),
)
async def get_event(
    request: Request[Any, Any, Any],
    event_service: NamedDependency[EventService],
    incident_id: FromPath[uuid.UUID],
) -> EventOut:
    return await event_service.event(principal_of(request), incident_id)


@post(
    "/api/v1/incidents/{incident_id:uuid}/merge",
    guards=[OFFICERS],
    tags=["incidents"],
    summary="Merge: this incident reports the same event as `into` (officers)",
    description=(
        "The incident and the reports linked to it become further reports of the event of "
        "`into`: counted once in risk and alerts. Both must be readable in full by you, and "
        "shared so that whoever reads this one may read `into` (422 says which way works)."
    ),
    status_code=200,
)
async def merge_incident(
    request: Request[Any, Any, Any],
    event_service: NamedDependency[EventService],
    incident_id: FromPath[uuid.UUID],
    data: JSONBody[MergeIn],
) -> EventOut:
    return await event_service.merge(principal_of(request), incident_id, data.into, now=utcnow())


@post(
    "/api/v1/incidents/{incident_id:uuid}/split",
    guards=[OFFICERS],
    tags=["incidents"],
    summary="Split: this incident is an event of its own (officers)",
    description="It counts on its own again; 409 when it is linked to no other report.",
    status_code=200,
)
async def split_incident(
    request: Request[Any, Any, Any],
    event_service: NamedDependency[EventService],
    incident_id: FromPath[uuid.UUID],
) -> EventOut:
    return await event_service.split(principal_of(request), incident_id, now=utcnow())


ROUTES = [get_event, merge_incident, split_incident]
