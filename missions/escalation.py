"""The ladder, driven by the database: when a check-in is missed past its grace, step 0 reminds
the travellers, then step k alerts the k-th group of responders, one step every
`step_seconds`, until someone takes the alarm or a traveller checks in.

Each fired step is a row of mission_escalations, unique per (mission, round, step), inserted in
the same transaction as its alerts: a step fires once, whatever the number of processes, and a
process killed between two steps leaves the next one to whoever ticks next (after a restart).
The tick also starts approved missions at their departure, re-assesses routes each morning and
runs the daily purge.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from alerts.core.policy import Priority
from alerts.outbox.writer import NewAlert, write_alerts
from missions import messages
from missions.model import ON_THE_ROAD, State, next_state, pending_round, step_due
from missions.people import recipients_of
from missions.purge import purge_closed
from missions.service import MissionService, mission_progress
from missions.tables import (
    MissionEscalationRow,
    MissionRecipientRow,
    MissionRow,
    MissionStopRow,
    MissionTravellerRow,
)

log = logging.getLogger("sentinelle.missions")


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Escalation:
    service: MissionService
    clock: Callable[[], datetime] = utcnow
    _task: asyncio.Task[None] | None = None
    _stop: asyncio.Event | None = None
    _last_morning: date | None = None
    _last_purge: date | None = None
    fired: list[tuple[str, int, int]] = field(default_factory=list)

    @property
    def db(self) -> Any:
        return self.service.db

    async def tick(self, now: datetime | None = None) -> int:
        """One pass: start due missions, fire the steps now due; returns how many fired."""
        now = now or self.clock()
        await self._start_due(now)
        async with self.db.read() as session:
            rows = list(
                (
                    await session.execute(
                        select(MissionRow.id).where(
                            MissionRow.state.in_([s.value for s in ON_THE_ROAD])
                        )
                    )
                ).scalars()
            )
        fired = 0
        for mission_id in rows:
            # Steps due at once after a long stop fire one per pass, in order.
            try:
                if await self._step(mission_id, now):
                    fired += 1
            except IntegrityError:
                continue  # another process fired this step first
        return fired

    async def _start_due(self, now: datetime) -> None:
        async with self.db.read() as session:
            due = await session.scalar(
                select(MissionRow.id)
                .where(MissionRow.state == State.PLANNED.value, MissionRow.departure_at <= now)
                .limit(1)
            )
        if due is None:
            return  # no write transaction (SQLite's one writer) on a quiet tick
        async with self.db.transaction() as session:
            rows = (
                await session.execute(
                    select(MissionRow).where(
                        MissionRow.state == State.PLANNED.value, MissionRow.departure_at <= now
                    )
                )
            ).scalars()
            for row in rows:
                if row.needs_approval and row.approved_at is None:
                    continue
                row.state = next_state(State(row.state), "start").value
                row.updated_at, row.version = now, row.version + 1

    async def _step(self, mission_id: Any, now: datetime) -> bool:
        service = self.service
        cfg = service.config
        async with self.db.transaction() as session:
            stmt = select(MissionRow).where(MissionRow.id == mission_id)
            if session.get_bind().dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            row = (
                await session.execute(stmt.execution_options(populate_existing=True))
            ).scalar_one_or_none()
            if row is None or State(row.state) not in ON_THE_ROAD:
                return False
            stops = list(
                (
                    await session.execute(
                        select(MissionStopRow.expected_at)
                        .where(MissionStopRow.mission_id == row.id)
                        .order_by(MissionStopRow.position)
                    )
                ).scalars()
            )
            await service.take_from_alerts(session, row, now)
            progress = mission_progress(row, stops)
            pending = pending_round(progress)
            if pending is None:
                return False
            round_, missed = pending
            done = (
                await session.execute(
                    select(MissionEscalationRow.step, MissionEscalationRow.fired_at).where(
                        MissionEscalationRow.mission_id == row.id,
                        MissionEscalationRow.round == round_,
                    )
                )
            ).all()
            fired = [s for s, _ in done]
            last_fired = max((at for _, at in done), default=None)
            step = step_due(
                progress,
                ladder=len(row.responders),
                interval=timedelta(seconds=cfg.step_seconds),
                fired=fired,
                now=now,
                acknowledged=row.acknowledged_round == round_ and row.acknowledged_by is not None,
                last_fired=last_fired,
            )
            if step is None:
                return False
            # The step's row first: a second process inserting it fails here and sends nothing.
            session.add(
                MissionEscalationRow(
                    mission_id=row.id, round=step.round, step=step.step, fired_at=now
                )
            )
            await session.flush()
            due = missed - timedelta(minutes=row.grace_minutes)
            if step.step == 0:
                count = await self._remind(session, row, due, now)
                row.state = next_state(State(row.state), "missed").value
                row.alarm_reason, row.alarm_round, row.alarm_at = "missed", round_, now
            else:
                group = row.responders[step.step - 1]
                ids = await service.alarm_alerts(
                    session, row, group, "missed", now, due=due, step=step.step
                )
                count = len(ids)
                row.state = next_state(State(row.state), "escalate").value
            row.updated_at, row.version = now, row.version + 1
            await session.execute(
                update(MissionEscalationRow)
                .where(
                    MissionEscalationRow.mission_id == row.id,
                    MissionEscalationRow.round == step.round,
                    MissionEscalationRow.step == step.step,
                )
                .values(recipients=count)
            )
            self.fired.append((row.code or "", step.round, step.step))
            log.info("mission %s: round %s step %s fired", row.id, step.round, step.step)
            return True

    async def _remind(self, session: Any, row: MissionRow, due: datetime, now: datetime) -> int:
        travellers = select(MissionTravellerRow.user_id).where(
            MissionTravellerRow.mission_id == row.id
        )
        subs = list(
            (
                await session.execute(
                    select(MissionRecipientRow.subscription_id).where(
                        MissionRecipientRow.mission_id == row.id,
                        MissionRecipientRow.user_id.in_(travellers),
                    )
                )
            ).scalars()
        )
        recipients = await recipients_of(session, subs)
        code = row.code or "----"
        new = []
        for r in recipients:

            def render(alert_code: str, r: Any = r) -> Any:
                return messages.reminder(r.language, r.format, code, due)

            new.append(
                NewAlert(
                    r, render, payload={"mission_id": str(row.id), "reason": "reminder", "step": 0}
                )
            )
        ids = await write_alerts(
            session,
            new,
            kind="mission",
            priority=Priority.URGENT,
            config=self.service.outbox,
            now=now,
        )
        return len(ids)

    # --- the daily chores --------------------------------------------------------------------

    async def chores(self, now: datetime) -> None:
        cfg = self.service.config
        today = now.date()
        if now.hour >= cfg.morning_hour and self._last_morning != today:
            self._last_morning = today
            await self.service.reassess_all(now=now)
        if self._last_purge != today:
            self._last_purge = today
            await purge_closed(self.db, now=now, older_than=timedelta(days=cfg.purge_days))

    # --- running -----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        every = max(0.05, float(self.service.config.tick_seconds))
        while not stop.is_set():
            try:
                now = self.clock()
                # A step at a time, as fast as due steps allow (one per mission per pass).
                while await self.tick(now) and not stop.is_set():
                    now = self.clock()
                await self.chores(now)
            except asyncio.CancelledError:
                raise
            except Exception:  # the database briefly away: log and keep going
                log.exception("mission tick failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every)

    async def start(self) -> None:
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self.run(self._stop), name="sentinelle-missions")

    async def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=10)
            except TimeoutError:
                self._task.cancel()
            self._task = None
