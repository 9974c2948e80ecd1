"""Alert use cases: subscriptions, broadcasts, acknowledgement, transmitted/handled figures."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import and_, case, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.core.policy import Priority
from alerts.core.render import RenderedMessage, render_broadcast
from alerts.core.schemas import (
    AckOut,
    AlertList,
    AlertOut,
    BroadcastDeliveries,
    BroadcastOut,
    DeliveryCounts,
    DeliveryList,
    DeliveryOut,
    OrganisationFigures,
    RecipientFigures,
    SubscriptionFigures,
    SubscriptionOut,
)
from alerts.core.subscription import (
    Area,
    Subscription,
    SubscriptionError,
    ZonesArea,
    area_from_json,
    subscription_from_json,
)
from alerts.core.tables import AlertRow, BroadcastRow, DeliveryRow, SubscriptionRow
from alerts.delivery.channels import DEFAULT_POLICY, ChannelError, ChannelPolicy, mask_channel_url
from alerts.delivery.keys import LinkSigner
from alerts.delivery.secrets import SecretBox
from alerts.outbox.writer import (
    NewAlert,
    OutboxConfig,
    Recipient,
    SubscriptionCache,
    write_alerts,
    write_broadcast_alerts,
    zone_geometries,
)
from geo.geometry import to_wkb
from incidents.db import Database
from incidents.errors import Forbidden, InvalidField, NotFound
from incidents.identity.accounts import Principal
from incidents.records.model import Role
from incidents.records.tables import UserRow
from incidents.zones.store import visible_to
from incidents.zones.tables import ZoneRow

OWNERS = ("organisation", "user")
# Who changes an organisation's subscriptions (and reads the alerts they receive).
MANAGERS = frozenset({Role.OFFICER, Role.ADMIN, Role.OPERATOR})
SUBSCRIPTION_FIELDS = frozenset(
    {
        "name",
        "owner",
        "channels",
        "secondary_channel",
        "area",
        "types",
        "min_severity",
        "statuses",
        "min_level",
        "language",
        "format",
        "quiet_hours",
        "paused",
    }
)
BROADCAST_PRIORITIES = {"normal": Priority.ROUTINE, "flash": Priority.FLASH}
TEST_MESSAGE = {
    "fr": "Message d'essai : cette adresse reçoit bien les alertes Sentinelle.",
    "en": "Test message: this address receives Sentinelle alerts.",
}
MAX_BROADCAST_CHARS = 1000


def _invalid(exc: SubscriptionError | ChannelError) -> InvalidField:
    return InvalidField(exc.field, f"{exc.field}: {exc.message}")


def _check_fields(body: Mapping[str, Any]) -> None:
    for key in body:
        if key not in SUBSCRIPTION_FIELDS:
            raise InvalidField(
                str(key), f"unknown field {key!r}; use {', '.join(sorted(SUBSCRIPTION_FIELDS))}"
            )


def _out(row: SubscriptionRow) -> SubscriptionOut:
    area = {k: v for k, v in row.area.items() if k != "kind"}
    if "lat" in area:
        area = {"point": {"lat": area["lat"], "lon": area["lon"]}, "radius_km": area["radius_km"]}
    return SubscriptionOut(
        id=row.id,
        owner=row.owner_kind,
        owner_user_id=row.owner_user_id,
        owner_org_id=row.owner_org_id,
        name=row.name,
        channels=list(row.channels_masked),
        secondary_channel=row.secondary_masked,
        area=area,
        types=list(row.types),
        min_severity=row.min_severity,
        statuses=list(row.statuses),
        min_level=row.min_level,
        language=row.language,
        format=row.format,
        quiet_hours=row.quiet_hours,
        paused=row.paused,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _area_body(obj: Any) -> Any:
    """Accept the issue's `{"point": {"lat", "lon"}, "radius_km"}` beside the flat form."""
    if isinstance(obj, Mapping) and isinstance(obj.get("point"), Mapping):
        flat = {k: v for k, v in obj.items() if k != "point"}
        point = obj["point"]
        for key in ("lat", "lon"):
            if key in point:
                flat[key] = point[key]
        flat.setdefault("kind", "point")
        return flat
    return obj


