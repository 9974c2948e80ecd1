"""The transactional outbox: alert and delivery rows written in the transaction of their trigger."""

from __future__ import annotations

import logging
import re
import secrets
import uuid
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Table, delete, func, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

from alerts.core.matching import AlertedState, SubscriptionIndex, should_realert
from alerts.core.policy import Priority, idempotency_key, next_send_time
from alerts.core.render import (
    CODE_ALPHABET,
    CODE_LENGTH,
    RenderedMessage,
    render_broadcast,
    render_incident_alert,
    render_level_change,
)
from alerts.core.subscription import (
    QuietHours,
    Subscription,
    ZonesArea,
    area_from_json,
    parse_quiet_hours,
)
from alerts.core.tables import (
    AlertedStateRow,
    AlertRow,
    DeliveryRow,
    SubscriptionRow,
)
from alerts.delivery.keys import LinkSigner
from incidents.db import on_commit
from incidents.events import sources_seen
from incidents.records.events import IncidentsImported, IncidentWritten
from incidents.records.model import Impact, Incident, Role, Status
from incidents.records.tables import IncidentRow, UserRow
from incidents.taxonomy.catalogue import CATEGORIES, types_in
from incidents.zones.tables import IncidentZoneRow, ZoneLevelChangeRow, ZoneRow

log = logging.getLogger("sentinelle.alerts")

# Fields never put in a message, whatever the recipient may see: messages cross third-party
# services (SMS gateways, chat apps), and names can hide in free text.
NEVER_SENT = ("organisation", "organisation_id", "reported_by", "actor", "description")


# --- who receives ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recipient:
    """What the outbox needs of one subscription to address and render its alerts."""

    id: uuid.UUID
    owner_user_id: uuid.UUID
    owner_org_id: uuid.UUID
    owner_role: str
    channels_encrypted: tuple[str, ...]
    channels_masked: tuple[str, ...]
    secondary_encrypted: str | None
    secondary_masked: str | None
    language: str
    format: str
    quiet_hours: QuietHours | None

    # The incidents.sharing Member protocol, so the recipient's entitlement can be checked.
    @property
    def user_id(self) -> uuid.UUID:
        return self.owner_user_id

    @property
    def org_id(self) -> uuid.UUID:
        return self.owner_org_id

    @property
    def trusted_org_ids(self) -> frozenset[uuid.UUID]:
        return frozenset()  # conservative: a trust network is not assumed for alerts

    @property
    def is_officer(self) -> bool:
        return self.owner_role in (Role.OFFICER, Role.ADMIN)


@dataclass(frozen=True)
class SubscriptionSnapshot:
    """Every active subscription at one version, indexed for matching."""

    version: tuple[Any, ...]
    index: SubscriptionIndex
    recipients: dict[uuid.UUID, Recipient]


async def subscriptions_version(session: AsyncSession) -> tuple[Any, ...]:
    """Changes whenever a subscription or a zone changes (two cheap aggregates)."""
    subs = (await session.execute(select(func.count(), func.max(SubscriptionRow.updated_at)))).one()
    zones = (
        await session.execute(
            select(func.count(), func.max(ZoneRow.updated_at), func.sum(ZoneRow.version))
        )
    ).one()
    return (*subs, *zones)


def subscription_of(row: SubscriptionRow) -> Subscription:
    """The pure Subscription of a stored row (channels shown masked)."""
    return Subscription(
        id=row.id,
        owner_user_id=row.owner_user_id,
        owner_org_id=row.owner_org_id,
        channels=list(row.channels_masked),
        area=area_from_json(row.area),
        types=frozenset(row.types),
        min_severity=row.min_severity,
        statuses=frozenset(row.statuses),
        min_level=row.min_level,
        language="en" if row.language == "en" else "fr",
        format="sms" if row.format == "sms" else "full",
        quiet_hours=None if not row.quiet_hours else parse_quiet_hours(row.quiet_hours),
        paused=row.paused,
    )


async def zone_geometries(
    session: AsyncSession, zone_ids: Iterable[str]
) -> dict[str, BaseGeometry]:
    ids = sorted(set(zone_ids))
    if not ids:
        return {}
    rows = (
        await session.execute(select(ZoneRow.id, ZoneRow.geometry_wkb).where(ZoneRow.id.in_(ids)))
    ).all()
    return {zid: shapely.from_wkb(wkb) for zid, wkb in rows}


