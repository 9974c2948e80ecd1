"""The composition root: `build(settings)` makes every key, cache and service, in one order.

The HTTP app (`api.http.app.create_app`) and the CLI commands (`api.cli.*`) both start here; no
route module or command builds or changes a service. What is built, in order:

1. settings and the database;
2. the secret keys: the narrative `Cipher`, the channel `SecretBox`, the ack-link `LinkSigner`,
   and the mask rules (their opaque ids come from a key derived from the secret key);
3. the caches: zone index, subscription index, resolved tokens, organisation names;
4. the services: risk, zones, alert outbox, incidents (who sees what: one `Visibility` as read
   policy and presenter; zone lookup; write events: guard, zone placement, handlers, in their
   declared order), sharing, alerts, intake, public alerts, skill, and the
   in-process dispatcher when configured;
5. the start-up and shut-down hooks, run in list order by `Container.startup`/`shutdown`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from alerts.core.service import AlertService
from alerts.delivery.channels import AppriseNotifier, ChannelPolicy
from alerts.delivery.dispatcher import DispatchConfig, Dispatcher
from alerts.delivery.keys import LinkSigner
from alerts.delivery.secrets import SecretBox
from alerts.outbox.writer import (
    AlertOutbox,
    OutboxConfig,
    SubscriptionCache,
    write_level_change_alerts,
)
from api.checks import Schema
from api.settings import Settings
from geo.gazetteer import IMPORTED_PLACES_FILE, Gazetteer
from incidents.db import Database, create_engine
from incidents.errors import InvalidField
from incidents.events import EventLinks, LinkRules, corroboration
from incidents.events.service import EventService
from incidents.identity.accounts import Principal
from incidents.intake.service import AlertAcknowledger, IntakeService
from incidents.interop.service import AlertedPublicIncidents, PublicAlerts, export_text
from incidents.records.events import WriteEvents
from incidents.records.schemas import IncidentFeature
from incidents.records.service import IncidentService
from incidents.records.validation import Rules
from incidents.risk.coverage import CoverageRule
from incidents.risk.service import RiskObserver, RiskService, risk_config
from incidents.risk.skill import SkillReport, SkillRequest, measure_skill
from incidents.sharing.rules import MaskRules, TimeUnit
from incidents.sharing.service import (
    Cipher,
    OrganisationNames,
    SharingGuard,
    SharingService,
    load_secret_keys,
    with_trust,
)
from incidents.sharing.visibility import Visibility
from incidents.zones.store import (
    ZoneAssignment,
    ZoneCache,
    ZoneService,
    ensure_default_zones,
    zone_filter,
    zone_lookup,
)
from missions.config import MissionsConfig
from missions.escalation import Escalation
from missions.nearby import MissionIncidentWatch
from missions.service import MissionService
from reports.config import ReportsConfig
from reports.weekly.service import WeeklyReports

log = logging.getLogger("sentinelle")

Hook = Callable[[], Awaitable[None]]
TrustLookup = Callable[[Any, Principal], Awaitable[Principal]]
Exporter = Callable[[Sequence[IncidentFeature], str], str]  # (page, format) -> text
Skill = Callable[[SkillRequest], Awaitable[SkillReport]]


@runtime_checkable  # handlers receive it through dependency injection, which checks the type
class ZoneFilter(Protocol):
    """`?zone=ID`: the zone's incident ids as a subquery, if `viewer` may know of the zone."""

    def __call__(self, zone_id: str, viewer: Principal | None = None) -> Awaitable[Any]: ...


# At most this long may another process keep using a token revoked (or a membership changed)
# after the change: each process caches resolved tokens on its own (docs/deploy.md). This
# process forgets them at once when the change is made through it.
MAX_TOKEN_CACHE_SECONDS = 1.0


