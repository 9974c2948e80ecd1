"""/api/v1/intake (KoboToolbox and SMS webhooks, held SMS review) and the public CAP feed."""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlparse

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.params import Body, FromPath, QueryParameter
from sqlalchemy import select

from alerts.core.tables import AlertRow, SubscriptionRow
from api.bootstrap import Container
from api.http.auth import OFFICERS
from api.http.routes.common import principal_of, utcnow
from incidents.db import Database
from incidents.errors import InvalidField, NotFound
from incidents.identity.accounts import Principal
from incidents.intake.service import (
    AlertAcknowledger,
    HeldSms,
    IntakeService,
    check_sms,
    org_for_secret,
    principal_for_phone,
    reference_code,
)
from incidents.interop import alert_to_cap, cap_atom_index
from incidents.interop.cap import CAP_MEDIA_TYPE, Superseded, superseded_version
from incidents.records.tables import UserRow

SECRET_HEADER = "X-Sentinelle-Intake-Secret"  # noqa: S105 - a header name
ATOM_MEDIA_TYPE = "application/atom+xml"
# Bodies: ten concatenated SMS fit many times in the first; a Kobo submission in the second.
SMS_MAX_BODY = 64 * 1024
KOBO_MAX_BODY = 256 * 1024
# A gateway's clock may be off, not by years: outside these bounds the time is a mistake.
_EARLIEST_RECEIVED = datetime(2000, 1, 1, tzinfo=UTC)
_LATEST_AHEAD = timedelta(days=1)


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


def _secret(request: Request[Any, Any, Any], form: Mapping[str, Any] | None = None) -> str | None:
    value = request.headers.get(SECRET_HEADER) or request.query_params.get("secret")
    if not value and form is not None:
        value = form.get("secret")
    return str(value) if value else None


def parse_received_at(value: Any, now: datetime) -> datetime:
    """ISO 8601, or Unix time in seconds or milliseconds (SMSSync sends milliseconds), between
    2000 and a day after `now`; anything else is refused naming `received_at`."""
    if value is None or value == "":
        return now
    advice = "send ISO 8601 (2024-03-12T14:30:00Z) or Unix seconds, the time the SMS arrived."
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidField("received_at", f"Not a time; {advice}")
    text = str(value).strip()
    if len(text) > 40:
        raise InvalidField("received_at", f"Too long for a time; {advice}")
    try:
        number = float(text)
    except ValueError:
        number = None
    try:
        if number is None:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
            moment = moment.astimezone(UTC)
        else:
            if not math.isfinite(number):
                raise ValueError(text)
            moment = datetime.fromtimestamp(number / 1000 if number > 1e11 else number, UTC)
    except (ValueError, OverflowError, OSError):
        raise InvalidField("received_at", f"{text[:40]!r} is not a time; {advice}") from None
    if not _EARLIEST_RECEIVED <= moment <= now + _LATEST_AHEAD:
        raise InvalidField(
            "received_at",
            f"{moment.isoformat()} is before 2000 or in the future; check the gateway's clock and "
            + advice,
        )
    return moment


async def _sms_fields(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The gateway's fields, JSON or form-encoded, under our names."""
    if request.content_type[0] == "application/json":
        try:
            body = await request.json()
        except HTTPException:  # too large (413): said as such, not as bad JSON
            raise
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
        "submission with neither a geopoint nor a known place is refused (422, field `location`). "
        "It is filed in the secret's organisation, whatever the payload says. At most 256 KiB "
        "(413), 500 fields and 20,000 characters per value (422)."
    ),
    security=[{}],
    status_code=201,
    request_max_body_size=KOBO_MAX_BODY,
)
async def kobo_submission(
    request: Request[Any, Any, Any],
    intake_service: NamedDependency[IntakeService],
    data: Annotated[dict[str, Any], Body()],
) -> Response[KoboOut]:
    result = await intake_service.receive_kobo(_secret(request), data, now=utcnow())
    body = KoboOut(
        result.incident_id, result.created, result.updated, reference_code(result.incident_id)
    )
    return Response(body, status_code=201 if result.created else 200)