class SubscriptionCache:
    """The subscription index, rebuilt only when subscriptions or zones change (any process)."""

    def __init__(self) -> None:
        self._snapshot: SubscriptionSnapshot | None = None

    def invalidate(self) -> None:
        self._snapshot = None

    async def snapshot(self, session: AsyncSession) -> SubscriptionSnapshot:
        version = await subscriptions_version(session)
        if self._snapshot is not None and self._snapshot.version == version:
            return self._snapshot
        rows = (
            await session.execute(
                select(SubscriptionRow, UserRow.role)
                .join(UserRow, UserRow.id == SubscriptionRow.owner_user_id)
                .where(SubscriptionRow.deleted_at.is_(None))
                .order_by(SubscriptionRow.created_at, SubscriptionRow.id)
            )
        ).all()
        subs = [subscription_of(row) for row, _ in rows]
        geoms = shapely.from_wkb(np.array([row.area_wkb for row, _ in rows], dtype=object))
        zoned = [i for i, s in enumerate(subs) if isinstance(s.area, ZonesArea)]
        if zoned:
            # Zone areas follow the zones as they are now, not as they were when subscribed.
            wanted = [z for i in zoned for z in subs[i].area.zones]  # type: ignore[union-attr]
            current = await zone_geometries(session, wanted)
            for i in zoned:
                parts = [current[z] for z in subs[i].area.zones if z in current]  # type: ignore[union-attr]
                if parts:
                    geoms[i] = shapely.union_all(parts)
        recipients = {
            row.id: Recipient(
                id=row.id,
                owner_user_id=row.owner_user_id,
                owner_org_id=row.owner_org_id,
                owner_role=str(role),
                channels_encrypted=tuple(row.channels_encrypted),
                channels_masked=tuple(row.channels_masked),
                secondary_encrypted=row.secondary_encrypted,
                secondary_masked=row.secondary_masked,
                language=row.language,
                format=row.format,
                quiet_hours=sub.quiet_hours,
            )
            for (row, role), sub in zip(rows, subs, strict=True)
        }
        index = SubscriptionIndex(zip(subs, list(geoms), strict=True))
        self._snapshot = SubscriptionSnapshot(version, index, recipients)
        return self._snapshot


# --- writing alerts ----------------------------------------------------------------------------


@dataclass
class OutboxConfig:
    """What every alert needs from the deployment: links, the link signer, the mask rules."""

    public_url: str
    signer: LinkSigner
    mask_grid_degrees: float = 0.25
    mask_time_unit: str = "day"  # or "week", as settings.mask_time_unit
    # Called after a transaction that wrote alerts commits (wakes an in-process dispatcher).
    on_commit: Callable[[], None] | None = None
    # Incidents that happened longer ago than this alert nobody: an import of last year's
    # events must not wake every subscriber.
    max_age: timedelta = timedelta(hours=72)
    # A serious incident (SERIOUS_TYPES) learned late still alerts up to this age, marked
    # "reported late" (docs/events.md).
    late_max_age: timedelta = timedelta(days=14)

    def ack_link(self, code: str) -> str:
        base = self.public_url.rstrip("/")
        # The page shows the alert and a button: opening a link acknowledges nothing.
        return f"{base}/web/alerts/ack/{code}?sig={self.signer.sign(code)}"

    def incident_link(self, incident_id: uuid.UUID) -> str:
        return f"{self.public_url.rstrip('/')}/api/v1/incidents/{incident_id}"


@dataclass(frozen=True, slots=True)
class NewAlert:
    """One alert to write: to whom, about what, and its message (rendered given its code)."""

    recipient: Recipient
    render: Callable[[str], RenderedMessage]
    incident_id: uuid.UUID | None = None
    zone_id: str | None = None
    broadcast_id: uuid.UUID | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)
    # Alerts with the same key get the same text but for their code: rendered once.
    render_key: Hashable | None = None


# A stand-in of the same length and alphabet as a real code, so the SMS budget is unchanged.
CODE_PLACEHOLDER = "ZZZZZ"


def alert_codes(count: int) -> list[str]:
    """`count` random codes from the render module's alphabet (a batch form of new_alert_code)."""
    raw = secrets.token_bytes(count * CODE_LENGTH)
    # 256 is a multiple of the 32-letter alphabet, so `byte % 32` is unbiased.
    letters = [CODE_ALPHABET[b % len(CODE_ALPHABET)] for b in raw]
    return ["".join(letters[i : i + CODE_LENGTH]) for i in range(0, len(letters), CODE_LENGTH)]


