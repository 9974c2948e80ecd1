"""/api/v1/subscriptions and /api/v1/alerts: subscribe, broadcast, acknowledge, delivery figures."""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import quote

from litestar import Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, Parameter
from litestar.response import Redirect

from alerts.core.schemas import (
    AckOut,
    AlertList,
    AlertOut,
    BroadcastDeliveries,
    BroadcastOut,
    DeliveryList,
    SubscriptionList,
    SubscriptionOut,
)
from alerts.core.service import AlertService
from api.http.auth import ANY_ROLE, refusals_audited, requires
from api.http.routes.common import principal_of, utcnow
from incidents.audit import log as audit
from incidents.records.model import Role

TAGS = ["alerts"]
# Broadcasting reaches every organisation's subscriptions: refusals are audited.
BROADCASTERS = requires(Role.OFFICER, Role.ADMIN, audited=True)


@post(
    "/api/v1/subscriptions",
    guards=[ANY_ROLE],
    tags=TAGS,
    summary="Subscribe to alerts for an area",
    description=(
        "`channels`: Apprise addresses (mailto://, tgram://, signal://, json://...), checked "
        'now and stored encrypted; answers show them masked. `area`: `{"zones": [ids]}`, '
        '`{"geometry": Polygon}`, `{"point": {"lat", "lon"}, "radius_km"}` or '
        '`{"route": LineString, "corridor_km"}`. Filters: `types`, `min_severity`, '
        "`statuses`, `min_level`; `language` fr|en; `format` sms|full; `quiet_hours` "
        '"22:00-06:00" (Africa/Bamako; flash alerts still go out); `paused`; '
        "`secondary_channel` for escalation; `owner` organisation|user."
    ),
    status_code=201,
)
async def create_subscription(
    request: Request[Any, Any, Any],
    alert_service: NamedDependency[AlertService],
    data: JSONBody[dict[str, Any]],
) -> SubscriptionOut:
    viewer = principal_of(request)
    with refusals_audited(viewer, request):
        return await alert_service.create_subscription(viewer, data, now=utcnow())


@get("/api/v1/subscriptions", guards=[ANY_ROLE], tags=TAGS, summary="Your subscriptions")
async def list_subscriptions(
    request: Request[Any, Any, Any], alert_service: NamedDependency[AlertService]
) -> SubscriptionList:
    return SubscriptionList(await alert_service.list_subscriptions(principal_of(request)))


@get(
    "/api/v1/subscriptions/{subscription_id:uuid}",
    guards=[ANY_ROLE],
    tags=TAGS,
    summary="One subscription",
)
async def get_subscription(
    request: Request[Any, Any, Any],
    alert_service: NamedDependency[AlertService],
    subscription_id: FromPath[uuid.UUID],
) -> SubscriptionOut:
    return await alert_service.get_subscription(principal_of(request), subscription_id)


@patch(
    "/api/v1/subscriptions/{subscription_id:uuid}",
    guards=[ANY_ROLE],
    tags=TAGS,
    summary="Change a subscription (fields given replace)",
)
async def update_subscription(
    request: Request[Any, Any, Any],
    alert_service: NamedDependency[AlertService],
    subscription_id: FromPath[uuid.UUID],
    data: JSONBody[dict[str, Any]],
) -> SubscriptionOut:
    viewer = principal_of(request)
    with refusals_audited(viewer, request):
        return await alert_service.update_subscription(viewer, subscription_id, data, now=utcnow())


@delete(
    "/api/v1/subscriptions/{subscription_id:uuid}",
    guards=[ANY_ROLE],
    tags=TAGS,
    summary="Stop a subscription",
    status_code=204,
)
async def delete_subscription(
    request: Request[Any, Any, Any],
    alert_service: NamedDependency[AlertService],
    subscription_id: FromPath[uuid.UUID],
) -> None:
    viewer = principal_of(request)
    with refusals_audited(viewer, request):
        await alert_service.delete_subscription(viewer, subscription_id, now=utcnow())


@post(
    "/api/v1/subscriptions/{subscription_id:uuid}/test",
    guards=[ANY_ROLE],
    tags=TAGS,
    status_code=201,
    summary="Send a test message to every channel of a subscription now",
    description=(
        "For whoever may change the subscription (its owner; officers and admins for an "
        "organisation's). Answers the test alert; its delivery log "
        "(`/api/v1/alerts/{code}/deliveries`) shows each channel's outcome as "
        '"delivery failed: <reason>" (refused_by_policy, invalid_address, unreachable, '
        "timeout, rejected_by_receiver, failed)."
    ),
)
async def test_subscription(
    request: Request[Any, Any, Any],
    alert_service: NamedDependency[AlertService],
    subscription_id: FromPath[uuid.UUID],
) -> AlertOut:
    viewer = principal_of(request)
    with refusals_audited(viewer, request):
        return await alert_service.test_send(viewer, subscription_id, now=utcnow())


