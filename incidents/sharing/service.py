"""Sharing use cases: the read policy and presenter of every read path, trust networks, consent
requests, people named on red incidents, narrative encryption, an organisation's export/deletion.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import and_, delete, or_, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from incidents.audit import log as audit
from incidents.db import Database
from incidents.errors import Conflict, Forbidden, InvalidField, NotFound
from incidents.identity import accounts as identity
from incidents.identity.accounts import Principal
from incidents.records.events import IncidentsImported, IncidentWritten
from incidents.records.model import Role, SharingLevel, TimePrecision
from incidents.records.schemas import IncidentFeature, IncidentPatch, ZoneRef
from incidents.records.service import IncidentService
from incidents.records.store import IncidentQuery, TextCipher, incident_from_row
from incidents.records.tables import ApiTokenRow, IncidentRow, OrganisationRow, UserRow
from incidents.sharing.rules import (
    Access,
    MaskRules,
    Sharing,
    access,
    full_feature,
    mask,
    opaque_id,
    redact_full,
)
from incidents.sharing.tables import (
    AuditRow,
    IncidentNamedViewerRow,
    SharingChangeRequestRow,
    TrustNetworkInvitationRow,
    TrustNetworkMemberRow,
    TrustNetworkRow,
)
from incidents.taxonomy import catalogue as taxonomy

log = logging.getLogger("sentinelle.sharing")

SEALED_PREFIX = "fernet:"
KEY_FILE = "secret.key"


# --- encryption at rest -----------------------------------------------------------------------


def load_secret_keys(secret_keys: str, var_dir: Path) -> list[bytes]:
    """Keys from configuration (comma-separated, newest first), else one generated once under var/.

    The generated file is created with mode 600 and never overwritten.
    """
    keys = [k.strip().encode() for k in secret_keys.split(",") if k.strip()]
    if keys:
        return keys
    path = var_dir / KEY_FILE
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first: use theirs
        else:
            with os.fdopen(fd, "wb") as out:
                out.write(Fernet.generate_key())
    return [path.read_bytes().strip()]


class Cipher:
    """Fernet with rotation: the first key encrypts, every key decrypts."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        fernets = []
        for i, key in enumerate(keys):
            try:
                fernets.append(Fernet(key))
            except (ValueError, TypeError) as exc:
                raise InvalidField(
                    f"secret_keys[{i}]",
                    "not a Fernet key (44 url-safe base64 characters); make one with "
                    "`python -c 'from cryptography.fernet import Fernet; "
                    "print(Fernet.generate_key().decode())'`",
                ) from exc
        if not fernets:
            raise InvalidField("secret_keys", "give at least one key")
        self._fernet = MultiFernet(fernets)
        self.id_key = keys[0]

    def seal(self, text: str) -> str:
        return SEALED_PREFIX + self._fernet.encrypt(text.encode()).decode()

    def open(self, stored: str) -> str:
        if not stored.startswith(SEALED_PREFIX):
            return stored  # written before encryption was configured
        try:
            return self._fernet.decrypt(stored[len(SEALED_PREFIX) :].encode()).decode()
        except InvalidToken as exc:
            raise ValueError("no configured key decrypts this value") from exc

    def rotate(self, stored: str) -> str:
        """Re-encrypt with the newest key (clear text gets encrypted)."""
        return self.seal(self.open(stored))


async def rotate_narratives(db: Database, cipher: Cipher, *, batch: int = 500) -> int:
    """Re-encrypt every narrative with the first key; afterwards the old keys can be removed."""
    done = 0
    last: uuid.UUID | None = None
    while True:
        async with db.transaction() as session:
            stmt = select(IncidentRow.id, IncidentRow.description).where(
                IncidentRow.description.is_not(None)
            )
            if last is not None:
                stmt = stmt.where(IncidentRow.id > last)
            rows = (await session.execute(stmt.order_by(IncidentRow.id).limit(batch))).all()
            for ident, stored in rows:
                await session.execute(
                    update(IncidentRow)
                    .where(IncidentRow.id == ident)
                    .values(description=cipher.rotate(stored or ""))
                )
        if not rows:
            return done
        done += len(rows)
        last = rows[-1][0]