async def unique_codes(session: AsyncSession, count: int) -> list[str]:
    """`count` alert codes not yet used (checked in one query per round)."""
    codes: list[str] = []
    while len(codes) < count:
        fresh = list(dict.fromkeys(alert_codes(count - len(codes))))
        fresh = [c for c in fresh if c not in codes]
        taken = set(
            (await session.execute(select(AlertRow.code).where(AlertRow.code.in_(fresh))))
            .scalars()
            .all()
        )
        codes += [c for c in fresh if c not in taken]
    return codes


def _with_ack_link(message: RenderedMessage, fmt: str, lang: str, link: str) -> RenderedMessage:
    if fmt == "sms":
        return message  # 160 characters: the reply code is the acknowledgement
    label = "Accuser réception" if lang == "fr" else "Acknowledge"
    sep = " : " if lang == "fr" else ": "
    return RenderedMessage(message.title, f"{message.body}\n{label}{sep}{link}")


# PostgreSQL NOTIFY channel: dispatchers in other processes LISTEN on it (delivered at COMMIT).
OUTBOX_CHANNEL = "sentinelle_outbox"


async def notify_after_commit(session: AsyncSession, config: OutboxConfig) -> None:
    """Wake the dispatchers once this transaction commits: the in-process one through
    `config.on_commit`, those of other processes (PostgreSQL) through NOTIFY."""
    callback = config.on_commit
    if callback is not None:
        on_commit(session, "alerts_notify", callback)
    if session.get_bind().dialect.name == "postgresql":
        # Transactional: sent at COMMIT only, and PostgreSQL folds repeats into one.
        await session.execute(text(f"NOTIFY {OUTBOX_CHANNEL}"))


async def write_alerts(
    session: AsyncSession,
    alerts: Sequence[NewAlert],
    *,
    kind: str,
    priority: Priority,
    config: OutboxConfig,
    now: datetime,
) -> list[uuid.UUID]:
    """Insert the alert rows and one pending delivery per channel; returns the alert ids."""
    if not alerts:
        return []
    codes = await unique_codes(session, len(alerts))
    alert_rows: list[dict[str, Any]] = []
    delivery_rows: list[dict[str, Any]] = []
    rendered: dict[Hashable, RenderedMessage] = {}
    for new, code in zip(alerts, codes, strict=True):
        r = new.recipient
        alert_id = uuid.uuid4()
        link = config.ack_link(code)
        if new.render_key is None:
            message = new.render(code)
        else:
            if new.render_key not in rendered:
                rendered[new.render_key] = new.render(CODE_PLACEHOLDER)
            template = rendered[new.render_key]
            message = RenderedMessage(
                template.title.replace(CODE_PLACEHOLDER, code),
                template.body.replace(CODE_PLACEHOLDER, code),
            )
        message = _with_ack_link(message, r.format, r.language, link)
        alert_rows.append(
            {
                "id": alert_id,
                "code": code,
                "kind": kind,
                "subscription_id": r.id,
                "owner_org_id": r.owner_org_id,
                "incident_id": new.incident_id,
                "zone_id": new.zone_id,
                "broadcast_id": new.broadcast_id,
                "priority": priority.value,
                "payload": dict(new.payload),
                "created_at": now,
            }
        )
        due = next_send_time(r.quiet_hours, now, priority)
        for i, (encrypted, masked) in enumerate(
            zip(r.channels_encrypted, r.channels_masked, strict=True)
        ):
            delivery_rows.append(
                delivery_values(alert_id, r.id, i, "first", encrypted, masked, message, due, now)
            )
    # Core inserts (executemany): the ORM's bulk path costs more than the database here.
    await session.execute(insert(cast(Table, AlertRow.__table__)), alert_rows)
    if delivery_rows:  # a recipient may have no channel left (all removed): alert, no delivery
        await session.execute(insert(cast(Table, DeliveryRow.__table__)), delivery_rows)
    await notify_after_commit(session, config)
    return [row["id"] for row in alert_rows]


