"""Incident use cases: report (idempotent), read, list, change with If-Match, retract."""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

import msgspec
import shapely
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from geo.geometry import from_wkb
from incidents.audit import log as audit
from incidents.db import Database
from incidents.errors import Conflict, Forbidden, InvalidField, NotFound, PreconditionFailed
from incidents.identity.accounts import Principal
from incidents.records.events import NO_EVENTS, IncidentWritten, Placement, WriteEvents
from incidents.records.model import Incident, Role, SharingLevel, Status
from incidents.records.schemas import (
    Corroboration,
    IncidentFeature,
    IncidentIn,
    IncidentPatch,
    ZoneRef,
)
from incidents.records.store import (
    IncidentQuery,
    IncidentStore,
    Masking,
    TextCipher,
    claim_idempotency_key,
    incident_from_row,
    row_values,
    rows_values,
)
from incidents.records.tables import IncidentRow, UserRow
from incidents.records.validation import Rules, apply_patch, incident_from_input
from incidents.records.writer import (
    KeyClaim,
    KeyTaken,
    Outcome,
    PendingReport,
    ReportWriter,
    Stored,
    acting_for,
    claim_keys,
    tell_reported,
)
from incidents.sharing.rules import MaskRules
from incidents.sharing.tables import IncidentNamedViewerRow
from incidents.sharing.views import feature_from_row


class ReadPolicy(Protocol):
    """Who may see what (sharing levels); the default lets every member see everything."""

    async def conditions(
        self, session: AsyncSession, viewer: Principal, query: IncidentQuery | None = None
    ) -> list[Any]: ...

    async def may_read(
        self, session: AsyncSession, viewer: Principal, row: IncidentRow
    ) -> bool: ...


class OpenReadPolicy:
    async def conditions(
        self, session: AsyncSession, viewer: Principal, query: IncidentQuery | None = None
    ) -> list[Any]:
        return []

    async def may_read(self, session: AsyncSession, viewer: Principal, row: IncidentRow) -> bool:
        return True


class ZoneLookup(Protocol):
    """The zones each incident falls in (provided by the zones module)."""

    async def __call__(
        self,
        session: AsyncSession,
        incident_ids: list[uuid.UUID],
        *,
        org_id: uuid.UUID | None = None,
        all_zones: bool = False,
    ) -> dict[uuid.UUID, list[ZoneRef]]: ...


class Corroborator(Protocol):
    """Per row, the reports of its event the viewer may read in full (incidents.events)."""

    async def __call__(
        self, session: AsyncSession, viewer: Principal | None, rows: list[IncidentRow]
    ) -> dict[uuid.UUID, list[uuid.UUID]]: ...


class Presenter(Protocol):
    """Turns stored rows into what a viewer may see (full or masked features)."""

    async def __call__(
        self,
        session: AsyncSession,
        viewer: Principal | None,
        rows: list[IncidentRow],
        zones: dict[uuid.UUID, list[ZoneRef]],
    ) -> list[IncidentFeature]: ...


async def present_full(
    session: AsyncSession,
    viewer: Principal | None,
    rows: list[IncidentRow],
    zones: dict[uuid.UUID, list[ZoneRef]],
) -> list[IncidentFeature]:
    return [feature_from_row(row, zones=zones) for row in rows]


@dataclass(frozen=True, slots=True)
class Reported:
    incident: Incident
    feature: IncidentFeature
    replayed: bool

    @property
    def location_id(self) -> uuid.UUID | None:
        """The id for `Location`: only when the answer is a full view (a masked one has none)."""
        return None if self.feature.properties.masked else self.feature.id


def request_hash(data: IncidentIn) -> str:
    return hashlib.sha256(msgspec.json.encode(data)).hexdigest()


