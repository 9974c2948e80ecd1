"""/api/v1/missions: plan a journey, approve it, check in, take an alarm, close, export the
humanitarian notification; the kidnapping protocol checklist (docs/missions.md)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import Body, FromPath, FromQuery, QueryParameter

from api.http.auth import ANY_ROLE, OFFICERS
from api.http.routes.common import principal_of, utcnow
from incidents.errors import InvalidField
from missions.messages import KIDNAPPING_CHECKLIST
from missions.service import MissionService, export_notification

Json = dict[str, Any]


def _body(data: Any) -> Json:
    if not isinstance(data, dict):
        raise InvalidField("body", "Send a JSON object.")
    return data


@post(
    "/api/v1/missions",
    guards=[ANY_ROLE],
    tags=["missions"],
    summary="Plan a mission (its route is assessed at once)",
    description=(
        "`title`, `departure_at`, `arrival_at`, `route` ({`places`: names} or {`line`: GeoJSON}), "
        "`stops` [{`place` or `lat`/`lon`, `expected_at`}], `travellers` [{`user_id`} or {`name`, "
        "`phone`}, optional `duress_word`], `responders` (steps of user ids; default: you, then "
        "your officers), `grace_minutes` (30), `corridor_km` (10), `vehicles`, `contact`, "
        "`sharing_level` (amber_strict: your organisation only). Answers the mission with its "
        "levels per stretch and the serious incidents near the route as you may see them; a "
        "route needing approval says why. Planners, officers and admins."
    ),
    status_code=201,
)
async def create_mission(
    request: Request[Any, Any, Any],
    missions_service: NamedDependency[MissionService],
    data: Annotated[Any, Body()],
) -> Json:
    return await missions_service.create(principal_of(request), _body(data), now=utcnow())


@get("/api/v1/missions", guards=[ANY_ROLE], tags=["missions"], summary="Missions you can see")
async def list_missions(
    request: Request[Any, Any, Any],
    missions_service: NamedDependency[MissionService],
    state_: Annotated[
        str | None,
        QueryParameter(
            name="state", description="planned, active, overdue, alarm, arrived or closed"
        ),
    ] = None,
) -> Json:
    return await missions_service.list_missions(principal_of(request), state=state_)


@get(
    "/api/v1/missions/protocol/kidnapping",
    guards=[OFFICERS],
    tags=["missions"],
    summary="The kidnapping protocol checklist (fr/en)",
)
async def kidnapping_protocol() -> Json:
    return {"fr": KIDNAPPING_CHECKLIST["fr"], "en": KIDNAPPING_CHECKLIST["en"]}


@get(
    "/api/v1/missions/{mission_id:uuid}",
    guards=[ANY_ROLE],
    tags=["missions"],
    summary="One mission",
)
async def get_mission(
    request: Request[Any, Any, Any],
    missions_service: NamedDependency[MissionService],
    mission_id: FromPath[uuid.UUID],
) -> Json:
    return await missions_service.get(principal_of(request), mission_id)


@get(
    "/api/v1/missions/{mission_id:uuid}/risk",
    guards=[ANY_ROLE],
    tags=["missions"],
    summary="The route assessed now, with the serious incidents near it as you may see them",
)
async def mission_risk(
    request: Request[Any, Any, Any],
    missions_service: NamedDependency[MissionService],
    mission_id: FromPath[uuid.UUID],
) -> Json:
    return await missions_service.route_risk(principal_of(request), mission_id, now=utcnow())


@post(
    "/api/v1/missions/{mission_id:uuid}/approve",
    guards=[OFFICERS],
    tags=["missions"],
    summary="An officer approves a planned mission",
    status_code=200,
)
async def approve_mission(
    request: Request[Any, Any, Any],
    missions_service: NamedDependency[MissionService],
    mission_id: FromPath[uuid.UUID],
) -> Json:
    return await missions_service.approve(principal_of(request), mission_id, now=utcnow())


@post(
    "/api/v1/missions/{mission_id:uuid}/start",
    guards=[ANY_ROLE],
    tags=["missions"],
    summary="Start a mission",
    status_code=200,
)
async def start_mission(
    request: Request[Any, Any, Any],
    missions_service: NamedDependency[MissionService],
    mission_id: FromPath[uuid.UUID],
) -> Json:
    return await missions_service.start(principal_of(request), mission_id, now=utcnow())


@post(
    "/api/v1/missions/{mission_id:uuid}/checkins",
    guards=[ANY_ROLE],
    tags=["missions"],
    summary="A traveller checks in",
    description=(
        "`kind`: ok (default), arrived, late (with `delay_minutes`) or help; `lat`/`lon` only if "
        "you choose to give your position; `word`: optional words (where a duress word goes)."
    ),
    status_code=201,
)
async def checkin(
    request: Request[Any, Any, Any],
    missions_service: NamedDependency[MissionService],
    mission_id: FromPath[uuid.UUID],
    data: Annotated[Any, Body()] = None,
) -> Json:
    body = {} if data is None else _body(data)
    return await missions_service.checkin(
        principal_of(request), mission_id, body, via="api", now=utcnow()
    )


@post(
    "/api/v1/missions/{mission_id:uuid}/duress",
    guards=[ANY_ROLE],
    tags=["missions"],
    summary="A traveller sets their own duress word",
    status_code=200,
)
async def set_duress(
    request: Request[Any, Any, Any],
    missions_service: NamedDependency[MissionService],
    mission_id: FromPath[uuid.UUID],
    data: Annotated[Any, Body()],
) -> Json:
    body = _body(data)
    return await missions_service.set_duress(
        principal_of(request), mission_id, body.get("duress_word"), now=utcnow()
    )


@post(
    "/api/v1/missions/{mission_id:uuid}/acknowledge",
    guards=[ANY_ROLE],
    tags=["missions"],
    summary="A responder takes the mission's alarm",
    status_code=200,
)
async def acknowledge(
    request: Request[Any, Any, Any],
    missions_service: NamedDependency[MissionService],
    mission_id: FromPath[uuid.UUID],
) -> Json:
    return await missions_service.acknowledge(principal_of(request), mission_id, now=utcnow())


@post(
    "/api/v1/missions/{mission_id:uuid}/close",
    guards=[ANY_ROLE],
    tags=["missions"],
    summary="Close a mission",
    status_code=200,
)
async def close_mission(
    request: Request[Any, Any, Any],
    missions_service: NamedDependency[MissionService],
    mission_id: FromPath[uuid.UUID],
) -> Json:
    return await missions_service.close(principal_of(request), mission_id, now=utcnow())


@get(
    "/api/v1/missions/{mission_id:uuid}/notification",
    guards=[OFFICERS],
    tags=["missions"],
    summary="Humanitarian notification export (off by default; officers; audited)",
    description=(
        "`format`: csv (default), html or pdf; `language`: fr or en. Dates, route corridor, "
        "organisation, number of vehicles, markings, contact, and the statement that notification "
        "is voluntary and guarantees no safety. Never sent by Sentinelle."
    ),
)
async def notification(
    request: Request[Any, Any, Any],
    missions_service: NamedDependency[MissionService],
    mission_id: FromPath[uuid.UUID],
    format_: Annotated[str, QueryParameter(name="format")] = "csv",
    language: FromQuery[str] = "fr",
) -> Response[Any]:
    content, media = await export_notification(
        missions_service, principal_of(request), mission_id, format_, language, now=utcnow()
    )
    ext = {"application/pdf": "pdf", "text/html; charset=utf-8": "html"}.get(media, "csv")
    return Response(
        content,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="notification.{ext}"'},
    )


ROUTES = [
    create_mission,
    list_missions,
    kidnapping_protocol,
    get_mission,
    mission_risk,
    approve_mission,
    start_mission,
    checkin,
    set_duress,
    acknowledge,
    close_mission,
    notification,
]