def delivery_values(
    alert_id: uuid.UUID,
    subscription_id: uuid.UUID,
    channel_index: int,
    purpose: str,
    channel_encrypted: str,
    channel_masked: str,
    message: RenderedMessage,
    due: datetime,
    now: datetime,
) -> dict[str, Any]:
    scope = subscription_id if purpose == "first" else f"{subscription_id}:{purpose}"
    return {
        "alert_id": alert_id,
        "subscription_id": subscription_id,
        "channel_index": channel_index,
        "purpose": purpose,
        "idempotency_key": idempotency_key(alert_id, scope, channel_index),
        "channel_encrypted": channel_encrypted,
        "channel_masked": channel_masked,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": due,
        "title": message.title,
        "body": message.body,
        "created_at": now,
    }


# --- incidents ---------------------------------------------------------------------------------

# Incidents serious enough that a report learned days later still alerts (docs/events.md):
# abductions of every kind, killings, IEDs, armed attacks and ambushes.
SERIOUS_TYPES = frozenset(
    {t.code for t in types_in("abduction")} | {"killing", "ied", "armed_attack", "ambush"}
)


def alert_age(incident: Incident, now: datetime, config: OutboxConfig) -> str | None:
    """Whether an incident of this age alerts: "on_time", "late" (a serious incident older
    than `max_age` but not `late_max_age`), or None (too old: it alerts nobody)."""
    age = now - incident.occurred_at
    if age <= config.max_age:
        return "on_time"
    if incident.type in SERIOUS_TYPES and age <= config.late_max_age:
        return "late"
    return None


def late_alert_for_masked(type_code: str) -> bool:
    """A masked recipient may hear of a late incident only if every type of its category is
    serious: which types alert late must not tell the type the masked entry hides."""
    return all(t.code in SERIOUS_TYPES for t in types_in(category_code(type_code) or "other"))


def incident_priority(incident: Incident) -> Priority:
    """Flash for the gravest incidents and any that touch aid workers; urgent from severity 4."""
    if incident.severity >= 5 or incident.impact.aid_workers_affected:
        return Priority.FLASH
    if incident.severity >= 4:
        return Priority.URGENT
    return Priority.ROUTINE