def _digits_runs(url: str) -> set[str]:
    return set(re.findall(r"\d+", url))


class RecipientAcknowledger:
    """An SMS acknowledgement touches only an alert sent to the phone's user: of that user's
    personal subscription, or of a subscription whose channels send to that phone. Anything
    else is an unknown code (the alerts module's own rule applies on top).

    This belongs in AlertService (an `acknowledge_as_recipient`); until it is there, the intake
    wiring checks the recipient before calling `AlertService.acknowledge`."""

    def __init__(self, db: Database, alerts: Any) -> None:
        self.db = db
        self.alerts = alerts

    async def __call__(self, who: Principal, code: str, now: datetime) -> bool:
        if not await self._sent_to(who, code.strip().upper()):
            return False
        try:
            await self.alerts.acknowledge(who, code, now=now)
        except NotFound:
            return False
        return True

    async def _sent_to(self, who: Principal, code: str) -> bool:
        s = SubscriptionRow
        async with self.db.read() as session:
            found = (
                await session.execute(
                    select(
                        s.owner_kind, s.owner_user_id, s.channels_encrypted, s.secondary_encrypted
                    )
                    .join(AlertRow, AlertRow.subscription_id == s.id)
                    .where(AlertRow.code == code, AlertRow.owner_org_id == who.org_id)
                )
            ).first()
            if found is None:
                return False
            if found.owner_kind == "user" and found.owner_user_id == who.user_id:
                return True
            phone = await session.scalar(select(UserRow.phone).where(UserRow.id == who.user_id))
        if not phone:
            return False
        digits = phone.lstrip("+")
        numbers = {digits, "00" + digits, digits[-8:]}
        for token in [*found.channels_encrypted, found.secondary_encrypted]:
            if not token:
                continue
            try:
                url = self.alerts.box.decrypt(token)
            except Exception:  # noqa: S112 - a channel sealed with a retired key sends nothing
                continue
            if numbers & _digits_runs(url):
                return True
        return False


def acknowledger_of(container: Container) -> AlertAcknowledger:
    """`container.alert_acknowledger` if set, else the alerts service's acknowledgement, limited
    to the alerts sent to the phone's user."""
    custom = container.alert_acknowledger
    if custom is not None:
        return custom
    return RecipientAcknowledger(container.db, container.alerts)


async def mission_sms(
    container: Container, secret: str | None, sender: str, text: str, now: datetime
) -> tuple[str, str] | None:
    """Missions read the SMS first (a check-in, `OK <code>` of a mission alarm): (status,
    reply), or None to let intake read it. A phone unknown to the secret's organisation is
    intake's (held for review)."""
    missions = container.missions
    if missions is None:
        return None
    check_sms(sender, text)
    async with container.db.read() as session:
        org_id = await org_for_secret(session, secret)
        who = await principal_for_phone(session, sender, org_id=org_id)
    if who is None:
        return None
    return await missions.receive_sms(who, text, now=now)


@post(
    "/api/v1/intake/sms",
    tags=["intake"],
    summary="SMS gateway webhook (JSON or form-encoded)",
    description=(
        "JSON `{sender, text, received_at}` or a form with `from`, `text` (or `message`) and "
        "`sent_timestamp`. Authenticate with the intake secret (header, `?secret=` or form field "
        "`secret`). The secret belongs to one organisation: a phone registered in it reports as "
        "its user; any other number (one registered in another organisation included) is held "
        "for that organisation's officers and never published. `reply` is the SMS to send back: "
        "it confirms the reference code or asks for what is missing, and never holds an internal "
        "id. `OK <code>` acknowledges an alert sent to that phone's user, nothing else. `text` "
        "is at most 10 concatenated segments (1,530 GSM-7 or 670 UCS-2 characters), `sender` at "
        "most 32 characters, `received_at` between 2000 and a day ahead; otherwise 422 naming "
        "the field."
    ),
    security=[{}],
    status_code=200,
    request_max_body_size=SMS_MAX_BODY,
)
async def sms_message(
    request: Request[Any, Any, Any], container: NamedDependency[Container]
) -> SmsOut:
    fields = await _sms_fields(request)
    now = utcnow()
    secret = _secret(request) or (str(fields["secret"]) if fields["secret"] else None)
    mission = await mission_sms(container, secret, fields["sender"], fields["text"], now)
    if mission is not None:
        return SmsOut(status=mission[0], reply=mission[1])
    result = await container.intake.receive_sms(
        secret,
        sender=fields["sender"],
        text=fields["text"],
        received_at=parse_received_at(fields["received_at"], now),
        now=now,
        acknowledge=acknowledger_of(container),
    )
    return SmsOut(
        status=result.status,
        reply=result.reply,
        incident_id=result.incident_id,
        reference=result.reference,
        held_id=result.held_id,
        missing=result.missing,
    )