@contextlib.contextmanager
def _known_external_id(data: IncidentIn) -> Iterator[None]:
    """An external id the organisation already used: a clear 422, nothing written (was a 500).
    Another organisation's report with the same id is fine: it is linked as the same event."""
    try:
        yield
    except IntegrityError:
        if data.external_id is None:
            raise
        raise InvalidField(
            "external_id",
            "Your organisation already has an incident with this external_id: change that one "
            "(PATCH /api/v1/incidents/{id}) or leave external_id out.",
        ) from None


def _may_edit(viewer: Principal, incident: Incident) -> bool:
    return viewer.role in (Role.OFFICER, Role.ADMIN) or incident.org_id == viewer.org_id


@dataclass
class IncidentService:
    db: Database
    rules: Rules = field(default_factory=Rules)
    # What every write tells the rest (guards, zone placement, risk, alerts), in the order
    # api/bootstrap.py declares.
    events: WriteEvents = NO_EVENTS
    read_policy: ReadPolicy = field(default_factory=OpenReadPolicy)
    zone_lookup: ZoneLookup | None = None
    presenter: Presenter = present_full
    # How masked entries look; None: taken from the presenter (`rules`), if it masks at all.
    mask_rules: MaskRules | None = None
    # Encrypts narratives at rest and seals list cursors (built by api/bootstrap.py).
    cipher: TextCipher | None = None
    # "Corroborated by N reports" on full views (incidents.events.corroboration); None: not shown.
    corroboration: Corroborator | None = None
    # The group writer of new reports (incidents.records.writer), built with the service.
    writer: ReportWriter = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.writer = ReportWriter(self.db.transaction, self._write_batch)

    async def present(
        self,
        session: AsyncSession,
        viewer: Principal | None,
        rows: list[IncidentRow],
        placed: Placement | None = None,
    ) -> list[IncidentFeature]:
        """`placed`: the zones just found for the one row written (no re-read)."""
        zones: dict[uuid.UUID, list[ZoneRef]] = {}
        org_id = viewer.org_id if viewer else None
        if placed is not None and self.zone_lookup is not None and len(rows) == 1:
            refs = placed.refs_for(org_id)
            zones = {rows[0].id: refs} if refs else {}
        elif self.zone_lookup is not None and rows:
            zones = await self.zone_lookup(session, [r.id for r in rows], org_id=org_id)
        features = await self.presenter(session, viewer, rows, zones)
        if self.corroboration is not None and rows:
            await self._corroborate(session, viewer, rows, features)
        return features

    async def _corroborate(
        self,
        session: AsyncSession,
        viewer: Principal | None,
        rows: list[IncidentRow],
        features: list[IncidentFeature],
    ) -> None:
        """Full views only: a masked entry says nothing of the event it belongs to."""
        assert self.corroboration is not None
        full = [r for r, f in zip(rows, features, strict=True) if not f.properties.masked]
        if not full:
            return
        reports = await self.corroboration(session, viewer, full)
        for row, feature in zip(rows, features, strict=True):
            seen = reports.get(row.id)
            if feature.properties.masked or not seen:
                continue
            linked = [i for i in seen if i != row.id]
            if linked:
                feature.properties.corroboration = Corroboration(
                    reports=len(linked) + 1, linked=linked
                )

    async def feature(self, viewer: Principal | None, incident_id: uuid.UUID) -> IncidentFeature:
        async with self.db.read() as session:
            row = await IncidentStore(session, self.cipher).get_row(incident_id)
            if row is None:
                raise NotFound(f"No incident {incident_id}.")
            return (await self.present(session, viewer, [row]))[0]

    async def _written(
        self,
        session: AsyncSession,
        incident: Incident,
        geom: shapely.Geometry,
        previous: Incident | None,
        *,
        actor: Principal | None,
        now: datetime,
    ) -> IncidentWritten:
        return await self.events.written(session, incident, geom, previous, actor=actor, at=now)

    async def report(
        self,
        viewer: Principal,
        data: IncidentIn,
        *,
        now: datetime,
        idempotency_key: str | None = None,
    ) -> Reported:
        if viewer.role == Role.PLANNER:
            raise Forbidden("Planners read incidents; ask a reporter or an officer to report one.")
        if data.status in (Status.VERIFIED, Status.DISPUTED) and not viewer.is_officer:
            raise InvalidField(
                "status", "Only security officers verify or dispute; leave `status` out."
            )
        if data.status == Status.RETRACTED:
            raise InvalidField("status", "A new incident cannot be retracted; leave `status` out.")
        incident, geom = incident_from_input(
            data, org_id=viewer.org_id, user_id=viewer.user_id, now=now, rules=self.rules
        )
        claim = None
        if idempotency_key is not None:
            key = idempotency_key.strip()
            if not key or len(key) > 200:
                raise InvalidField(
                    "Idempotency-Key", "Idempotency-Key must be 1 to 200 characters."
                )
            claim = KeyClaim(key, request_hash(data))
        pending = PendingReport(viewer, data, incident, geom, now, claim, audit.current_scope())
        # Written by the group writer with every report waiting meanwhile, in one transaction
        # that records the key with the report: both or neither, so a crash or an error in
        # between leaves the key free for the retry at once. The answer comes once it committed.
        with _known_external_id(data):
            outcome = await self.writer.submit(pending)
        if isinstance(outcome, Stored):
            return Reported(incident, outcome.feature, replayed=False)
        assert claim is not None
        if outcome.state == "pending":
            # A key left pending by a two-step claim: taken over by this report alone.
            return await self._report_alone(viewer, data, incident, geom, now, claim)
        return await self._replay(viewer, outcome, claim.digest)

    async def _report_alone(
        self,
        viewer: Principal,
        data: IncidentIn,
        incident: Incident,
        geom: shapely.Geometry,
        now: datetime,
        claim: KeyClaim,
    ) -> Reported:
        with _known_external_id(data):
            async with self.db.transaction() as session:
                state = await claim_idempotency_key(
                    session,
                    viewer.org_id,
                    claim.key,
                    claim.digest,
                    now=now,
                    resource_id=incident.id,
                )
                if state.state == "new":
                    feature = await self._insert(session, viewer, incident, geom, now, data=data)
        if state.state == "new":
            return Reported(incident, feature, replayed=False)
        if state.state == "pending":
            raise Conflict(
                "A request with this Idempotency-Key is still being processed; retry in a moment."
            )
        return await self._replay(
            viewer, KeyTaken(state.state, state.request_hash, state.resource_id), claim.digest
        )

    async def _replay(self, viewer: Principal, taken: KeyTaken, digest: str) -> Reported:
        if taken.state != "done":
            raise AssertionError(f"unexpected idempotency state {taken.state!r}")
        assert taken.resource_id is not None
        async with self.db.read() as session:
            row = await IncidentStore(session, self.cipher).get_row(taken.resource_id)
            # A key replays only for the person who first used it: anyone else in the
            # organisation gets the same refusal whatever the body, so a replay confirms
            # nothing about a report they may not see (nor that it still exists).
            if row is None or row.user_id != viewer.user_id:
                raise InvalidField(
                    "Idempotency-Key",
                    "This Idempotency-Key was already used in your organisation; use a new "
                    "key for a new report.",
                )
            if taken.request_hash != digest:
                raise InvalidField(
                    "Idempotency-Key",
                    "This Idempotency-Key was used with a different body; use a new key for "
                    "a new report.",
                )
            # What the replaying viewer may see now (sharing or role may have changed).
            feature = (await self.present(session, viewer, [row]))[0]
        return Reported(incident_from_row(row, self.cipher), feature, replayed=True)

    async def _write_batch(
        self, session: AsyncSession, reports: Sequence[PendingReport]
    ) -> list[Outcome]:
        """One batch of the group writer, in its transaction (incidents.records.writer)."""
        taken = await claim_keys(session, reports)
        fresh = [r for k, r in enumerate(reports) if k not in taken]
        values = rows_values([(r.incident, r.geometry) for r in fresh], cipher=self.cipher)
        await IncidentStore(session, self.cipher).add_many(values)
        for report in fresh:
            await name_protocol_readers(session, report.incident, report.data, now=report.now)
        written = await tell_reported(session, self.events, fresh)
        features = await self._present_new(session, fresh, values, written)
        stored = iter(features)
        return [taken[k] if k in taken else Stored(next(stored)) for k in range(len(reports))]

    async def _present_new(
        self,
        session: AsyncSession,
        reports: Sequence[PendingReport],
        values: list[dict[str, Any]],
        written: Sequence[IncidentWritten],
    ) -> list[IncidentFeature]:
        """Each new report as its reporter may see it, from transient rows and the zones just
        found (no re-read), one presenter call per reporter. A report just written has no
        further report of its event yet: no corroboration to show."""
        by_viewer: dict[Principal, list[int]] = {}
        for k, report in enumerate(reports):
            by_viewer.setdefault(report.viewer, []).append(k)
        features: list[IncidentFeature | None] = [None] * len(reports)
        for viewer, positions in by_viewer.items():
            rows = [IncidentRow(**values[k]) for k in positions]
            zones: dict[uuid.UUID, list[ZoneRef]] = {}
            if self.zone_lookup is not None:
                for k, row in zip(positions, rows, strict=True):
                    placed = written[k].zones
                    refs = placed.refs_for(viewer.org_id) if placed is not None else []
                    if refs:
                        zones[row.id] = refs
            with acting_for(reports[positions[0]]):
                shown = await self.presenter(session, viewer, rows, zones)
            for k, feature in zip(positions, shown, strict=True):
                features[k] = feature
        return [f for f in features if f is not None]

    async def _insert(
        self,
        session: AsyncSession,
        viewer: Principal,
        incident: Incident,
        geom: shapely.Geometry,
        now: datetime,
        *,
        data: IncidentIn | None = None,
    ) -> IncidentFeature:
        values = row_values(incident, geom, cipher=self.cipher)
        await IncidentStore(session, self.cipher).add_many([values])
        if data is not None:
            await name_protocol_readers(session, incident, data, now=now)
        event = await self._written(session, incident, geom, None, actor=viewer, now=now)
        # A transient row (not attached to the session) and the zones just found render the
        # response without a re-read.
        return (await self.present(session, viewer, [IncidentRow(**values)], event.zones))[0]

    async def _visible_row(
        self, session: AsyncSession, viewer: Principal, incident_id: uuid.UUID
    ) -> IncidentRow:
        row = await IncidentStore(session, self.cipher).get_row(incident_id)
        # Not visible and absent look the same: never confirm that a hidden incident exists.
        if row is None or not await self.read_policy.may_read(session, viewer, row):
            raise NotFound(f"No incident {incident_id} that you can see.")
        return row

    async def get(self, viewer: Principal, incident_id: uuid.UUID) -> IncidentFeature:
        async with self.db.read() as session:
            row = await self._visible_row(session, viewer, incident_id)
            return (await self.present(session, viewer, [row]))[0]

    def masking_rules(self) -> MaskRules | None:
        """How masked entries look, when the presenter masks (its `rules`), else None."""
        if self.mask_rules is not None:
            return self.mask_rules
        rules = getattr(self.presenter, "rules", None)
        return rules if isinstance(rules, MaskRules) else None

    async def list(
        self, viewer: Principal | None, query: IncidentQuery
    ) -> tuple[list[IncidentFeature], str | None]:
        async with self.db.read() as session:
            rules = self.masking_rules()
            if rules is not None:
                # Every filter, the order and the cursor use only the masked entry of an incident
                # the viewer may not see in full (incidents.store.Masking): the read policy's
                # conditions, which only keep masked entries out of fine filters, are not needed.
                masking: Masking | None = Masking(viewer, rules)
            else:
                masking = None
                if viewer is not None:
                    query.extra_conditions += await self.read_policy.conditions(
                        session, viewer, query
                    )
            rows, cursor = await IncidentStore(session, self.cipher).query_rows(query, masking)
            return await self.present(session, viewer, rows), cursor

    async def patch(
        self,
        viewer: Principal,
        incident_id: uuid.UUID,
        patch: IncidentPatch,
        *,
        if_match: int,
        now: datetime,
    ) -> Incident:
        if viewer.role == Role.PLANNER:
            raise Forbidden("Planners cannot change incidents; ask the reporting organisation.")
        if patch.status is not msgspec.UNSET:
            if patch.status == Status.RETRACTED:
                raise InvalidField("status", "Use POST /api/v1/incidents/{id}/retract to retract.")
            if not viewer.is_officer:
                raise Forbidden("Only security officers verify or dispute incidents.")
        async with self.db.transaction() as session:
            row = await self._visible_row(session, viewer, incident_id)
            current = incident_from_row(row, self.cipher)
            if not _may_edit(viewer, current):
                raise Forbidden(
                    "Only the reporting organisation or an officer can change this incident."
                )
            if current.version != if_match:
                raise PreconditionFailed(
                    f"The incident is at version {current.version}, not {if_match}: reload it and "
                    "apply your change again.",
                    current_version=current.version,
                )
            updated, geom = apply_patch(current, patch, now=now, rules=self.rules)
            geom = geom if geom is not None else from_wkb(row.geometry_wkb)
            store = IncidentStore(session, self.cipher)
            if not await store.replace_if_version(updated, geom, expected_version=if_match):
                raise PreconditionFailed(
                    "The incident changed while you were editing it: reload it and try again."
                )
            await self._written(session, updated, geom, current, actor=viewer, now=now)
        return updated

    async def retract(
        self, viewer: Principal, incident_id: uuid.UUID, *, now: datetime, reason: str | None = None
    ) -> Incident:
        if viewer.role == Role.PLANNER:
            raise Forbidden("Planners cannot retract incidents.")
        async with self.db.transaction() as session:
            row = await self._visible_row(session, viewer, incident_id)
            current = incident_from_row(row, self.cipher)
            if not _may_edit(viewer, current):
                raise Forbidden("Only the reporting organisation or an officer can retract it.")
            if current.status == Status.RETRACTED:
                return current
            description = current.description
            if reason:
                description = f"{description or ''}\n[retracted] {reason}".strip()
            updated = replace(
                current,
                status=Status.RETRACTED,
                description=description,
                version=current.version + 1,
                updated_at=now,
            )
            geom = from_wkb(row.geometry_wkb)
            if not await IncidentStore(session, self.cipher).replace_if_version(
                updated, geom, current.version
            ):
                raise PreconditionFailed("The incident changed meanwhile: try again.")
            await self._written(session, updated, geom, current, actor=viewer, now=now)
        return updated


async def name_protocol_readers(
    session: AsyncSession, incident: Incident, data: IncidentIn, *, now: datetime
) -> None:
    """When the kidnapping protocol made a new report red (its reporter chose no level), name
    the reporting organisation's officers and admins, who get the protocol's checklist, so that
    they can read it in full and act; nobody else (the reporter reads it already)."""
    if data.sharing_level is not msgspec.UNSET or incident.sharing_level != SharingLevel.RED:
        return
    officers = (
        await session.execute(
            select(UserRow.id).where(
                UserRow.org_id == incident.org_id,
                UserRow.role.in_([Role.OFFICER.value, Role.ADMIN.value]),
                UserRow.deleted_at.is_(None),
            )
        )
    ).scalars()
    session.add_all(
        IncidentNamedViewerRow(incident_id=incident.id, user_id=user_id, added_at=now)
        for user_id in officers
        if user_id != incident.user_id
    )
    await session.flush()
