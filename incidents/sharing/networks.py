"""Trust networks: organisations that see each other's amber incidents; invitations, members,
ownership; the transactional commands the API uses."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

import msgspec
from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from incidents.audit import log as audit
from incidents.db import Database
from incidents.errors import Conflict, Forbidden, InvalidField, NotFound
from incidents.identity.accounts import Principal
from incidents.records.tables import OrganisationRow, UserRow
from incidents.sharing.tables import (
    TrustNetworkInvitationRow,
    TrustNetworkMemberRow,
    TrustNetworkRow,
)
from incidents.sharing.visibility import organisation_names

# --- trust networks ---------------------------------------------------------------------------
#
# A network made through the API is owned by the organisation whose admin made it: its admin alone
# invites, removes members and deletes the network; joining takes that invitation and the invited
# organisation's acceptance; every member may leave at any time. A network made on the server by
# the platform operator (`sentinelle trust ...`, actor None below) has no owner: its members are
# added directly and only the CLI changes it. When the owner leaves (or is deleted) the network
# becomes ownerless in the same way, its pending invitations are withdrawn, and nobody inherits the
# power to invite; a network whose last member leaves is deleted.


class NetworkMember(msgspec.Struct):
    id: uuid.UUID
    name: str


class Invitation(msgspec.Struct):
    id: uuid.UUID
    network_id: uuid.UUID
    network_name: str
    org_id: uuid.UUID
    org_name: str
    invited_by_org_id: uuid.UUID | None
    invited_by_org_name: str | None
    state: str
    created_at: datetime
    decided_at: datetime | None = None


class TrustNetwork(msgspec.Struct):
    id: uuid.UUID
    name: str
    org_ids: list[uuid.UUID]
    owner_org_id: uuid.UUID | None = None
    members: list[NetworkMember] = msgspec.field(default_factory=list)
    # Pending invitations, shown to the owner only.
    invitations: list[Invitation] = msgspec.field(default_factory=list)


async def trusted_org_ids(session: AsyncSession, org_id: uuid.UUID) -> frozenset[uuid.UUID]:
    mine = select(TrustNetworkMemberRow.network_id).where(TrustNetworkMemberRow.org_id == org_id)
    rows = await session.scalars(
        select(TrustNetworkMemberRow.org_id).where(
            TrustNetworkMemberRow.network_id.in_(mine), TrustNetworkMemberRow.org_id != org_id
        )
    )
    return frozenset(rows.all())


async def with_trust(session: AsyncSession, principal: Principal) -> Principal:
    """The principal with the organisations its organisation trusts (set on every token lookup)."""
    return replace(principal, trusted_org_ids=await trusted_org_ids(session, principal.org_id))


async def _live_org(session: AsyncSession, org_id: uuid.UUID, field: str) -> None:
    org = await session.get(OrganisationRow, org_id)
    if org is None or org.deleted_at is not None:
        raise InvalidField(field, f"No organisation {org_id}; check the id.")


def _no_network(network_id: uuid.UUID) -> NotFound:
    return NotFound(
        f"No trust network {network_id} that your organisation belongs to; "
        "GET /api/v1/trust-networks lists yours."
    )


async def _member_ids(session: AsyncSession, network_id: uuid.UUID) -> list[uuid.UUID]:
    members = await session.scalars(
        select(TrustNetworkMemberRow.org_id)
        .where(TrustNetworkMemberRow.network_id == network_id)
        .order_by(TrustNetworkMemberRow.org_id)
    )
    return list(members.all())


async def _network_row(
    session: AsyncSession, actor: Principal | None, network_id: uuid.UUID
) -> TrustNetworkRow:
    """The network, if it exists and (for an API caller) the caller's organisation is a member."""
    row = await session.get(TrustNetworkRow, network_id)
    if row is None:
        raise (
            _no_network(network_id)
            if actor is not None
            else NotFound(f"No trust network {network_id}; `sentinelle trust list` shows them.")
        )
    if actor is not None and actor.org_id not in await _member_ids(session, network_id):
        raise _no_network(network_id)
    return row


def _require_owner(row: TrustNetworkRow, actor: Principal, what: str) -> None:
    if row.owner_org_id == actor.org_id:
        return
    if row.owner_org_id is None:
        raise Forbidden(
            f"This network has no owner organisation, so nobody {what} over the API: "
            "ask the platform operator (`sentinelle trust ...` on the server). You "
            "may always leave it."
        )
    raise Forbidden(
        f"Only the organisation that owns this network {what}; you may leave it with "
        f"DELETE /api/v1/trust-networks/{row.id}/members/{actor.org_id}."
    )