# --- who sees what ----------------------------------------------------------------------------


async def named_viewers(
    session: AsyncSession, incident_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, frozenset[uuid.UUID]]:
    if not incident_ids:
        return {}
    rows = await session.execute(
        select(IncidentNamedViewerRow.incident_id, IncidentNamedViewerRow.user_id).where(
            IncidentNamedViewerRow.incident_id.in_(list(incident_ids))
        )
    )
    found: dict[uuid.UUID, set[uuid.UUID]] = {}
    for incident_id, user_id in rows.all():
        found.setdefault(incident_id, set()).add(user_id)
    return {k: frozenset(v) for k, v in found.items()}


def sharing_of_row(row: IncidentRow, named: frozenset[uuid.UUID] = frozenset()) -> Sharing:
    return Sharing(
        level=SharingLevel(row.sharing_level),
        org_id=row.org_id,
        user_id=row.user_id,
        named_user_ids=named,
        hide_organisation=row.hide_organisation,
    )


def visible_in_full(viewer: Principal) -> Any:
    """The SQL twin of incidents.sharing.access(...) == FULL, for a signed-in viewer."""
    level = IncidentRow.sharing_level
    named = select(IncidentNamedViewerRow.incident_id).where(
        IncidentNamedViewerRow.user_id == viewer.user_id
    )
    amber_orgs = sorted({viewer.org_id, *viewer.trusted_org_ids})
    return or_(
        level.in_([SharingLevel.GREEN.value, SharingLevel.CLEAR.value]),
        and_(
            level == SharingLevel.AMBER.value,
            true() if viewer.is_officer else IncidentRow.org_id.in_(amber_orgs),
        ),
        and_(level == SharingLevel.AMBER_STRICT.value, IncidentRow.org_id == viewer.org_id),
        and_(
            level == SharingLevel.RED.value,
            or_(IncidentRow.user_id == viewer.user_id, IncidentRow.id.in_(named)),
        ),
    )


def _is_whole_categories(types: frozenset[str]) -> bool:
    categories = {taxonomy.category_of(t).code for t in types}
    whole: set[str] = set()
    for code in categories:
        whole |= {t.code for t in taxonomy.types_in(code)}
    return whole == set(types)


def _on_grid(value: float, degrees: float) -> bool:
    steps = value / degrees
    return abs(steps - round(steps)) < 1e-9


def _on_boundary(when: datetime, rules: MaskRules) -> bool:
    from incidents.sharing.rules import coarsen_time

    start, _ = coarsen_time(when, TimePrecision.EXACT, rules.time_unit)
    return start == when


def reveals_hidden_details(query: IncidentQuery, rules: MaskRules) -> bool:
    """Whether a filter acts on what masking hides (exact place, time, type, severity, status).

    Masked entries are listed only when every filter could be decided on the masked view alone,
    otherwise a narrow filter would tell where, when or what a masked incident was.
    """
    if query.min_severity is not None or query.statuses or query.near is not None:
        return True
    if query.zone_incident_ids is not None:
        return True
    if query.types and not _is_whole_categories(query.types):
        return True
    if query.bbox is not None and not all(_on_grid(v, rules.grid_degrees) for v in query.bbox):
        return True
    return any(t is not None and not _on_boundary(t, rules) for t in (query.since, query.until))


@dataclass
class SharingPolicy:
    """The read policy of IncidentService: GET needs a full view; lists show the rest masked."""

    rules: MaskRules

    async def conditions(
        self, session: AsyncSession, viewer: Principal, query: IncidentQuery | None = None
    ) -> list[Any]:
        if query is not None and reveals_hidden_details(query, self.rules):
            return [visible_in_full(viewer)]
        return []

    async def may_read(self, session: AsyncSession, viewer: Principal, row: IncidentRow) -> bool:
        named = (await named_viewers(session, [row.id])).get(row.id, frozenset())
        return access(viewer, sharing_of_row(row, named)) == Access.FULL