class TokenCache:
    """Up to a second of memory for resolved tokens: spares a database read on most requests.

    The TTL is capped at MAX_TOKEN_CACHE_SECONDS, whatever SENTINELLE_TOKEN_CACHE_SECONDS says."""

    def __init__(self, ttl: float) -> None:
        self.ttl = min(ttl, MAX_TOKEN_CACHE_SECONDS)
        self._items: dict[str, tuple[float, Principal]] = {}

    def get(self, key: str) -> Principal | None:
        if self.ttl <= 0:
            return None
        item = self._items.get(key)
        if item is None or item[0] < time.monotonic():
            self._items.pop(key, None)
            return None
        return item[1]

    def put(self, key: str, principal: Principal) -> None:
        if self.ttl > 0:
            if len(self._items) > 10_000:
                self._items.clear()
            self._items[key] = (time.monotonic() + self.ttl, principal)

    def clear(self) -> None:
        self._items.clear()


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Container:
    """Everything the API and the CLI use, built once by `build`.

    Fields are read when used (the HTTP handlers receive them through dependency injection), so
    a test may replace one (`container.alert_acknowledger = fake`) before its requests."""

    settings: Settings
    db: Database
    # Keys
    cipher: Cipher
    secret_box: SecretBox
    link_signer: LinkSigner
    mask_rules: MaskRules
    # Caches
    zone_cache: ZoneCache
    subscription_cache: SubscriptionCache
    token_cache: TokenCache
    organisation_names: OrganisationNames
    # Services
    risk: RiskService
    zones: ZoneService
    incidents: IncidentService
    sharing: SharingService
    alerts: AlertService
    intake: IntakeService
    public_alerts: PublicAlerts
    skill: Skill
    zone_filter: ZoneFilter
    trust_lookup: TrustLookup
    exporter: Exporter
    # In-process alert delivery (None when SENTINELLE_DISPATCH_IN_PROCESS is off).
    dispatcher: Dispatcher | None = None
    # Who acknowledges an alert by SMS (`OK <code>`); None: the alerts sent to the phone's user
    # (api.http.routes.intake.RecipientAcknowledger).
    alert_acknowledger: AlertAcknowledger | None = None
    # Reports of one event: merge, split (incidents.events).
    events: EventService | None = None
    # Missions (issue 13): journeys, check-ins, the escalation ladder (missions/).
    missions: MissionService | None = None
    escalation: Escalation | None = None
    # The weekly situation report (issue 16, reports/).
    reports: WeeklyReports | None = None
    on_startup: list[Hook] = field(default_factory=list)
    on_shutdown: list[Hook] = field(default_factory=list)
    # The migrations this version knows, for the readiness check (GET /api/v1/ready).
    schema: Schema = field(default_factory=Schema.load)

    async def startup(self) -> None:
        for hook in self.on_startup:
            await hook()

    async def shutdown(self) -> None:
        """Stop the background work, then close the database. Each step has a grace period: a
        step stuck (a background task waiting on the database, say) is logged and left behind,
        never holding the process's exit for ever (what was committed is in the database)."""
        for hook in [*self.on_shutdown, self.db.dispose]:
            step = asyncio.ensure_future(hook())
            done, _ = await asyncio.wait({step}, timeout=SHUTDOWN_GRACE_SECONDS)
            if not done:
                step.cancel()
                log.warning(
                    "shutdown: %s did not finish within %d s; going on without it",
                    getattr(hook, "__qualname__", hook),
                    SHUTDOWN_GRACE_SECONDS,
                )
            elif not step.cancelled() and step.exception() is not None:
                log.error("shutdown: %s failed", hook, exc_info=step.exception())


# How long one step of the shutdown may take before it is left behind (Container.shutdown).
SHUTDOWN_GRACE_SECONDS = 15


def mask_rules(settings: Settings, id_key: bytes) -> MaskRules:
    unit = settings.mask_time_unit
    if unit not in {u.value for u in TimeUnit}:
        raise InvalidField("mask_time_unit", "SENTINELLE_MASK_TIME_UNIT must be day or week.")
    if not settings.mask_grid_degrees > 0:
        raise InvalidField("mask_grid_degrees", "SENTINELLE_MASK_GRID_DEGREES must be above 0.")
    return MaskRules(
        grid_degrees=settings.mask_grid_degrees, time_unit=TimeUnit(unit), id_key=id_key
    )


def link_rules(settings: Settings) -> LinkRules:
    try:
        return LinkRules(near_km=settings.event_near_km, near_hours=settings.event_near_hours)
    except ValueError as exc:
        raise ValueError(
            f"SENTINELLE_EVENT_NEAR_KM / SENTINELLE_EVENT_NEAR_HOURS are not valid: {exc}."
        ) from exc