async def _invitations_out(
    session: AsyncSession, rows: Sequence[TrustNetworkInvitationRow]
) -> list[Invitation]:
    if not rows:
        return []
    networks = dict(
        (
            await session.execute(
                select(TrustNetworkRow.id, TrustNetworkRow.name).where(
                    TrustNetworkRow.id.in_(sorted({r.network_id for r in rows}))
                )
            )
        ).all()
    )
    inviters = dict(
        (
            await session.execute(
                select(UserRow.id, UserRow.org_id).where(
                    UserRow.id.in_(sorted({r.invited_by for r in rows}))
                )
            )
        ).all()
    )
    names = await organisation_names(session, [*{r.org_id for r in rows}, *set(inviters.values())])
    out = []
    for r in rows:
        by_org = inviters.get(r.invited_by)
        out.append(
            Invitation(
                id=r.id,
                network_id=r.network_id,
                network_name=networks.get(r.network_id, ""),
                org_id=r.org_id,
                org_name=names.get(r.org_id, ""),
                invited_by_org_id=by_org,
                invited_by_org_name=names.get(by_org) if by_org else None,
                state=r.state,
                created_at=r.created_at,
                decided_at=r.decided_at,
            )
        )
    return out


async def _network(
    session: AsyncSession, network_id: uuid.UUID, viewer: Principal | None = None
) -> TrustNetwork:
    row = await session.get(TrustNetworkRow, network_id, populate_existing=True)
    if row is None:
        raise NotFound(f"No trust network {network_id}.")
    ids = await _member_ids(session, network_id)
    names = await organisation_names(session, ids)
    invitations: list[Invitation] = []
    if viewer is not None and row.owner_org_id == viewer.org_id:
        pending = (
            await session.scalars(
                select(TrustNetworkInvitationRow)
                .where(
                    TrustNetworkInvitationRow.network_id == network_id,
                    TrustNetworkInvitationRow.state == "pending",
                )
                .order_by(TrustNetworkInvitationRow.created_at, TrustNetworkInvitationRow.id)
            )
        ).all()
        invitations = await _invitations_out(session, pending)
    return TrustNetwork(
        id=row.id,
        name=row.name,
        org_ids=ids,
        owner_org_id=row.owner_org_id,
        members=[NetworkMember(id=i, name=names.get(i, "")) for i in ids],
        invitations=invitations,
    )


async def _invite(
    session: AsyncSession,
    actor: Principal,
    network_id: uuid.UUID,
    org_id: uuid.UUID,
    field: str,
    *,
    now: datetime,
) -> TrustNetworkInvitationRow:
    await _live_org(session, org_id, field)
    if org_id in await _member_ids(session, network_id):
        raise Conflict(f"Organisation {org_id} is already a member of this network.", field=field)
    pending = await session.scalar(
        select(TrustNetworkInvitationRow.id).where(
            TrustNetworkInvitationRow.network_id == network_id,
            TrustNetworkInvitationRow.org_id == org_id,
            TrustNetworkInvitationRow.state == "pending",
        )
    )
    if pending is not None:
        raise Conflict(
            f"Organisation {org_id} already has a pending invitation ({pending}) to "
            "this network: wait for its answer, or withdraw it.",
            field=field,
        )
    invitation = TrustNetworkInvitationRow(
        id=uuid.uuid4(),
        network_id=network_id,
        org_id=org_id,
        invited_by=actor.user_id,
        state="pending",
        created_at=now,
    )
    session.add(invitation)
    await session.flush()
    await audit.write(
        session,
        [
            audit.event(
                "trust_network.invited",
                actor,
                target_type="trust_network",
                target_id=network_id,
                org_id=str(org_id),
                invitation_id=str(invitation.id),
            )
        ],
        now=now,
    )
    return invitation


