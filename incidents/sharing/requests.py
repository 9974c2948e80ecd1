"""Sharing requests: another organisation asks the reporting one to change how an incident is
shared; only the reporting organisation decides."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec
from sqlalchemy import or_, select, update

from incidents.audit import log as audit
from incidents.db import Database
from incidents.errors import Conflict, Forbidden, InvalidField, NotFound
from incidents.identity.accounts import Principal
from incidents.records.model import Role, SharingLevel
from incidents.records.schemas import IncidentPatch
from incidents.records.service import IncidentService
from incidents.records.tables import IncidentRow
from incidents.sharing.rules import (
    MaskRules,
)
from incidents.sharing.tables import (
    SharingChangeRequestRow,
)
from incidents.sharing.visibility import OrganisationNames


class SharingRequest(msgspec.Struct):
    id: uuid.UUID
    incident_id: uuid.UUID
    from_level: SharingLevel
    to_level: SharingLevel
    state: str
    requested_by: uuid.UUID
    requester_org_id: uuid.UUID
    created_at: datetime
    reason: str | None = None
    decided_at: datetime | None = None


def request_out(row: SharingChangeRequestRow) -> SharingRequest:
    return SharingRequest(
        id=row.id,
        incident_id=row.incident_id,
        from_level=SharingLevel(row.from_level),
        to_level=SharingLevel(row.to_level),
        state=row.state,
        requested_by=row.requested_by,
        requester_org_id=row.requester_org_id,
        created_at=row.created_at,
        reason=row.reason,
        decided_at=row.decided_at,
    )


class SharingRequests:
    """SharingService's consent requests."""

    # Provided by SharingService (incidents.sharing.service).
    db: Database
    incidents: IncidentService
    rules: MaskRules
    names: OrganisationNames

    async def request_change(
        self,
        viewer: Principal,
        incident_id: uuid.UUID,
        to_level: SharingLevel,
        reason: str | None,
        *,
        now: datetime,
    ) -> SharingRequest:
        if not viewer.is_officer:
            raise Forbidden("Only security officers ask to change a sharing level.")
        async with self.db.transaction() as session:
            row = await session.get(IncidentRow, incident_id)
            if row is None or not await self.incidents.read_policy.may_read(session, viewer, row):
                raise NotFound(f"No incident {incident_id} that you can see.")
            if row.org_id == viewer.org_id:
                raise InvalidField(
                    "sharing_level",
                    "This is your organisation's incident: change `sharing_level` with PATCH.",
                )
            if row.sharing_level == to_level.value:
                raise InvalidField("sharing_level", f"The incident is already {to_level.value}.")
            request = SharingChangeRequestRow(
                id=uuid.uuid4(),
                incident_id=incident_id,
                incident_org_id=row.org_id,
                requested_by=viewer.user_id,
                requester_org_id=viewer.org_id,
                from_level=row.sharing_level,
                to_level=to_level.value,
                reason=reason,
                state="pending",
                created_at=now,
            )
            session.add(request)
            await session.flush()
            await audit.write(
                session,
                [
                    audit.event(
                        "sharing.requested",
                        viewer,
                        target_type="incident",
                        target_id=incident_id,
                        request_id=str(request.id),
                        to=to_level.value,
                    )
                ],
                now=now,
            )
            return request_out(request)

    async def list_requests(self, viewer: Principal, state: str | None) -> list[SharingRequest]:
        async with self.db.read() as session:
            stmt = select(SharingChangeRequestRow).where(
                or_(
                    SharingChangeRequestRow.incident_org_id == viewer.org_id,
                    SharingChangeRequestRow.requester_org_id == viewer.org_id,
                )
            )
            if state:
                stmt = stmt.where(SharingChangeRequestRow.state == state)
            rows = await session.scalars(stmt.order_by(SharingChangeRequestRow.created_at.desc()))
            return [request_out(r) for r in rows.all()]

    async def decide(
        self, viewer: Principal, request_id: uuid.UUID, *, accept: bool, now: datetime
    ) -> SharingRequest:
        if viewer.role == Role.PLANNER:
            raise Forbidden("Planners cannot decide on sharing requests.")
        async with self.db.read() as session:
            row = await session.get(SharingChangeRequestRow, request_id)
        if row is None or row.incident_org_id != viewer.org_id:
            raise NotFound(f"No sharing request {request_id} for your organisation.")
        if row.state != "pending":
            raise Conflict(f"This request was already {row.state}.")
        if accept:
            current = await self.incidents.get(viewer, row.incident_id)
            await self.incidents.patch(
                viewer,
                row.incident_id,
                IncidentPatch(sharing_level=SharingLevel(row.to_level)),
                if_match=current.properties.version or 0,
                now=now,
            )
        async with self.db.transaction() as session:
            result = await session.execute(
                update(SharingChangeRequestRow)
                .where(
                    SharingChangeRequestRow.id == request_id,
                    SharingChangeRequestRow.state == "pending",
                )
                .values(
                    state="accepted" if accept else "refused",
                    decided_at=now,
                    decided_by=viewer.user_id,
                )
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                raise Conflict("Someone else decided on this request meanwhile.")
            await audit.write(
                session,
                [
                    audit.event(
                        "sharing.accepted" if accept else "sharing.refused",
                        viewer,
                        target_type="incident",
                        target_id=row.incident_id,
                        request_id=str(request_id),
                    )
                ],
                now=now,
            )
            fresh = await session.get(SharingChangeRequestRow, request_id, populate_existing=True)
            assert fresh is not None
            return request_out(fresh)