def channel_policy(settings: Settings) -> ChannelPolicy:
    try:
        return ChannelPolicy.from_settings(settings.channel_schemes, settings.channel_allow_hosts)
    except ValueError as exc:
        raise ValueError(
            f"SENTINELLE_CHANNEL_ALLOW_HOSTS is not valid: {exc}. Fix or unset the variable."
        ) from exc


def dispatcher_chores(
    settings: Settings, db: Database
) -> list[Callable[[datetime], Awaitable[object]]]:
    """Periodic work the dispatchers run besides sending (scheduled reports...): the same list
    for the in-process dispatcher of `serve` and for each `sentinelle dispatch`."""
    # The weekly reports due (reports.delivery): the services they need are built on first use.
    from dataclasses import replace

    from reports.delivery import AppriseReportNotifier, ScheduledReports

    def parts() -> Container:
        return build(replace(settings, dispatch_in_process=False), db)

    return [
        ScheduledReports(
            db,
            parts,
            AppriseReportNotifier(policy=channel_policy(settings)),
            ReportsConfig.from_env(),
        )
    ]


def build(settings: Settings | None = None, db: Database | None = None) -> Container:
    """Build every key, cache and service; nothing runs until `Container.startup`."""
    # 1. Settings and database.
    settings = settings or Settings()
    db = db or Database(create_engine(settings.database_url))

    # 2. Keys: one key list (configured, or generated once under var/) protects every secret.
    keys = load_secret_keys(settings.secret_keys, Path(settings.var_dir))
    cipher = Cipher(keys)
    box = SecretBox(keys, field="secret_keys")
    signer = LinkSigner(keys)
    # Opaque ids of masked entries come from a key derived from (never equal to) the secret key.
    rules = mask_rules(settings, hashlib.sha256(b"sentinelle masked id\0" + cipher.id_key).digest())
    policy = channel_policy(settings)

    # 3. Caches.
    zone_cache = ZoneCache(grid_degrees=settings.mask_grid_degrees)
    subscription_cache = SubscriptionCache()
    token_cache = TokenCache(settings.token_cache_seconds)
    names = OrganisationNames()

    # 4. Services.
    unit = TimeUnit.WEEK if settings.mask_time_unit == TimeUnit.WEEK.value else TimeUnit.DAY
    risk = RiskService(
        db,
        config=risk_config(settings),
        cache=zone_cache,
        retention_days=settings.data_retention_days,
        reload_seconds=float(settings.risk_recompute_seconds),
        time_unit=unit,
        demo_mode=settings.demo_mode,
        coverage_rule=CoverageRule(
            days=settings.coverage_days, min_incidents=settings.coverage_min_incidents
        ),
    )
    # Place names: the packaged gazetteer, then the places of `sentinelle places import`.
    places = Gazetteer.load(settings.var_path / IMPORTED_PLACES_FILE)
    zones = ZoneService(db, zone_cache, risk, places=places)
    outbox = OutboxConfig(
        public_url=settings.public_url,
        signer=signer,
        mask_grid_degrees=settings.mask_grid_degrees,
        mask_time_unit=settings.mask_time_unit,
        max_age=timedelta(hours=settings.alert_max_age_hours),
        late_max_age=timedelta(hours=settings.alert_late_max_age_hours),
    )
    missions_config = MissionsConfig.from_env()
    # Incidents near a mission on the road alert its people (after the alert outbox).
    mission_watch = MissionIncidentWatch(
        AlertOutbox(subscription_cache, outbox), box, missions_config
    )
    # What each incident write tells, in this order, inside the transaction that writes it.
    # First the guard: a refused sharing change must stop the write before the others act on
    # it; then the zones the incident falls in, which the event carries to risk and alerts.
    events = WriteEvents(
        guards=(("sharing consent and audit", SharingGuard()),),
        # Then the event it reports (a further report of a known event counts once).
        links=EventLinks(link_rules(settings)),
        placement=ZoneAssignment(zone_cache),
        handlers=(
            ("risk", RiskObserver(risk)),
            ("alert outbox", AlertOutbox(subscription_cache, outbox)),
            ("incidents near active missions", mission_watch),
        ),
    )
    # Who sees what (sharing levels, the masked entry): the incident service's read policy and
    # presenter; the sharing service builds the same from the same rules, cipher and names.
    visibility = Visibility(rules, cipher, names)
    incidents = IncidentService(
        db,
        rules=Rules(clock_skew=timedelta(seconds=settings.clock_skew_seconds)),
        events=events,
        read_policy=visibility,
        zone_lookup=zone_lookup,
        presenter=visibility,
        cipher=cipher,
        corroboration=corroboration,
    )
    sharing = SharingService(db, incidents, rules, names, visibility=visibility)
    alerts = AlertService(db, box, subscription_cache, outbox, signer, policy=policy)

    # Level-change alerts are written in the same transaction as the level change; the
    # dispatcher's poll of zone_level_changes stays as a safety net (a cursor makes it once).
    async def level_change_alerts(session: Any, changes: list[Any]) -> None:
        await write_level_change_alerts(session, subscription_cache, outbox, utcnow())

    risk.level_change_hooks.append(level_change_alerts)
    if not 1 <= settings.sms_reply_segments <= 6:
        raise ValueError(
            f"SENTINELLE_SMS_REPLY_SEGMENTS={settings.sms_reply_segments} is not valid: "
            "SMS replies take 1 to 6 segments. Fix or unset the variable."
        )
    intake = IntakeService(
        db,
        incidents,
        max_accuracy_m=settings.kobo_max_accuracy_m,
        gazetteer=places,
        reply_segments=settings.sms_reply_segments,
    )
    missions = MissionService(
        db,
        box,
        outbox,
        missions_config,
        risk=risk,
        read_policy=incidents.read_policy,
        gazetteer=places,
    )
    escalation = Escalation(missions)
    dispatcher = None
    if settings.dispatch_in_process:
        dispatcher = Dispatcher(
            db,
            AppriseNotifier(policy=policy),
            box,
            config=DispatchConfig.from_settings(settings),
            outbox=outbox,
            cache=subscription_cache,
            chores=dispatcher_chores(settings, db),
        )
        outbox.on_commit = dispatcher.wake

    container = Container(
        settings=settings,
        db=db,
        cipher=cipher,
        secret_box=box,
        link_signer=signer,
        mask_rules=rules,
        zone_cache=zone_cache,
        subscription_cache=subscription_cache,
        token_cache=token_cache,
        organisation_names=names,
        risk=risk,
        zones=zones,
        incidents=incidents,
        sharing=sharing,
        alerts=alerts,
        intake=intake,
        public_alerts=AlertedPublicIncidents(db),
        skill=partial(measure_skill, db, config=risk_config(settings)),
        zone_filter=zone_filter(db),
        trust_lookup=with_trust,
        exporter=export_text,
        dispatcher=dispatcher,
        missions=missions,
        escalation=escalation,
        events=EventService(incidents),
        reports=WeeklyReports(
            incidents, risk, places, names, ReportsConfig.from_env(), demo_mode=settings.demo_mode
        ),
    )

    # 5. Start-up and shut-down, in this order.
    async def start_zones_and_risk() -> None:
        now = utcnow()
        if await ensure_default_zones(db, settings, now=now):
            await risk.recompute_all(now=now, cause="default zones created")
        # Debounced re-scoring after reports, a check for other processes' writes, and the
        # full re-computation (decay) every risk_recompute_seconds.
        risk.start(utcnow)

    async def warm_subscriptions() -> None:
        # Build the subscription index now rather than inside the first incident report.
        async with db.read() as session:
            await subscription_cache.snapshot(session)

    retention = timedelta(days=settings.audit_retention_days)

    async def purge_old_audit() -> None:
        await sharing.purge_audit(older_than=utcnow() - retention)

    container.on_startup += [start_zones_and_risk, warm_subscriptions]
    container.on_shutdown.append(risk.stop)
    if dispatcher is not None:
        container.on_startup.append(dispatcher.start)
        container.on_shutdown.append(dispatcher.stop)
    container.on_startup.append(purge_old_audit)
    if dispatcher is not None:
        # The mission ladder, the morning re-assessment and the daily purge tick where alerts
        # are sent (missions.escalation); stopped before the database closes.
        container.on_startup.append(escalation.start)
        container.on_shutdown.insert(0, escalation.stop)
    return container


__all__ = ["Container", "build", "channel_policy", "mask_rules"]