def public_conditions() -> list[Any]:
    """Without a token only `clear` incidents are listed."""
    return [IncidentRow.sharing_level == SharingLevel.CLEAR.value]


# Organisation names shown in full features, kept in-process: the query cost ~1.3 ms on every
# response. Names change only when an organisation is deleted (OrganisationNames.forget);
# the TTL bounds how long another process's change can show the old name (docs/deploy.md).
NAMES_TTL_SECONDS = 1.0
_NAMES_MAX = 10_000


class OrganisationNames:
    """The names cache of one service (api/bootstrap.py gives the presenter and the sharing
    service the same one)."""

    def __init__(self, ttl: float = NAMES_TTL_SECONDS) -> None:
        self.ttl = ttl
        self._items: dict[uuid.UUID, tuple[str, float]] = {}

    def forget(self, org_id: uuid.UUID | None = None) -> None:
        """Drop a cached organisation name (all of them without an id) after a rename or delete."""
        if org_id is None:
            self._items.clear()
        else:
            self._items.pop(org_id, None)

    async def get(
        self, session: AsyncSession, org_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, str]:
        if not org_ids:
            return {}
        clock = time.monotonic()
        out: dict[uuid.UUID, str] = {}
        missing: set[uuid.UUID] = set()
        for org_id in set(org_ids):
            cached = self._items.get(org_id)
            if cached is not None and cached[1] > clock:
                out[org_id] = cached[0]
            else:
                missing.add(org_id)
        if not missing:
            return out
        found = await _read_names(session, missing)
        if len(self._items) + len(found) > _NAMES_MAX:
            self._items.clear()
        expires = clock + self.ttl
        for org_id, name in found.items():
            self._items[org_id] = (name, expires)
        out.update(found)
        return out