def _alert_out(row: AlertRow, counts: DeliveryCounts | None = None) -> AlertOut:
    return AlertOut(
        id=row.id,
        code=row.code,
        kind=row.kind,
        priority=row.priority,
        subscription_id=row.subscription_id,
        created_at=row.created_at,
        acknowledged=row.acked_at is not None,
        # A recipient who may see the incident only masked never learns its id.
        incident_id=None if (row.payload or {}).get("masked") else row.incident_id,
        zone_id=row.zone_id,
        broadcast_id=row.broadcast_id,
        acknowledged_at=row.acked_at,
        acknowledged_by=row.acked_by,
        resent_at=row.resent_at,
        escalated_at=row.escalated_at,
        deliveries=counts,
        mission_id=_mission_of(row),
    )


def _mission_of(row: AlertRow) -> uuid.UUID | None:
    if row.kind != "mission":
        return None
    try:
        return uuid.UUID(str((row.payload or {}).get("mission_id")))
    except ValueError:
        return None


def _geometry_of(area: Area, zones: Mapping[str, BaseGeometry], field: str) -> BaseGeometry:
    try:
        geometry = area.to_geometry(zones)
    except SubscriptionError as exc:
        named = exc.field.replace("area", field, 1)
        raise _invalid(SubscriptionError(named, exc.message)) from exc
    if geometry is None or geometry.is_empty or not shapely.is_valid(geometry):
        raise InvalidField(field, f"{field}: the area is empty or invalid; draw it again")
    return geometry


def _manager(viewer: Principal) -> bool:
    return viewer.role in MANAGERS


def visible_subscriptions(viewer: Principal) -> Any:
    """The subscriptions a viewer may see: its own personal ones and its organisation's."""
    s = SubscriptionRow
    return and_(
        s.deleted_at.is_(None),
        s.owner_org_id == viewer.org_id,
        or_(
            and_(s.owner_kind == "user", s.owner_user_id == viewer.user_id),
            s.owner_kind == "organisation",
        ),
    )


def received_alerts(viewer: Principal) -> Any:
    """The alerts a viewer may read and acknowledge: those of its personal subscriptions and
    those sent to it about a mission (owner_kind "mission": one per person, never shared), and
    for officers and admins those of its organisation's subscriptions."""
    s = SubscriptionRow
    personal = and_(s.owner_kind.in_(("user", "mission")), s.owner_user_id == viewer.user_id)
    mine = or_(personal, s.owner_kind == "organisation") if _manager(viewer) else personal
    return and_(
        AlertRow.owner_org_id == viewer.org_id,
        AlertRow.subscription_id.in_(select(s.id).where(s.owner_org_id == viewer.org_id, mine)),
    )