async def create_network(
    session: AsyncSession,
    actor: Principal | None,
    name: str,
    org_ids: Sequence[uuid.UUID],
    *,
    now: datetime,
) -> TrustNetwork:
    """A new network. By the CLI (actor None): ownerless, the organisations become members. By an
    organisation's admin: owned by its organisation, the only member; the others are invited."""
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidField("name", "Give the trust network a name of 1 to 200 characters.")
    network_id = uuid.uuid4()
    session.add(
        TrustNetworkRow(
            id=network_id,
            name=name,
            created_at=now,
            owner_org_id=actor.org_id if actor is not None else None,
        )
    )
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(
            f"A trust network named {name!r} exists; choose another name.", field="name"
        ) from exc
    unique = list(dict.fromkeys(org_ids))
    if actor is None:
        for i, org_id in enumerate(unique):
            await _live_org(session, org_id, f"org_ids[{i}]")
            session.add(TrustNetworkMemberRow(network_id=network_id, org_id=org_id, added_at=now))
    else:
        session.add(TrustNetworkMemberRow(network_id=network_id, org_id=actor.org_id, added_at=now))
    await session.flush()
    await audit.write(
        session,
        [
            audit.event(
                "trust_network.created",
                actor,
                target_type="trust_network",
                target_id=network_id,
                org_ids=[str(o) for o in unique],
            )
        ],
        now=now,
    )
    if actor is not None:
        for i, org_id in enumerate(unique):
            if org_id != actor.org_id:
                await _invite(session, actor, network_id, org_id, f"org_ids[{i}]", now=now)
    return await _network(session, network_id, actor)


async def list_networks(
    session: AsyncSession, viewer: Principal | None = None
) -> list[TrustNetwork]:
    """Every network (CLI), or only those the viewer's organisation belongs to."""
    stmt = select(TrustNetworkRow.id).order_by(TrustNetworkRow.name)
    if viewer is not None:
        stmt = stmt.where(
            TrustNetworkRow.id.in_(
                select(TrustNetworkMemberRow.network_id).where(
                    TrustNetworkMemberRow.org_id == viewer.org_id
                )
            )
        )
    ids = (await session.scalars(stmt)).all()
    return [await _network(session, i, viewer) for i in ids]


async def get_network(
    session: AsyncSession, viewer: Principal, network_id: uuid.UUID
) -> TrustNetwork:
    await _network_row(session, viewer, network_id)
    return await _network(session, network_id, viewer)


async def add_member(
    session: AsyncSession,
    actor: Principal | None,
    network_id: uuid.UUID,
    org_id: uuid.UUID,
    *,
    now: datetime,
) -> TrustNetwork:
    """Direct membership, for the operator on the server only: over the API one invites."""
    if actor is not None:
        raise Forbidden(
            "Organisations join a network by invitation: POST "
            f"/api/v1/trust-networks/{network_id}/invitations."
        )
    await _network_row(session, None, network_id)
    await _live_org(session, org_id, "org_id")
    if org_id not in await _member_ids(session, network_id):
        session.add(TrustNetworkMemberRow(network_id=network_id, org_id=org_id, added_at=now))
        await session.flush()
        await audit.write(
            session,
            [
                audit.event(
                    "trust_network.member_added",
                    actor,
                    target_type="trust_network",
                    target_id=network_id,
                    org_id=str(org_id),
                )
            ],
            now=now,
        )
    return await _network(session, network_id)


async def invite(
    session: AsyncSession,
    actor: Principal,
    network_id: uuid.UUID,
    org_id: uuid.UUID,
    *,
    now: datetime,
) -> Invitation:
    row = await _network_row(session, actor, network_id)
    _require_owner(row, actor, "invites organisations")
    [out] = await _invitations_out(
        session, [await _invite(session, actor, network_id, org_id, "org_id", now=now)]
    )
    return out


async def list_invitations(
    session: AsyncSession, viewer: Principal, state: str | None, *, limit: int = 500
) -> list[Invitation]:
    """Invitations to the viewer's organisation and those its users sent, newest first."""
    sent_by_us = select(UserRow.id).where(UserRow.org_id == viewer.org_id)
    stmt = select(TrustNetworkInvitationRow).where(
        or_(
            TrustNetworkInvitationRow.org_id == viewer.org_id,
            TrustNetworkInvitationRow.invited_by.in_(sent_by_us),
        )
    )
    if state is not None:
        stmt = stmt.where(TrustNetworkInvitationRow.state == state)
    rows = (
        await session.scalars(
            stmt.order_by(
                TrustNetworkInvitationRow.created_at.desc(), TrustNetworkInvitationRow.id
            ).limit(limit)
        )
    ).all()
    return await _invitations_out(session, rows)


def _no_invitation(invitation_id: uuid.UUID) -> NotFound:
    return NotFound(
        f"No invitation {invitation_id} for your organisation; GET "
        "/api/v1/trust-network-invitations lists them."
    )


