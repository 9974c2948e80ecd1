"""/api/v1/intake (KoboToolbox and SMS webhooks, held SMS review) and the public CAP feed."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlparse

import msgspec
from litestar import Request, Response, get, post
from litestar.params import Body, Parameter

from api.auth import OFFICERS
from api.context import AppContext
from api.routes.common import principal_of, utcnow
from incidents.errors import InvalidField, NotFound
from incidents.identity import Principal
from incidents.intake_service import AlertAcknowledger, HeldSms, IntakeService, reference_code
from incidents.interop import alert_to_cap, cap_atom_index
from incidents.interop.cap import CAP_MEDIA_TYPE
from incidents.interop_service import (
    AlertedPublicIncidents,
    NoPublicAlerts,
    PublicAlerts,
    hxl_text,
)

SECRET_HEADER = "X-Sentinelle-Intake-Secret"  # noqa: S105 - a header name
ATOM_MEDIA_TYPE = "application/atom+xml"


class KoboOut(msgspec.Struct):
    id: uuid.UUID
    created: bool
    updated: bool
    reference: str


class SmsOut(msgspec.Struct, omit_defaults=True):
    status: str
    reply: str
    incident_id: uuid.UUID | None = None
    reference: str | None = None
    held_id: uuid.UUID | None = None
    missing: list[str] = msgspec.field(default_factory=list)


class HeldSmsOut(msgspec.Struct):
    id: uuid.UUID
    sender: str
    text: str
    received_at: datetime
    reason: str
    state: str
    incident_id: uuid.UUID | None
    reviewed_by: uuid.UUID | None
    reviewed_at: datetime | None


class HeldSmsList(msgspec.Struct):
    items: list[HeldSmsOut]


class PublishedOut(msgspec.Struct):
    held: HeldSmsOut
    incident_id: uuid.UUID


def _held_out(held: HeldSms) -> HeldSmsOut:
    return HeldSmsOut(**{f: getattr(held, f) for f in HeldSmsOut.__struct_fields__})


def intake_of(request: Request[Any, Any, Any]) -> IntakeService:
    service: IntakeService = request.app.state.intake
    return service


def _secret(request: Request[Any, Any, Any], form: Mapping[str, Any] | None = None) -> str | None:
    value = request.headers.get(SECRET_HEADER) or request.query_params.get("secret")
    if not value and form is not None:
        value = form.get("secret")
    return str(value) if value else None


def parse_received_at(value: Any, now: datetime) -> datetime:
    """ISO 8601, or Unix time in seconds or milliseconds (SMSSync sends milliseconds)."""
    if value is None or value == "":
        return now
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidField(
                "received_at", f"{text!r} is not a time; send ISO 8601 or Unix seconds."
            ) from None
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if number > 1e11:
        number /= 1000
    return datetime.fromtimestamp(number, UTC)


async def _sms_fields(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The gateway's fields, JSON or form-encoded, under our names."""
    if request.content_type[0] == "application/json":
        try:
            body = await request.json()
        except Exception:  # any unreadable body is the client's error
            raise InvalidField("body", "The body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise InvalidField("body", "Send a JSON object {sender, text, received_at}.")
        raw = body
    else:
        raw = dict(await request.form())
    fields = {
        "sender": raw.get("sender") or raw.get("from") or raw.get("phone") or "",
        "text": raw.get("text") or raw.get("message") or "",
        "received_at": raw.get("received_at") or raw.get("sent_timestamp") or raw.get("timestamp"),
        "secret": raw.get("secret"),
    }
    for name in ("sender", "text"):
        if not isinstance(fields[name], str):
            raise InvalidField(name, f"`{name}` must be text.")
    return fields


@post(
    "/api/v1/intake/kobo",
    tags=["intake"],
    summary="KoboToolbox / ODK submission (REST Services webhook)",
    description=(
        "The JSON a KoboToolbox REST Service sends for a submission of docs/forms/"
        "sentinelle_incident.xlsx. Authenticate with the organisation's intake secret in the "
        f"`{SECRET_HEADER}` header (or `?secret=`). Answers 201 with the new incident's id; a "
        "resent submission (same `_uuid`) answers 200 with the same id and creates nothing. A "
        "submission with neither a geopoint nor a known place is refused (422, field `location`)."
    ),
    security=[{}],
    status_code=201,
)
async def kobo_submission(
    request: Request[Any, Any, Any], data: Annotated[dict[str, Any], Body()]
) -> Response[KoboOut]:
    result = await intake_of(request).receive_kobo(_secret(request), data, now=utcnow())
    body = KoboOut(result.incident_id, result.created, result.updated,
                   reference_code(result.incident_id))
    return Response(body, status_code=201 if result.created else 200)


def acknowledger_of(request: Request[Any, Any, Any]) -> AlertAcknowledger | None:
    """`state.alert_acknowledger` if set, else the alerts service's acknowledgement."""
    custom: AlertAcknowledger | None = request.app.state.get("alert_acknowledger")
    if custom is not None:
        return custom
    alerts = request.app.state.get("alerts")
    if alerts is None:
        return None

    async def acknowledge(who: Principal, code: str, now: datetime) -> bool:
        try:
            await alerts.acknowledge(who, code, now=now)
        except NotFound:
            return False
        return True

    return acknowledge


@post(
    "/api/v1/intake/sms",
    tags=["intake"],
    summary="SMS gateway webhook (JSON or form-encoded)",
    description=(
        "JSON `{sender, text, received_at}` or a form with `from`, `text` (or `message`) and "
        "`sent_timestamp`. Authenticate with the intake secret (header, `?secret=` or form field "
        "`secret`). A registered phone reports as its user; an unknown number is held for an "
        "officer and never published. `reply` is the SMS to send back: it confirms the reference "
        "code or asks for what is missing. `OK <code>` acknowledges an alert."
    ),
    security=[{}],
    status_code=200,
)
async def sms_message(request: Request[Any, Any, Any]) -> SmsOut:
    fields = await _sms_fields(request)
    now = utcnow()
    secret = _secret(request) or (str(fields["secret"]) if fields["secret"] else None)
    result = await intake_of(request).receive_sms(
        secret,
        sender=fields["sender"],
        text=fields["text"],
        received_at=parse_received_at(fields["received_at"], now),
        now=now,
        acknowledge=acknowledger_of(request),
    )
    return SmsOut(
        status=result.status, reply=result.reply, incident_id=result.incident_id,
        reference=result.reference, held_id=result.held_id, missing=result.missing,
    )


@get(
    "/api/v1/intake/held",
    guards=[OFFICERS],
    tags=["intake"],
    summary="SMS from unregistered numbers, waiting for review",
)
async def held_sms(
    request: Request[Any, Any, Any],
    state_: Annotated[
        str, Parameter(query="state", description="held (default), published or discarded")
    ] = "held",
) -> HeldSmsList:
    if state_ not in ("held", "published", "discarded"):
        raise InvalidField("state", "state must be held, published or discarded.")
    items = await intake_of(request).list_held(principal_of(request), state=state_)
    return HeldSmsList([_held_out(h) for h in items])


@post(
    "/api/v1/intake/held/{held_id:uuid}/publish",
    guards=[OFFICERS],
    tags=["intake"],
    summary="Publish a held SMS as an incident (optionally with corrections)",
    description=(
        "The body, optional, holds incident fields (API names) that complete or correct what the "
        'SMS said, e.g. `{"type": "kidnapping"}` or `{"lat": 14.54, "lon": -9.19}`.'
    ),
    status_code=201,
)
async def publish_held(
    request: Request[Any, Any, Any],
    held_id: uuid.UUID,
    data: Annotated[dict[str, Any] | None, Body()] = None,
) -> PublishedOut:
    held, incident_id = await intake_of(request).publish_held(
        principal_of(request), held_id, now=utcnow(), corrections=data
    )
    return PublishedOut(_held_out(held), incident_id)


@post(
    "/api/v1/intake/held/{held_id:uuid}/discard",
    guards=[OFFICERS],
    tags=["intake"],
    summary="Discard a held SMS",
    status_code=200,
)
async def discard_held(request: Request[Any, Any, Any], held_id: uuid.UUID) -> HeldSmsOut:
    held = await intake_of(request).discard_held(principal_of(request), held_id, now=utcnow())
    return _held_out(held)


# ---------------------------------------------------------------------------- CAP


def public_alerts_of(request: Request[Any, Any, Any]) -> PublicAlerts:
    source: PublicAlerts | None = request.app.state.get("public_alerts")
    return source if source is not None else NoPublicAlerts()


def cap_sender(public_url: str) -> str:
    return f"sentinelle@{urlparse(public_url).hostname or 'localhost'}"


def cap_url(public_url: str, alert_id: str) -> str:
    return f"{public_url.rstrip('/')}/api/v1/alerts/cap/{alert_id}.xml"


@get(
    "/api/v1/alerts/cap",
    tags=["alerts"],
    summary="Public alerts: Atom index of CAP 1.2 messages",
    security=[{}],
)
async def cap_index(request: Request[Any, Any, Any]) -> Response[bytes]:
    now = utcnow()
    public_url = request.app.state.settings.public_url
    alerts = await public_alerts_of(request).list_public(now)
    entries = [
        {
            "id": str(a["id"]),
            "title": a.get("headline_fr") or a.get("headline_en") or a.get("title")
            or f"{a['type']} {a.get('place_name') or ''}".strip(),
            "url": cap_url(public_url, str(a["id"])),
            "updated": a.get("updated") or a.get("occurred_at"),
            "summary": a.get("description_fr"),
        }
        for a in alerts
    ]
    feed = cap_atom_index(entries, feed_url=f"{public_url.rstrip('/')}/api/v1/alerts/cap", now=now)
    return Response(feed, media_type=ATOM_MEDIA_TYPE)


@get(
    "/api/v1/alerts/cap/{name:str}",
    tags=["alerts"],
    summary="One public alert as CAP 1.2 XML (`<id>.xml`)",
    description="404 for an alert that does not exist or may not be public.",
    security=[{}],
)
async def cap_alert(request: Request[Any, Any, Any], name: str) -> Response[bytes]:
    alert_id = name.removesuffix(".xml")
    now = utcnow()
    alert = await public_alerts_of(request).get_public(alert_id, now)
    if alert is None:
        raise NotFound(f"No public alert {alert_id}.")
    public_url = request.app.state.settings.public_url
    document = alert_to_cap(
        {"url": cap_url(public_url, alert_id), **alert}, sender=cap_sender(public_url), now=now
    )
    return Response(document, media_type=CAP_MEDIA_TYPE)


ROUTES = [kobo_submission, sms_message, held_sms, publish_held, discard_held, cap_index, cap_alert]


def configure(ctx: AppContext) -> None:
    intake = IntakeService(
        ctx.db, ctx.incidents, max_accuracy_m=ctx.settings.kobo_max_accuracy_m
    )
    ctx.state["intake"] = intake
    ctx.state["hxl_export"] = hxl_text
    ctx.state.setdefault("public_alerts", AlertedPublicIncidents(ctx.db))
