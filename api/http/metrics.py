"""/metrics in the Prometheus text format, for the platform operator's token or a scraper on the
server itself: this process's requests (by route template and status), latencies and risk
re-scoring times, and what every process shares, read from the database at each scrape (outbox
depth, deliveries by channel scheme, dead letters, level changes, escalations pending, the
dispatchers' heartbeat). No label ever holds an organisation, a token, an address or a place."""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from litestar import Request, Response, get
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.types import ASGIApp
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.core.tables import DeliveryRow, WorkerHeartbeatRow
from api.bootstrap import Container, TokenCache
from api.http.auth import denied
from api.http.logs import RequestLog
from incidents.db import Database
from incidents.identity.accounts import Principal, hash_token, resolve_token
from incidents.records.model import Role
from incidents.zones.tables import ZoneLevelChangeRow
from missions.tables import MissionRow

METRICS_PATH = "/metrics"
# The classic text format every Prometheus reads (Litestar adds the charset).
CONTENT_TYPE = "text/plain; version=0.0.4"
# The outbox's states still to be sent (failed: waiting for its retry) and given up (dead).
OUTBOX_STATES = ("pending", "sending", "failed", "dead")
# How a delivery ended.
OUTCOMES = ("delivered", "dead")
# Missions on the escalation ladder whose alarm nobody took yet.
ESCALATING_STATES = ("overdue", "alarm")
# A dispatcher that beat this recently counts as running.
LIVE_DISPATCHER_SECONDS = 120.0
_SCHEME_RE = re.compile(r"[a-z][a-z0-9+.-]{0,31}")
# Request latency buckets, seconds: a phone on a weak link to a large export.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
RESCORE_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
# A request relayed by a reverse proxy on the same server arrives from loopback: with one of
# these headers it is someone else's, and needs the operator's token.
_PROXY_HEADERS = frozenset({"forwarded", "x-forwarded-for", "x-real-ip", "x-forwarded-host"})


# ---------------------------------------------------------------------------- this process


