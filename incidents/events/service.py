"""Event use cases: what a viewer may see of an incident's event, and an officer's merge or
split of reports (audited; risk counts the event afresh in the same transaction)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from msgspec import Struct
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from geo.geometry import from_wkb
from incidents.audit import log as audit
from incidents.errors import Conflict, Forbidden, InvalidField, NotFound
from incidents.events.linking import event_reports, event_sources, promote_after, report_rows
from incidents.events.matching import corroborated_credibility, same_audience
from incidents.identity.accounts import Principal
from incidents.records.model import Status
from incidents.records.service import IncidentService
from incidents.records.store import full_view_condition, incident_from_row
from incidents.records.tables import IncidentRow

__all__ = ["EventOut", "EventService", "MergeIn"]


class MergeIn(Struct, forbid_unknown_fields=True):
    """The incident this one reports the same event as."""

    into: uuid.UUID


class EventOut(Struct):
    """An incident's event as the viewer may see it: the reports of it it may read in full."""

    incident_id: uuid.UUID
    reports: int
    linked: list[uuid.UUID]
    # Independent sources among those reports (organisations reporting on their own; the same
    # record imported twice is one): "confirmé par N sources / confirmed by N sources".
    sources: int = 1
    # The credibility the event is counted with in risk (Admiralty 1-6): 1, "confirmed by
    # other sources", from two independent sources, else its first report's own.
    credibility: int = 6


def _officer(viewer: Principal) -> None:
    if not viewer.is_officer:
        raise Forbidden("Only security officers merge or split reports of an event.")


@dataclass
class EventService:
    incidents: IncidentService

    async def _full_row(
        self, session: AsyncSession, viewer: Principal, incident_id: uuid.UUID
    ) -> IncidentRow:
        """The row, if the viewer may read it in full; absent, hidden and masked look alike."""
        row = (
            await session.scalars(
                select(IncidentRow).where(
                    IncidentRow.id == incident_id, full_view_condition(viewer)
                )
            )
        ).one_or_none()
        if row is None:
            raise NotFound(f"No incident {incident_id} that you can read in full.")
        return row

    async def _out(self, session: AsyncSession, viewer: Principal, row: IncidentRow) -> EventOut:
        event = row.event_id or row.id
        seen = (await event_reports(session, [event], viewer)).get(event, [])
        linked = [i for i in seen if i != row.id]
        sources = (await event_sources(session, [event], viewer)).get(event, 1)
        head = row if event == row.id else await session.get(IncidentRow, event)
        own = int(head.credibility) if head is not None else int(row.credibility)
        return EventOut(
            row.id, len(linked) + 1, linked, sources, corroborated_credibility(own, sources)
        )

    async def event(self, viewer: Principal, incident_id: uuid.UUID) -> EventOut:
        async with self.incidents.db.read() as session:
            row = await self._full_row(session, viewer, incident_id)
            return await self._out(session, viewer, row)

    async def _relinked(
        self,
        session: AsyncSession,
        viewer: Principal,
        row: IncidentRow,
        moved: list[uuid.UUID],
        now: datetime,
    ) -> None:
        """Tell the write steps that the row's event (and `moved`'s) changed: risk re-counts."""
        await session.refresh(row)
        incident = incident_from_row(row, self.incidents.cipher)
        await self.incidents.events.written(
            session,
            incident,
            from_wkb(row.geometry_wkb),
            incident,
            actor=viewer,
            at=now,
            relinked=tuple(i for i in moved if i != row.id),
            links_only=True,
        )

    async def merge(
        self, viewer: Principal, incident_id: uuid.UUID, into: uuid.UUID, *, now: datetime
    ) -> EventOut:
        """`incident_id` (and every report of its event) becomes a further report of the
        event `into` belongs to: counted once, through that event's canonical report."""
        _officer(viewer)
        if incident_id == into:
            raise InvalidField("into", "An incident cannot be merged into itself.")
        async with self.incidents.db.transaction() as session:
            row = await self._full_row(session, viewer, incident_id)
            target = await self._full_row(session, viewer, into)
            for r, name in ((row, "incident"), (target, "into")):
                if r.status == Status.RETRACTED.value:
                    raise InvalidField(name, f"Incident {r.id} is retracted: it is no event.")
            source_event, target_event = row.event_id or row.id, target.event_id or target.id
            if source_event == target_event:
                raise Conflict(f"Incidents {incident_id} and {into} are already one event.")
            heads = await report_rows(session, [IncidentRow.id == target_event])
            members = await report_rows(
                session,
                [or_(IncidentRow.id == source_event, IncidentRow.event_id == source_event)],
            )
            # Someone who may read one report but not the other would see that one's masked
            # entry add nothing to the risk and learn that it is near the one it can read.
            if not heads or not all(same_audience(m, heads[0]) for m in members):
                raise InvalidField(
                    "into",
                    "These reports are not shared with the same people: merging them would tell "
                    "some readers where and when a report they cannot read happened. Ask the "
                    "reporting organisation to share them alike first (POST "
                    f"/api/v1/incidents/{incident_id}/sharing-requests), then merge.",
                )
            moved = [m.id for m in members]
            for m in await session.scalars(select(IncidentRow).where(IncidentRow.id.in_(moved))):
                m.event_id = target_event
            await session.flush()
            old_head = await session.get(IncidentRow, source_event)
            assert old_head is not None
            await audit.write(
                session,
                [
                    audit.event(
                        "incident.merged",
                        viewer,
                        target_type="incident",
                        target_id=incident_id,
                        into=str(target_event),
                        reports=[str(i) for i in moved],
                    )
                ],
                now=now,
            )
            await self._relinked(session, viewer, old_head, [*moved, target_event], now)
            return await self._out(session, viewer, row)

    async def split(self, viewer: Principal, incident_id: uuid.UUID, *, now: datetime) -> EventOut:
        """`incident_id` leaves its event and counts as an event of its own again."""
        _officer(viewer)
        async with self.incidents.db.transaction() as session:
            row = await self._full_row(session, viewer, incident_id)
            moved: list[uuid.UUID] = []
            if row.event_id is not None:
                event = row.event_id
                row.event_id = None
                await session.flush()
            else:
                event = row.id
                moved = await promote_after(session, row.id)
                if not moved:
                    raise Conflict(f"Incident {incident_id} is not linked to any other report.")
            await audit.write(
                session,
                [
                    audit.event(
                        "incident.split",
                        viewer,
                        target_type="incident",
                        target_id=incident_id,
                        event=str(event),
                    )
                ],
                now=now,
            )
            # The event left behind may lose its confirmation (risk_credibility): re-read.
            await self._relinked(session, viewer, row, [*moved, event], now)
            return await self._out(session, viewer, row)