async def _read_names(session: AsyncSession, org_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = await session.execute(
        select(OrganisationRow.id, OrganisationRow.name).where(
            OrganisationRow.id.in_(sorted(org_ids))
        )
    )
    return dict(rows.tuples().all())


async def organisation_names(
    session: AsyncSession,
    org_ids: Sequence[uuid.UUID],
    cache: OrganisationNames | None = None,
) -> dict[uuid.UUID, str]:
    """The names of organisations, through `cache` when given (else read now)."""
    if cache is not None:
        return await cache.get(session, org_ids)
    return await _read_names(session, set(org_ids)) if org_ids else {}


def masked_feature(row: IncidentRow, rules: MaskRules) -> IncidentFeature:
    return mask(
        row.id,
        incident_type=row.type,
        occurred_at=row.occurred_at,
        time_precision=TimePrecision(row.time_precision),
        lon=row.lon,
        lat=row.lat,
        rules=rules,
    )


@dataclass
class SharingPresenter:
    """The IncidentService presenter: full or masked per row, and the audit of detail reads."""

    rules: MaskRules
    # Opens narratives encrypted at rest (the IncidentService's cipher).
    cipher: TextCipher | None = None
    names: OrganisationNames = field(default_factory=OrganisationNames)

    async def __call__(
        self,
        session: AsyncSession,
        viewer: Principal | None,
        rows: list[IncidentRow],
        zones: dict[uuid.UUID, list[ZoneRef]],
    ) -> list[IncidentFeature]:
        named = await named_viewers(
            session, [r.id for r in rows if r.sharing_level == SharingLevel.RED.value]
        )
        names = await organisation_names(session, [r.org_id for r in rows], self.names)
        features: list[IncidentFeature] = []
        read_ids: list[str] = []
        for row in rows:
            sharing = sharing_of_row(row, named.get(row.id, frozenset()))
            if access(viewer, sharing) == Access.MASKED:
                features.append(masked_feature(row, self.rules))
                continue
            feature = full_feature(
                incident_from_row(row, self.cipher),
                zones=zones.get(row.id, ()),
                demo=bool(row.is_demo),
            )
            features.append(redact_full(feature, viewer, sharing, names.get(row.org_id)))
            # The reporter reading back their own report discloses nothing: not audited (it
            # would cost a second write on every report).
            own = viewer is not None and row.user_id == viewer.user_id
            if sharing.level != SharingLevel.CLEAR and not own:
                read_ids.append(str(row.id))
        if read_ids and viewer is not None:
            if len(rows) == 1:
                audit.later(
                    audit.event(
                        "incident.read", viewer, target_type="incident", target_id=read_ids[0]
                    )
                )
            else:
                audit.later(
                    audit.event("incidents.listed", viewer, target_type="incident", ids=read_ids)
                )
        return features


# --- changes: consent and audit ----------------------------------------------------------------

AUDITED_FIELDS = (
    "type",
    "occurred_at",
    "time_precision",
    "geometry",
    "location_precision",
    "place_name",
    "severity",
    "impact",
    "perpetrator",
    "actor",
    "description",
    "source_type",
    "reliability",
    "credibility",
    "status",
    "sharing_level",
    "hide_organisation",
)


class SharingGuard:
    """Write guard (incidents.records.events): a sharing change by anyone outside the reporting
    org needs its consent; audits every write, by the event's actor."""

    async def imported(self, session: AsyncSession, event: IncidentsImported) -> None:
        """Batch form for bulk imports of new incidents: one audit insert for the batch."""
        await audit.write(
            session,
            [
                audit.event(
                    "incident.created",
                    written.actor,
                    target_type="incident",
                    target_id=written.incident.id,
                    sharing_level=written.incident.sharing_level.value,
                )
                for written in event.written
            ],
            now=event.at,
        )

    async def written(self, session: AsyncSession, event: IncidentWritten) -> None:
        incident, previous, actor, now = event.incident, event.previous, event.actor, event.at
        if previous is None:
            await audit.write(
                session,
                [
                    audit.event(
                        "incident.created",
                        actor,
                        target_type="incident",
                        target_id=incident.id,
                        sharing_level=incident.sharing_level.value,
                    )
                ],
                now=now,
            )
            return
        changed = [f for f in AUDITED_FIELDS if getattr(previous, f) != getattr(incident, f)]
        sharing_changed = {"sharing_level", "hide_organisation"} & set(changed)
        if sharing_changed and actor is not None and actor.org_id != incident.org_id:
            raise Forbidden(
                "Only the reporting organisation changes how an incident is shared: ask it with "
                f"POST /api/v1/incidents/{incident.id}/sharing-requests.",
                field=sorted(sharing_changed)[0],
            )
        events = []
        if "status" in changed:
            events.append(
                audit.event(
                    "incident.status_changed",
                    actor,
                    target_type="incident",
                    target_id=incident.id,
                    **{"from": previous.status.value, "to": incident.status.value},
                )
            )
        if "sharing_level" in changed:
            events.append(
                audit.event(
                    "incident.sharing_changed",
                    actor,
                    target_type="incident",
                    target_id=incident.id,
                    **{"from": previous.sharing_level.value, "to": incident.sharing_level.value},
                )
            )
        rest = [f for f in changed if f not in ("status", "sharing_level")]
        if rest or not events:
            events.append(
                audit.event(
                    "incident.changed",
                    actor,
                    target_type="incident",
                    target_id=incident.id,
                    fields=rest,
                )
            )
        await audit.write(session, events, now=now)


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


# --- people named on a red incident ------------------------------------------------------------


async def set_named_viewers(
    session: AsyncSession,
    viewer: Principal,
    incident_id: uuid.UUID,
    user_ids: Sequence[uuid.UUID],
    *,
    now: datetime,
) -> list[uuid.UUID]:
    """Replace the people who may see a red incident; only its reporter decides."""
    row = await session.get(IncidentRow, incident_id)
    named = (await named_viewers(session, [incident_id])).get(incident_id, frozenset())
    if row is None or access(viewer, sharing_of_row(row, named)) != Access.FULL:
        raise NotFound(f"No incident {incident_id} that you can see.")
    if row.user_id != viewer.user_id:
        raise Forbidden("Only the person who reported the incident names who may see it.")
    wanted = list(dict.fromkeys(user_ids))
    if len(wanted) > 50:
        raise InvalidField("user_ids", "Name at most 50 people.")
    for i, user_id in enumerate(wanted):
        user = await session.get(UserRow, user_id)
        if user is None or user.deleted_at is not None:
            raise InvalidField(f"user_ids[{i}]", f"No user {user_id}; check the id.")
    await session.execute(
        delete(IncidentNamedViewerRow).where(IncidentNamedViewerRow.incident_id == incident_id)
    )
    for user_id in wanted:
        session.add(IncidentNamedViewerRow(incident_id=incident_id, user_id=user_id, added_at=now))
    await session.flush()
    await audit.write(
        session,
        [
            audit.event(
                "incident.named_viewers_changed",
                viewer,
                target_type="incident",
                target_id=incident_id,
                user_ids=[str(u) for u in wanted],
            )
        ],
        now=now,
    )
    return wanted


# --- consent requests -------------------------------------------------------------------------


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


def _request_out(row: SharingChangeRequestRow) -> SharingRequest:
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


@dataclass
class SharingService:
    db: Database
    incidents: IncidentService
    rules: MaskRules = field(default_factory=MaskRules)
    # The presenter's names cache, forgotten when an organisation is deleted.
    names: OrganisationNames = field(default_factory=OrganisationNames)

    async def shown_ids(
        self, viewer: Principal | None, incident_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, uuid.UUID]:
        """The id each incident may be shown under: itself, or its opaque masked id.

        For lists that name incidents outside the presenter (zone risk contributors).
        """
        if not incident_ids:
            return {}
        async with self.db.read() as session:
            rows = (
                await session.scalars(
                    select(IncidentRow).where(IncidentRow.id.in_(list(incident_ids)))
                )
            ).all()
            named = await named_viewers(
                session, [r.id for r in rows if r.sharing_level == SharingLevel.RED.value]
            )
        return {
            r.id: r.id
            if access(viewer, sharing_of_row(r, named.get(r.id, frozenset()))) == Access.FULL
            else opaque_id(r.id, self.rules.id_key)
            for r in rows
        }

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
            return _request_out(request)

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
            return [_request_out(r) for r in rows.all()]

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
            return _request_out(fresh)

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
            "sharing_requests": [_request_out(r) for r in requests],
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

    # --- thin transactional wrappers for the API (no session handling in handlers) --------------

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

    async def name_viewers(
        self,
        viewer: Principal,
        incident_id: uuid.UUID,
        user_ids: Sequence[uuid.UUID],
        *,
        now: datetime,
    ) -> list[uuid.UUID]:
        async with self.db.transaction() as session:
            return await set_named_viewers(session, viewer, incident_id, user_ids, now=now)

    async def audit_log(self, query: audit.AuditQuery) -> tuple[list[AuditEntry], int | None]:
        async with self.db.read() as session:
            rows, before = await audit.find(session, query)
            return [audit_entry(r) for r in rows], before

    async def purge_audit(self, *, older_than: datetime) -> int:
        async with self.db.transaction() as session:
            return await audit.purge(session, older_than=older_than)

    async def public_list(self, query: IncidentQuery) -> tuple[list[IncidentFeature], str | None]:
        query.extra_conditions += public_conditions()
        return await self.incidents.list(None, query)


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