class ProcessMetrics:
    """The series one process counts itself: one scrape target per API process (docs)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self.requests = Counter(
            "sentinelle_http_requests",
            "HTTP requests answered by this process, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "sentinelle_http_request_duration_seconds",
            "Time to answer an HTTP request in this process, by method and route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rescoring = Histogram(
            "sentinelle_risk_rescore_seconds",
            "Time of one re-scoring of zones in this process (inputs, scores, stored levels).",
            buckets=RESCORE_BUCKETS,
            registry=self.registry,
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def time_rescoring(self, risk: Any) -> None:
        """Time `risk.recompute` (the re-scoring of incidents.risk.service.RiskService) from
        here, the composition side, once per service object."""
        original = risk.recompute
        if getattr(original, "_sentinelle_timed", False):
            return
        histogram = self.rescoring

        @functools.wraps(original)
        async def recompute(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                histogram.observe(time.perf_counter() - started)

        recompute._sentinelle_timed = True  # type: ignore[attr-defined]
        risk.recompute = recompute


# ---------------------------------------------------------------------------- the shared truth


@dataclass
class SharedState:
    """What every API process reports alike: read from the database at scrape time."""

    database_up: bool = True
    outbox: dict[str, int] = field(default_factory=dict)
    oldest_waiting_seconds: float | None = None
    deliveries: dict[tuple[str, str], int] = field(default_factory=dict)  # (scheme, outcome)
    level_changes: dict[str, int] = field(default_factory=dict)  # up | down | first
    escalations: dict[str, int] = field(default_factory=dict)  # overdue | alarm
    heartbeat_age_seconds: float | None = None
    live_dispatchers: int = 0


def channel_scheme(value: Any) -> str:
    """The scheme of a stored (masked) channel address, or `other`: never the address."""
    text = str(value or "").lower()
    return text if _SCHEME_RE.fullmatch(text) else "other"


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


async def read_shared_state(session: AsyncSession, now: datetime) -> SharedState:
    """Counts only, grouped by state, scheme or direction: nothing per organisation or place."""
    state = SharedState()
    rows = await session.execute(
        select(DeliveryRow.status, func.count())
        .where(DeliveryRow.status.in_(OUTBOX_STATES))
        .group_by(DeliveryRow.status)
    )
    counts = {str(s): int(n) for s, n in rows.all()}
    state.outbox = {s: counts.get(s, 0) for s in OUTBOX_STATES}
    oldest = _aware(
        await session.scalar(
            select(func.min(DeliveryRow.created_at)).where(
                DeliveryRow.status.in_(("pending", "sending", "failed"))
            )
        )
    )
    if oldest is not None:
        state.oldest_waiting_seconds = max(0.0, (now - oldest).total_seconds())

    masked = DeliveryRow.channel_masked
    if session.get_bind().dialect.name == "sqlite":
        scheme: Any = func.substr(masked, 1, func.instr(masked, "://") - 1)
    else:
        scheme = func.split_part(masked, "://", 1)
    ended = await session.execute(
        select(scheme, DeliveryRow.status, func.count())
        .where(DeliveryRow.status.in_(OUTCOMES))
        .group_by(scheme, DeliveryRow.status)
    )
    for raw, status, count in cast("list[tuple[Any, str, int]]", ended.all()):
        key = (channel_scheme(raw), str(status))
        state.deliveries[key] = state.deliveries.get(key, 0) + int(count)

    direction = case(
        (ZoneLevelChangeRow.from_level.is_(None), "first"),
        (ZoneLevelChangeRow.to_level > ZoneLevelChangeRow.from_level, "up"),
        else_="down",
    )
    rows = await session.execute(select(direction, func.count()).group_by(direction))
    state.level_changes = {"up": 0, "down": 0, "first": 0} | {str(d): int(n) for d, n in rows.all()}

    untaken = (MissionRow.acknowledged_by.is_(None)) | (
        MissionRow.acknowledged_round.is_distinct_from(MissionRow.alarm_round)
    )
    rows = await session.execute(
        select(MissionRow.state, func.count())
        .where(MissionRow.state.in_(ESCALATING_STATES), untaken)
        .group_by(MissionRow.state)
    )
    found = {str(s): int(n) for s, n in rows.all()}
    state.escalations = {s: found.get(s, 0) for s in ESCALATING_STATES}

    latest = _aware(
        await session.scalar(
            select(func.max(WorkerHeartbeatRow.beat_at)).where(
                WorkerHeartbeatRow.kind == "dispatch"
            )
        )
    )
    if latest is not None:
        state.heartbeat_age_seconds = max(0.0, (now - latest).total_seconds())
        since = now.timestamp() - LIVE_DISPATCHER_SECONDS
        beats = await session.scalars(
            select(WorkerHeartbeatRow.beat_at).where(WorkerHeartbeatRow.kind == "dispatch")
        )
        state.live_dispatchers = sum(
            1 for b in beats.all() if (m := _aware(b)) is not None and m.timestamp() >= since
        )
    return state


def shared_families(state: SharedState) -> Iterator[Metric]:
    up = GaugeMetricFamily(
        "sentinelle_database_up", "1 when the database answered this scrape, else 0."
    )
    up.add_metric([], 1.0 if state.database_up else 0.0)
    yield up
    if not state.database_up:
        return
    outbox = GaugeMetricFamily(
        "sentinelle_outbox_deliveries",
        "Alert deliveries in the outbox by state (failed: waiting for a retry; dead: given up).",
        labels=["state"],
    )
    for name, count in state.outbox.items():
        outbox.add_metric([name], count)
    yield outbox
    dead = GaugeMetricFamily(
        "sentinelle_alert_dead_letters", "Alert deliveries given up after their last attempt."
    )
    dead.add_metric([], state.outbox.get("dead", 0))
    yield dead
    if state.oldest_waiting_seconds is not None:
        oldest = GaugeMetricFamily(
            "sentinelle_outbox_oldest_waiting_seconds",
            "Age of the oldest alert delivery not yet sent (pending, sending or failed).",
        )
        oldest.add_metric([], state.oldest_waiting_seconds)
        yield oldest
    deliveries = CounterMetricFamily(
        "sentinelle_alert_deliveries",
        "Alert deliveries that ended, by channel scheme and outcome (from the delivery log).",
        labels=["scheme", "outcome"],
    )
    for (scheme, outcome), count in sorted(state.deliveries.items()):
        deliveries.add_metric([scheme, outcome], count)
    yield deliveries
    changes = CounterMetricFamily(
        "sentinelle_zone_level_changes",
        "Recorded changes of a zone's risk level, by direction (first: a zone's first level).",
        labels=["direction"],
    )
    for direction, count in sorted(state.level_changes.items()):
        changes.add_metric([direction], count)
    yield changes
    escalations = GaugeMetricFamily(
        "sentinelle_mission_escalations_pending",
        "Missions overdue or in alarm whose alarm nobody has taken yet, by state.",
        labels=["state"],
    )
    for name, count in state.escalations.items():
        escalations.add_metric([name], count)
    yield escalations
    if state.heartbeat_age_seconds is not None:
        age = GaugeMetricFamily(
            "sentinelle_dispatcher_heartbeat_age_seconds",
            "Seconds since the most recent heartbeat of any alert dispatcher.",
        )
        age.add_metric([], state.heartbeat_age_seconds)
        yield age
    live = GaugeMetricFamily(
        "sentinelle_dispatchers_live",
        f"Alert dispatchers that beat in the last {int(LIVE_DISPATCHER_SECONDS)} seconds.",
    )
    live.add_metric([], state.live_dispatchers)
    yield live


class _Fixed(Collector):
    def __init__(self, metrics: Iterable[Metric]) -> None:
        self.metrics = list(metrics)

    def collect(self) -> Iterable[Metric]:
        return self.metrics


# ---------------------------------------------------------------------------- who may scrape


def is_local_scraper(request: Request[Any, Any, Any]) -> bool:
    """From the server itself (loopback), and not relayed by a proxy on it."""
    client = request.client
    if client is None or client.host not in _LOOPBACK:
        return False
    return not any(name in request.headers for name in _PROXY_HEADERS)


async def admit(
    request: Request[Any, Any, Any], db: Database, cache: TokenCache
) -> Principal | None:
    """The platform operator's token, or no token from loopback; else 401 or 403 (audited)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if not header:
        if is_local_scraper(request):
            return None
        raise NotAuthorizedException("Send `Authorization: Bearer <token>` with a valid token.")
    if scheme.lower() != "bearer" or not token:
        raise NotAuthorizedException("Send `Authorization: Bearer <token>` with a valid token.")
    key = hash_token(token)
    principal = cache.get(key)
    if principal is None:
        async with db.read() as session:
            principal = await resolve_token(session, token)
        if principal is None:
            raise NotAuthorizedException(
                "This token is unknown or revoked: ask an administrator for a new one."
            )
        cache.put(key, principal)
    if principal.role != Role.OPERATOR:
        names = Role.OPERATOR.value
        message = f"This needs one of the roles: {names}."
        denied(principal, request, message)
        raise PermissionDeniedException(message)
    return principal