async def decide_invitation(
    session: AsyncSession,
    actor: Principal,
    invitation_id: uuid.UUID,
    *,
    accept: bool,
    now: datetime,
) -> Invitation:
    """The invited organisation's admin accepts (and joins) or declines."""
    row = await session.get(TrustNetworkInvitationRow, invitation_id)
    if row is None or row.org_id != actor.org_id:
        raise _no_invitation(invitation_id)
    if row.state != "pending":
        raise Conflict(f"This invitation was already {row.state}.")
    decided = await session.execute(
        update(TrustNetworkInvitationRow)
        .where(
            TrustNetworkInvitationRow.id == invitation_id,
            TrustNetworkInvitationRow.state == "pending",
        )
        .values(
            state="accepted" if accept else "declined", decided_at=now, decided_by=actor.user_id
        )
        .execution_options(synchronize_session=False)
    )
    if not decided.rowcount:  # type: ignore[attr-defined]
        raise Conflict("Someone else answered this invitation meanwhile.")
    await session.refresh(row)
    if accept and actor.org_id not in await _member_ids(session, row.network_id):
        session.add(
            TrustNetworkMemberRow(network_id=row.network_id, org_id=actor.org_id, added_at=now)
        )
    await session.flush()
    await audit.write(
        session,
        [
            audit.event(
                "trust_network.joined" if accept else "trust_network.invitation_declined",
                actor,
                target_type="trust_network",
                target_id=row.network_id,
                invitation_id=str(row.id),
            )
        ],
        now=now,
    )
    [out] = await _invitations_out(session, [row])
    return out


async def withdraw_invitation(
    session: AsyncSession, actor: Principal, invitation_id: uuid.UUID, *, now: datetime
) -> Invitation:
    row = await session.get(TrustNetworkInvitationRow, invitation_id)
    network = await session.get(TrustNetworkRow, row.network_id) if row is not None else None
    if row is None or network is None:
        raise _no_invitation(invitation_id)
    if network.owner_org_id != actor.org_id:
        if row.org_id == actor.org_id:
            raise Forbidden(
                "Only the inviting organisation withdraws an invitation; decline it "
                f"with POST /api/v1/trust-network-invitations/{row.id}/decline."
            )
        raise _no_invitation(invitation_id)
    if row.state != "pending":
        raise Conflict(f"This invitation was already {row.state}.")
    withdrawn = await session.execute(
        update(TrustNetworkInvitationRow)
        .where(
            TrustNetworkInvitationRow.id == invitation_id,
            TrustNetworkInvitationRow.state == "pending",
        )
        .values(state="withdrawn", decided_at=now, decided_by=actor.user_id)
        .execution_options(synchronize_session=False)
    )
    if not withdrawn.rowcount:  # type: ignore[attr-defined]
        raise Conflict("This invitation was answered meanwhile.")
    await session.refresh(row)
    await audit.write(
        session,
        [
            audit.event(
                "trust_network.invitation_withdrawn",
                actor,
                target_type="trust_network",
                target_id=row.network_id,
                invitation_id=str(row.id),
                org_id=str(row.org_id),
            )
        ],
        now=now,
    )
    [out] = await _invitations_out(session, [row])
    return out