@dataclass
class AlertService:
    db: Database
    box: SecretBox
    cache: SubscriptionCache
    outbox: OutboxConfig
    signer: LinkSigner
    policy: ChannelPolicy = DEFAULT_POLICY
    # Overrides the policy's check (tests); called from a worker thread.
    validate_channel: Callable[[str, str], None] | None = None

    # --- subscriptions -------------------------------------------------------------------------

    def _visible(self, viewer: Principal) -> Any:
        return visible_subscriptions(viewer)

    async def _row(
        self,
        session: AsyncSession,
        viewer: Principal,
        subscription_id: uuid.UUID,
        *,
        change: bool = False,
    ) -> SubscriptionRow:
        row = (
            await session.execute(
                select(SubscriptionRow)
                .where(SubscriptionRow.id == subscription_id, self._visible(viewer))
                .execution_options(populate_existing=True)
            )
        ).scalar_one_or_none()
        if row is None:
            raise NotFound(
                f"No subscription {subscription_id} that you can see; list yours with "
                "GET /api/v1/subscriptions."
            )
        if change and row.owner_kind == "organisation" and not _manager(viewer):
            raise Forbidden(
                "Only your organisation's security officers and administrators change its "
                "subscriptions; ask one of them, or create a personal one (owner: user)."
            )
        return row

    def _check_channel(self, url: str, field: str) -> None:
        if self.validate_channel is not None:
            self.validate_channel(url, field)
        else:
            self.policy.check(url, field)

    def _parse(
        self,
        body: Mapping[str, Any],
        owner_user_id: uuid.UUID,
        owner_org_id: uuid.UUID,
        subscription_id: uuid.UUID,
    ) -> tuple[Subscription, str | None]:
        """Validate a whole body (blocking: Apprise parsing and DNS; run it in a thread)."""
        _check_fields(body)
        owner = body.get("owner", "organisation")
        if owner not in OWNERS:
            raise InvalidField("owner", "owner: choose organisation or user")
        secondary = body.get("secondary_channel")
        try:
            sub = subscription_from_json(
                {**body, "area": _area_body(body.get("area"))},
                id=subscription_id,
                owner_user_id=owner_user_id,
                owner_org_id=owner_org_id,
                validate_channel=self._check_channel,
            )
            if secondary not in (None, ""):
                if not isinstance(secondary, str) or len(secondary) > 2000:
                    raise ChannelError(
                        "secondary_channel",
                        "give a channel address (text, at most 2000 characters)",
                    )
                self._check_channel(secondary.strip(), "secondary_channel")
        except (SubscriptionError, ChannelError) as exc:
            raise _invalid(exc) from exc
        name = body.get("name")
        if name is not None and (not isinstance(name, str) or len(name) > 200):
            raise InvalidField("name", "name: give a text of at most 200 characters")
        if isinstance(secondary, str) and secondary.strip():
            return sub, secondary.strip()
        return sub, None

    async def _area_geometry(
        self, session: AsyncSession, area: Area, field: str, org_id: uuid.UUID
    ) -> BaseGeometry:
        zones = await zone_geometries(session, area.zones) if isinstance(area, ZonesArea) else {}
        if zones:
            # Another organisation's custom zone does not exist for this one: named by its id,
            # it is an unknown zone (422), never a way to confirm it or to watch its area.
            known = await session.scalars(
                select(ZoneRow.id).where(ZoneRow.id.in_(sorted(zones)), visible_to(org_id))
            )
            zones = {k: zones[k] for k in known.all()}
        # Buffering a long route or uniting zones is CPU work: off the event loop.
        return await asyncio.to_thread(_geometry_of, area, zones, field)

    def _values(
        self,
        sub: Subscription,
        secondary: str | None,
        body: Mapping[str, Any],
        geometry: BaseGeometry,
        now: datetime,
    ) -> dict[str, Any]:
        minx, miny, maxx, maxy = geometry.bounds
        return {
            "owner_kind": body.get("owner", "organisation"),
            "name": body.get("name"),
            "channels_encrypted": [self.box.encrypt(url) for url in sub.channels],
            "channels_masked": [mask_channel_url(url) for url in sub.channels],
            "secondary_encrypted": None if secondary is None else self.box.encrypt(secondary),
            "secondary_masked": None if secondary is None else mask_channel_url(secondary),
            "area": sub.area.to_json(),
            "area_wkb": to_wkb(geometry),
            "min_lon": minx,
            "min_lat": miny,
            "max_lon": maxx,
            "max_lat": maxy,
            "types": sorted(sub.types),
            "min_severity": sub.min_severity,
            "statuses": sorted(sub.statuses),
            "min_level": sub.min_level,
            "language": sub.language,
            "format": sub.format,
            "quiet_hours": None if sub.quiet_hours is None else str(sub.quiet_hours),
            "paused": sub.paused,
            "updated_at": now,
        }

    async def create_subscription(
        self, viewer: Principal, body: Mapping[str, Any], *, now: datetime
    ) -> SubscriptionOut:
        """Officers and admins subscribe for their organisation by default; other members
        subscribe for themselves (`owner: user`), and may not create organisation ones."""
        if not isinstance(body, Mapping):
            raise InvalidField("body", "body: give a JSON object")
        if "owner" not in body:
            body = {**body, "owner": "organisation" if _manager(viewer) else "user"}
        if body.get("owner") == "organisation" and not _manager(viewer):
            raise Forbidden(
                "Only security officers and administrators create subscriptions for the "
                "organisation; create a personal one instead (owner: user)."
            )
        subscription_id = uuid.uuid4()
        sub, secondary = await asyncio.to_thread(
            self._parse, body, viewer.user_id, viewer.org_id, subscription_id
        )
        async with self.db.transaction() as session:
            geometry = await self._area_geometry(session, sub.area, "area", viewer.org_id)
            values = self._values(sub, secondary, body, geometry, now)
            values.update(
                id=subscription_id,
                owner_user_id=viewer.user_id,
                owner_org_id=viewer.org_id,
                created_at=now,
            )
            await session.execute(insert(SubscriptionRow).values(**values))
            row = await self._row(session, viewer, subscription_id)
            return _out(row)

    async def list_subscriptions(self, viewer: Principal) -> list[SubscriptionOut]:
        async with self.db.read() as session:
            rows = (
                (
                    await session.execute(
                        select(SubscriptionRow)
                        .where(self._visible(viewer))
                        .order_by(SubscriptionRow.created_at, SubscriptionRow.id)
                    )
                )
                .scalars()
                .all()
            )
            return [_out(r) for r in rows]

    async def get_subscription(
        self, viewer: Principal, subscription_id: uuid.UUID
    ) -> SubscriptionOut:
        async with self.db.read() as session:
            return _out(await self._row(session, viewer, subscription_id))

    async def update_subscription(
        self,
        viewer: Principal,
        subscription_id: uuid.UUID,
        patch: Mapping[str, Any],
        *,
        now: datetime,
    ) -> SubscriptionOut:
        """Fields given replace the stored ones; channels left out stay as they are."""
        if not isinstance(patch, Mapping):
            raise InvalidField("body", "body: give a JSON object")
        _check_fields(patch)
        async with self.db.transaction() as session:
            row = await self._row(session, viewer, subscription_id, change=True)
            if "owner" in patch and patch["owner"] != row.owner_kind:
                raise InvalidField(
                    "owner",
                    "owner: a subscription's owner cannot change; create a new "
                    "subscription with the owner you want and delete this one",
                )
            current: dict[str, Any] = {
                "name": row.name,
                "owner": row.owner_kind,
                "channels": [self.box.decrypt(c) for c in row.channels_encrypted],
                "secondary_channel": None
                if row.secondary_encrypted is None
                else self.box.decrypt(row.secondary_encrypted),
                "area": row.area,
                "types": row.types,
                "min_severity": row.min_severity,
                "statuses": row.statuses,
                "min_level": row.min_level,
                "language": row.language,
                "format": row.format,
                "quiet_hours": row.quiet_hours,
                "paused": row.paused,
            }
            body = {**current, **patch}
            sub, secondary = await asyncio.to_thread(
                self._parse, body, row.owner_user_id, row.owner_org_id, subscription_id
            )
            geometry = await self._area_geometry(session, sub.area, "area", row.owner_org_id)
            await session.execute(
                update(SubscriptionRow)
                .where(SubscriptionRow.id == subscription_id)
                .values(**self._values(sub, secondary, body, geometry, now))
                .execution_options(synchronize_session=False)
            )
            return _out(await self._row(session, viewer, subscription_id))

    async def delete_subscription(
        self, viewer: Principal, subscription_id: uuid.UUID, *, now: datetime
    ) -> None:
        async with self.db.transaction() as session:
            await self._row(session, viewer, subscription_id, change=True)
            await session.execute(
                update(SubscriptionRow)
                .where(SubscriptionRow.id == subscription_id)
                .values(deleted_at=now, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            # Messages not yet sent are dropped with the subscription, and say so in the log.
            await session.execute(
                update(DeliveryRow)
                .where(
                    DeliveryRow.subscription_id == subscription_id,
                    DeliveryRow.status.in_(("pending", "failed")),
                )
                .values(status="dead", last_error="the subscription was deleted before sending")
                .execution_options(synchronize_session=False)
            )

    async def test_send(
        self, viewer: Principal, subscription_id: uuid.UUID, *, now: datetime
    ) -> AlertOut:
        """Send a short test message to every channel of a subscription now (quiet hours do not
        apply); the delivery log (GET /alerts/{code}/deliveries) then shows each outcome.
        Allowed to whoever may change the subscription."""
        async with self.db.transaction() as session:
            row = await self._row(session, viewer, subscription_id, change=True)
            role = (
                await session.execute(select(UserRow.role).where(UserRow.id == row.owner_user_id))
            ).scalar_one_or_none()
            recipient = Recipient(
                id=row.id,
                owner_user_id=row.owner_user_id,
                owner_org_id=row.owner_org_id,
                owner_role=str(role or ""),
                channels_encrypted=tuple(row.channels_encrypted),
                channels_masked=tuple(row.channels_masked),
                secondary_encrypted=None,
                secondary_masked=None,
                language=row.language,
                format=row.format,
                quiet_hours=None,
            )

            def render(code: str) -> RenderedMessage:
                return render_broadcast(
                    TEST_MESSAGE,
                    Priority.ROUTINE,
                    language=row.language,
                    format=row.format,
                    code=code,
                )

            [alert_id] = await write_alerts(
                session,
                [NewAlert(recipient, render, payload={"test": True})],
                kind="test",
                priority=Priority.ROUTINE,
                config=self.outbox,
                now=now,
            )
            alert = (
                await session.execute(select(AlertRow).where(AlertRow.id == alert_id))
            ).scalar_one()
            counts = await self._counts(session, [alert_id])
            return _alert_out(alert, counts.get(alert_id, DeliveryCounts()))

    # --- broadcasts ----------------------------------------------------------------------------

    async def broadcast(
        self, viewer: Principal, body: Mapping[str, Any], *, now: datetime
    ) -> BroadcastOut:
        if viewer.role not in (Role.OFFICER, Role.ADMIN):
            raise Forbidden("Only security officers and administrators send broadcasts.")
        if not isinstance(body, Mapping):
            raise InvalidField("body", "body: give a JSON object")
        for key in body:
            if key not in ("area", "message", "priority"):
                raise InvalidField(str(key), f"unknown field {key!r}; use area, message, priority")
        message = body.get("message")
        if not isinstance(message, Mapping) or not message:
            raise InvalidField("message", 'message: give {"fr": "...", "en": "..."} (one or both)')
        texts: dict[str, str] = {}
        for lang, text in message.items():
            if lang not in ("fr", "en"):
                raise InvalidField(f"message.{lang}", f"message.{lang}: use the keys fr and en")
            if not isinstance(text, str) or len(text) > MAX_BROADCAST_CHARS:
                raise InvalidField(
                    f"message.{lang}",
                    f"message.{lang}: give a text of at most {MAX_BROADCAST_CHARS} characters",
                )
            if text.strip():
                texts[lang] = text.strip()
        if not texts:
            raise InvalidField("message", "message: give the text in French or English")
        priority_code = body.get("priority", "normal")
        if priority_code not in BROADCAST_PRIORITIES:
            raise InvalidField("priority", "priority: choose normal or flash")
        priority = BROADCAST_PRIORITIES[priority_code]
        try:
            area = area_from_json(_area_body(body.get("area")), "area")
        except SubscriptionError as exc:
            raise _invalid(exc) from exc
        broadcast_id = uuid.uuid4()
        async with self.db.transaction() as session:
            geometry = await self._area_geometry(session, area, "area", viewer.org_id)
            ids = await write_broadcast_alerts(
                session,
                self.cache,
                self.outbox,
                broadcast_id=broadcast_id,
                area_geometry=geometry,
                message=texts,
                priority=priority,
                sender_id=viewer.user_id,
                now=now,
            )
            # How many other organisations' subscriptions an area reaches would map where they
            # work (bisect the area): the answer counts the sender's organisation's only.
            own = 0
            if ids:
                own = (
                    await session.execute(
                        select(func.count())
                        .select_from(AlertRow)
                        .where(AlertRow.id.in_(ids), AlertRow.owner_org_id == viewer.org_id)
                    )
                ).scalar_one()
            await session.execute(
                insert(BroadcastRow).values(
                    id=broadcast_id,
                    org_id=viewer.org_id,
                    sent_by=viewer.user_id,
                    sent_at=now,
                    priority=priority_code,
                    message=texts,
                    alerts=len(ids),
                )
            )
        return BroadcastOut(id=broadcast_id, priority=priority_code, alerts=int(own))

    # --- acknowledgement -----------------------------------------------------------------------

    async def _ack(
        self, session: AsyncSession, row: AlertRow, by: uuid.UUID | None, via: str, now: datetime
    ) -> AckOut:
        if row.acked_at is not None:
            return AckOut(row.code, True, row.acked_at, row.acked_by, already=True)
        done = await session.execute(
            update(AlertRow)
            .where(AlertRow.id == row.id, AlertRow.acked_at.is_(None))
            .values(acked_at=now, acked_by=by, acked_via=via)
            .execution_options(synchronize_session=False)
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            fresh = (
                await session.execute(
                    select(AlertRow.acked_at, AlertRow.acked_by).where(AlertRow.id == row.id)
                )
            ).one()
            return AckOut(row.code, True, fresh.acked_at, fresh.acked_by, already=True)
        return AckOut(row.code, True, now, by, already=False)

    async def acknowledge(self, viewer: Principal, code: str, *, now: datetime) -> AckOut:
        """Record who acknowledged; acknowledging again answers the first acknowledgement."""
        async with self.db.transaction() as session:
            row = (
                await session.execute(
                    select(AlertRow).where(
                        AlertRow.code == code.strip().upper(), received_alerts(viewer)
                    )
                )
            ).scalar_one_or_none()
            if row is None:
                raise NotFound(
                    f"No alert with the code {code!r} sent to you; check the code in the "
                    "message, or list your alerts with GET /api/v1/alerts."
                )
            return await self._ack(session, row, viewer.user_id, "token", now)

    async def acknowledge_by_link(self, code: str, signature: str, *, now: datetime) -> AckOut:
        """The signed link in a message: acknowledges without logging in."""
        code = code.strip().upper()
        if not self.signer.verify(code, signature):
            raise Forbidden(
                "This acknowledgement link is not valid; use the link from the message."
            )
        async with self.db.transaction() as session:
            row = (
                await session.execute(select(AlertRow).where(AlertRow.code == code))
            ).scalar_one_or_none()
            if row is None:
                raise NotFound(f"No alert with the code {code!r}.")
            return await self._ack(session, row, None, "link", now)

    # --- figures and delivery log --------------------------------------------------------------

    async def list_alerts(self, viewer: Principal, *, limit: int = 50) -> AlertList:
        a, d = AlertRow, DeliveryRow
        mine = received_alerts(viewer)
        async with self.db.read() as session:
            total, acknowledged = (
                await session.execute(
                    select(func.count(), func.count(a.acked_at)).select_from(a).where(mine)
                )
            ).one()
            sent, delivered = (
                await session.execute(
                    select(
                        func.count(func.distinct(case((d.sent_at.is_not(None), d.alert_id)))),
                        func.count(func.distinct(case((d.status == "delivered", d.alert_id)))),
                    )
                    .join(a, a.id == d.alert_id)
                    .where(mine)
                )
            ).one()
            rows = (
                (
                    await session.execute(
                        select(a).where(mine).order_by(a.created_at.desc(), a.id).limit(limit)
                    )
                )
                .scalars()
                .all()
            )
            counts = await self._counts(session, [r.id for r in rows])
        return AlertList(
            alerts=total,
            sent=sent,
            delivered=delivered,
            acknowledged=acknowledged,
            items=[_alert_out(r, counts.get(r.id, DeliveryCounts())) for r in rows],
        )

    async def broadcast_deliveries(
        self, viewer: Principal, broadcast_id: uuid.UUID
    ) -> BroadcastDeliveries:
        """The delivery figures of a broadcast, for officers and admins of the organisation
        whose user sent it (404 for everyone else, as for a broadcast that does not exist)."""
        missing = NotFound(
            f"No broadcast {broadcast_id} sent by your organisation; your officers' broadcasts "
            "are listed with their alerts (GET /api/v1/alerts)."
        )
        if not _manager(viewer):
            raise missing
        a = AlertRow
        async with self.db.read() as session:
            sent = await session.get(BroadcastRow, broadcast_id)
            if sent is None or sent.org_id != viewer.org_id:
                raise missing
            rows = (
                await session.execute(
                    select(a.id, a.owner_org_id, a.subscription_id, a.acked_at)
                    .where(a.broadcast_id == broadcast_id, a.kind == "broadcast")
                    .order_by(a.created_at, a.id)
                )
            ).all()
            shown = {viewer.org_id} | set(viewer.trusted_org_ids)
            kept = [r for r in rows if r.owner_org_id in shown]
            counts = await self._counts(session, [r.id for r in kept])

        def figures(selected: list[Any]) -> RecipientFigures:
            out = RecipientFigures()
            for r in selected:
                c = counts.get(r.id, DeliveryCounts())
                out.recipients += 1
                out.sent += int(c.total - c.pending > 0)
                if c.delivered > 0:
                    out.delivered += 1
                elif c.failed + c.dead > 0:
                    out.failed += 1
                out.acknowledged += int(r.acked_at is not None)
            return out

        own = [r for r in kept if r.owner_org_id == viewer.org_id]
        organisations = [OrganisationFigures(viewer.org_id, figures(own), own=True)]
        for org_id in sorted({r.owner_org_id for r in kept} - {viewer.org_id}, key=str):
            organisations.append(
                OrganisationFigures(org_id, figures([r for r in kept if r.owner_org_id == org_id]))
            )
        per_subscription = [
            SubscriptionFigures(sid, figures([r for r in own if r.subscription_id == sid]))
            for sid in sorted({r.subscription_id for r in own}, key=str)
        ]
        return BroadcastDeliveries(
            broadcast_id=broadcast_id,
            sent_at=sent.sent_at,
            priority=sent.priority,
            total=figures(kept),
            organisations=organisations,
            subscriptions=per_subscription,
            message={str(k): str(v) for k, v in (sent.message or {}).items()},
        )

    async def _counts(
        self, session: AsyncSession, alert_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, DeliveryCounts]:
        if not alert_ids:
            return {}
        rows = (
            await session.execute(
                select(DeliveryRow.alert_id, DeliveryRow.status, func.count())
                .where(DeliveryRow.alert_id.in_(alert_ids))
                .group_by(DeliveryRow.alert_id, DeliveryRow.status)
            )
        ).all()
        result: dict[uuid.UUID, DeliveryCounts] = {}
        for alert_id, status, n in rows:
            c = result.setdefault(alert_id, DeliveryCounts())
            c.total += n
            key = "pending" if status == "sending" else status
            if key in ("pending", "delivered", "failed", "dead"):
                setattr(c, key, getattr(c, key) + n)
        return result

    async def deliveries(self, viewer: Principal, ref: str) -> DeliveryList:
        """The delivery log of one alert (by id or code): per channel, status, attempts, error."""
        try:
            condition = AlertRow.id == uuid.UUID(ref)
        except ValueError:
            condition = AlertRow.code == ref.strip().upper()
        async with self.db.read() as session:
            alert = (
                await session.execute(select(AlertRow).where(condition, received_alerts(viewer)))
            ).scalar_one_or_none()
            if alert is None:
                raise NotFound(
                    f"No alert {ref} sent to you; list your alerts with GET /api/v1/alerts."
                )
            rows = (
                (
                    await session.execute(
                        select(DeliveryRow)
                        .where(DeliveryRow.alert_id == alert.id)
                        .order_by(DeliveryRow.id)
                    )
                )
                .scalars()
                .all()
            )
        return DeliveryList(
            alert_id=alert.id,
            code=alert.code,
            items=[
                DeliveryOut(
                    id=r.id,
                    channel=r.channel_masked,
                    channel_index=r.channel_index,
                    purpose=r.purpose,
                    status=r.status,
                    attempts=r.attempts,
                    idempotency_key=r.idempotency_key,
                    created_at=r.created_at,
                    next_attempt_at=r.next_attempt_at
                    if r.status in ("pending", "failed")
                    else None,
                    sent_at=r.sent_at,
                    delivered_at=r.delivered_at,
                    last_error=r.last_error,
                )
                for r in rows
            ],
        )