# ---------------------------------------------------------------------------- wiring


Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Observability:
    """The metrics of one app: its process counters, its scrape, its route and request layer."""

    db: Database
    process: ProcessMetrics = field(default_factory=ProcessMetrics)
    clock: Clock = utcnow

    @classmethod
    def of(cls, container: Container) -> Observability:
        observed = cls(container.db)
        observed.process.time_rescoring(container.risk)
        return observed

    async def scrape(self) -> bytes:
        try:
            async with self.db.read() as session:
                state = await read_shared_state(session, self.clock())
        except Exception:  # the database is down: say so, still report this process
            state = SharedState(database_up=False)
        shared = CollectorRegistry()
        shared.register(_Fixed(shared_families(state)))
        return generate_latest(self.process.registry) + generate_latest(shared)

    @property
    def routes(self) -> list[Any]:
        return [metrics]

    @property
    def dependencies(self) -> dict[str, Provide]:
        return {"observability": Provide(lambda: self, sync_to_thread=False)}

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """The request layer (request id, access line, request metrics) around the whole app."""
        return RequestLog(app, self.process.observe_request)


@get(
    METRICS_PATH,
    include_in_schema=False,
    opt={"exclude_from_auth": True},  # admit() checks the token or the loopback itself
)
async def metrics(
    request: Request[Any, Any, Any],
    observability: NamedDependency[Observability],
    db: NamedDependency[Database],
    token_cache: NamedDependency[TokenCache],
) -> Response[bytes]:
    """Prometheus text exposition (operator token, or no token from the server itself)."""
    await admit(request, db, token_cache)
    return Response(
        await observability.scrape(),
        media_type=CONTENT_TYPE,
        headers={"Cache-Control": "no-store"},
    )


__all__ = ["Observability", "ProcessMetrics", "SharedState", "admit", "read_shared_state"]