def conservative_view(incident: Incident, zones: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """What any member may read in an alert: no organisation, people, actor or narrative."""
    return {
        "type": incident.type,
        "place_name": incident.place_name,
        "zones": list(zones),
        "occurred_at": incident.occurred_at,
        "time_precision": incident.time_precision.value,
        "location_precision": incident.location_precision.value,
        "severity": incident.severity,
        "status": incident.status.value,
    }


def recipient_view(
    recipient: Recipient,
    incident: Incident,
    zones: Sequence[Mapping[str, Any]],
    config: OutboxConfig,
) -> dict[str, Any]:
    """The incident as this recipient may see it (sharing rules), minus what never leaves."""
    try:
        from incidents.sharing.rules import MaskRules, TimeUnit, view_for
    except ImportError:  # sharing not installed: fall back to the conservative view
        return conservative_view(incident, zones)
    try:
        feature = view_for(
            recipient,
            incident,
            rules=MaskRules(
                grid_degrees=config.mask_grid_degrees,
                time_unit=TimeUnit.WEEK if config.mask_time_unit == "week" else TimeUnit.DAY,
            ),
            language=recipient.language,
        )
    except Exception:  # a rendering problem must never stop the incident from being recorded
        log.exception("sharing view failed for an alert; sending the conservative view")
        return conservative_view(incident, zones)
    props = dict(feature.get("properties") or {})
    if props.get("masked"):
        return masked_view(recipient, incident, zones, config)
    view = {k: v for k, v in props.items() if k not in NEVER_SENT}
    view["occurred_at"] = incident.occurred_at
    view["geometry"] = feature.get("geometry")
    if not view.get("place_name") and zones:
        view["zones"] = list(zones)
    return view


def masked_view(
    recipient: Recipient,
    incident: Incident,
    zones: Sequence[Mapping[str, Any]],
    config: OutboxConfig,
) -> dict[str, Any]:
    """A masked incident in an alert: its category, its coarse day and `zones`, the platform
    zones holding its grid cell (chosen from the cell alone, see cell_places); nothing finer."""
    from incidents.sharing.rules import TimeUnit, coarsen_time

    unit = TimeUnit.WEEK if config.mask_time_unit == TimeUnit.WEEK.value else TimeUnit.DAY
    category = CATEGORIES.get(category_code(incident.type))
    when, precision = coarsen_time(incident.occurred_at, incident.time_precision, unit)
    return {
        "type": category.label(recipient.language) if category else "incident",
        "zones": list(zones),
        "location_precision": "near",
        "occurred_at": when,
        "time_precision": precision.value,
        "masked": True,
    }


def category_code(type_code: str) -> str:
    from incidents.taxonomy.catalogue import category_of

    try:
        return category_of(type_code).code
    except Exception:  # an unknown type: no category to show
        return ""


def is_masked_for(recipient: Recipient, incident: Incident) -> bool:
    """Whether this recipient may see the incident only as its masked entry (sharing rules;
    the people a red incident names are not looked up, so they get the masked entry)."""
    from incidents.sharing.rules import Access, access, sharing_of

    return access(recipient, sharing_of(incident)) == Access.MASKED


def masked_severity(type_code: str) -> int:
    """The severity a masked entry is matched and prioritised as: the lowest default severity
    of its category's types. It depends on the category alone, which the entry shows."""
    from incidents.taxonomy.catalogue import category_of, types_in

    return min(t.default_severity for t in types_in(category_of(type_code).code))


def masked_cell(incident: Incident, config: OutboxConfig) -> shapely.Point:
    """The centre of the grid cell a masked entry shows (the same point the masked view has)."""
    from incidents.sharing.rules import representative_point, snap_to_grid

    lon, lat = representative_point(incident.geometry)
    return shapely.Point(*snap_to_grid(lon, lat, config.mask_grid_degrees))


def coarse_matches(
    index: SubscriptionIndex, incident: Incident, config: OutboxConfig
) -> list[uuid.UUID]:
    """Subscriptions that the masked entry alone matches: its grid-cell centre, any type of its
    category, the category's severity, any status — what a masked recipient may learn, no more."""
    from incidents.taxonomy.catalogue import category_of, types_in

    codes = [t.code for t in types_in(category_of(incident.type).code)]
    return index.match_masked_entry(
        masked_cell(incident, config), codes, masked_severity(incident.type)
    )


def masked_priority(incident: Incident) -> Priority:
    """Priority of a masked alert: as incident_priority, from the category's severity only."""
    severity = masked_severity(incident.type)
    if severity >= 5:
        return Priority.FLASH
    return Priority.URGENT if severity >= 4 else Priority.ROUTINE


async def incident_places(
    session: AsyncSession, incident_id: uuid.UUID, org_id: uuid.UUID | None = None
) -> list[dict[str, Any]]:
    """The smallest zones holding the incident (towns before regions), to name its place:
    platform zones, and the custom zones of `org_id` (a recipient's own); never another
    organisation's."""
    own: ColumnElement[bool] = ZoneRow.owner_org_id.is_(None)
    if org_id is not None:
        own = or_(own, ZoneRow.owner_org_id == org_id)
    rows = (
        await session.execute(
            select(ZoneRow.name_fr, ZoneRow.name_en)
            .join(IncidentZoneRow, IncidentZoneRow.zone_id == ZoneRow.id)
            .where(IncidentZoneRow.incident_id == incident_id, own)
            .order_by(ZoneRow.area_km2, ZoneRow.id)
            .limit(2)
        )
    ).all()
    return [{"name": _short(fr), "name_en": _short(en)} for fr, en in rows]


async def cell_places(session: AsyncSession, cell: shapely.Point) -> list[dict[str, Any]]:
    """The smallest platform zones holding a grid-cell centre, to name a masked entry's place.

    Chosen from the cell alone (never from the incident's own zones, and never a custom zone:
    a recipient could draw one tiny around a suspected point and wait for its name)."""
    x, y = cell.x, cell.y
    rows = (
        await session.execute(
            select(ZoneRow.name_fr, ZoneRow.name_en, ZoneRow.geometry_wkb)
            .where(
                ZoneRow.owner_org_id.is_(None),
                ZoneRow.min_lon <= x,
                ZoneRow.max_lon >= x,
                ZoneRow.min_lat <= y,
                ZoneRow.max_lat >= y,
            )
            .order_by(ZoneRow.area_km2, ZoneRow.id)
        )
    ).all()
    places = []
    for fr, en, wkb in rows:
        if shapely.covers(shapely.from_wkb(wkb), cell):
            places.append({"name": _short(fr), "name_en": _short(en)})
            if len(places) == 2:
                break
    return places


def _short(name: str) -> str:
    # "Diéma (20 km)" -> "Diéma": the radius of a town zone means nothing in a message.
    return re.sub(r"\s*\([^)]*\)\s*$", "", name) or name


async def alerted_of_event(
    session: AsyncSession,
    canonical: uuid.UUID,
    incident_id: uuid.UUID,
    subscription_ids: Sequence[uuid.UUID],
) -> set[uuid.UUID]:
    """The subscriptions already alerted of another report of the event `canonical` names."""
    reports = select(IncidentRow.id).where(
        or_(IncidentRow.id == canonical, IncidentRow.event_id == canonical),
        IncidentRow.id != incident_id,
    )
    rows = await session.scalars(
        select(AlertedStateRow.subscription_id)
        .where(
            AlertedStateRow.incident_id.in_(reports),
            AlertedStateRow.subscription_id.in_(list(subscription_ids)),
        )
        .distinct()
    )
    return set(rows.all())


def _state_of(row: AlertedStateRow) -> AlertedState:
    return AlertedState(row.severity, row.status, Impact(**row.impact))


def _impact_json(impact: Impact) -> dict[str, Any]:
    return {
        "killed": impact.killed,
        "injured": impact.injured,
        "abducted": impact.abducted,
        "detained": impact.detained,
        "missing": impact.missing,
        "aid_workers_affected": impact.aid_workers_affected,
    }


@dataclass
class AlertOutbox:
    """Write handler (incidents.records.events): writes the alerts a new or escalated incident
    calls for, in the same transaction as the incident."""

    cache: SubscriptionCache
    config: OutboxConfig

    async def imported(self, session: AsyncSession, event: IncidentsImported) -> None:
        """A bulk import (CSV, ACLED, HXL, demo) alerts nobody, whatever the age of its rows:
        it records what others already know; the risk levels it moves alert as usual."""
        return

    async def written(self, session: AsyncSession, event: IncidentWritten) -> None:
        incident, geom, previous, now = event.incident, event.geometry, event.previous, event.at
        if incident.status == Status.RETRACTED or event.links_only:
            return
        timing = alert_age(incident, now, self.config)
        if timing is None:
            return
        snapshot = await self.cache.snapshot(session)
        if not len(snapshot.index):
            return
        # Recipients entitled to the full incident are matched on it exactly; the others only
        # on its masked entry (grid cell, category), so that which of their subscriptions
        # fire tells them nothing more than the masked entry does.
        exact = snapshot.index.match_incident(
            geom, incident.type, incident.severity, str(incident.status)
        )
        coarse = coarse_matches(snapshot.index, incident, self.config)
        full_ids = [i for i in exact if not is_masked_for(snapshot.recipients[i], incident)]
        masked_ids = [i for i in coarse if is_masked_for(snapshot.recipients[i], incident)]
        if timing == "late" and not late_alert_for_masked(incident.type):
            masked_ids = []
        if event.duplicate_of is not None and (full_ids or masked_ids):
            # A further report of one event: only those never alerted of the event hear of it.
            heard = await alerted_of_event(
                session, event.duplicate_of, incident.id, [*full_ids, *masked_ids]
            )
            full_ids = [i for i in full_ids if i not in heard]
            masked_ids = [i for i in masked_ids if i not in heard]
        ids = [*full_ids, *masked_ids]
        if not ids:
            return
        states: dict[uuid.UUID, AlertedState] = {}
        if previous is not None:
            rows = (
                (
                    await session.execute(
                        select(AlertedStateRow).where(
                            AlertedStateRow.incident_id == incident.id,
                            AlertedStateRow.subscription_id.in_(ids),
                        )
                    )
                )
                .scalars()
                .all()
            )
            states = {r.subscription_id: _state_of(r) for r in rows}
        # A masked entry does not change when the incident escalates: a masked recipient hears
        # of an incident once (a second alert would tell that severity, status or toll grew).
        targets = [i for i in full_ids if should_realert(states.get(i), incident)]
        targets += [i for i in masked_ids if i not in states]
        if not targets:
            return
        await self.write_incident_alerts(
            session,
            incident,
            [snapshot.recipients[i] for i in targets],
            now,
            replace={i: states[i] for i in targets if i in states},
            coarse_ids=frozenset(masked_ids),
            late=timing == "late",
        )

    async def write_incident_alerts(
        self,
        session: AsyncSession,
        incident: Incident,
        recipients: Sequence[Recipient],
        now: datetime,
        *,
        replace: Mapping[uuid.UUID, AlertedState] | None = None,
        coarse_ids: frozenset[uuid.UUID] | None = None,
        late: bool = False,
    ) -> list[uuid.UUID]:
        """Write the alerts; a recipient who may see the incident only masked gets the masked
        entry (and only if it is in `coarse_ids`, the subscriptions the masked entry matches,
        when given). `late`: marked "reported late" in full views (a masked entry shows its
        coarse day and nothing more)."""
        link = self.config.incident_link(incident.id)
        places: dict[Any, list[dict[str, Any]]] = {}
        views: dict[tuple[Any, ...], dict[str, Any]] = {}
        new: list[NewAlert] = []
        masked_new: list[NewAlert] = []
        sent: list[Recipient] = []
        masked_sent: list[Recipient] = []
        # "corroborated by N reports": the independent sources of the event among the reports
        # each full-view recipient may read in full (a masked entry never says it).
        full = [r for r in recipients if not is_masked_for(r, incident)]
        sources = dict(
            zip((r.id for r in full), await sources_seen(session, incident.id, full), strict=True)
        )
        for r in recipients:
            masked = is_masked_for(r, incident)
            if masked and coarse_ids is not None and r.id not in coarse_ids:
                continue
            # Recipients with the same entitlement and language share one view.
            key = (r.owner_org_id, r.owner_user_id, r.is_officer, r.language, masked)
            if key not in views:
                # A masked entry is placed by the platform zones holding its grid cell; a full
                # view by the zones holding the incident, the recipient's own custom ones
                # included but never another organisation's.
                place_key: Any = "cell" if masked else r.owner_org_id
                if place_key not in places:
                    if masked:
                        places[place_key] = await cell_places(
                            session, masked_cell(incident, self.config)
                        )
                    elif incident.place_name:
                        places[place_key] = []
                    else:
                        places[place_key] = await incident_places(
                            session, incident.id, r.owner_org_id
                        )
                local = [
                    {"name": z["name_en"] if r.language == "en" else z["name"]}
                    for z in places[place_key]
                ]
                view = (
                    masked_view(r, incident, local, self.config)
                    if masked
                    else recipient_view(r, incident, local, self.config)
                )
                view.pop("masked", None)
                if late and not masked:
                    view["reported_late"] = True
                if not masked:
                    view["sources"] = sources[r.id]
                views[key] = view
            view = views[key]

            def render(
                code: str, r: Recipient = r, view: dict[str, Any] = view, masked: bool = masked
            ) -> RenderedMessage:
                return render_incident_alert(
                    view,
                    language=r.language,
                    format=r.format,
                    code=code,
                    link=None if r.format == "sms" or masked else link,
                )

            payload: dict[str, Any] = (
                {"masked": True}
                if masked
                else {
                    "incident_version": incident.version,
                    "severity": incident.severity,
                    "status": str(incident.status),
                }
            )
            (masked_sent if masked else sent).append(r)
            (masked_new if masked else new).append(
                NewAlert(
                    r, render, incident_id=incident.id, payload=payload, render_key=(*key, r.format)
                )
            )
        alert_ids = await write_alerts(
            session,
            new,
            kind="incident",
            priority=incident_priority(incident),
            config=self.config,
            now=now,
        )
        # Priority follows severity; for masked recipients the category's severity, as matched.
        alert_ids += await write_alerts(
            session,
            masked_new,
            kind="incident",
            priority=masked_priority(incident),
            config=self.config,
            now=now,
        )
        subscription_ids = [r.id for r in (*sent, *masked_sent)]
        if replace:
            await session.execute(
                delete(AlertedStateRow).where(
                    AlertedStateRow.incident_id == incident.id,
                    AlertedStateRow.subscription_id.in_(list(replace)),
                )
            )
        if subscription_ids:
            await session.execute(
                insert(cast(Table, AlertedStateRow.__table__)),
                [
                    {
                        "incident_id": incident.id,
                        "subscription_id": sid,
                        "severity": incident.severity,
                        "status": str(incident.status),
                        "impact": _impact_json(incident.impact),
                        "alert_id": aid,
                        "updated_at": now,
                    }
                    for sid, aid in zip(subscription_ids, alert_ids, strict=True)
                ],
            )
        return alert_ids


# --- zone risk level changes -------------------------------------------------------------------


def level_priority(from_level: int, to_level: int) -> Priority:
    if to_level >= 5 and to_level > from_level:
        return Priority.FLASH
    return Priority.URGENT if to_level > from_level else Priority.ROUTINE


async def write_level_change_alerts(
    session: AsyncSession,
    cache: SubscriptionCache,
    config: OutboxConfig,
    now: datetime,
    *,
    batch: int = 500,
) -> int:
    """Turn zone level changes not yet alerted into alerts; returns how many.

    Consumed by row state, not past a high-water mark: the changes are claimed with FOR
    UPDATE SKIP LOCKED on PostgreSQL (SQLite has one writer) and marked `alerted_at` in the
    caller's transaction, so each is turned into alerts exactly once with several
    dispatchers, and a change committed late (a smaller id after a larger one) is not lost.
    """
    postgres = session.get_bind().dialect.name == "postgresql"
    stmt = (
        select(ZoneLevelChangeRow)
        .where(ZoneLevelChangeRow.alerted_at.is_(None))
        .order_by(ZoneLevelChangeRow.id)
        .limit(batch)
    )
    if postgres:
        stmt = stmt.with_for_update(skip_locked=True)
    changes = (await session.execute(stmt)).scalars().all()
    if not changes:
        return 0
    snapshot = await cache.snapshot(session)
    zones = {
        z.id: z
        for z in (
            await session.execute(
                select(ZoneRow).where(ZoneRow.id.in_({c.zone_id for c in changes}))
            )
        ).scalars()
    }
    written = 0
    for change in changes:
        zone = zones.get(change.zone_id)
        if zone is None or change.from_level is None or not len(snapshot.index):
            continue
        ids = snapshot.index.match_zone_level_change(
            zone.id, shapely.from_wkb(zone.geometry_wkb), change.to_level, change.from_level
        )
        new = []
        for sid in ids:
            r = snapshot.recipients[sid]
            if zone.owner_org_id is not None and r.owner_org_id != zone.owner_org_id:
                continue  # a custom zone (its name, its level) is its organisation's business
            name = zone.name_en if r.language == "en" else zone.name_fr

            def render(
                code: str, r: Recipient = r, name: str = name, change: ZoneLevelChangeRow = change
            ) -> RenderedMessage:
                return render_level_change(
                    name,
                    change.from_level or 1,
                    change.to_level,
                    language=r.language,
                    format=r.format,
                    code=code,
                    changed_at=change.at,
                )

            new.append(
                NewAlert(
                    r,
                    render,
                    zone_id=zone.id,
                    payload={
                        "zone_id": zone.id,
                        "from_level": change.from_level,
                        "to_level": change.to_level,
                        "change_id": change.id,
                    },
                    render_key=(r.language, r.format),
                )
            )
        written += len(
            await write_alerts(
                session,
                new,
                kind="level_change",
                priority=level_priority(change.from_level, change.to_level),
                config=config,
                now=now,
            )
        )
    await session.execute(
        update(ZoneLevelChangeRow)
        .where(ZoneLevelChangeRow.id.in_([c.id for c in changes]))
        .values(alerted_at=now)
        .execution_options(synchronize_session=False)
    )
    return written


# --- broadcasts --------------------------------------------------------------------------------


async def write_broadcast_alerts(
    session: AsyncSession,
    cache: SubscriptionCache,
    config: OutboxConfig,
    *,
    broadcast_id: uuid.UUID,
    area_geometry: BaseGeometry,
    message: Mapping[str, str],
    priority: Priority,
    sender_id: uuid.UUID,
    now: datetime,
) -> list[uuid.UUID]:
    """Alerts for every active subscription whose area meets the broadcast's area."""
    snapshot = await cache.snapshot(session)
    ids = snapshot.index.match_area(area_geometry) if len(snapshot.index) else []
    new = []
    for sid in ids:
        r = snapshot.recipients[sid]

        def render(code: str, r: Recipient = r) -> RenderedMessage:
            return render_broadcast(
                message, priority, language=r.language, format=r.format, code=code
            )

        new.append(
            NewAlert(
                r,
                render,
                broadcast_id=broadcast_id,
                payload={"message": dict(message), "sent_by": str(sender_id)},
                render_key=(r.language, r.format),
            )
        )
    return await write_alerts(
        session, new, kind="broadcast", priority=priority, config=config, now=now
    )
