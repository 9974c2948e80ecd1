"""Organisation administration: an organisation's export and deletion, organisations and
tokens, and the audit log an admin reads."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import delete, or_, select, update

from incidents.audit import log as audit
from incidents.db import Database
from incidents.errors import Conflict, Forbidden, NotFound
from incidents.identity import accounts as identity
from incidents.identity.accounts import Principal
from incidents.records.model import Role, SharingLevel
from incidents.records.service import IncidentService
from incidents.records.store import incident_from_row
from incidents.records.tables import ApiTokenRow, IncidentRow, OrganisationRow, UserRow
from incidents.sharing.networks import leave_every_network
from incidents.sharing.requests import request_out
from incidents.sharing.rules import (
    MaskRules,
    full_feature,
)
from incidents.sharing.tables import (
    AuditRow,
    IncidentNamedViewerRow,
    SharingChangeRequestRow,
    TrustNetworkMemberRow,
)
from incidents.sharing.visibility import OrganisationNames, named_viewers

log = logging.getLogger("sentinelle.sharing")


class AuditEntry(msgspec.Struct):
    id: int
    at: datetime
    action: str
    actor_user_id: uuid.UUID | None = None
    actor_org_id: uuid.UUID | None = None
    target_type: str | None = None
    target_id: str | None = None
    address: str | None = None
    details: dict[str, Any] = msgspec.field(default_factory=dict)


def audit_entry(row: AuditRow) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        at=row.at,
        action=row.action,
        actor_user_id=row.actor_user_id,
        actor_org_id=row.actor_org_id,
        target_type=row.target_type,
        target_id=row.target_id,
        address=row.address,
        details=dict(row.details or {}),
    )


class OrganisationAdmin:
    """SharingService's administration of organisations, tokens and the audit log."""

    # Provided by SharingService (incidents.sharing.service).
    db: Database
    incidents: IncidentService
    rules: MaskRules
    names: OrganisationNames

    # --- an organisation's own data -------------------------------------------------------------

    async def export_organisation(self, viewer: Principal, *, now: datetime) -> dict[str, Any]:
        """Everything stored about the caller's organisation, narratives decrypted."""
        org_id = viewer.org_id
        async with self.db.read() as session:
            org = await session.get(OrganisationRow, org_id)
            assert org is not None
            users = (await session.scalars(select(UserRow).where(UserRow.org_id == org_id))).all()
            user_ids = [u.id for u in users]
            tokens = (
                (
                    await session.scalars(
                        select(ApiTokenRow).where(ApiTokenRow.user_id.in_(user_ids))
                    )
                ).all()
                if user_ids
                else []
            )
            rows = (
                await session.scalars(
                    select(IncidentRow).where(IncidentRow.org_id == org_id).order_by(IncidentRow.id)
                )
            ).all()
            incidents = [
                full_feature(incident_from_row(r, self.incidents.cipher), demo=bool(r.is_demo))
                for r in rows
            ]
            named = await named_viewers(session, [r.id for r in rows])
            networks = (
                await session.scalars(
                    select(TrustNetworkMemberRow.network_id).where(
                        TrustNetworkMemberRow.org_id == org_id
                    )
                )
            ).all()
            requests = (
                await session.scalars(
                    select(SharingChangeRequestRow).where(
                        or_(
                            SharingChangeRequestRow.incident_org_id == org_id,
                            SharingChangeRequestRow.requester_org_id == org_id,
                        )
                    )
                )
            ).all()
            entries = (
                await session.scalars(
                    select(AuditRow).where(AuditRow.actor_org_id == org_id).order_by(AuditRow.id)
                )
            ).all()
        result: dict[str, Any] = {
            "organisation": {"id": org.id, "name": org.name, "created_at": org.created_at},
            "exported_at": now,
            "users": [
                {
                    "id": u.id,
                    "name": u.name,
                    "role": u.role,
                    "phone": u.phone,
                    "created_at": u.created_at,
                    "deleted_at": u.deleted_at,
                }
                for u in users
            ],
            # Token hashes stay behind: they are credentials, not the organisation's data.
            "tokens": [
                {
                    "id": t.id,
                    "user_id": t.user_id,
                    "name": t.name,
                    "created_at": t.created_at,
                    "revoked_at": t.revoked_at,
                    "last_used_at": t.last_used_at,
                }
                for t in tokens
            ],
            "incidents": incidents,
            "named_viewers": {str(k): sorted(str(u) for u in v) for k, v in named.items()},
            "trust_networks": list(networks),
            "sharing_requests": [request_out(r) for r in requests],
            "audit": [audit_entry(e) for e in entries],
        }
        audit.later(
            audit.event(
                "organisation.exported", viewer, target_type="organisation", target_id=org_id
            )
        )
        out: dict[str, Any] = msgspec.to_builtins(result)
        return out

    async def delete_organisation(
        self, actor: Principal | None, org_id: uuid.UUID, *, now: datetime
    ) -> int:
        """Delete an organisation; its incidents stay only as anonymous, masked risk data.

        The platform operator's act (actor None: the CLI on the server), never an organisation's
        admin. Kept per incident: type, time, place, severity, impact and status (what risk needs).
        Removed: reporting user, narrative, actor, place name, external id; the organisation row
        keeps its id (incidents point at it) but loses its name. Every level becomes red with no
        reporter, so nobody can see the details again. Returns how many incidents were kept.
        """
        if actor is not None and not actor.is_operator:
            raise Forbidden("Only the platform operator deletes an organisation: ask them.")
        if actor is not None and org_id == actor.org_id:
            raise Conflict(
                "This is the platform organisation you act from; it is not deleted over the API.",
                field="org_id",
            )
        async with self.db.transaction() as session:
            org = await session.get(OrganisationRow, org_id)
            if org is None or org.deleted_at is not None:
                raise NotFound(
                    f"No organisation {org_id}; GET /api/v1/organisations lists them.",
                    field="org_id",
                )
            incident_ids = select(IncidentRow.id).where(IncidentRow.org_id == org_id)
            await session.execute(
                delete(IncidentNamedViewerRow).where(
                    IncidentNamedViewerRow.incident_id.in_(incident_ids)
                )
            )
            await session.execute(
                delete(SharingChangeRequestRow).where(
                    SharingChangeRequestRow.incident_org_id == org_id
                )
            )
            result = await session.execute(
                update(IncidentRow)
                .where(IncidentRow.org_id == org_id)
                .values(
                    user_id=None,
                    description=None,
                    actor=None,
                    place_name=None,
                    external_id=None,
                    hide_organisation=True,
                    sharing_level=SharingLevel.RED.value,
                    version=IncidentRow.version + 1,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            kept = int(result.rowcount or 0)  # type: ignore[attr-defined]
            users = select(UserRow.id).where(UserRow.org_id == org_id)
            await session.execute(
                delete(IncidentNamedViewerRow).where(IncidentNamedViewerRow.user_id.in_(users))
            )
            await session.execute(
                update(ApiTokenRow)
                .where(ApiTokenRow.user_id.in_(users), ApiTokenRow.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            await session.execute(
                update(UserRow)
                .where(UserRow.org_id == org_id)
                .values(name="deleted", phone=None, deleted_at=now)
            )
            await leave_every_network(session, actor, org_id, now=now)
            await session.execute(
                update(OrganisationRow)
                .where(OrganisationRow.id == org_id)
                .values(name=f"deleted-{org_id.hex}", deleted_at=now)
                .execution_options(synchronize_session=False)
            )
            self.names.forget(org_id)
            await audit.write(
                session,
                [
                    audit.event(
                        "organisation.deleted",
                        actor,
                        target_type="organisation",
                        target_id=org_id,
                        incidents_kept_anonymous=kept,
                    )
                ],
                now=now,
            )
        # Again after commit: a response served meanwhile may have cached the old name.
        self.names.forget(org_id)
        return kept

    # --- who administers what: organisations and tokens ------------------------------------------

    async def create_organisation(
        self, actor: Principal, name: str, *, now: datetime
    ) -> identity.OrganisationInfo:
        if not actor.is_operator:
            raise Forbidden("Only the platform operator creates organisations: ask them.")
        async with self.db.transaction() as session:
            org_id = await identity.create_organisation(session, name, now=now)
            await audit.write(
                session,
                [
                    audit.event(
                        "organisation.created",
                        actor,
                        target_type="organisation",
                        target_id=org_id,
                    )
                ],
                now=now,
            )
        return identity.OrganisationInfo(id=org_id, name=name.strip(), created_at=now)

    async def organisations(self, actor: Principal) -> list[identity.OrganisationInfo]:
        if not actor.is_operator:
            raise Forbidden("Only the platform operator lists organisations.")
        async with self.db.read() as session:
            return await identity.list_organisations(session)

    async def issue_token(
        self,
        actor: Principal,
        *,
        org_id: uuid.UUID | None,
        role: Role,
        name: str | None,
        now: datetime,
    ) -> identity.IssuedToken:
        async with self.db.transaction() as session:
            issued = await identity.issue_token(
                session, actor, org_id=org_id, role=role, name=name, now=now
            )
            await audit.write(
                session,
                [
                    audit.event(
                        "token.created",
                        actor,
                        target_type="token",
                        target_id=issued.token_id,
                        user_id=str(issued.user_id),
                        org_id=str(issued.org_id),
                        role=role.value,
                    )
                ],
                now=now,
            )
        return issued

    async def tokens(self, actor: Principal, *, limit: int) -> list[identity.TokenInfo]:
        async with self.db.read() as session:
            return await identity.list_tokens(session, actor.org_id, limit=limit)

    async def revoke_token(
        self, actor: Principal, token_id: uuid.UUID, *, now: datetime
    ) -> identity.TokenInfo:
        async with self.db.transaction() as session:
            revoked = await identity.revoke_token_as(session, actor, token_id, now=now)
            await audit.write(
                session,
                [
                    audit.event(
                        "token.revoked",
                        actor,
                        target_type="token",
                        target_id=token_id,
                        user_id=str(revoked.user_id),
                        org_id=str(revoked.org_id),
                    )
                ],
                now=now,
            )
        return revoked

    async def audit_log(self, query: audit.AuditQuery) -> tuple[list[AuditEntry], int | None]:
        async with self.db.read() as session:
            rows, before = await audit.find(session, query)
            return [audit_entry(r) for r in rows], before

    async def purge_audit(self, *, older_than: datetime) -> int:
        async with self.db.transaction() as session:
            return await audit.purge(session, older_than=older_than)
