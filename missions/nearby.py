"""Write handler (incidents.records.events): an incident reported near a mission on the road
alerts its travellers and its organisation's responders at once, in the transaction of the
report; flash for an abduction, an IED or an armed attack ahead of them in the corridor.

The alert is the outbox's incident alert (alerts.outbox.writer.AlertOutbox.write_incident_alerts):
each recipient sees the incident as the sharing rules let them (masked or in full); a recipient
who may see it only masked is alerted only when the masked entry (its grid-cell centre) is itself
in the corridor, so the alert tells no more than the masked entry does.

An abduction of an organisation's staff also sends that organisation's officers the kidnapping
protocol (missions.messages.KIDNAPPING_CHECKLIST).

Once per event: a further report of an event (incidents.events: an SMS re-sent, another
organisation's report of the same ambush) alerts a mission already told of a report of that
event only when it escalates (`escalates`: severity higher, an abduction confirmed, aid workers
now affected, a type that flashes ahead); the protocol goes once per organisation and event."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.core.policy import Priority
from alerts.core.tables import AlertRow
from alerts.delivery.secrets import SecretBox
from alerts.outbox.writer import AlertOutbox, NewAlert, masked_cell, write_alerts
from geo.geometry import from_wkb
from geo.measure import distance_to_line_km
from incidents.records.events import IncidentsImported, IncidentWritten
from incidents.records.model import Role, Status
from incidents.records.tables import IncidentRow, UserRow
from incidents.sharing.rules import representative_point
from missions import messages
from missions.config import MissionsConfig
from missions.model import ON_THE_ROAD
from missions.people import ensure_recipients, recipients_of
from missions.tables import (
    MissionIncidentRow,
    MissionRow,
    MissionStopRow,
    MissionTravellerRow,
)

log = logging.getLogger("sentinelle.missions")
FLASH_AHEAD = frozenset({"kidnapping", "ied", "armed_attack", "ambush"})
ABDUCTION = frozenset({"kidnapping", "disappearance"})
# The checklist page (its API twin: GET /api/v1/missions/protocol/kidnapping).
PROTOCOL_PATH = "/web/missions/protocol"


@dataclass(frozen=True, slots=True)
class Told:
    """What a mission was already told of one report of an event."""

    type: str
    severity: int
    staff: bool
    org_id: uuid.UUID | None = None


def escalates(type_: str, severity: int, staff: bool, told: list[Told]) -> bool:
    """A further report of an event the mission was told of is news only when it makes the
    event worse than anything told: higher severity, an abduction confirmed (a kidnapping after
    a disappearance or a detention), aid workers affected, or a type that flashes ahead."""
    if not told:
        return True
    if severity > max(t.severity for t in told):
        return True
    if type_ == "kidnapping" and all(t.type != "kidnapping" for t in told):
        return True
    if staff and not any(t.staff for t in told):
        return True
    return type_ in FLASH_AHEAD and all(t.type not in FLASH_AHEAD for t in told)


@dataclass
class MissionIncidentWatch:
    outbox: AlertOutbox
    box: SecretBox
    config: MissionsConfig

    async def imported(self, session: AsyncSession, event: IncidentsImported) -> None:
        return None  # bulk imports are history, not news from the road

    async def written(self, session: AsyncSession, event: IncidentWritten) -> None:
        """Never refuses the report: a failure here is logged and its alerts rolled back to a
        savepoint, while the incident is stored."""
        try:
            async with session.begin_nested():
                await self._written(session, event)
        except Exception:
            log.exception("mission alerts for incident %s failed", event.incident.id)

    async def _written(self, session: AsyncSession, event: IncidentWritten) -> None:
        incident = event.incident
        if event.previous is not None or incident.status == Status.RETRACTED:
            return
        if event.at - incident.occurred_at > self.outbox.config.max_age:
            return
        others = await self._event_reports(session, event)
        near_orgs = await self._near_missions(session, event, others)
        if incident.type in ABDUCTION:
            staff = incident.impact.aid_workers_affected
            orgs = set(near_orgs)
            # Once per organisation and event: not again for its own further report of it.
            if staff and not any(o.org_id == incident.org_id and o.staff for o in others.values()):
                orgs.add(incident.org_id)
            for org_id in sorted(orgs):
                await self._protocol(session, org_id, event.at)

    async def _event_reports(
        self, session: AsyncSession, event: IncidentWritten
    ) -> dict[uuid.UUID, Told]:
        """The other live reports of the event this one is a further report of (none when it
        is its own event)."""
        head = event.duplicate_of
        if head is None:
            return {}
        rows = await session.execute(
            select(
                IncidentRow.id,
                IncidentRow.type,
                IncidentRow.severity,
                IncidentRow.aid_workers_affected,
                IncidentRow.org_id,
            ).where(
                or_(IncidentRow.id == head, IncidentRow.event_id == head),
                IncidentRow.id != event.incident.id,
                IncidentRow.status != Status.RETRACTED.value,
            )
        )
        return {
            r.id: Told(str(r.type), int(r.severity), bool(r.aid_workers_affected), r.org_id)
            for r in rows.all()
        }

    async def _told(
        self, session: AsyncSession, mission_id: uuid.UUID, others: dict[uuid.UUID, Told]
    ) -> list[Told]:
        """What `mission_id` was already told of the event (its reports it was alerted of)."""
        if not others:
            return []
        ids = (
            await session.scalars(
                select(MissionIncidentRow.incident_id).where(
                    MissionIncidentRow.mission_id == mission_id,
                    MissionIncidentRow.incident_id.in_(sorted(others)),
                )
            )
        ).all()
        return [others[i] for i in ids]

    async def _near_missions(
        self, session: AsyncSession, event: IncidentWritten, others: dict[uuid.UUID, Told]
    ) -> list[uuid.UUID]:
        incident = event.incident
        lon, lat = representative_point(incident.geometry)
        cell = masked_cell(incident, self.outbox.config)
        pad = self.outbox.config.mask_grid_degrees
        rows = list(
            (
                await session.execute(
                    select(MissionRow).where(
                        MissionRow.state.in_([s.value for s in ON_THE_ROAD]),
                        MissionRow.route_wkb.is_not(None),
                        MissionRow.min_lon <= lon + pad,
                        MissionRow.max_lon >= lon - pad,
                        MissionRow.min_lat <= lat + pad,
                        MissionRow.max_lat >= lat - pad,
                    )
                )
            ).scalars()
        )
        alerted: list[uuid.UUID] = []
        for row in rows:
            assert row.route_wkb is not None
            line: Any = from_wkb(row.route_wkb)
            dist, along = distance_to_line_km(line, [lon, cell.x], [lat, cell.y])
            exact_near = float(dist[0]) <= row.corridor_km
            masked_near = float(dist[1]) <= row.corridor_km
            if not exact_near:
                continue
            seen = await session.get(MissionIncidentRow, (row.id, incident.id))
            if seen is not None:
                continue
            told = await self._told(session, row.id, others)
            if told and not escalates(
                incident.type,
                int(incident.severity),
                bool(incident.impact.aid_workers_affected),
                told,
            ):
                continue  # the same event, no worse: already told
            people = await self._people(session, row)
            subs = await ensure_recipients(
                session,
                self.box,
                scope=f"mission:{row.id.hex}",
                mission_id=row.id,
                user_ids=people,
                sms_url=self.config.sms_url,
                now=event.at,
            )
            recipients = await recipients_of(session, list(subs.values()))
            ids = await self.outbox.write_incident_alerts(
                session,
                incident,
                recipients,
                event.at,
                coarse_ids=frozenset(r.id for r in recipients) if masked_near else frozenset(),
            )
            progress_km = await self._progress_km(session, row)
            ahead = float(along[0]) >= progress_km - row.corridor_km
            if ids and incident.type in FLASH_AHEAD and ahead:
                await session.execute(
                    update(AlertRow)
                    .where(AlertRow.id.in_(ids))
                    .values(priority=Priority.FLASH.value)
                    .execution_options(synchronize_session=False)
                )
            session.add(
                MissionIncidentRow(mission_id=row.id, incident_id=incident.id, alerted_at=event.at)
            )
            alerted.append(row.org_id)
        return alerted

    async def _people(self, session: AsyncSession, row: MissionRow) -> list[uuid.UUID]:
        travellers = list(
            (
                await session.execute(
                    select(MissionTravellerRow.user_id).where(
                        MissionTravellerRow.mission_id == row.id
                    )
                )
            ).scalars()
        )
        # Its organisation: the ladder's members of the mission's own organisation.
        org_users = set(
            (
                await session.execute(
                    select(UserRow.id).where(
                        UserRow.id.in_([uuid.UUID(u) for g in row.responders for u in g]),
                        UserRow.org_id == row.org_id,
                    )
                )
            ).scalars()
        )
        return list(dict.fromkeys([*travellers, *sorted(org_users)]))

    async def _progress_km(self, session: AsyncSession, row: MissionRow) -> float:
        """How far along the route the travellers have checked in (the last stop passed)."""
        if row.checkpoints_done <= 0:
            return 0.0
        along = (
            await session.execute(
                select(MissionStopRow.along_km)
                .where(
                    MissionStopRow.mission_id == row.id,
                    MissionStopRow.position < row.checkpoints_done,
                )
                .order_by(MissionStopRow.position.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        return float(along or 0.0)

    async def _protocol(self, session: AsyncSession, org_id: uuid.UUID, now: datetime) -> None:
        officers = list(
            (
                await session.execute(
                    select(UserRow.id).where(
                        UserRow.org_id == org_id,
                        UserRow.deleted_at.is_(None),
                        UserRow.role.in_([Role.OFFICER.value, Role.ADMIN.value]),
                    )
                )
            ).scalars()
        )
        subs = await ensure_recipients(
            session,
            self.box,
            scope="protocol",
            mission_id=None,
            user_ids=officers,
            sms_url=self.config.sms_url,
            now=now,
        )
        recipients = await recipients_of(session, list(subs.values()))
        link = self.outbox.config.public_url.rstrip("/") + PROTOCOL_PATH
        new = []
        for r in recipients:

            def render(code: str, r: Any = r) -> Any:
                return messages.protocol(r.language, r.format, link)

            new.append(NewAlert(r, render, payload={"protocol": "kidnapping"}))
        await write_alerts(
            session,
            new,
            kind="protocol",
            priority=Priority.FLASH,
            config=self.outbox.config,
            now=now,
        )
