"""The dispatcher: claims due deliveries, sends each to one channel, records the outcome."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, cast
from urllib.parse import quote, urlsplit, urlunsplit

from sqlalchemy import Table, and_, case, insert, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.core.policy import RateLimiter, RetryPolicy, escalation_due
from alerts.core.render import RenderedMessage
from alerts.core.tables import AlertRow, DeliveryRow, SubscriptionRow
from alerts.delivery import heartbeat
from alerts.delivery.channels import DeliveryResult, Notifier, failure
from alerts.delivery.listener import OutboxListener
from alerts.delivery.secrets import SecretBox, SecretDecryptError
from alerts.outbox.writer import (
    OutboxConfig,
    SubscriptionCache,
    delivery_values,
    write_level_change_alerts,
)
from incidents.db import Database

log = logging.getLogger("sentinelle.dispatch")

# Apprise schemes that post to a web hook and take custom headers as `+Name=value`.
HEADER_SCHEMES = frozenset({"json", "jsons", "xml", "xmls", "form", "forms"})
IDEMPOTENCY_HEADER = "Idempotency-Key"
RESULT_FLUSH = 50  # outcomes recorded per transaction while a batch is still sending
FLUSH_SECONDS = 0.1  # ... or after this long, whichever comes first
CHORES_MIN_SECONDS = 0.5  # the heartbeat and periodic chores, at most this often


class DispatchSettings(Protocol):
    """The settings the dispatcher reads (api.settings.Settings has them)."""

    @property
    def dispatch_batch(self) -> int: ...
    @property
    def dispatch_lease_seconds(self) -> int: ...
    @property
    def dispatch_poll_seconds(self) -> float: ...
    @property
    def dispatch_max_attempts(self) -> int: ...
    @property
    def dispatch_backoff_base_seconds(self) -> float: ...
    @property
    def dispatch_backoff_cap_seconds(self) -> float: ...
    @property
    def channel_rate_per_minute(self) -> int: ...
    @property
    def ack_timeout_minutes(self) -> int: ...


@dataclass(frozen=True)
class DispatchConfig:
    batch: int = 100
    lease: timedelta = timedelta(seconds=60)
    poll_seconds: float = 0.5
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    channel_rate_per_minute: int = 60
    ack_timeout: timedelta = timedelta(minutes=15)
    concurrency: int = 32

    @classmethod
    def from_settings(cls, settings: DispatchSettings) -> DispatchConfig:
        return cls(
            batch=settings.dispatch_batch,
            lease=timedelta(seconds=settings.dispatch_lease_seconds),
            poll_seconds=settings.dispatch_poll_seconds,
            retry=RetryPolicy(
                max_attempts=settings.dispatch_max_attempts,
                base_s=settings.dispatch_backoff_base_seconds,
                cap_s=max(
                    settings.dispatch_backoff_cap_seconds, settings.dispatch_backoff_base_seconds
                ),
            ),
            channel_rate_per_minute=settings.channel_rate_per_minute,
            ack_timeout=timedelta(minutes=settings.ack_timeout_minutes),
        )


@dataclass
class DispatchReport:
    """What one pass did."""

    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    deferred: int = 0
    alerts_created: int = 0
    escalations: int = 0

    def count(self, status: str) -> None:
        """One more outcome of this kind (delivered, failed, dead, deferred)."""
        name = {"delivered": "delivered", "failed": "retried"}.get(status, status)
        setattr(self, name, getattr(self, name) + 1)

    def add(self, other: DispatchReport) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    token: str
    channel_encrypted: str
    idempotency_key: str
    attempts: int
    title: str
    body: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one claimed delivery: `status` is delivered, failed (to retry at `at`),
    dead, or deferred (held by the rate limit until `at`, not an attempt)."""

    id: int
    token: str
    status: str
    at: datetime
    error: str | None = None
    sent_at: datetime | None = None


DELIVERIES = cast(Table, DeliveryRow.__table__)


def _per_row(column: Any, group: Sequence[Outcome], value: Callable[[Outcome], Any]) -> Any:
    """One value for the whole group when they agree, else a CASE on the id."""
    values = {value(o) for o in group}
    if len(values) == 1:
        return literal(values.pop(), column.type)
    return case(
        *((DELIVERIES.c.id == o.id, literal(value(o), column.type)) for o in group),
        else_=column,
    )


