"""Group commit of new reports: one writer per database and event loop writes every report
waiting in ONE transaction, and answers each when that transaction has committed.

A report that arrives while a batch is being written waits for the next batch, so that under a
burst each transaction carries every report that came meanwhile, and a lone report is written
at once (no timer). What one batch does, in its transaction, in this order:

1. the Idempotency-Keys of the batch, read in one query and recorded in one insert;
2. the incident rows, in one insert;
3. the write steps of `WriteEvents` for the batch: guards per report (their audit rows are
   gathered and inserted once), event links in one pass (a report may join an earlier one of
   the same batch), zone placement in one pass, then each handler per report (risk, alert
   outbox, missions), whose own per-transaction work (risk log, outbox wake-up) runs once;
4. the answers, presented per reporter.

If the batch fails (a constraint, a concurrent writer in another process), it is rolled back
whole and each of its reports is written again alone, so that a bad report fails by itself with
its own error and never takes its neighbours down; nothing is half-written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, cast

import shapely
from sqlalchemy import Table, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from incidents.audit import log as audit
from incidents.identity.accounts import Principal
from incidents.records.events import IncidentWritten, WriteEvents, link_new_nearby
from incidents.records.model import Incident
from incidents.records.schemas import IncidentFeature, IncidentIn
from incidents.records.tables import IdempotencyRow

log = logging.getLogger("sentinelle.records")

# At most this many reports in one transaction: a burst beyond it is written in several.
MAX_BATCH = 256
# Within this many seconds of the end of a batch a new report finds the writer in a burst: the
# reporters just answered are coming back. The writer lingers, at most MAX_LINGER seconds,
# until as many reports wait as are coming (PostgreSQL's commit_delay, bounded by the burst
# itself): without it a burst splits into a few reports and then the rest, two transactions
# where one would do, and stays split (the few come back while the rest is written).
BURST_GAP = 0.05
MAX_LINGER = 0.01


@dataclass(frozen=True, slots=True)
class KeyClaim:
    """An Idempotency-Key sent with a report: its key and the hash of its body."""

    key: str
    digest: str


@dataclass(slots=True)
class PendingReport:
    """One validated report waiting for its batch."""

    viewer: Principal
    data: IncidentIn
    incident: Incident
    geometry: shapely.Geometry
    now: datetime
    claim: KeyClaim | None = None
    # The request's audit scope (its address), under which its audit rows are written.
    scope: audit.RequestAudit | None = None


@dataclass(frozen=True, slots=True)
class Stored:
    """The report was written: its answer as the reporter may see it."""

    feature: IncidentFeature


@dataclass(frozen=True, slots=True)
class KeyTaken:
    """The Idempotency-Key was already recorded (state "done" or "pending"): nothing written,
    the service replays or refuses once the batch has committed."""

    state: str
    request_hash: str | None
    resource_id: uuid.UUID | None


Outcome = Stored | KeyTaken
BatchWrite = Callable[[AsyncSession, Sequence[PendingReport]], Awaitable[list[Outcome]]]


@contextlib.contextmanager
def acting_for(report: PendingReport) -> Iterator[None]:
    """The report's request audit scope as current (its address on its audit rows)."""
    with audit.scope(report.scope):
        yield


async def claim_keys(
    session: AsyncSession, reports: Sequence[PendingReport]
) -> dict[int, KeyTaken]:
    """Record the Idempotency-Keys of a batch; the reports whose key was already recorded
    (by an earlier request, or earlier in this batch), by position.

    One read of every key of the batch, one insert of the new ones. A key another process
    records meanwhile makes the insert fail (unique index): the batch is then written again
    report by report, where `claim_idempotency_key` waits for it and replays."""
    wanted = [(k, r) for k, r in enumerate(reports) if r.claim is not None]
    if not wanted:
        return {}
    pairs = {(r.viewer.org_id, r.claim.key) for _, r in wanted if r.claim is not None}
    existing: dict[tuple[uuid.UUID, str], IdempotencyRow] = {}
    items = sorted(pairs, key=lambda p: (p[0].hex, p[1]))
    for start in range(0, len(items), 200):
        chunk = items[start : start + 200]
        rows = await session.scalars(
            select(IdempotencyRow).where(
                or_(
                    *(
                        and_(IdempotencyRow.org_id == org, IdempotencyRow.key == key)
                        for org, key in chunk
                    )
                )
            )
        )
        existing.update({(row.org_id, row.key): row for row in rows})
    taken: dict[int, KeyTaken] = {}
    new: list[dict[str, Any]] = []
    seen: dict[tuple[uuid.UUID, str], PendingReport] = {}
    for k, report in wanted:
        assert report.claim is not None
        pair = (report.viewer.org_id, report.claim.key)
        row = existing.get(pair)
        if row is not None:
            # A "pending" key (a two-step claim that crashed) is taken over report by report.
            taken[k] = KeyTaken(row.state, row.request_hash, row.resource_id)
            continue
        first = seen.get(pair)
        if first is not None:
            # The same key twice in one batch: the second replays the first, as it would had it
            # come a moment later.
            taken[k] = KeyTaken(
                "done", first.claim.digest if first.claim else None, first.incident.id
            )
            continue
        seen[pair] = report
        new.append(
            {
                "org_id": report.viewer.org_id,
                "key": report.claim.key,
                "request_hash": report.claim.digest,
                "state": "done",
                "resource_id": report.incident.id,
                "status_code": 201,
                "created_at": report.now,
            }
        )
    if new:
        table = cast(Table, IdempotencyRow.__table__)
        await session.execute(table.insert(), new)
    return taken