async def _drop_member(
    session: AsyncSession,
    actor: Principal | None,
    network: TrustNetworkRow,
    org_id: uuid.UUID,
    action: str,
    *,
    now: datetime,
) -> bool:
    """Remove a member; an owner leaving leaves the network ownerless. True if the network is gone."""
    result = await session.execute(
        delete(TrustNetworkMemberRow).where(
            TrustNetworkMemberRow.network_id == network.id, TrustNetworkMemberRow.org_id == org_id
        )
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise NotFound(
            f"Organisation {org_id} is not in trust network {network.id}.", field="org_id"
        )
    events = [
        audit.event(
            action, actor, target_type="trust_network", target_id=network.id, org_id=str(org_id)
        )
    ]
    if network.owner_org_id == org_id:
        await session.execute(
            update(TrustNetworkRow)
            .where(TrustNetworkRow.id == network.id)
            .values(owner_org_id=None)
        )
        await session.execute(
            update(TrustNetworkInvitationRow)
            .where(
                TrustNetworkInvitationRow.network_id == network.id,
                TrustNetworkInvitationRow.state == "pending",
            )
            .values(state="withdrawn", decided_at=now)
        )
        events.append(
            audit.event(
                "trust_network.owner_left",
                actor,
                target_type="trust_network",
                target_id=network.id,
                org_id=str(org_id),
            )
        )
    gone = not await _member_ids(session, network.id)
    if gone:
        await _delete_network_rows(session, network.id)
        events.append(
            audit.event(
                "trust_network.deleted",
                actor,
                target_type="trust_network",
                target_id=network.id,
                reason="last member left",
            )
        )
    await audit.write(session, events, now=now)
    return gone


async def remove_member(
    session: AsyncSession,
    actor: Principal | None,
    network_id: uuid.UUID,
    org_id: uuid.UUID,
    *,
    now: datetime,
) -> TrustNetwork | None:
    """Leave (own organisation: always allowed) or remove another member (owner only).

    None when the last member left and the network went with it."""
    row = await _network_row(session, actor, network_id)
    leaving = actor is not None and org_id == actor.org_id
    if actor is not None and not leaving:
        _require_owner(row, actor, "removes members")
    action = "trust_network.left" if leaving else "trust_network.member_removed"
    if await _drop_member(session, actor, row, org_id, action, now=now):
        return None
    return await _network(session, network_id, actor)


async def _delete_network_rows(session: AsyncSession, network_id: uuid.UUID) -> None:
    for table in (TrustNetworkInvitationRow, TrustNetworkMemberRow):
        await session.execute(delete(table).where(table.network_id == network_id))
    await session.execute(delete(TrustNetworkRow).where(TrustNetworkRow.id == network_id))


async def delete_network(
    session: AsyncSession, actor: Principal | None, network_id: uuid.UUID, *, now: datetime
) -> None:
    row = await _network_row(session, actor, network_id)
    if actor is not None:
        _require_owner(row, actor, "deletes it")
    await _delete_network_rows(session, network_id)
    await audit.write(
        session,
        [
            audit.event(
                "trust_network.deleted", actor, target_type="trust_network", target_id=network_id
            )
        ],
        now=now,
    )


async def leave_every_network(
    session: AsyncSession, actor: Principal | None, org_id: uuid.UUID, *, now: datetime
) -> None:
    """An organisation being deleted leaves its networks; invitations to it are withdrawn."""
    await session.execute(
        update(TrustNetworkInvitationRow)
        .where(
            TrustNetworkInvitationRow.org_id == org_id, TrustNetworkInvitationRow.state == "pending"
        )
        .values(state="withdrawn", decided_at=now)
    )
    ids = (
        await session.scalars(
            select(TrustNetworkMemberRow.network_id).where(TrustNetworkMemberRow.org_id == org_id)
        )
    ).all()
    for network_id in ids:
        network = await session.get(TrustNetworkRow, network_id)
        if network is not None:
            await _drop_member(
                session, actor, network, org_id, "trust_network.member_removed", now=now
            )


class NetworkCommands:
    """SharingService's trust-network commands: one transaction each."""

    db: Database

    async def networks(self, viewer: Principal) -> list[TrustNetwork]:
        async with self.db.read() as session:
            return await list_networks(session, viewer)

    async def network(self, viewer: Principal, network_id: uuid.UUID) -> TrustNetwork:
        async with self.db.read() as session:
            return await get_network(session, viewer, network_id)

    async def create_network(
        self, actor: Principal, name: str, org_ids: Sequence[uuid.UUID], *, now: datetime
    ) -> TrustNetwork:
        async with self.db.transaction() as session:
            return await create_network(session, actor, name, org_ids, now=now)

    async def invite(
        self, actor: Principal, network_id: uuid.UUID, org_id: uuid.UUID, *, now: datetime
    ) -> Invitation:
        async with self.db.transaction() as session:
            return await invite(session, actor, network_id, org_id, now=now)

    async def invitations(self, viewer: Principal, state: str | None) -> list[Invitation]:
        async with self.db.read() as session:
            return await list_invitations(session, viewer, state)

    async def decide_invitation(
        self, actor: Principal, invitation_id: uuid.UUID, *, accept: bool, now: datetime
    ) -> Invitation:
        async with self.db.transaction() as session:
            return await decide_invitation(session, actor, invitation_id, accept=accept, now=now)

    async def withdraw_invitation(
        self, actor: Principal, invitation_id: uuid.UUID, *, now: datetime
    ) -> Invitation:
        async with self.db.transaction() as session:
            return await withdraw_invitation(session, actor, invitation_id, now=now)

    async def remove_member(
        self, actor: Principal, network_id: uuid.UUID, org_id: uuid.UUID, *, now: datetime
    ) -> TrustNetwork | None:
        async with self.db.transaction() as session:
            return await remove_member(session, actor, network_id, org_id, now=now)

    async def delete_network(
        self, actor: Principal, network_id: uuid.UUID, *, now: datetime
    ) -> None:
        async with self.db.transaction() as session:
            await delete_network(session, actor, network_id, now=now)