@get(
    "/api/v1/intake/held",
    guards=[OFFICERS],
    tags=["intake"],
    summary="SMS from unregistered numbers, waiting for review",
)
async def held_sms(
    request: Request[Any, Any, Any],
    intake_service: NamedDependency[IntakeService],
    state_: Annotated[
        str, QueryParameter(name="state", description="held (default), published or discarded")
    ] = "held",
) -> HeldSmsList:
    if state_ not in ("held", "published", "discarded"):
        raise InvalidField("state", "state must be held, published or discarded.")
    items = await intake_service.list_held(principal_of(request), state=state_)
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
    intake_service: NamedDependency[IntakeService],
    held_id: FromPath[uuid.UUID],
    data: Annotated[dict[str, Any] | None, Body()] = None,
) -> PublishedOut:
    held, incident_id = await intake_service.publish_held(
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
async def discard_held(
    request: Request[Any, Any, Any],
    intake_service: NamedDependency[IntakeService],
    held_id: FromPath[uuid.UUID],
) -> HeldSmsOut:
    held = await intake_service.discard_held(principal_of(request), held_id, now=utcnow())
    return _held_out(held)


# ---------------------------------------------------------------------------- CAP


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
async def cap_index(container: NamedDependency[Container]) -> Response[bytes]:
    now = utcnow()
    public_url = container.settings.public_url
    alerts = await container.public_alerts.list_public(now)
    # One entry per message (per incident version): its id is the message's own URL.
    entries = [
        {
            "id": cap_url(public_url, str(a.get("identifier") or a["id"])),
            "title": a.get("headline_fr")
            or a.get("headline_en")
            or a.get("title")
            or f"{a['type']} {a.get('place_name') or ''}".strip(),
            "url": cap_url(public_url, str(a.get("identifier") or a["id"])),
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
    summary="One public alert as CAP 1.2 XML (`<id>-v<version>.xml`, or `<id>.xml`: the latest)",
    description="A message per version of the incident, the same bytes at every fetch; 404 for "
    "an alert that does not exist or may not be public; 410 for an earlier version of a public "
    "alert, naming the message that replaces it (`superseded_by`, `latest`).",
    security=[{}],
)
async def cap_alert(container: NamedDependency[Container], name: FromPath[str]) -> Response[bytes]:
    alert_id = name.removesuffix(".xml")
    alert = await container.public_alerts.get_public(alert_id, utcnow())
    public_url = container.settings.public_url
    if alert is None and "-v" in alert_id:
        # An earlier version of a message still public: 410 naming the one replacing it.
        latest = await container.public_alerts.get_public(alert_id.partition("-v")[0], utcnow())
        current = str(latest.get("identifier") or "") if latest is not None else ""
        if current and superseded_version(alert_id, current) is not None:
            raise Superseded(
                f"CAP message {alert_id} was superseded by {current}; its <references> name "
                "the messages before it.",
                superseded_by=current,
                latest=cap_url(public_url, current),
            )
    if alert is None:
        raise NotFound(f"No public alert {alert_id}.")
    identifier = str(alert.get("identifier") or alert["id"])
    document = alert_to_cap(
        {"url": cap_url(public_url, identifier), **alert}, sender=cap_sender(public_url)
    )
    return Response(document, media_type=CAP_MEDIA_TYPE)


ROUTES = [kobo_submission, sms_message, held_sms, publish_held, discard_held, cap_index, cap_alert]