async def tell_reported(
    session: AsyncSession, events: WriteEvents, reports: Sequence[PendingReport]
) -> list[IncidentWritten]:
    """Every write step for a batch of new reports (see the module doc), in the declared order;
    the events as the handlers saw them."""
    written = [
        IncidentWritten(r.incident, None, r.geometry, None, r.viewer, r.now) for r in reports
    ]
    if not written:
        return []
    with audit.gathered(session):
        for _, guard in events.guards:
            for report, event in zip(reports, written, strict=True):
                with acting_for(report):
                    await guard.written(session, event)
        await audit.flush_gathered(session)
    if events.links is not None:
        written = await link_new_nearby(events.links, session, written)
    if events.placement is not None:
        placed = await events.placement.place_new(
            session, [(r.incident, r.geometry) for r in reports]
        )
        written = [replace(e, zones=z) for e, z in zip(written, placed, strict=True)]
    for _, handler in events.handlers:
        for report, event in zip(reports, written, strict=True):
            with acting_for(report):
                await handler.written(session, event)
    return written


@dataclass(eq=False)
class _LoopQueue:
    waiting: list[tuple[PendingReport, asyncio.Future[Outcome]]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None
    last_end: float = float("-inf")
    last_size: int = 0
    # While the writer lingers: how many reports it waits for, and the event set when they are.
    wanted: int = 0
    enough: asyncio.Event | None = None


@dataclass(eq=False)
class ReportWriter:
    """The group writer of one database: `submit` waits until the report's batch committed.

    `write_batch(session, reports)` writes a batch in the given transaction; `transaction`
    opens one (the database's). One queue per event loop (tests run several loops); several
    processes each have their own writer and the database keeps them correct (unique
    indexes, the zones counter's lock)."""

    transaction: Callable[[], contextlib.AbstractAsyncContextManager[AsyncSession]]
    write_batch: BatchWrite
    max_batch: int = MAX_BATCH
    # Transactions written and reports in them, for the curious (benches, logs).
    batches: int = 0
    reports: int = 0
    _queues: dict[asyncio.AbstractEventLoop, _LoopQueue] = field(default_factory=dict)

    def _queue(self) -> _LoopQueue:
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop)
        if queue is None:
            for old in [lp for lp in self._queues if lp.is_closed()]:
                del self._queues[old]
            queue = self._queues[loop] = _LoopQueue()
        return queue

    async def submit(self, report: PendingReport) -> Outcome:
        queue = self._queue()
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        queue.waiting.append((report, future))
        if queue.enough is not None and len(queue.waiting) >= queue.wanted:
            queue.enough.set()
        if queue.task is None or queue.task.done():
            # The drain runs in its own task: a request that goes away does not cancel the
            # batch its neighbours are in.
            queue.task = asyncio.get_running_loop().create_task(self._drain(queue))
        return await asyncio.shield(future)

    async def _drain(self, queue: _LoopQueue) -> None:
        loop = asyncio.get_running_loop()
        # Reports already waiting when the drain starts came after the last batch's answers.
        coming = queue.last_size
        while queue.waiting:
            if loop.time() - queue.last_end < BURST_GAP:
                # A batch ended a moment ago: a burst is on, and the reporters answered are
                # sending their next reports. Waiting a breath for them makes the next batch
                # one transaction instead of a few reports and then the rest.
                queue.wanted = min(self.max_batch, coming)
                if len(queue.waiting) < queue.wanted:
                    queue.enough = asyncio.Event()
                    try:
                        async with asyncio.timeout(MAX_LINGER):
                            await queue.enough.wait()
                    except TimeoutError:
                        pass
                    finally:
                        queue.enough = None
            batch = queue.waiting[: self.max_batch]
            del queue.waiting[: self.max_batch]
            outcomes = await self._write([r for r, _ in batch])
            queue.last_end = loop.time()
            queue.last_size = len(batch)
            # Those waiting now, and the reporters about to be answered.
            coming = len(queue.waiting) + len(batch)
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if isinstance(outcome, BaseException):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)

    async def _write(self, reports: list[PendingReport]) -> list[Outcome | BaseException]:
        try:
            async with self.transaction() as session:
                outcomes = await self.write_batch(session, reports)
            self.batches += 1
            self.reports += len(reports)
            return list(outcomes)
        except Exception as exc:
            if len(reports) == 1:
                return [exc]
            log.info("a batch of %d reports failed (%s): each written alone", len(reports), exc)
        # Each alone: a bad report fails by itself, the others are stored.
        results: list[Outcome | BaseException] = []
        for report in reports:
            results.extend(await self._write([report]))
        return results


__all__ = [
    "MAX_BATCH",
    "KeyClaim",
    "KeyTaken",
    "Outcome",
    "PendingReport",
    "ReportWriter",
    "Stored",
    "claim_keys",
    "tell_reported",
]