def _recording(status: str, token: str, group: Sequence[Outcome]) -> Any:
    """The UPDATE recording one kind of outcome for rows still leased by `token`."""
    d = DELIVERIES
    where = d.update().where(d.c.id.in_([o.id for o in group]), d.c.leased_by == token)
    if status == "deferred":
        return where.values(
            status="pending",
            next_attempt_at=_per_row(d.c.next_attempt_at, group, lambda o: o.at),
            lease_until=None,
        )
    # Each row keeps its own time of sending (shown to the subscriber): outcomes wait for a
    # recording in progress, so one group may span longer than FLUSH_SECONDS.
    sent = _per_row(d.c.sent_at, group, lambda o: o.sent_at or o.at)
    values: dict[str, Any] = {
        "status": status,
        "attempts": d.c.attempts + 1,  # the lease holder is the only writer of its rows
        "sent_at": sent,
        "lease_until": None,
    }
    if status == "delivered":
        values.update(delivered_at=sent, next_attempt_at=sent, last_error=None)
    else:
        values.update(
            next_attempt_at=sent
            if status == "dead"
            else _per_row(d.c.next_attempt_at, group, lambda o: o.at),
            last_error=_per_row(d.c.last_error, group, lambda o: o.error),
        )
    return where.values(values)


def with_idempotency_header(url: str, key: str) -> str:
    """Web-hook addresses carry the delivery's idempotency key as a header, so the receiver can
    drop a message it already has (a delivery may be sent twice after a crash)."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in HEADER_SCHEMES:
        return url
    extra = f"%2B{IDEMPOTENCY_HEADER}={quote(key)}"
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def utcnow() -> datetime:
    return datetime.now(UTC)


class Dispatcher:
    """Sends the outbox. Several may run at once (in-process and `sentinelle dispatch` workers):
    rows are claimed with FOR UPDATE SKIP LOCKED on PostgreSQL and a lease on both backends."""

    def __init__(
        self,
        db: Database,
        notifier: Notifier,
        box: SecretBox,
        *,
        config: DispatchConfig,
        outbox: OutboxConfig,
        cache: SubscriptionCache | None = None,
        worker_id: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        chores: Sequence[Callable[[datetime], Awaitable[object]]] = (),
    ) -> None:
        self.db = db
        self.notifier = notifier
        self.box = box
        self.config = config
        self.outbox = outbox
        self.cache = cache or SubscriptionCache()
        self.worker_id = (worker_id or default_worker_id())[:80]
        self.clock = clock
        # Periodic work of other packages (scheduled reports...), run with the dispatcher's own
        # chores: one failing never stops the others or the sending.
        self.chores = tuple(chores)
        self.limiter = RateLimiter(
            per_minute=float(config.channel_rate_per_minute),
            burst=max(1, min(10, config.channel_rate_per_minute)),
        )
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None

    # --- one pass ------------------------------------------------------------------------------

    async def run_once(self) -> DispatchReport:
        """Create alerts for new level changes, resend/escalate unacknowledged flash alerts, then
        claim and send one batch of due deliveries."""
        report = DispatchReport()
        now = self.clock()
        async with self.db.transaction() as session:
            report.alerts_created = await write_level_change_alerts(
                session, self.cache, self.outbox, now
            )
        report.escalations = await self.escalate(now)
        claimed = await self.claim(now)
        report.claimed = len(claimed)
        if claimed:
            report.add(await self.send(claimed))
        return report

    async def drain(self, max_rounds: int = 100) -> DispatchReport:
        """Run passes until nothing due is left (for tests and `dispatch --once`)."""
        total = DispatchReport()
        for _ in range(max_rounds):
            report = await self.run_once()
            total.add(report)
            if report.claimed == 0:
                break
        return total

    # --- claiming ------------------------------------------------------------------------------

    async def claim(self, now: datetime, limit: int | None = None) -> list[Claimed]:
        """Lease up to `limit` due deliveries to this worker, in one UPDATE … RETURNING (SQLite
        ≥ 3.35 and PostgreSQL both have it); PostgreSQL skips rows another worker is taking."""
        d = DELIVERIES
        due = or_(
            and_(d.c.status.in_(("pending", "failed")), d.c.next_attempt_at <= now),
            # A worker that died mid-send leaves rows leased; they come back when it runs out.
            and_(d.c.status == "sending", d.c.lease_until < now),
        )
        token = f"{self.worker_id}/{uuid.uuid4().hex[:12]}"
        if self.db.is_sqlite:
            # A read first: an idle poll must not take SQLite's write lock.
            async with self.db.read() as session:
                if (await session.execute(select(d.c.id).where(due).limit(1))).first() is None:
                    return []
        pick = (
            select(d.c.id)
            .where(due)
            .order_by(d.c.next_attempt_at, d.c.id)
            .limit(limit or self.config.batch)
        )
        changes = {"status": "sending", "lease_until": now + self.config.lease, "leased_by": token}
        if self.db.is_sqlite:
            # One UPDATE takes the rows: it takes the write lock at once (no read-then-write
            # upgrade that could fail under concurrency); the lease is re-checked by `due`.
            take = d.update().where(d.c.id.in_(pick), due).values(changes)
        else:
            # A MATERIALIZED CTE runs its SELECT once. As `id IN (subquery)` the planner may
            # run the subquery again for each candidate row (a semi join when it expects few
            # due rows, as right after a fan-out): each run skips the rows other workers have
            # just taken, so one UPDATE took 818 rows of a 1,000 fan-out (limit 100) while the
            # other worker starved, and spent seconds re-sorting the outbox.
            picked = (
                pick.with_for_update(skip_locked=True).cte("picked").prefix_with("MATERIALIZED")
            )
            take = d.update().where(d.c.id == picked.c.id).values(changes)
        take = take.returning(
            d.c.id, d.c.channel_encrypted, d.c.idempotency_key, d.c.attempts, d.c.title, d.c.body
        )
        async with self.db.transaction() as session:
            rows = (await (await session.connection()).execute(take)).all()
        return sorted(
            (
                Claimed(
                    r.id, token, r.channel_encrypted, r.idempotency_key, r.attempts, r.title, r.body
                )
                for r in rows
            ),
            key=lambda c: c.id,
        )

    # --- sending -------------------------------------------------------------------------------

    async def _send_one(self, row: Claimed) -> Outcome:
        try:
            url = self.box.decrypt(row.channel_encrypted)
        except SecretDecryptError:
            log.error("delivery %s: the channel address cannot be decrypted with the keys", row.id)
            return self._outcome(row, DeliveryResult(False, failure("invalid_address")), final=True)
        now = self.clock()
        key = hashlib.sha256(url.encode()).hexdigest()
        if not self.limiter.allow(key, now):
            return Outcome(row.id, row.token, "deferred", self.limiter.next_allowed(key, now))
        try:
            result = await self.notifier.send(
                with_idempotency_header(url, row.idempotency_key), row.title, row.body
            )
        except Exception:  # a Notifier must not raise, but a bug must not kill the loop
            log.exception("delivery %s: the notifier raised", row.id)
            result = DeliveryResult(False, failure("failed"))
        return self._outcome(row, result, final=result.final)

    def _outcome(self, row: Claimed, result: DeliveryResult, *, final: bool = False) -> Outcome:
        now = self.clock()
        if result.ok:
            return Outcome(row.id, row.token, "delivered", now, sent_at=now)
        attempts = row.attempts + 1
        error = (result.error or failure("failed"))[:1000]
        retry_at = None if final else self.config.retry.next_attempt_at(attempts, now)
        if retry_at is None:
            plural = "s" if attempts > 1 else ""
            error = f"gave up after {attempts} attempt{plural}: {error}"
            return Outcome(row.id, row.token, "dead", now, error=error, sent_at=now)
        return Outcome(row.id, row.token, "failed", retry_at, error=error, sent_at=now)

    async def _record(self, outcomes: Sequence[Outcome]) -> None:
        """Record outcomes in one transaction: one UPDATE per kind of outcome and lease (a
        lease taken over by another worker keeps that worker's result)."""
        if not outcomes:
            return
        groups: dict[tuple[str, str], list[Outcome]] = {}
        for o in outcomes:
            groups.setdefault((o.status, o.token), []).append(o)
        async with self.db.transaction() as session:
            conn = await session.connection()
            for (status, token), group in groups.items():
                await conn.execute(_recording(status, token, group))

    async def send(self, claimed: list[Claimed]) -> DispatchReport:
        report = DispatchReport()
        semaphore = asyncio.Semaphore(self.config.concurrency)

        async def one(row: Claimed) -> Outcome:
            async with semaphore:
                return await self._send_one(row)

        pending: list[Outcome] = []
        for next_done in asyncio.as_completed([one(row) for row in claimed]):
            outcome = await next_done
            report.count(outcome.status)
            pending.append(outcome)
            # Record as we go: a crash loses at most a few outcomes, which are then sent again
            # with the same idempotency key (at least once, never lost).
            if len(pending) >= RESULT_FLUSH:
                await self._record(pending)
                pending = []
        await self._record(pending)
        return report

    # --- acknowledgement timeouts --------------------------------------------------------------

    async def escalate(self, now: datetime) -> int:
        """Resend unacknowledged flash alerts after the ack timeout; escalate them to the
        subscription's secondary channel after twice the timeout."""
        timeout = self.config.ack_timeout
        a = AlertRow
        async with self.db.read() as session:
            rows = (
                await session.execute(
                    select(a.id, a.created_at, a.resent_at, a.subscription_id)
                    .where(
                        a.priority == "flash",
                        a.acked_at.is_(None),
                        a.escalated_at.is_(None),
                        a.created_at <= now - timeout,
                    )
                    .limit(200)
                )
            ).all()
        done = 0
        for row in rows:
            step = escalation_due(
                row.created_at, None, now, timeout, resent=row.resent_at is not None
            )
            if step is None:
                continue
            async with self.db.transaction() as session:
                column = a.resent_at if step == "resend" else a.escalated_at
                taken = await session.execute(
                    update(a)
                    .where(a.id == row.id, column.is_(None), a.acked_at.is_(None))
                    .values({column.key: now})
                    .execution_options(synchronize_session=False)
                )
                if taken.rowcount != 1:  # type: ignore[attr-defined]
                    continue  # another worker did it, or it was acknowledged meanwhile
                done += await self._repeat(session, row.id, row.subscription_id, step, now)
        return done

    async def _repeat(
        self,
        session: AsyncSession,
        alert_id: uuid.UUID,
        subscription_id: uuid.UUID,
        step: str,
        now: datetime,
    ) -> int:
        firsts = (
            (
                await session.execute(
                    select(DeliveryRow)
                    .where(DeliveryRow.alert_id == alert_id, DeliveryRow.purpose == "first")
                    .order_by(DeliveryRow.channel_index)
                )
            )
            .scalars()
            .all()
        )
        if not firsts:
            return 0
        first = firsts[0]
        if step == "resend":
            prefix = "RAPPEL / REMINDER: "
            targets = [(f.channel_index, f.channel_encrypted, f.channel_masked) for f in firsts]
            purpose = "resend"
        else:
            sub = await session.get(SubscriptionRow, subscription_id)
            if sub is None or sub.secondary_encrypted is None:
                log.warning("flash alert %s not acknowledged and no secondary channel", alert_id)
                return 0
            prefix = "NON ACQUITTÉ / NOT ACKNOWLEDGED: "
            targets = [(0, sub.secondary_encrypted, sub.secondary_masked or "****")]
            purpose = "escalation"
        # SMS have no title: the prefix then goes in front of the body.
        if first.title:
            message = RenderedMessage(prefix + first.title, first.body)
        else:
            message = RenderedMessage("", prefix + first.body)
        await session.execute(
            insert(DeliveryRow),
            [
                delivery_values(
                    alert_id, subscription_id, i, purpose, enc, masked, message, now, now
                )
                for i, enc, masked in targets
            ],
        )
        return 1

    # --- running -------------------------------------------------------------------------------

    def wake(self) -> None:
        """Ask the loop to look for work now (called after a transaction wrote alerts)."""
        loop, event = self._loop, self._wake
        if loop is None or event is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            event.set()
        else:
            loop.call_soon_threadsafe(event.set)

    async def run(self, stop: asyncio.Event) -> None:
        """Loop until `stop` is set, keeping up to `batch` deliveries in flight: new rows are
        claimed as others finish (no wait for a whole batch), outcomes recorded in groups by a
        background task (its own session) while the loop goes on claiming and sending.

        Each finished send reports itself (a done-callback): the loop does constant work per
        delivery, however many are in flight. On PostgreSQL the loop also LISTENs for the
        outbox's NOTIFY, so a transaction that wrote deliveries in another process wakes it
        without waiting for the poll interval."""
        self._loop = asyncio.get_running_loop()
        self._wake = wake = asyncio.Event()
        inflight: set[asyncio.Task[Outcome]] = set()
        outcomes: list[Outcome] = []
        recording: asyncio.Task[None] | None = None

        def finished(task: asyncio.Task[Outcome]) -> None:
            inflight.discard(task)
            wake.set()
            if task.cancelled():
                return
            error = task.exception()
            if error is not None:  # _send_one catches delivery errors: this is a bug
                log.error(
                    "a delivery task failed; its row comes back after its lease", exc_info=error
                )
                return
            outcomes.append(task.result())

        def recorded(task: asyncio.Task[None]) -> None:
            wake.set()
            if not task.cancelled() and task.exception() is not None:
                # Unrecorded rows come back when their lease runs out (sent again, same key).
                log.error("recording delivery outcomes failed", exc_info=task.exception())

        listener = OutboxListener(self.db, self.wake)
        last_chores = last_flush = -1e9
        batch = self.config.batch
        # Other packages' chores and the heartbeat need no faster pace than this, however
        # often the outbox is polled (each is a transaction, SQLite's write lock for some).
        chores_every = max(self.config.poll_seconds, CHORES_MIN_SECONDS)
        try:
            while not stop.is_set() or inflight or outcomes or recording is not None:
                wake.clear()
                if recording is not None and recording.done():
                    recording = None
                try:
                    if not stop.is_set():
                        now = self.clock()
                        if time.monotonic() - last_chores >= chores_every:
                            last_chores = time.monotonic()
                            await listener.ensure()
                            await self._chores(now)
                        room = batch - len(inflight)
                        if room >= max(1, batch // 4):
                            for row in await self.claim(now, limit=room):
                                task = asyncio.create_task(self._send_one(row))
                                inflight.add(task)
                                task.add_done_callback(finished)
                except asyncio.CancelledError:
                    raise
                except Exception:  # database briefly away, etc.: log and keep going
                    log.exception("dispatch pass failed; retrying")
                    await asyncio.sleep(min(5.0, self.config.poll_seconds * 4))
                since_flush = time.monotonic() - last_flush
                if (
                    outcomes
                    and recording is None
                    and (
                        len(outcomes) >= RESULT_FLUSH
                        or not inflight
                        or since_flush >= FLUSH_SECONDS
                    )
                ):
                    # One recording at a time, each well within the lease: outcomes finished
                    # meanwhile wait for the next one.
                    recording = asyncio.create_task(self._record(outcomes[:]))
                    recording.add_done_callback(recorded)
                    outcomes.clear()
                    last_flush = time.monotonic()
                    continue  # sends finished meanwhile: look again at once
                if wake.is_set():
                    continue
                timeout = self.config.poll_seconds
                if outcomes and recording is None:  # else its end wakes the loop
                    timeout = min(timeout, max(0.0, FLUSH_SECONDS - since_flush))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout)
        finally:
            await listener.close()

    async def _chores(self, now: datetime) -> None:
        async with self.db.transaction() as session:
            await heartbeat.beat(session, self.worker_id, now)
        async with self.db.transaction() as session:
            await write_level_change_alerts(session, self.cache, self.outbox, now)
        await self.escalate(now)
        for chore in self.chores:
            try:
                await chore(now)
            except Exception:
                log.exception("periodic chore %r failed; it runs again next pass", chore)

    async def start(self) -> None:
        """Start the loop as a background task (the in-process dispatcher of `sentinelle serve`)."""
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self.run(self._stop), name="sentinelle-dispatch")

    async def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()
            self.wake()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=10)
            except TimeoutError:
                self._task.cancel()
            self._task = None
