"""/api/v1/subscriptions and /api/v1/alerts: subscribe, broadcast, acknowledge, delivery figures."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

from litestar import Request, Response, delete, get, patch, post
from litestar.params import Parameter

from alerts.core.schemas import (
    AckOut,
    AlertList,
    AlertOut,
    BroadcastOut,
    DeliveryList,
    SubscriptionList,
    SubscriptionOut,
)
from alerts.core.service import AlertService
from alerts.delivery.channels import AppriseNotifier, ChannelPolicy
from alerts.delivery.dispatcher import DispatchConfig, Dispatcher
from alerts.delivery.keys import LinkSigner, secret_keys
from alerts.delivery.secrets import SecretBox
from alerts.outbox.writer import (
    AlertOutbox,
    OutboxConfig,
    SubscriptionCache,
    write_level_change_alerts,
)
from api.http.auth import ANY_ROLE, refusals_audited, requires
from api.http.context import AppContext
from api.http.routes.common import principal_of, utcnow
from incidents.audit import log as audit
from incidents.records.model import Role

TAGS = ["alerts"]
# Broadcasting reaches every organisation's subscriptions: refusals are audited.
BROADCASTERS = requires(Role.OFFICER, Role.ADMIN, audited=True)


def service_of(request: Request[Any, Any, Any]) -> AlertService:
    svc: AlertService = request.app.state.alerts
    return svc


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
    request: Request[Any, Any, Any], data: dict[str, Any]
) -> SubscriptionOut:
    viewer = principal_of(request)
    with refusals_audited(viewer, request):
        return await service_of(request).create_subscription(viewer, data, now=utcnow())


@get("/api/v1/subscriptions", guards=[ANY_ROLE], tags=TAGS, summary="Your subscriptions")
async def list_subscriptions(request: Request[Any, Any, Any]) -> SubscriptionList:
    return SubscriptionList(await service_of(request).list_subscriptions(principal_of(request)))


@get(
    "/api/v1/subscriptions/{subscription_id:uuid}",
    guards=[ANY_ROLE],
    tags=TAGS,
    summary="One subscription",
)
async def get_subscription(
    request: Request[Any, Any, Any], subscription_id: uuid.UUID
) -> SubscriptionOut:
    return await service_of(request).get_subscription(principal_of(request), subscription_id)


@patch(
    "/api/v1/subscriptions/{subscription_id:uuid}",
    guards=[ANY_ROLE],
    tags=TAGS,
    summary="Change a subscription (fields given replace)",
)
async def update_subscription(
    request: Request[Any, Any, Any], subscription_id: uuid.UUID, data: dict[str, Any]
) -> SubscriptionOut:
    viewer = principal_of(request)
    with refusals_audited(viewer, request):
        return await service_of(request).update_subscription(
            viewer, subscription_id, data, now=utcnow()
        )


@delete(
    "/api/v1/subscriptions/{subscription_id:uuid}",
    guards=[ANY_ROLE],
    tags=TAGS,
    summary="Stop a subscription",
    status_code=204,
)
async def delete_subscription(request: Request[Any, Any, Any], subscription_id: uuid.UUID) -> None:
    viewer = principal_of(request)
    with refusals_audited(viewer, request):
        await service_of(request).delete_subscription(viewer, subscription_id, now=utcnow())


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
    request: Request[Any, Any, Any], subscription_id: uuid.UUID
) -> AlertOut:
    viewer = principal_of(request)
    with refusals_audited(viewer, request):
        return await service_of(request).test_send(viewer, subscription_id, now=utcnow())


@post(
    "/api/v1/alerts/broadcast",
    guards=[BROADCASTERS],
    tags=TAGS,
    summary="Broadcast a message to every subscription covering an area",
    description="`area` (as for subscriptions), `message` {fr, en}, `priority` normal|flash.",
    status_code=201,
)
async def broadcast(request: Request[Any, Any, Any], data: dict[str, Any]) -> BroadcastOut:
    officer = principal_of(request)
    result = await service_of(request).broadcast(officer, data, now=utcnow())
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
    request: Request[Any, Any, Any], limit: Annotated[int, Parameter(ge=1, le=500)] = 50
) -> AlertList:
    return await service_of(request).list_alerts(principal_of(request), limit=limit)


@get(
    "/api/v1/alerts/{ref:str}/deliveries",
    guards=[ANY_ROLE],
    tags=TAGS,
    summary="Delivery log of one alert (id or code), per channel",
)
async def alert_deliveries(request: Request[Any, Any, Any], ref: str) -> DeliveryList:
    return await service_of(request).deliveries(principal_of(request), ref)


@post(
    "/api/v1/alerts/{ref:str}/ack",
    guards=[ANY_ROLE],
    tags=TAGS,
    summary="Acknowledge an alert by its code (again: answers the first acknowledgement)",
    status_code=200,
)
async def acknowledge(request: Request[Any, Any, Any], ref: str) -> AckOut:
    return await service_of(request).acknowledge(principal_of(request), ref, now=utcnow())


@get(
    "/api/v1/alerts/ack/{code:str}",
    tags=TAGS,
    summary="Acknowledge from the signed link in a message (no login)",
    security=[],
)
async def acknowledge_link(
    request: Request[Any, Any, Any], code: str, sig: str = ""
) -> Response[AckOut]:
    result = await service_of(request).acknowledge_by_link(code, sig, now=utcnow())
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
    acknowledge_link,
]


def configure(ctx: AppContext) -> None:
    """The outbox observer, the alert service and (by default) the in-process dispatcher."""
    settings = ctx.settings
    keys = secret_keys(settings)
    box = SecretBox(keys, field="secret_keys")
    signer = LinkSigner(keys)
    cache = SubscriptionCache()
    outbox = OutboxConfig(
        public_url=settings.public_url,
        signer=signer,
        mask_grid_degrees=settings.mask_grid_degrees,
        mask_time_unit=settings.mask_time_unit,
        max_age=timedelta(hours=settings.alert_max_age_hours),
    )
    ctx.incidents.observers = [*ctx.incidents.observers, AlertOutbox(cache, outbox)]
    try:
        policy = ChannelPolicy.from_settings(settings.channel_schemes, settings.channel_allow_hosts)
    except ValueError as exc:
        raise ValueError(
            f"SENTINELLE_CHANNEL_ALLOW_HOSTS is not valid: {exc}. Fix or unset the variable."
        ) from exc
    ctx.state["alerts"] = AlertService(ctx.db, box, cache, outbox, signer, policy=policy)
    risk = ctx.state.get("risk")
    if risk is not None:
        # Level-change alerts are written in the same transaction as the level change; the
        # dispatcher's poll of zone_level_changes stays as a safety net (a cursor makes it once).
        async def level_change_alerts(session: Any, changes: list[Any]) -> None:
            await write_level_change_alerts(session, cache, outbox, utcnow())

        risk.level_change_hooks.append(level_change_alerts)

    async def warm() -> None:
        # Build the subscription index now rather than inside the first incident report.
        async with ctx.db.read() as session:
            await cache.snapshot(session)

    ctx.on_startup.append(warm)
    if not settings.dispatch_in_process:
        return
    dispatcher = Dispatcher(
        ctx.db,
        AppriseNotifier(policy=policy),
        box,
        config=DispatchConfig.from_settings(settings),
        outbox=outbox,
        cache=cache,
    )
    outbox.on_commit = dispatcher.wake
    ctx.state["alerts_dispatcher"] = dispatcher
    ctx.on_startup.append(dispatcher.start)
    ctx.on_shutdown.append(dispatcher.stop)