@post(
    "/api/v1/alerts/broadcast",
    guards=[BROADCASTERS],
    tags=TAGS,
    summary="Broadcast a message to every subscription covering an area",
    description="`area` (as for subscriptions), `message` {fr, en}, `priority` normal|flash.",
    status_code=201,
)
async def broadcast(
    request: Request[Any, Any, Any],
    alert_service: NamedDependency[AlertService],
    data: JSONBody[dict[str, Any]],
) -> BroadcastOut:
    officer = principal_of(request)
    result = await alert_service.broadcast(officer, data, now=utcnow())
    audit.later(
        audit.event(
            "alert.broadcast",
            officer,
            target_type="broadcast",
            target_id=result.id,
            priority=result.priority,
            alerts=result.alerts,
        )
    )
    return result


@get(
    "/api/v1/alerts",
    guards=[ANY_ROLE],
    tags=TAGS,
    summary="Alerts sent to your organisation: sent, delivered, acknowledged",
)
async def list_alerts(
    request: Request[Any, Any, Any],
    alert_service: NamedDependency[AlertService],
    limit: Annotated[int, Parameter(ge=1, le=500)] = 50,
) -> AlertList:
    return await alert_service.list_alerts(principal_of(request), limit=limit)


@get(
    "/api/v1/alerts/{ref:str}/deliveries",
    guards=[ANY_ROLE],
    tags=TAGS,
    summary="Delivery log of one alert (id or code), per channel",
)
async def alert_deliveries(
    request: Request[Any, Any, Any],
    alert_service: NamedDependency[AlertService],
    ref: FromPath[str],
) -> DeliveryList:
    return await alert_service.deliveries(principal_of(request), ref)


@post(
    "/api/v1/alerts/{ref:str}/ack",
    guards=[ANY_ROLE],
    tags=TAGS,
    summary="Acknowledge an alert by its code (again: answers the first acknowledgement)",
    status_code=200,
)
async def acknowledge(
    request: Request[Any, Any, Any],
    alert_service: NamedDependency[AlertService],
    ref: FromPath[str],
) -> AckOut:
    return await alert_service.acknowledge(principal_of(request), ref, now=utcnow())


@get(
    "/api/v1/alerts/broadcasts/{broadcast_id:uuid}/deliveries",
    tags=TAGS,
    summary="Who received a broadcast: sent, delivered, failed, acknowledged",
    description=(
        "For officers and admins of the organisation that sent it (404 for any other). Its own "
        "recipients in all and per subscription, and those of the organisations it trusts; "
        "other organisations' figures are left out, since how many of their people an area "
        "reaches would map where they work."
    ),
    guards=[BROADCASTERS],
)
async def broadcast_deliveries(
    request: Request[Any, Any, Any],
    alert_service: NamedDependency[AlertService],
    broadcast_id: FromPath[uuid.UUID],
) -> BroadcastDeliveries:
    return await alert_service.broadcast_deliveries(principal_of(request), broadcast_id)


@get(
    "/api/v1/alerts/ack/{code:str}",
    tags=TAGS,
    summary="The signed link of messages sent before links opened the page: sends it there",
    description=(
        "Opening a link must not acknowledge: mail scanners and link previews open every link. "
        "This answers 303 to the acknowledgement page (`/web/alerts/ack/{code}?sig=`), where "
        "a button acknowledges; programs POST to this address instead."
    ),
    security=[],
    status_code=303,
)
async def acknowledge_link_page(code: FromPath[str], sig: FromQuery[str] = "") -> Redirect:
    return Redirect(
        path=f"/web/alerts/ack/{quote(code[:40], safe='')}?sig={quote(sig[:200], safe='')}",
        status_code=303,
        headers={"Cache-Control": "no-store"},
    )


@post(
    "/api/v1/alerts/ack/{code:str}",
    tags=TAGS,
    summary="Acknowledge with the signature of a message's link (no login)",
    security=[],
    status_code=200,
)
async def acknowledge_link(
    request: Request[Any, Any, Any],
    alert_service: NamedDependency[AlertService],
    code: FromPath[str],
    sig: FromQuery[str] = "",
) -> Response[AckOut]:
    result = await alert_service.acknowledge_by_link(code, sig, now=utcnow())
    return Response(result, headers={"Cache-Control": "no-store"})


ROUTES = [
    create_subscription,
    list_subscriptions,
    get_subscription,
    update_subscription,
    delete_subscription,
    test_subscription,
    broadcast,
    list_alerts,
    alert_deliveries,
    acknowledge,
    broadcast_deliveries,
    acknowledge_link_page,
    acknowledge_link,
]
